--[[
  block.lua: block the current partner (or the one just left): the two are never paired
  again (match.lua checks block:<uid> in both directions). Blocking the current partner also
  ends the room. The server decides who the partner is; ids in the frame are never used.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  block TTL in s (the blocker's set is refreshed on every block)

  Reply 'ok': room_id, user_id, blocked_id, partner_connection.
    partner_connection is set when the block ended a live room: tell that connection
    partner_left.
  Errors (nothing written): session_expired, no_partner.
  Work: O(1).
]]
-- @include common
-- @include includes/resolve
-- @include includes/partner_or_last
-- @include includes/dissolve
local uid, sk = resolve()
if not uid then return refuse('session_expired') end
local partner, rid, live = partner_or_last(uid, sk)
if not partner then return refuse('no_partner') end
local bk = block_key(uid)
redis.call('SADD', bk, partner)
redis.call('EXPIRE', bk, tonumber(ARGV[3]))
local pconn = ''
if live then
  local _
  _, pconn = dissolve(rid, uid)
end
return {'ok', 'room_id', rid, 'user_id', uid, 'blocked_id', partner, 'partner_connection', pconn}
