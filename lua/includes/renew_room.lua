-- Renews room `rk` for `room_ttl_s` unless its last renewal `last` is recent: younger than a
-- quarter of the room TTL and than (room TTL - session TTL). A member's session expires at
-- most a session TTL from now (no renewal sets more), and a room not renewed now still has
-- more than room TTL - (room TTL - session TTL) = a session TTL to live: after every frame of
-- a member that calls this, the room outlives that member's session, as when every frame
-- renewed it. A room TTL not longer than the session TTL is renewed on every call.
-- Where the renewal is stamped: with `sk`, in that member's session (`rr`: each member
-- renews for itself, and a relay need not read the room: `last` is the session's `rr`, else
-- the room's creation `ts`); without, in the room (`e`: room_of's m[3], else m[4]).
-- Costs one HSET and one EXPIRE when due, nothing otherwise.
local function renew_room(rk, last, room_ttl_s, session_ttl_ms, now, sk)
  local ttl_ms = room_ttl_s * 1000
  local every = math.min(ttl_ms / 4, ttl_ms - session_ttl_ms)
  last = tonumber(last)
  if last and now >= last and now - last < every then return end
  if sk then redis.call('HSET', sk, 'rr', now) else redis.call('HSET', rk, 'e', now) end
  redis.call('EXPIRE', rk, room_ttl_s)
end
