-- @include includes/score_ticks
-- @include includes/wait_decode
-- The rule that says whether a queue entry stands for a live waiter (the searches pair only
-- those, sweep.lua removes the others): user `uid`'s session exists, is connected, is in no
-- room and waits; in segment queue `qname` when given; since arrival ticks `ticks` when given
-- (an index entry left by an earlier wait is stale even while the user waits again).
-- Returns its wait state (wait_decode) with conn and q added, or nil.
local function live_waiter(uid, qname, ticks)
  local s = redis.call('HMGET', sess_key(uid), 'conn', 'q', 'room', 'w')
  if not s[1] or not s[2] or s[3] then return nil end
  if qname and s[2] ~= qname then return nil end
  local w = wait_decode(s[4])
  if not w or (ticks and score_ticks(w.qs) ~= ticks) then return nil end
  w.conn, w.q = s[1], s[2]
  return w
end
