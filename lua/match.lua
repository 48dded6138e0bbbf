--[[
  match.lua: join (or next) matchmaking in one atomic call: resolve the caller, validate,
  leave the current room (next), pair with the oldest compatible waiter or enqueue, and do
  all the bookkeeping.

  It never deletes a session. Pairing reserves the pair: it creates the room and points both
  sessions at it, and takes the waiter out of its queue so no concurrent join can take it too.
  The caller then pushes `matched` to the waiter first and to the joiner second, while both
  sessions still exist (the design this replaces deleted them here, so nobody was told).
  A 410 on either post is undone with leave.lua in 'gone' mode.

  KEYS[1]  <prefix>conn:<connectionId> of the caller
  ARGV[1]  key prefix (carries the hash tag; every key below is built from it)
  ARGV[2]  connection id
  ARGV[3]  mode: 'join'; 'next' (leave the room first, then join); 'queue' (join without
           searching: used when re-pairing kept meeting dead waiters); 'retry' (a waiter
           searches again, keeping its place unless it finds a partner: sent on heartbeats,
           so two compatible waiters that a bounded scan did not bring together still meet)
  ARGV[4]  gender 'male'|'female'; '' with 'next'/'retry' reuses the session's last one
  ARGV[5]  preference 'male'|'female'|'any'; '' with 'next'/'retry' reuses the last one
  ARGV[6]  room id to create if a partner is found (server-generated)
  ARGV[7]  session TTL in ms
  ARGV[8]  room TTL in s
  ARGV[9]  recent-partners TTL in s
  ARGV[10] scan window: at most this many entries are inspected per compatible queue, which
           bounds the work of one call however deep the queues are
  ARGV[11] joins+nexts allowed per rate window (optional; 0 or absent: no limit; 'queue'
           and 'retry', the server's own re-pairing, are never counted)
  ARGV[12] rate window in ms (optional, default 60000)

  Reply 'matched': room_id, user_id, partner_id, partner_connection, waited_ms, gender,
    preference, left_room_id, left_partner_connection, stale_removed.
    partner_id is the waiter (room field a); the caller is b. waited_ms is the waiter's wait.
  Reply 'queued': queue, user_id, gender, preference, left_room_id, left_partner_connection,
    stale_removed.
    A repeated join with the same gender and preference keeps the original place.
    'retry' answers queue '' when the caller is not waiting any more (nothing done).
  left_room_id/left_partner_connection: the room 'next' left and whom to tell partner_left.
  Errors (nothing written): session_expired, invalid_field, already_in_room,
    not_joined ('next' with no earlier join and no gender/preference given),
    rate_limited (too many joins and nexts in the rate window).

  Queues are sorted sets scored by enqueue time (Redis TIME, one clock for all Lambdas), so
  the oldest compatible waiter across every compatible queue is the lowest score among the
  queues' first eligible entries. Entries whose session is gone, or whose session no longer
  waits in that queue, are removed when met. Recent partners and blocks are skipped, both
  directions. A user never meets itself: its own entry is taken out before the search.

  Work: at most 6 queues x ARGV[10] entries inspected (each a few O(1) or O(log n) calls).
]]
-- @include common
-- @include includes/resolve
-- @include includes/touch
-- @include includes/current_room
-- @include includes/dissolve
-- @include includes/waiter_conn
-- @include includes/rate_limit
local function admits(pref, gender) return pref == 'any' or pref == gender end

local uid, sk = resolve()
if not uid then return refuse('session_expired') end

local mode = ARGV[3]
local gender, pref = ARGV[4], ARGV[5]
local retry = mode == 'retry'
local function queued(queue, g, p, left_room, left_conn, stale)
  return {'queued', 'queue', queue, 'user_id', uid, 'gender', g, 'preference', p,
          'left_room_id', left_room, 'left_partner_connection', left_conn,
          'stale_removed', tostring(stale)}
end
-- What 'retry' answers when there is nothing to retry: the caller is not waiting any more.
local function unchanged(g, p) return queued('', g, p, '', '', 0) end
if (mode == 'next' or retry) and gender == '' and pref == '' then
  local last = redis.call('HMGET', sk, 'g', 'p')
  if not last[1] or not last[2] then return refuse('not_joined') end
  gender, pref = last[1], last[2]
end
if not (gender == 'male' or gender == 'female') then return refuse('invalid_field') end
if not (pref == 'male' or pref == 'female' or pref == 'any') then
  return refuse('invalid_field')
end

local rid_now = current_room(sk)
if rid_now and retry then return unchanged(gender, pref) end
if rid_now and mode == 'join' then return refuse('already_in_room') end

local rate_window = tonumber(ARGV[12] or '60000') or 60000
local allowed, counter = true, nil
if mode ~= 'queue' and not retry then
  allowed, counter = rate_allows('join', uid, tonumber(ARGV[11] or '0'), rate_window)
  if not allowed then return refuse('rate_limited') end
end

-- Validation is over: from here on the script writes.
rate_record(counter, rate_window)
local session_ttl = tonumber(ARGV[7])
touch(sk, session_ttl)
local left_room, left_conn = '', ''
if rid_now then
  left_room = rid_now
  local _
  _, left_conn = dissolve(rid_now, uid)
end

local my_q = queue_name(gender, pref)
local cur_q = redis.call('HGET', sk, 'q')
local my_score = cur_q == my_q and redis.call('ZSCORE', queue_key(my_q), uid)
if retry then
  -- A waiter searching again keeps its entry (and its place) unless it finds a partner.
  if not my_score then return unchanged(gender, pref) end
elseif my_score then
  -- Idempotent: already waiting with these settings. Keep the place in the line.
  return queued(my_q, gender, pref, left_room, left_conn, 0)
end
-- Leave the old queue (dequeue() without reading `q` again); g/p are written with the
-- outcome below, one HSET instead of two.
if cur_q and not retry then
  redis.call('HDEL', sk, 'q')
  redis.call('ZREM', queue_key(cur_q), uid)
end

local now = now_ms()
local window = tonumber(ARGV[10])
local stale = 0
local best, best_score, best_q, best_conn = nil, nil, nil, nil
local recent_me, block_me = recent_key(uid), block_key(uid)

if mode ~= 'queue' then
  -- Most joiners have no blocks, and new ones no recent partners: checked once per call.
  local has_recent = redis.call('EXISTS', recent_me) == 1
  local has_blocks = redis.call('EXISTS', block_me) == 1
  local best_raw
  for _, g2 in ipairs(GENDERS) do
    for _, p2 in ipairs(PREFERENCES) do
      if admits(pref, g2) and admits(p2, gender) then
        local qname = queue_name(g2, p2)
        local qkey = queue_key(qname)
        -- Only entries older than the best found so far can win, so later queues fetch just
        -- those. Members only: scores rendered as strings cost more than the rest of the
        -- scan, so the winner's score is read alone.
        local cands
        if best_raw then
          cands = redis.call('ZRANGEBYSCORE', qkey, '-inf', '(' .. best_raw, 'LIMIT', 0, window)
        else
          cands = redis.call('ZRANGE', qkey, 0, window - 1)
        end
        -- The caller's own recent partners and blocks are looked up for the whole window in
        -- one SMISMEMBER each: a queue headed by them costs a few calls, not the window.
        local n = #cands
        local mine_r, mine_b = {}, {}
        if n > 0 and has_recent then mine_r = redis.call('SMISMEMBER', recent_me, unpack(cands)) end
        if n > 0 and has_blocks then mine_b = redis.call('SMISMEMBER', block_me, unpack(cands)) end
        local gone = {}
        for i = 1, n do
          local cand = cands[i]
          if mine_r[i] ~= 1 and mine_b[i] ~= 1 then
            local cconn = waiter_conn(cand, qname)
            if not cconn then
              gone[#gone + 1] = cand
            elseif cand ~= uid
                and redis.call('SISMEMBER', recent_key(cand), uid) == 0
                and redis.call('SISMEMBER', block_key(cand), uid) == 0 then
              -- The first eligible entry of a queue is its oldest eligible one.
              best_raw = redis.call('ZSCORE', qkey, cand)
              best, best_score, best_q, best_conn = cand, tonumber(best_raw), qkey, cconn
              break
            end
          end
        end
        if #gone > 0 then
          redis.call('ZREM', qkey, unpack(gone))
          stale = stale + #gone
        end
      end
    end
  end
end

if not best then
  if retry then
    return queued(my_q, gender, pref, '', '', stale)
  end
  redis.call('ZADD', queue_key(my_q), now, uid)
  redis.call('HSET', sk, 'g', gender, 'p', pref, 'q', my_q)
  return queued(my_q, gender, pref, left_room, left_conn, stale)
end

local rid = ARGV[6]
local room_ttl = tonumber(ARGV[8])
local recent_ttl = tonumber(ARGV[9])
local bsk = sess_key(best)
local my_wait = 0
if retry then
  redis.call('HDEL', sk, 'q')
  redis.call('ZREM', queue_key(my_q), uid)
  my_wait = now - tonumber(my_score)
end
redis.call('ZREM', best_q, best)
redis.call('HDEL', bsk, 'q')
redis.call('HSET', bsk, 'room', rid)
redis.call('HSET', sk, 'g', gender, 'p', pref, 'room', rid)
redis.call('HSET', room_key(rid), 'a', best, 'b', uid, 'ts', now)
redis.call('EXPIRE', room_key(rid), room_ttl)
redis.call('SADD', recent_me, best)
redis.call('EXPIRE', recent_me, recent_ttl)
redis.call('SADD', recent_key(best), uid)
redis.call('EXPIRE', recent_key(best), recent_ttl)

-- Per-minute match statistics for the ops API: a count, and the wait times of both users
-- (the joiner waited 0 ms, a retrying waiter its time in line), capped so one busy minute stays bounded.
local waited = now - best_score
local minute = math.floor(now / 60000)
local count_key = stats_matches_key(minute)
local waits_key = stats_waits_key(minute)
-- The expiries are set once, when the minute's keys are created.
if redis.call('INCR', count_key) == 1 then redis.call('EXPIRE', count_key, 7200) end
local logged = redis.call('LLEN', waits_key)
if logged < 2000 then
  redis.call('RPUSH', waits_key, waited, my_wait)
  if logged == 0 then redis.call('EXPIRE', waits_key, 7200) end
end

return {'matched', 'room_id', rid, 'user_id', uid, 'partner_id', best,
        'partner_connection', best_conn, 'waited_ms', tostring(waited), 'gender', gender,
        'preference', pref, 'left_room_id', left_room, 'left_partner_connection', left_conn,
        'stale_removed', tostring(stale)}
