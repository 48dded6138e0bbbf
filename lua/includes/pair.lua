-- @include includes/unlist
-- @include includes/shared_interests
-- @include includes/record_wait
-- Makes room `rid` of caller `uid` (session `sk`; `me`: g, p, interests, csv, fb, and its
-- wait state with q when it was waiting, i.e. searching again on a heartbeat) and waiter
-- `partner` (wait state `w`, live_waiter): takes both out of line, points both sessions at the
-- room (`room`; `mate`, the other member, so a relay need not read the room; `rr`, when this
-- member last renewed the room, renew_room; the waiter is room member a, the caller b), makes them recent partners of each other for `recent_ttl` s, and
-- records the statistics: per minute for the ops API (a count, both waits), per queue and
-- kind for the wait estimate. Returns the waiter's wait (ms), the interests they share and
-- whether the match is relaxed (someone gave interests, none is shared). The TTLs are
-- strings (ARGV), as redis.call arguments cost less as strings.
local function pair(uid, sk, me, partner, w, rid, room_ttl, recent_ttl, now)
  local psk = sess_key(partner)
  unlist(partner, w)
  redis.call('HDEL', psk, 'q', 'w')
  local made = string.format('%.0f', now)
  redis.call('HSET', psk, 'room', rid, 'mate', uid, 'rr', made)
  local my_wait = 0
  if me.qs then
    unlist(uid, me)
    redis.call('HDEL', sk, 'q', 'w')
    my_wait = now - tonumber(me.qs)
  end
  redis.call('HSET', sk, 'g', me.g, 'p', me.p, 'in', me.csv, 'fb', me.fb, 'room', rid,
    'mate', partner, 'rr', made)
  local rk = room_key(rid)
  redis.call('HSET', rk, 'a', partner, 'b', uid, 'ts', made)
  redis.call('EXPIRE', rk, room_ttl)
  for _, ab in ipairs({{uid, partner}, {partner, uid}}) do
    redis.call('SADD', recent_key(ab[1]), ab[2])
    redis.call('EXPIRE', recent_key(ab[1]), recent_ttl)
  end

  -- Per-minute statistics for the ops API: a count, and the waits of both users (a joiner
  -- waited 0 ms), capped so one busy minute stays bounded; expiries set once per minute key.
  local waited = now - tonumber(w.qs)
  local minute = math.floor(now / 60000)
  local count_key, waits_key = stats_matches_key(minute), stats_waits_key(minute)
  if redis.call('INCR', count_key) == 1 then redis.call('EXPIRE', count_key, '7200') end
  local logged = redis.call('LLEN', waits_key)
  if logged < 2000 then
    redis.call('RPUSH', waits_key, string.format('%.0f', waited), string.format('%.0f', my_wait))
    if logged == 0 then redis.call('EXPIRE', waits_key, '7200') end
  end
  record_wait(w.q, w.csv, waited, now)
  if me.qs then record_wait(me.q, me.csv, my_wait, now) end

  local common = shared_interests(me.interests, w.csv)
  return waited, common, #common == 0 and (me.csv ~= '' or w.csv ~= '')
end
