-- @include includes/score_ticks
-- The rule that says whether a queue entry stands for a live waiter (the searches pair only
-- those, sweep.lua removes the others): user `uid`'s session exists, is connected, is in no
-- room and waits; in segment queue `qname` when given; since arrival ticks `ticks` when given
-- (an index entry left by an earlier wait is stale even while the user waits again).
-- Returns the session's waiting fields {conn, q, qs, g, p, csv, fb, rd, pr}, or nil.
local function live_waiter(uid, qname, ticks)
  local s = redis.call('HMGET', sess_key(uid),
    'conn', 'q', 'room', 'qs', 'g', 'p', 'in', 'fb', 'rd', 'pr')
  if not s[1] or not s[2] or s[3] or not s[4] then return nil end
  if qname and s[2] ~= qname then return nil end
  if ticks and score_ticks(s[4]) ~= ticks then return nil end
  return {conn = s[1], q = s[2], qs = s[4], g = s[5], p = s[6], csv = s[7] or '',
          fb = s[8] or '1', rd = s[9] or '', pr = s[10] or ''}
end
