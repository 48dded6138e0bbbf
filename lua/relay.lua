--[[
  relay.lua: find where a chat message goes, in one call.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  session TTL in ms
  ARGV[4]  room TTL in s
  ARGV[5]  message limit per window (optional; 0 or absent: no limit)
  ARGV[6]  rate window in ms (optional, default 60000)

  Reply 'ok': room_id, user_id, partner_id, partner_connection.
    Post the message to partner_connection.
  Reply 'partner_gone': room_id, user_id, partner_id.
    The partner's session had expired (or was replaced by a fresh one that is not in this
    room); the room is dissolved and the sender should be told partner_left.
  Errors (nothing written): session_expired, not_in_room, partner_away (the partner's socket
    closed and it may still reconnect within the grace: the message is not delivered),
    rate_limited (too many messages in the window).
  Work: O(1).
]]
-- @include common
-- @include includes/resolve
-- @include includes/touch
-- @include includes/current_room
-- @include includes/dissolve
-- @include includes/rate_limit
local uid, sk = resolve()
if not uid then return refuse('session_expired') end
local rid, rk = current_room(sk)
if not rid then return refuse('not_in_room') end
local m = redis.call('HMGET', rk, 'a', 'b')
local partner = m[1]
if partner == uid then partner = m[2] end
local pf = partner and redis.call('HMGET', sess_key(partner), 'conn', 'away', 'room')
local pconn = pf and pf[3] == rid and pf[1]
if not pconn then
  if pf and pf[3] == rid and pf[2] then return refuse('partner_away') end
  dissolve(rid, uid)
  return {'partner_gone', 'room_id', rid, 'user_id', uid, 'partner_id', partner or ''}
end
local window_ms = tonumber(ARGV[6] or '60000') or 60000
local allowed, counter = rate_allows('send', uid, tonumber(ARGV[5] or '0'), window_ms)
if not allowed then return refuse('rate_limited') end
rate_record(counter, window_ms)
touch(sk, tonumber(ARGV[3]))
redis.call('EXPIRE', rk, tonumber(ARGV[4]))
return {'ok', 'room_id', rid, 'user_id', uid, 'partner_id', partner, 'partner_connection', pconn}
