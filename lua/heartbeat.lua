--[[
  heartbeat.lua: keep a session (and its room) alive; a waiter searches again when something
  changed that could pair it.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  session TTL in ms
  ARGV[4]  room TTL in s
  ARGV[5]  room id to create if the search pairs (server-generated)
  ARGV[6]  recent-partners TTL in s
  ARGV[7]  scan window (match.lua's)
  ARGV[8]  the longest heartbeat interval to tell a waiter (retry_ms)
  ARGV[9]  heartbeats a user may send at once (the token bucket's size; 0: no limit)
  ARGV[10] ms per heartbeat the bucket refills

  Reply 'room': user_id, room_id, partner_id.
    In a live room (after a reconnect this tells the client which room it resumed).
  Reply 'idle': user_id, left_room_id.
    Neither in a room nor waiting. A room whose partner's session is gone (expired, or its
    reconnect grace ran out) is dissolved first: left_room_id is that room, tell the caller
    partner_left. A partner within its reconnect grace keeps the room.
  Reply 'queued': user_id, queue, online, eta_ms, only_recent, retry_ms, stale_removed.
    Waiting; the queue status as match.lua's (queue_status).
  Reply 'matched': room_id, user_id, partner_id, partner_connection, waited_ms, gender,
    preference, interests, fallback, common_interests, relaxed, online, eta_ms, only_recent,
    retry_ms, stale_removed.
    The waiter's search paired it, as a join would (match.lua's fields; the caller is room
    member b). online .. retry_ms are the status it had before, for the pong.
  Errors (nothing written): session_expired (no live session for this connection:
    reconnect), rate_limited (the bucket is empty: heartbeats come faster than one per
    ARGV[10] ms, beyond a burst of ARGV[9]).
  The bucket is the session's field `hb`, the theoretical arrival time of the next heartbeat
  (GCRA): one HSET per heartbeat, in the session the script reads anyway.

  Cheap waiting: a waiter searches again only when its relaxation time has come, when the
  version of a segment it could be paired from changed since its last search (someone was
  enqueued or opened there), or when its session's `ra` (search-again time) is due: a recent
  partnership that kept someone out ended, or the last search was cut short by the window.
  Otherwise the heartbeat reads the session and the pool hash: 5 commands with EVALSHA; plus,
  once a quarter of the session TTL has run, 4 to renew the session, the connection key and
  the online registration (touch_lazily), and 3 to recount the online count when a
  registration lapsed since the last count (online_recount). In a room: 6 (the room's renewal
  is lazy too: renew_room).

  Work: O(1) without a search; with one, match.lua's search bound.
]]
-- @include common
-- @include includes/resolve
-- @include includes/touch_lazily
-- @include includes/online_register
-- @include includes/room_of
-- @include includes/renew_room
-- @include includes/in_room
-- @include includes/dissolve
-- @include includes/interest_list
-- @include includes/compatible_segments
-- @include includes/pool_get
-- @include includes/queue_status
-- @include includes/wait_decode
-- @include includes/wait_encode
-- @include includes/open_up
-- @include includes/search
-- @include includes/pair

local uid, sk, f = resolve('room', 'mate', 'rr', 'q', 'w', 't', 'since', 'hb')
if not uid then return refuse('session_expired') end
local ttl = tonumber(ARGV[3])
local now = now_ms()
local burst, refill = tonumber(ARGV[9]) or 0, tonumber(ARGV[10]) or 0
if burst > 0 then
  local tat = math.max(tonumber(f.hb) or 0, now)
  if tat - now > (burst - 1) * refill then return refuse('rate_limited') end
  redis.call('HSET', sk, 'hb', string.format('%.0f', tat + refill))
end
-- The session and connection key are renewed once a quarter of the TTL has run (clients
-- heartbeat at least every half TTL: they never lapse), and the online registration with them.
if touch_lazily(sk, ttl, f.t or f.since, now) then online_register(uid, now, ttl) end

