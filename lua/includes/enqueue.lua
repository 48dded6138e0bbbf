-- @include includes/admits
-- @include includes/score_ticks
-- @include includes/index_member
-- Puts user `uid` in line; returns its queue name, arrival score and the segment's new
-- version. `me`: g, p, interests (list), fb ('1'|'0'), open (to anyone now), rd (relaxation
-- time, ms, as a string, or ''); `pool`: the pool's fields 'last' (arrival score) and
-- 'v:<its queue>' as read in this call. The session's fields are the caller's to write.
-- Arrival scores are strict: Redis time in ms, or 1/1024 ms after the last score given in
-- this pool when that is not earlier, so joins within one millisecond keep their order (more
-- than 1024 in one ms run ahead of the clock, still in order). The waiter goes in its segment
-- queue when it is open to anyone, in the interest index under each of its interests for each
-- gender its preference accepts, and in the relaxation set while its relaxation is pending.
-- Bumping the segment's version makes waiters who might be paired with it search again.
local function enqueue(uid, me, now, pool)
  local score = now
  local prev = tonumber(pool.last or '')
  if prev and prev >= now then score = prev + 1 / 1024 end
  local qs = string.format('%.17g', score)
  local qname = queue_name(me.g, me.p)
  if me.open then redis.call('ZADD', queue_key(qname), qs, uid) end
  if #me.interests > 0 then
    local ticks = score_ticks(qs)
    for _, accepts in ipairs(GENDERS) do
      if admits(me.p, accepts) then
        local args = {}
        for _, i in ipairs(me.interests) do
          args[#args + 1] = '0'
          args[#args + 1] = index_member(i, me.g, ticks, uid)
        end
        redis.call('ZADD', index_key(accepts), unpack(args))
      end
    end
    if not me.open and me.fb == '1' then redis.call('ZADD', relax_key(), me.rd, uid) end
  end
  local version = tostring((tonumber(pool['v:' .. qname]) or 0) + 1)
  redis.call('HSET', pool_key(), 'last', qs, 'v:' .. qname, version)
  return qname, qs, version
end
