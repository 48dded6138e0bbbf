-- @include includes/touch
-- touch() for the frequent frames (relay, heartbeat), at most once a quarter of the TTL:
-- `t` is when the session was last renewed, as far as it says (its `t` field, written here,
-- else `since`, when connect.lua opened it; false when neither), `now` the clock. Renewing only when `t` is a quarter of `ttl_ms` old or more leaves the session and
-- connection key at least 3/4 of the TTL after every frame, so a client that sends a frame
-- (a heartbeat at the least) every half TTL never sees them lapse; a `t` from the future (a
-- failover to a node whose clock is behind) counts as due. Scripts that renew with touch()
-- alone leave `t` older than the real renewal, which only makes the next one come sooner.
-- Costs one HSET and two PEXPIREs when due, nothing otherwise. Returns whether it renewed.
local function touch_lazily(sk, ttl_ms, t, now)
  local last = tonumber(t)
  if last and now >= last and now - last < ttl_ms / 4 then return false end
  redis.call('HSET', sk, 't', now)
  touch(sk, ttl_ms)
  return true
end
