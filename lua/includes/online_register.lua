-- @include includes/online_recount
-- Registers session `uid` (key `sk`) as online until now + `ttl_ms`: on connect, and on a
-- heartbeat once a quarter of the last registration has run, so it lapses no later than the
-- session does (`ol` in the session is its end).
local function online_register(uid, sk, now, ttl_ms)
  redis.call('ZADD', online_key(), now + ttl_ms, uid)
  redis.call('HSET', sk, 'ol', now + ttl_ms)
  online_recount(now)
end
