-- The online count: every live session is registered in online_key() until its registration
-- lapses (online_register), which is never later than the session itself; a disconnect
-- unregisters it. The count of unlapsed registrations (ZCOUNT, O(log n)) is cached in the
-- pool hash's `on`, with `ox`, the time the earliest of them lapses: connects and disconnects
-- recount, and a queue reply recounts when `ox` has passed (someone vanished without a
-- $disconnect), so reading the count stays O(1) and exact.
local function online_recount(now)
  local after = '(' .. string.format('%.0f', now)
  local n = redis.call('ZCOUNT', online_key(), after, '+inf')
  local first = redis.call('ZRANGEBYSCORE', online_key(), after, '+inf', 'WITHSCORES',
                           'LIMIT', '0', '1')
  local ox = first[2] or '+inf'
  redis.call('HSET', pool_key(), 'on', n, 'ox', ox)
  return tostring(n), ox
end
