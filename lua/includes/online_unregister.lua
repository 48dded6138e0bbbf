-- @include includes/online_recount
-- Takes user `uid` out of the online count (its socket is gone).
local function online_unregister(uid, now)
  if redis.call('ZREM', online_key(), uid) == 1 then online_recount(now) end
end
