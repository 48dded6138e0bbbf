--[[
  typing.lua: where a typing indicator goes, if anywhere: best effort, never an error for the
  partner's state, and nothing written but the limiter's counter.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  indicators allowed per window per user (0: no limit)
  ARGV[4]  the window in ms

  Reply 'ok': room_id, partner_connection.
    Tell partner_connection.
  Reply 'dropped': reason.
    Nothing to send: 'limited' (over the limit; checked first, so a flood outside a room is
    dropped too), 'partner_gone' (the partner's session no longer points at the room, or it
    is reconnecting). Neither the session nor the room is touched or repaired here: send and
    heartbeat do that.
  Errors (nothing written): session_expired, not_in_room.
  Work: O(1): the caller's session (which names the room and the partner) and the
    partner's session, and the limiter's increment.
]]
-- @include common
-- @include includes/resolve
-- @include includes/mate_in
-- @include includes/rate_limit
local uid, sk, f = resolve('room', 'mate', 'typing.i', 'typing.c', 'typing.p')
if not uid then return refuse('session_expired') end
local window = tonumber(ARGV[4])
local allowed, counter = rate_allows_session(sk, f, 'typing', tonumber(ARGV[3]), window)
if not allowed then return {'dropped', 'reason', 'limited'} end
if not f.room then return refuse('not_in_room') end
-- The partner is the session's `mate` (as in relay.lua); a room paired before sessions
-- remembered it is read.
local partner = f.mate
if not partner then
  local rk = room_key(f.room)
  if redis.call('EXISTS', rk) == 0 then return refuse('not_in_room') end
  partner = mate_in(rk, uid)
end
rate_record(counter, window)
local pf = partner and redis.call('HMGET', sess_key(partner), 'conn', 'room')
if not pf or not pf[1] or pf[2] ~= f.room then return {'dropped', 'reason', 'partner_gone'} end
return {'ok', 'room_id', f.room, 'partner_connection', pf[1]}
