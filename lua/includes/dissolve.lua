-- Deletes room `rid` and clears the `room` field of both members that still point at it.
-- Each member's session remembers the other as its last partner (`lp`, `lr` = the room), so
-- `report` and `block` can still act on a partner who just left (partner_or_last).
-- Returns the member other than `uid` and that member's connection id ('' when none/gone).
local function dissolve(rid, uid)
  local rk = room_key(rid)
  local m = redis.call('HMGET', rk, 'a', 'b')
  redis.call('DEL', rk)
  -- The room is already gone (the caller knew it from its session's `room` and `mate`, and
  -- did not read the room): the caller's own session is the one left pointing at it.
  if not m[1] and not m[2] then m = {uid, nil} end
  local other = ''
  if m[1] == uid and m[2] then other = m[2] elseif m[2] == uid and m[1] then other = m[1] end
  local other_conn = ''
  for i, member in ipairs({m[1], m[2]}) do
    if member then
      local msk = sess_key(member)
      local f = redis.call('HMGET', msk, 'conn', 'room')
      -- A member whose session no longer points here (it expired and the user came back
      -- with a fresh session, maybe in another room) is not part of this room any more:
      -- leave its session alone and do not tell it partner_left.
      if f[2] == rid then
        redis.call('HDEL', msk, 'room', 'mate', 'rr')
        local mate = m[1]
        if i == 1 then mate = m[2] end
        if mate then redis.call('HSET', msk, 'lp', mate, 'lr', rid) end
        if member == other and f[1] then other_conn = f[1] end
      end
    end
  end
  return other, other_conn
end
