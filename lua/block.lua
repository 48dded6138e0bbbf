--[[
  block.lua: block the current partner (or the one just left): the two are never paired
  again (match.lua checks block:<uid> in both directions). Blocking the current partner also
  ends the room. The server decides who the partner is; ids in the frame are never used.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  block TTL in s (the blocker's set is refreshed on every block)

  Returns {'ok', roomId, userId, blockedId, partnerConnectionId}; partnerConnectionId is set
  when the block ended a live room: tell that connection partner_left.
  Errors (nothing written): session_expired, no_partner.
]]
-- @include common
local uid, sk = resolve()
if not uid then return {'error', 'session_expired'} end
local rid, rk = current_room(sk)
local partner
local in_room = rid ~= nil
if rid then
  partner = mate_in(rk, uid)
else
  local last = redis.call('HMGET', sk, 'lp', 'lr')
  partner, rid = last[1], last[2]
end
if not partner or not rid then return {'error', 'no_partner'} end
local bk = block_key(uid)
redis.call('SADD', bk, partner)
redis.call('EXPIRE', bk, tonumber(ARGV[3]))
local pconn = ''
if in_room then
  local _
  _, pconn = dissolve(rid, uid)
end
return {'ok', rid, uid, partner, pconn}
