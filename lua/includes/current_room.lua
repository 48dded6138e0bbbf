-- The live room id of session `sk` and the room's key, or nil. `known` is the session's
-- `room` field when the caller already read it (false: none), else it is read here. A
-- dangling `room` field (the room expired) is cleared on the way.
local function current_room(sk, known)
  local rid = known
  if rid == nil then rid = redis.call('HGET', sk, 'room') end
  if not rid then return nil end
  local rk = room_key(rid)
  if redis.call('EXISTS', rk) == 0 then
    redis.call('HDEL', sk, 'room', 'mate', 'rr')
    return nil
  end
  return rid, rk
end
