--[[
  sweep.lua: remove the entries of one waiting structure (or of the online set) that no longer
  stand for anyone (a session expired or was erased without a $disconnect, or the user moved
  on), for the scheduled sweeper.

  The sweeper reads candidates with ZSCAN (bounded pages) and hands them here; every entry is
  checked again inside the script, so a user who rejoined between the read and this call is
  never removed. The rules are the searches' (live_waiter): a queue entry or index entry is
  stale when the user's session is gone, has no connection, is in a room, or waits elsewhere
  or since another arrival; a relaxation entry when its user no longer waits to be relaxed;
  an online entry when its registration has lapsed.

  KEYS[1]  <prefix><name>, the structure (declared, so a cluster client routes the call)
  ARGV[1]  key prefix
  ARGV[2]  '' (no calling connection)
  ARGV[3]  name without prefix: wait:chat:<gender>:<preference> or wait:shadow:<gender>:
           <preference> (a queue: user ids; KEYS[1] must be that queue), or wait:int:<gender>
           or wait:sint:<gender> (an interest index: index entries),
           wait:relax (user ids) or online (user ids), which KEYS[1] alone identifies
  ARGV[4..] candidate members (a bounded page)

  Reply 'ok': removed, checked.
    checked counts candidates still in the structure.
  Errors (nothing written): invalid_field (unknown name, or KEYS[1] is not that structure).
  Work: O(page size).
]]
-- @include common
-- @include includes/live_waiter
-- @include includes/online_recount
local name = ARGV[3]
local kind
SHADOW = shadowed_queue(name)
for _, g in ipairs(GENDERS) do
  for _, p in ipairs(PREFERENCES) do
    if name == queue_name(g, p) and KEYS[1] == queue_key(name) then kind = 'queue' end
  end
  if KEYS[1] == index_key(g, false) or KEYS[1] == index_key(g, true) then kind = 'index' end
end
if KEYS[1] == relax_key() then kind = 'relax' end
if KEYS[1] == online_key() then kind = 'online' end
if not kind then return refuse('invalid_field') end

local now = now_ms()
-- Whether `member` still stands for someone.
local function current(member)
  if kind == 'queue' then return live_waiter(member, name) ~= nil end
  if kind == 'index' then
    local _, _, ticks, uid = string.match(member, '^([^:]*):(%a+):(%d+):(.*)$')
    return uid ~= nil and live_waiter(uid, nil, ticks) ~= nil
  end
  if kind == 'relax' then
    local w = live_waiter(member)
    return w ~= nil and w.fb == '1' and w.pr ~= '1'
  end
  return tonumber(redis.call('ZSCORE', KEYS[1], member)) > now
end

local removed, checked = 0, 0
for i = 4, #ARGV do
  local member = ARGV[i]
  if redis.call('ZSCORE', KEYS[1], member) then
    checked = checked + 1
    if not current(member) then
      removed = removed + redis.call('ZREM', KEYS[1], member)
    end
  end
end
if kind == 'online' and removed > 0 then online_recount(now) end
return {'ok', 'removed', tostring(removed), 'checked', tostring(checked)}
