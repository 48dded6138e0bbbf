-- The caller's user id, session key and the session fields named in `...` (one HMGET with
-- the `conn` check; a field the session lacks is false), or nil when the connection has no
-- live session or the session now belongs to a newer connection of the same user (a zombie
-- socket).
local function resolve(...)
  local uid = redis.call('GET', KEYS[1])
  if not uid then return nil end
  local sk = sess_key(uid)
  local names = {...}
  local values = redis.call('HMGET', sk, 'conn', ...)
  if values[1] ~= CONN_ID then return nil end
  local fields = {}
  for i, name in ipairs(names) do fields[name] = values[i + 1] end
  return uid, sk, fields
end
