-- The caller's user id, session key and the session fields named in `...` (one HMGET with
-- the `conn` check; a field the session lacks is false), or nil when the connection has no
-- live session or the session now belongs to a newer connection of the same user (a zombie
-- socket). The user id comes from KEYS[2], the caller's session key, when the caller passed
-- it (the handlers know it from the $connect authorizer's context): no read of the
-- connection key. The session must name this connection either way; when the one KEYS[2]
-- names does not, the connection key decides, as without KEYS[2] (the answer for a zombie
-- socket is the same; only a caller that passed the wrong id pays the extra reads).
local function resolve(...)
  local names = {...}
  local uid, sk, values = nil, KEYS[2], nil
  if sk then
    local base = sess_key('')
    if string.sub(sk, 1, #base) == base then
      uid = string.sub(sk, #base + 1)
      values = redis.call('HMGET', sk, 'conn', ...)
    end
  end
  if not values or values[1] ~= CONN_ID then
    uid = redis.call('GET', KEYS[1])
    if not uid then return nil end
    sk = sess_key(uid)
    values = redis.call('HMGET', sk, 'conn', ...) -- by the connection key
    if values[1] ~= CONN_ID then return nil end
  end
  local fields = {}
  for i, name in ipairs(names) do fields[name] = values[i + 1] end
  return uid, sk, fields
end
