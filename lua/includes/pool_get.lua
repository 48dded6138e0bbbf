-- Fields `names` of the pool hash, by name (false when unset), in one HMGET.
local function pool_get(names)
  local values = redis.call('HMGET', pool_key(), unpack(names))
  local out = {}
  for i, name in ipairs(names) do out[name] = values[i] end
  return out
end
