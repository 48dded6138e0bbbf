--[[
  sweep.lua: remove queue entries whose user no longer waits there (its session expired or
  was erased without a $disconnect, or it moved on), for the scheduled sweeper.

  The sweeper reads candidates with ZSCAN (bounded pages) and hands them here; every entry is
  checked again inside the script, so a user who rejoined between the read and this call is
  never removed. The rule is match.lua's (waiter_conn): an entry is stale when the user's
  session is gone, has no connection, waits in another queue, or is in a room.

  KEYS[1]  <prefix><queueName>, the queue (declared, so a cluster client routes the call)
  ARGV[1]  key prefix
  ARGV[2]  '' (no calling connection)
  ARGV[3]  queue name without prefix: wait:chat:<gender>:<preference>
  ARGV[4..] candidate user ids (a bounded page)

  Reply 'ok': removed, checked.
    checked counts candidates still in the queue.
  Errors (nothing written): invalid_field (malformed queue name, or KEYS[1] is not that queue).
  Work: O(page size).
]]
-- @include common
-- @include includes/waiter_conn
local qname = ARGV[3]
local known = false
for _, g in ipairs(GENDERS) do
  for _, p in ipairs(PREFERENCES) do
    if qname == queue_name(g, p) then known = true end
  end
end
if not known or KEYS[1] ~= queue_key(qname) then return refuse('invalid_field') end

local removed, checked = 0, 0
for i = 4, #ARGV do
  local uid = ARGV[i]
  if redis.call('ZSCORE', KEYS[1], uid) then
    checked = checked + 1
    if not waiter_conn(uid, qname) then
      removed = removed + redis.call('ZREM', KEYS[1], uid)
    end
  end
end
return {'ok', 'removed', tostring(removed), 'checked', tostring(checked)}
