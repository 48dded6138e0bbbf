--[[
  report.lua: report the current partner (or the one just left) to the moderators.

  The server decides whom the report is about (partner_or_last): the other member of the
  caller's room, else the session's last partner. Ids in the client's frame are never used.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  reason (free text, already length-checked; may be '')
  ARGV[4]  approximate cap of the reports stream (XADD MAXLEN ~)

  Reply 'ok': room_id, user_id, reported_id, entry_id.
    entry_id is the stream entry's id, '' when this user had already reported that room (one
    report per room and reporter: no flooding).
  Stream entry fields: reporter, reported, roomId, reason, ts (ms).
  Errors (nothing written): session_expired, no_partner.
  Work: O(1) (XADD trims approximately).
]]
-- @include common
-- @include includes/resolve
-- @include includes/partner_or_last
local uid, sk = resolve()
if not uid then return refuse('session_expired') end
local partner, rid = partner_or_last(uid, sk)
if not partner then return refuse('no_partner') end
local entry = ''
if redis.call('HGET', sk, 'rp') ~= rid then
  redis.call('HSET', sk, 'rp', rid)
  entry = redis.call('XADD', reports_key(), 'MAXLEN', '~', tonumber(ARGV[4]), '*',
    'reporter', uid, 'reported', partner, 'roomId', rid, 'reason', ARGV[3], 'ts', now_ms())
end
return {'ok', 'room_id', rid, 'user_id', uid, 'reported_id', partner, 'entry_id', entry}
