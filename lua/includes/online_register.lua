-- Registers user `uid` as online until now + `ttl_ms`: on connect, and whenever a heartbeat
-- renews its session (touch_lazily), so the registration lapses when the session would.
-- A renewal leaves the cached count as it is; connect recounts (online_recount).
local function online_register(uid, now, ttl_ms)
  redis.call('ZADD', online_key(), string.format('%.0f', now + ttl_ms), uid)
end
