-- The member of room key `rk` other than `uid`, or nil.
local function mate_in(rk, uid)
  local m = redis.call('HMGET', rk, 'a', 'b')
  if m[1] == uid then return m[2] or nil end
  if m[2] == uid then return m[1] or nil end
  return nil
end
