-- Registers session `uid` (key `sk`) as online until now + `ttl_ms`: on connect, and on a
-- heartbeat once a third of the last registration has run, so it lapses no later than the
-- session does (`ol` in the session is its end). A renewal leaves the count as it is;
-- connect recounts (online_recount).
local function online_register(uid, sk, now, ttl_ms)
  local lapse = string.format('%.0f', now + ttl_ms)
  redis.call('ZADD', online_key(), lapse, uid)
  redis.call('HSET', sk, 'ol', lapse)
end
