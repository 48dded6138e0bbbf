--[[
  block.lua: block the current partner (or the one just left): the two are never paired
  again (match.lua checks block:<uid> in both directions). Blocking the current partner also
  ends the room. The server decides who the partner is; ids in the frame are never used.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  block TTL in s (the blocker's set is refreshed on every block)
  ARGV[4]  blocks allowed per rate window (optional; 0 or absent: no limit)
  ARGV[5]  rate window in ms (optional, default 60000)
  ARGV[6]  block TTL in s for an anonymous blocker (optional, default ARGV[3]): its id
           never comes back once its connection ends, so its blocks need not outlive that;
           leave.lua deletes them at its disconnect (the session's `bk` says there are some)

  Reply 'ok': room_id, user_id, blocked_id, partner_connection.
    partner_connection is set when the block ended a live room: tell that connection
    partner_left.
  Errors (nothing written): session_expired, no_partner, rate_limited.
  Work: O(1).
]]
-- @include common
-- @include includes/resolve
-- @include includes/partner_or_last
-- @include includes/dissolve
-- @include includes/rate_limit
local uid, sk, f = resolve('auth', 'bk', 'block.i', 'block.c', 'block.p')
if not uid then return refuse('session_expired') end
local partner, rid, live = partner_or_last(uid, sk)
if not partner then return refuse('no_partner') end
local window = tonumber(ARGV[5] or '60000') or 60000
local allowed, counter = rate_allows_session(sk, f, 'block', tonumber(ARGV[4] or '0'), window)
if not allowed then return refuse('rate_limited') end
rate_record(counter, window)
local bk = block_key(uid)
redis.call('SADD', bk, partner)
if f.auth == 'token' then
  redis.call('EXPIRE', bk, tonumber(ARGV[3]))
else
  redis.call('EXPIRE', bk, tonumber(ARGV[6] or ARGV[3]))
  if not f.bk then redis.call('HSET', sk, 'bk', '1') end
end
local pconn = ''
if live then
  local _
  _, pconn = dissolve(rid, uid)
end
return {'ok', 'room_id', rid, 'user_id', uid, 'blocked_id', partner, 'partner_connection', pconn}
