--[[
  heartbeat.lua: keep a session (and its room) alive.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  session TTL in ms
  ARGV[4]  room TTL in s

  Returns {'ok', userId, state} with state 'room', 'queued' or 'idle'.
  Errors: session_expired (no live session for this connection: reconnect).
]]
-- @include common
local uid, sk = resolve()
if not uid then return {'error', 'session_expired'} end
touch(sk, tonumber(ARGV[3]))
local rid, rk = current_room(sk)
if rid then
  redis.call('EXPIRE', rk, tonumber(ARGV[4]))
  return {'ok', uid, 'room'}
end
if redis.call('HEXISTS', sk, 'q') == 1 then return {'ok', uid, 'queued'} end
return {'ok', uid, 'idle'}
