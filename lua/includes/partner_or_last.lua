-- @include includes/current_room
-- @include includes/mate_in
-- Whom an action about "my partner" (report, block) is about, as the server knows it: the
-- other member of the caller's live room, else the session's last partner (`lp`/`lr`,
-- written by dissolve). Ids in the client's frame are never used.
-- Returns partnerId, roomId, live (true when that room is the current one), or nil.
local function partner_or_last(uid, sk)
  local rid, rk = current_room(sk)
  if rid then
    local partner = mate_in(rk, uid)
    if not partner then return nil end
    return partner, rid, true
  end
  local last = redis.call('HMGET', sk, 'lp', 'lr')
  if not last[1] or not last[2] then return nil end
  return last[1], last[2], false
end
