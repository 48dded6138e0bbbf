--[[
  connect.lua: bind a new connection to a user and open (or take over) its session.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  user id (decided by the server: generated, or a verified token's subject)
  ARGV[4]  session TTL in ms
  ARGV[5]  'token' (the id came from a verified token: the session may be resumed after a
           lost socket) or 'anon' (server-generated id); optional, default 'anon'
  ARGV[6]  the client's address as an opaque key (optional; '' = unknown, no limit)
  ARGV[7]  connects allowed per window from that address (0 or absent: no limit)
  ARGV[8]  rate window in ms

  Reply 'ok': previous_connection, resumed_room_id, partner_connection.
    '' where none. A previous connection of the same user loses its conn key, so a zombie
    socket of that user can no longer act for it. When the session was `away` (its socket
    closed within the reconnect grace, see leave.lua) and its room still stands, the room is
    resumed: resumed_room_id is that room and partner_connection whom to tell partner_back.
  The session is registered in the online count.
  Errors (nothing written): rate_limited (too many connects from this address in the window:
    every new socket is a new anonymous user, so only the address can hold a limit).
  Work: O(log n) (the online recount).
]]
-- @include common
-- @include includes/touch
-- @include includes/current_room
-- @include includes/mate_in
-- @include includes/in_room
-- @include includes/online_register
-- @include includes/online_recount
-- @include includes/rate_limit
local uid = ARGV[3]
local ttl = tonumber(ARGV[4])
local kind = ARGV[5]
if kind ~= 'token' then kind = 'anon' end
local now = now_ms()
local window = tonumber(ARGV[8] or '60000') or 60000
local allowed, by_source = true, nil
if ARGV[6] and ARGV[6] ~= '' then
  allowed, by_source = rate_allows('conn-src', ARGV[6], tonumber(ARGV[7] or '0'), window, now)
  if not allowed then return refuse('rate_limited') end
end
rate_record(by_source, window)
local sk = sess_key(uid)
local before = redis.call('HMGET', sk, 'conn', 'away')
local previous = before[1] or ''
redis.call('HSET', sk, 'conn', CONN_ID, 'since', now, 'auth', kind)
redis.call('HDEL', sk, 'away')
redis.call('SET', KEYS[1], uid, 'PX', ttl)
touch(sk, ttl)
online_register(uid, now, ttl)
online_recount(now)
if previous ~= '' and previous ~= CONN_ID then
  redis.call('DEL', conn_key(previous))
end
local resumed, pconn = '', ''
if before[2] then
  local rid, rk = current_room(sk)
  if rid then
    resumed = rid
    local mate = mate_in(rk, uid)
    if in_room(mate, rid) then pconn = redis.call('HGET', sess_key(mate), 'conn') or '' end
  end
end
return {'ok', 'previous_connection', previous, 'resumed_room_id', resumed,
        'partner_connection', pconn}