local left = ''
if f.room then
  -- The partner is the session's `mate` (pair.lua), alive while its session points here too.
  if f.mate and in_room(f.mate, f.room) then
    renew_room(room_key(f.room), f.rr, tonumber(ARGV[4]), ttl, now, sk)
    return {'room', 'user_id', uid, 'room_id', f.room, 'partner_id', f.mate}
  end
  -- A room paired before sessions remembered their mate, or one whose partner is gone.
  local rk, m = room_of(sk, f.room)
  if rk then
    local mate = nil
    if m[1] == uid then mate = m[2] elseif m[2] == uid then mate = m[1] end
    if in_room(mate, f.room) then
      renew_room(rk, m[3] or m[4], tonumber(ARGV[4]), ttl, now)
      return {'room', 'user_id', uid, 'room_id', f.room, 'partner_id', mate}
    end
    dissolve(f.room, uid)
    left = f.room
  end
end
local me = f.q and wait_decode(f.w)
if not me or f.room then return {'idle', 'user_id', uid, 'left_room_id', left} end

me.q = f.q
SHADOW = shadowed_queue(me.q)
me.interests = interest_list(me.csv)
me.open = #me.interests == 0 or me.pr == '1'
local segments = compatible_segments(me.g, me.p)
local fields = {'on', 'ox', eta_field(me.q, me.csv)}
for _, seg in ipairs(segments) do fields[#fields + 1] = 'v:' .. queue_name(seg[1], seg[2]) end
local pool = pool_get(fields)
local function versions()
  local seen = {}
  for _, seg in ipairs(segments) do
    seen[#seen + 1] = pool['v:' .. queue_name(seg[1], seg[2])] or '0'
  end
  return table.concat(seen, ',')
end

local retry_cap = tonumber(ARGV[8])
local status = queue_status(me, pool, now, retry_cap)
local relax_due = not me.open and me.fb == '1' and tonumber(me.rd) and tonumber(me.rd) <= now
local recheck_due = tonumber(me.ra) and tonumber(me.ra) <= now
if not (relax_due or recheck_due or versions() ~= me.sv) then
  return {'queued', 'user_id', uid, 'queue', me.q, 'online', status.online,
          'eta_ms', status.eta_ms, 'only_recent', status.only_recent,
          'retry_ms', status.retry_ms, 'stale_removed', '0'}
end

if relax_due then
  open_up(uid, me)
  me.open = true
end
local best, w, rep = search(uid, me, tonumber(ARGV[7]), now)
if best then
  local rid = ARGV[5]
  local waited, common, relaxed = pair(uid, sk, me, best, w, rid, ARGV[4], ARGV[6], now)
  return {'matched', 'room_id', rid, 'user_id', uid, 'partner_id', best,
          'partner_connection', w.conn, 'waited_ms', string.format('%.0f', waited),
          'gender', me.g, 'preference', me.p, 'interests', me.csv, 'fallback', me.fb,
          'common_interests', table.concat(common, ','), 'relaxed', relaxed and '1' or '0',
          'online', status.online, 'eta_ms', status.eta_ms, 'only_recent', status.only_recent,
          'retry_ms', status.retry_ms, 'stale_removed', tostring(rep.stale)}
end

me.ra = ''
if not rep.complete then
  me.ra = '0'
elseif rep.recheck then
  me.ra = string.format('%.0f', now + rep.recheck)
end
me['or'] = (rep.complete and rep.passed > 0) and '1' or '0'
-- The versions as they are after this search (its own opening and promote_due bump some).
local after = pool_get(fields)
for k, v in pairs(after) do pool[k] = v end
me.sv = versions()
redis.call('HSET', sk, 'w', wait_encode(me))
status = queue_status(me, pool, now, retry_cap)
return {'queued', 'user_id', uid, 'queue', me.q, 'online', status.online,
        'eta_ms', status.eta_ms, 'only_recent', status.only_recent,
        'retry_ms', status.retry_ms, 'stale_removed', tostring(rep.stale)}
