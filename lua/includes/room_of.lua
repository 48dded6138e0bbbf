-- Room `rid` (the `room` field of session `sk`, already read) in one HMGET: its key and its
-- fields {a, b, e, ts} (the members, the ms of its last renewal by renew_room and of its
-- creation, when match.lua gave it its first TTL), or nil when
-- the room is gone (expired), in which case the dangling field is cleared. A room hash always
-- holds a and b, so the same read that names the members tells whether it exists (what
-- current_room's EXISTS and mate_in's HMGET did in two calls).
local function room_of(sk, rid)
  local rk = room_key(rid)
  local m = redis.call('HMGET', rk, 'a', 'b', 'e', 'ts')
  if not m[1] and not m[2] then
    redis.call('HDEL', sk, 'room', 'mate', 'rr')
    return nil
  end
  return rk, m
end
