-- @include includes/admits
-- @include includes/interest_list
-- @include includes/score_ticks
-- @include includes/index_member
-- Takes waiter `uid` out of every structure that lists it: its segment queue, its interest
-- index entries and the relaxation set. `w` holds its waiting fields (q, qs, g, p, csv), as
-- live_waiter returns them. At most 4 ZREMs. The session's fields are the caller's to clear.
local function unlist(uid, w)
  redis.call('ZREM', queue_key(w.q), uid)
  if w.csv == '' then return end
  local ticks = score_ticks(w.qs)
  for _, accepts in ipairs(GENDERS) do
    if admits(w.p, accepts) then
      local members = {}
      for _, i in ipairs(interest_list(w.csv)) do
        members[#members + 1] = index_member(i, w.g, ticks, uid)
      end
      redis.call('ZREM', index_key(accepts), unpack(members))
    end
  end
  redis.call('ZREM', relax_key(), uid)
end
