-- The caller's user id and session key, or nil when the connection has no live session or
-- the session now belongs to a newer connection of the same user (a zombie socket).
local function resolve()
  local uid = redis.call('GET', KEYS[1])
  if not uid then return nil end
  local sk = sess_key(uid)
  if redis.call('HGET', sk, 'conn') ~= CONN_ID then return nil end
  return uid, sk
end
