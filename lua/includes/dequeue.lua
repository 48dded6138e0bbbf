-- @include includes/unlist
-- Takes `uid` (session `sk`) out of line if it waits, and clears the session's waiting
-- fields. Returns 1 if it was waiting.
local function dequeue(uid, sk)
  local f = redis.call('HMGET', sk, 'q', 'qs', 'g', 'p', 'in')
  if not f[1] then return 0 end
  if f[2] then unlist(uid, {q = f[1], qs = f[2], g = f[3], p = f[4], csv = f[5] or ''}) end
  redis.call('HDEL', sk, 'q', 'qs', 'rd', 'pr', 'sv', 'ra', 'or')
  return 1
end
