-- @include includes/live_waiter
-- @include includes/open_up
-- Opens at most `limit` waiters whose relaxation time has passed (open_up), oldest deadline
-- first, and drops relaxation entries whose user no longer waits for it. Every search runs it
-- first, so joiners find a relaxed waiter even before that waiter's own heartbeat. `now` and
-- `limit` are strings (a redis.call argument costs less as one).
local function promote_due(now, limit)
  local due = redis.call('ZRANGEBYSCORE', relax_key(), '-inf', now, 'LIMIT', '0', limit)
  for _, uid in ipairs(due) do
    local w = live_waiter(uid)
    if w and w.fb == '1' and w.pr ~= '1' then
      open_up(uid, w)
    else
      redis.call('ZREM', relax_key(), uid)
    end
  end
end
