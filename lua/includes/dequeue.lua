-- @include includes/wait_decode
-- @include includes/unlist
-- Takes `uid` (session `sk`) out of line if it waits, and clears the session's waiting
-- fields. Returns 1 if it was waiting.
local function dequeue(uid, sk)
  local f = redis.call('HMGET', sk, 'q', 'w')
  if not f[1] then return 0 end
  local w = wait_decode(f[2])
  if w then
    w.q = f[1]
    unlist(uid, w)
  end
  redis.call('HDEL', sk, 'q', 'w')
  return 1
end
