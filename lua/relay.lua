--[[
  relay.lua: find where a chat message goes, in one call.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  session TTL in ms
  ARGV[4]  room TTL in s

  Returns
    {'ok', roomId, userId, partnerId, partnerConnectionId}: post the message there.
    {'partner_gone', roomId, userId, partnerId}: the partner's session had expired; the room
      is dissolved and the sender should be told partner_left.
  Errors: session_expired, not_in_room.
]]
-- @include common
local uid, sk = resolve()
if not uid then return {'error', 'session_expired'} end
local rid, rk = current_room(sk)
if not rid then return {'error', 'not_in_room'} end
local m = redis.call('HMGET', rk, 'a', 'b')
local partner = m[1]
if partner == uid then partner = m[2] end
local pconn = partner and redis.call('HGET', sess_key(partner), 'conn')
if not pconn then
  dissolve(rid, uid)
  return {'partner_gone', rid, uid, partner or ''}
end
touch(sk, tonumber(ARGV[3]))
redis.call('EXPIRE', rk, tonumber(ARGV[4]))
return {'ok', rid, uid, partner, pconn}
