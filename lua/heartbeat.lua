--[[
  heartbeat.lua: keep a session (and its room) alive.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  session TTL in ms
  ARGV[4]  room TTL in s

  Returns {'ok', userId, state, roomId, partnerId, leftRoomId} with state 'room', 'queued' or
  'idle'; roomId/partnerId are set in state 'room' (after a reconnect this tells the client
  which room it resumed). A room whose partner's session is gone (expired, or its reconnect
  grace ran out) is dissolved: leftRoomId is that room, tell the caller partner_left.
  A partner within its reconnect grace keeps the room.
  Errors: session_expired (no live session for this connection: reconnect).
]]
-- @include common
local uid, sk = resolve()
if not uid then return {'error', 'session_expired'} end
touch(sk, tonumber(ARGV[3]))
local rid, rk = current_room(sk)
local left = ''
if rid then
  local mate = mate_in(rk, uid)
  if in_room(mate, rid) then
    redis.call('EXPIRE', rk, tonumber(ARGV[4]))
    return {'ok', uid, 'room', rid, mate, ''}
  end
  dissolve(rid, uid)
  left = rid
end
if redis.call('HEXISTS', sk, 'q') == 1 then return {'ok', uid, 'queued', '', '', left} end
return {'ok', uid, 'idle', '', '', left}
