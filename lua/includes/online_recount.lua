-- The online count: every live session is registered in online_key() until its registration
-- lapses (online_register), which is never later than the session itself; a disconnect
-- unregisters it. Each change recounts the unlapsed registrations (ZCOUNT, O(log n)) into the
-- pool hash's `on`, which queue replies read in O(1).
local function online_recount(now)
  redis.call('HSET', pool_key(), 'on', redis.call('ZCOUNT', online_key(), '(' .. now, '+inf'))
end
