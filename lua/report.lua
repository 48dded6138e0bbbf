--[[
  report.lua: report the current partner (or the one just left) to the moderators.

  The server decides whom the report is about: the other member of the caller's room, else
  the session's last partner (`lp`/`lr`, written when a room is dissolved). Ids in the
  client's frame are never used.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  reason (free text, already length-checked; may be '')
  ARGV[4]  approximate cap of the reports stream (XADD MAXLEN ~)

  Returns {'ok', roomId, userId, reportedId, streamEntryId}; streamEntryId is '' when this
  user had already reported that room (one report per room and reporter: no flooding).
  Stream entry fields: reporter, reported, roomId, reason, ts (ms).
  Errors (nothing written): session_expired, no_partner.
]]
-- @include common
local uid, sk = resolve()
if not uid then return {'error', 'session_expired'} end
local rid, rk = current_room(sk)
local partner
if rid then
  partner = mate_in(rk, uid)
else
  local last = redis.call('HMGET', sk, 'lp', 'lr')
  partner, rid = last[1], last[2]
end
if not partner or not rid then return {'error', 'no_partner'} end
if redis.call('HGET', sk, 'rp') == rid then return {'ok', rid, uid, partner, ''} end
redis.call('HSET', sk, 'rp', rid)
local id = redis.call('XADD', PREFIX .. 'reports', 'MAXLEN', '~', tonumber(ARGV[4]), '*',
  'reporter', uid, 'reported', partner, 'roomId', rid, 'reason', ARGV[3], 'ts', now_ms())
return {'ok', rid, uid, partner, id}
