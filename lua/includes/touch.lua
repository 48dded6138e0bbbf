-- Keeps the caller's session and connection key alive for another `ttl_ms`.
local function touch(sk, ttl_ms)
  redis.call('PEXPIRE', sk, ttl_ms)
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
end
