-- @include includes/wait_encode
-- Relaxation: a waiter with interests and fallback becomes open to anyone at its relaxation
-- time. open_up puts waiter `uid` (wait state `w`, with q) in its segment queue at its arrival
-- score, so it keeps its place in line; bumps the segment's version (waiters who could now be
-- paired with it search again) and has the waiter itself search again on its next heartbeat
-- (ra = 0). It leaves the relaxation set.
local function open_up(uid, w)
  redis.call('ZADD', queue_key(w.q), w.qs, uid)
  w.pr, w.ra = '1', '0'
  redis.call('HSET', sess_key(uid), 'w', wait_encode(w))
  redis.call('HINCRBY', pool_key(), 'v:' .. w.q, '1')
  redis.call('ZREM', relax_key(), uid)
end
