--[[
  match.lua: join (or next) matchmaking in one atomic call: resolve the caller, validate,
  leave the current room (next), pair by the matching rule or enqueue, and do all the
  bookkeeping.

  It never deletes a session. Pairing reserves the pair: it creates the room and points both
  sessions at it, and takes the waiter out of every queue so no concurrent join can take it
  too. The caller then pushes `matched` to the waiter first and to the joiner second, while
  both sessions still exist. A 410 on either post is undone with leave.lua in 'gone' mode.

  KEYS[1]  <prefix>conn:<connectionId> of the caller
  ARGV[1]  key prefix (carries the hash tag; every key below is built from it)
  ARGV[2]  connection id
  ARGV[3]  mode: 'join'; 'next' (leave the room first, then join); 'queue' (join without
           searching: used when re-pairing kept meeting dead waiters; the next heartbeat
           searches)
  ARGV[4]  gender 'male'|'female'; '' with 'next' reuses the session's last one
  ARGV[5]  preference 'male'|'female'|'any'; '' with 'next' reuses the last one
  ARGV[6]  room id to create if a partner is found (server-generated)
  ARGV[7]  session TTL in ms
  ARGV[8]  room TTL in s
  ARGV[9]  recent-partners TTL in s
  ARGV[10] scan window: at most this many entries are read per range (see Work)
  ARGV[11] joins+nexts allowed per rate window (0: no limit; 'queue' is never counted)
  ARGV[12] rate window in ms
  ARGV[13] interests: normalized, sorted, comma-separated ('' = none), or '*' = the last ones
  ARGV[14] fallback '1'|'0', or '*' = the last one (default '1')
  ARGV[15] relaxation delay in ms (MATCH_RELAX_SECONDS)
  ARGV[16] the longest heartbeat interval to tell a waiter (retry_ms)
  ARGV[17] the client's address as an opaque key ('' unknown: no limit per address)
  ARGV[18] joins+nexts allowed per rate window from that address, every user behind it
           together (0: no limit)

  Reply 'matched': room_id, user_id, partner_id, partner_connection, waited_ms, gender,
    preference, interests, fallback, common_interests, relaxed, left_room_id,
    left_partner_connection, stale_removed.
    partner_id is the waiter (room field a); the caller is b. waited_ms is the waiter's wait.
    interests/common_interests are comma-separated; relaxed is '1' when someone gave
    interests and none is shared.
  Reply 'queued': queue, user_id, gender, preference, interests, fallback, online, eta_ms,
    only_recent, retry_ms, left_room_id, left_partner_connection, stale_removed.
    A repeated join with the same gender, preference, interests and fallback keeps the
    original place. online/eta_ms/only_recent/retry_ms: queue_status ('' eta_ms = null).
  left_room_id/left_partner_connection: the room 'next' left and whom to tell partner_left.
  Errors (nothing written): session_expired, invalid_field, already_in_room,
    not_joined ('next' with no earlier join and no gender/preference given),
    rate_limited (too many joins and nexts in the rate window, by this user or from its
    address).

  The rule (docs/protocol.md) is search()'s; enqueue() keeps arrival order strict. A waiter
  is open to anyone when it has no interests, or from its relaxation time (join + ARGV[15])
  when its fallback is on. A shadowed user (shadow_key) waits and searches in the shadow
  queues and index (common.lua's SHADOW): it meets only shadowed users; nothing tells it.

  Work: promote_due reads at most ARGV[10] relaxation entries; then at most 5 interests x 2
  index ranges and 4 queue ranges, each of at most ARGV[10] entries, each entry a few O(1) or
  O(log n) calls; leaving the old entries and enqueueing are at most 8 calls.
]]
-- @include common
-- @include includes/resolve
-- @include includes/touch_lazily
-- @include includes/current_room
-- @include includes/dissolve
-- @include includes/rate_limit
-- @include includes/interest_list
-- @include includes/compatible_segments
-- @include includes/pool_get
-- @include includes/queue_status
-- @include includes/wait_decode
-- @include includes/wait_encode
-- @include includes/unlist
-- @include includes/search
-- @include includes/pair
-- @include includes/enqueue

local uid, sk, f = resolve('room', 'q', 't', 'since', 'join.i', 'join.c', 'join.p')
if not uid then return refuse('session_expired') end

-- Validation: nothing is written before it is over.
local mode = ARGV[3]
local gender, pref, csv, fb = ARGV[4], ARGV[5], ARGV[13], ARGV[14]
-- The last join's values (and the wait state) are read only when they matter.
local last = {}
if f.q or mode ~= 'join' or csv == '*' or fb == '*' then
  local l = redis.call('HMGET', sk, 'g', 'p', 'in', 'fb', 'w')
  last = {g = l[1], p = l[2], csv = l[3] or '', fb = l[4] or '1', w = wait_decode(l[5])}
end
if mode == 'next' and gender == '' and pref == '' then
  if not last.g or not last.p then return refuse('not_joined') end
  gender, pref = last.g, last.p
end
if not (gender == 'male' or gender == 'female') then return refuse('invalid_field') end
if not (pref == 'male' or pref == 'female' or pref == 'any') then
  return refuse('invalid_field')
end
if csv == '*' then csv = last.csv end
if fb == '*' then fb = last.fb end
local interests = interest_list(csv)
if #interests > 5 or string.find(csv, '[:|]') or (fb ~= '1' and fb ~= '0') then
  return refuse('invalid_field')
end

local rid_now = current_room(sk, f.room)
if rid_now and mode == 'join' then return refuse('already_in_room') end

local now = now_ms()
local rate_window = tonumber(ARGV[12])
local allowed, counter, by_source = true, nil, nil
if mode ~= 'queue' then
  allowed, counter = rate_allows_session(sk, f, 'join', tonumber(ARGV[11]), rate_window, now)
  if not allowed then return refuse('rate_limited') end
  if ARGV[17] ~= '' then
    allowed, by_source = rate_allows('join-src', ARGV[17], tonumber(ARGV[18]), rate_window, now)
    if not allowed then return refuse('rate_limited') end
  end
end

-- From here on the script writes.
rate_record(counter, rate_window)
rate_record(by_source, rate_window)
touch_lazily(sk, tonumber(ARGV[7]), f.t or f.since, now)
local left_room, left_conn = '', ''
if rid_now then
  left_room = rid_now
  local _
  _, left_conn = dissolve(rid_now, uid)
end

SHADOW = redis.call('EXISTS', shadow_key(uid)) == 1
local my_q = queue_name(gender, pref)
local retry_cap = tonumber(ARGV[16])
local pool
-- The pool fields a queued reply needs, and the versions a waiter's heartbeat compares.
local function read_pool()
  local fields = {'last', 'on', 'ox', eta_field(my_q, csv), 'v:' .. my_q}
  for _, seg in ipairs(compatible_segments(gender, pref)) do
    local name = queue_name(seg[1], seg[2])
    if name ~= my_q then fields[#fields + 1] = 'v:' .. name end
  end
  pool = pool_get(fields)
end
local function queued(w, stale)
  local st = queue_status(w, pool, now, retry_cap)
  return {'queued', 'queue', my_q, 'user_id', uid, 'gender', gender, 'preference', pref,
          'interests', csv, 'fallback', fb, 'online', st.online, 'eta_ms', st.eta_ms,
          'only_recent', st.only_recent, 'retry_ms', st.retry_ms, 'left_room_id', left_room,
          'left_partner_connection', left_conn, 'stale_removed', tostring(stale)}
end

local mine = last.w
if f.q and mine then
  mine.q = f.q
  if mode ~= 'queue' and f.q == my_q and mine.csv == csv and mine.fb == fb then
    -- Idempotent: already waiting with these settings. Keep the place in the line.
    read_pool()
    return queued(mine, 0)
  end
  unlist(uid, mine)
end

local relax_ms = tonumber(ARGV[15])
local me = {g = gender, p = pref, csv = csv, interests = interests, fb = fb, rd = ''}
me.open = #interests == 0 or (fb == '1' and relax_ms <= 0)
if #interests > 0 and fb == '1' then me.rd = string.format('%.0f', now + relax_ms) end
local best, w, rep = nil, nil, {stale = 0, passed = 0, complete = false}
if mode ~= 'queue' then best, w, rep = search(uid, me, tonumber(ARGV[10]), now) end

if best then
  if f.q then redis.call('HDEL', sk, 'q', 'w') end
  local rid = ARGV[6]
  local waited, common, relaxed = pair(uid, sk, me, best, w, rid, ARGV[8], ARGV[9], now)
  return {'matched', 'room_id', rid, 'user_id', uid, 'partner_id', best,
          'partner_connection', w.conn, 'waited_ms', string.format('%.0f', waited),
          'gender', gender, 'preference', pref, 'interests', csv, 'fallback', fb,
          'common_interests', table.concat(common, ','), 'relaxed', relaxed and '1' or '0',
          'left_room_id', left_room, 'left_partner_connection', left_conn,
          'stale_removed', tostring(rep.stale)}
end

read_pool()
local qname, qs, version = enqueue(uid, me, now, pool)
pool['v:' .. qname] = version
local seen = {}
for _, seg in ipairs(compatible_segments(gender, pref)) do
  seen[#seen + 1] = pool['v:' .. queue_name(seg[1], seg[2])] or '0'
end
-- Search again on a heartbeat when a recent partnership that kept someone out ends, or at
-- once when this search was cut short (or skipped, in 'queue' mode).
local state = {qs = qs, rd = me.rd, pr = me.open and '1' or '', ra = '', sv = table.concat(seen, ','),
               g = gender, p = pref, fb = fb, csv = csv, q = qname}
if not rep.complete then
  state.ra = '0'
elseif rep.recheck then
  state.ra = string.format('%.0f', now + rep.recheck)
end
state['or'] = (rep.complete and rep.passed > 0) and '1' or '0'
redis.call('HSET', sk, 'g', gender, 'p', pref, 'in', csv, 'fb', fb, 'q', qname,
  'w', wait_encode(state))
return queued(state, rep.stale)
