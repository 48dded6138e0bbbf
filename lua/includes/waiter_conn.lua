-- The rule that says whether a queue entry is a live waiter (match.lua pairs only those,
-- sweep.lua removes the others): user `uid` waits in queue `qname` while its session exists,
-- has a connection, names that queue in `q` and is in no room.
-- Returns the waiter's connection id, or nil when the entry is stale.
local function waiter_conn(uid, qname)
  local s = redis.call('HMGET', sess_key(uid), 'conn', 'q', 'room')
  if not s[1] or s[2] ~= qname or s[3] then return nil end
  return s[1]
end
