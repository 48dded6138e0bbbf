-- @include includes/admits
-- @include includes/interest_list
-- @include includes/score_ticks
-- @include includes/index_member
-- Takes waiter `uid` out of every structure that lists it: its segment queue (once open to
-- anyone), its interest index entries and the relaxation set (while pending). `w` is its wait
-- state with q (live_waiter). At most 4 ZREMs. The session's fields are the caller's to clear.
local function unlist(uid, w)
  if w.pr == '1' then redis.call('ZREM', queue_key(w.q), uid) end
  if w.csv == '' then return end
  local ticks = score_ticks(w.qs)
  for _, accepts in ipairs(GENDERS) do
    if admits(w.p, accepts) then
      local members = {}
      for _, i in ipairs(interest_list(w.csv)) do
        members[#members + 1] = index_member(i, w.g, ticks, uid)
      end
      redis.call('ZREM', index_key(accepts, shadowed_queue(w.q)), unpack(members))
    end
  end
  if w.pr ~= '1' and w.fb == '1' then redis.call('ZREM', relax_key(), uid) end
end
