--[[
  heartbeat.lua: keep a session (and its room) alive.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  session TTL in ms
  ARGV[4]  room TTL in s

  Reply 'ok': user_id, state, room_id, partner_id, left_room_id.
    state is 'room', 'queued' or 'idle'; room_id/partner_id are set in state 'room' (after a
    reconnect this tells the client which room it resumed). A room whose partner's session
    is gone (expired, or its reconnect grace ran out) is dissolved: left_room_id is that
    room, tell the caller partner_left. A partner within its reconnect grace keeps the room.
  Errors: session_expired (no live session for this connection: reconnect).
  Work: O(1).
]]
-- @include common
-- @include includes/resolve
-- @include includes/touch
-- @include includes/current_room
-- @include includes/mate_in
-- @include includes/in_room
-- @include includes/dissolve
local uid, sk = resolve()
if not uid then return refuse('session_expired') end
touch(sk, tonumber(ARGV[3]))
local rid, rk = current_room(sk)
local left = ''
if rid then
  local mate = mate_in(rk, uid)
  if in_room(mate, rid) then
    redis.call('EXPIRE', rk, tonumber(ARGV[4]))
    return {'ok', 'user_id', uid, 'state', 'room', 'room_id', rid, 'partner_id', mate,
            'left_room_id', ''}
  end
  dissolve(rid, uid)
  left = rid
end
local state = 'idle'
if redis.call('HEXISTS', sk, 'q') == 1 then state = 'queued' end
return {'ok', 'user_id', uid, 'state', state, 'room_id', '', 'partner_id', '',
        'left_room_id', left}
