-- Takes `uid` out of the queue its session `sk` says it waits in. Returns 1 if it was waiting.
local function dequeue(uid, sk)
  local q = redis.call('HGET', sk, 'q')
  if not q then return 0 end
  redis.call('HDEL', sk, 'q')
  return redis.call('ZREM', queue_key(q), uid)
end
