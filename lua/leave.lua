--[[
  leave.lua: leave the room or the queue; on disconnect (or a 410 Gone found while posting),
  erase every trace of the connection.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  mode: 'leave' (user asked; the session stays), 'disconnect' ($disconnect) or
           'gone' (a post met 410): both of the latter delete the session and the conn key.
  ARGV[4]  session TTL in ms (refreshed on 'leave')
  ARGV[5]  reconnect grace in ms (optional, default 0 = none)
  ARGV[6]  'leave's allowed per rate window (optional; 0 or absent: no limit)
  ARGV[7]  rate window in ms (optional, default 60000)

  Reply 'left': user_id, room_id, partner_id, partner_connection, was_queued.
    '' where there is none; was_queued is '1' or '0'. partner_connection is whom to tell
    partner_left.
  Reply 'away': user_id, room_id, partner_id, partner_connection, was_queued.
    On 'disconnect' of a token user in a room whose partner is connected, when ARGV[5] > 0:
    the room stays, the session loses its connection and lives on for the grace only (field
    `away` = the deadline in ms); tell the partner partner_reconnecting. A reconnect in time
    resumes the room (connect.lua); otherwise the session expires and the partner's next send
    or heartbeat, or the sweeper (reap.lua), ends the room with partner_left.
  A 'disconnect'/'gone' for a connection whose user has since reconnected elsewhere only
  removes the old conn key: the newer session is left alone. 'disconnect', 'gone' and 'away'
  take the user out of the online count. They also delete an anonymous user's blocks (its
  id never comes back; block.lua marks a session that has some with `bk`).
  Errors (nothing written): session_expired, rate_limited ('leave' only).
  Work: O(1) (leaving the queue is at most 4 ZREMs).
]]
-- @include common
-- @include includes/resolve
-- @include includes/touch
-- @include includes/current_room
-- @include includes/mate_in
-- @include includes/dissolve
-- @include includes/dequeue
-- @include includes/online_unregister
-- @include includes/rate_limit
local mode = ARGV[3]
local uid, sk, f = resolve('auth', 'bk', 'leave.i', 'leave.c', 'leave.p')
if not uid then
  if mode == 'leave' then return refuse('session_expired') end
  redis.call('DEL', KEYS[1])
  return {'left', 'user_id', '', 'room_id', '', 'partner_id', '', 'partner_connection', '',
          'was_queued', '0'}
end
local counter, window = nil, tonumber(ARGV[7] or '60000') or 60000
if mode == 'leave' then
  local allowed
  allowed, counter = rate_allows_session(sk, f, 'leave', tonumber(ARGV[6] or '0'), window)
  if not allowed then return refuse('rate_limited') end
end
rate_record(counter, window)
local rid, rk = current_room(sk)
local grace = tonumber(ARGV[5] or '0') or 0
if rid and mode == 'disconnect' and grace > 0 and f.auth == 'token' then
  local mate = mate_in(rk, uid)
  local mconn = mate and redis.call('HGET', sess_key(mate), 'conn')
  if mconn then
    local now = now_ms()
    dequeue(uid, sk)
    online_unregister(uid, now)
    redis.call('HDEL', sk, 'conn')
    redis.call('HSET', sk, 'away', now + grace)
    redis.call('PEXPIRE', sk, grace)
    redis.call('DEL', KEYS[1])
    return {'away', 'user_id', uid, 'room_id', rid, 'partner_id', mate,
            'partner_connection', mconn, 'was_queued', '0'}
  end
end
local partner, pconn = '', ''
if rid then partner, pconn = dissolve(rid, uid) end
local was_queued = dequeue(uid, sk)
if mode == 'leave' then
  touch(sk, ARGV[4])
else
  online_unregister(uid, now_ms())
  redis.call('DEL', sk, KEYS[1])
  if f.bk and f.auth ~= 'token' then redis.call('DEL', block_key(uid)) end
end
return {'left', 'user_id', uid, 'room_id', rid or '', 'partner_id', partner,
        'partner_connection', pconn, 'was_queued', tostring(was_queued)}
