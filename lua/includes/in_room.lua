-- Whether user `uid`'s session exists and points at room `rid`: a room member counts only
-- while it does (a member whose session expired, or was replaced by a fresh one after the
-- expiry, is gone from the room).
local function in_room(uid, rid)
  return uid and redis.call('HGET', sess_key(uid), 'room') == rid
end
