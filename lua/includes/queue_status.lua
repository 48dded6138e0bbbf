-- @include includes/eta_field
-- @include includes/online_recount
-- What a waiting client is told (`queued`, `pong`), from its wait state `w` (wait_decode,
-- with q) and the pool fields `pool` ('on', its queue's 'eta:' field), at `now`:
--   online: the cached online count, recounted first when a registration lapsed since
--           (`pool` must hold 'on' and 'ox'; online_recount);
--   eta_ms: the recent mean wait of its queue and kind minus its own wait so far, at least 0;
--           '' (null) before 3 samples or 10 minutes after the last one (record_wait);
--   only_recent: '1' when its last search passed over only recent partners or blocks;
--   retry_ms: heartbeat within this long: at most `cap`, sooner when its relaxation time or
--             the end of a recent partnership (`ra`) comes first; at least 50.
local function queue_status(w, pool, now, cap)
  if not pool.ox or now >= (tonumber(pool.ox) or math.huge) then
    pool.on, pool.ox = online_recount(now)
  end
  local eta = ''
  local stats = pool[eta_field(w.q, w.csv)]
  local mean, count, last = string.match(stats or '', '^([%d.]+),(%d+),(%d+)$')
  if mean and tonumber(count) >= 3 and now - tonumber(last) <= 600000 then
    eta = string.format('%.0f', math.max(0, tonumber(mean) - (now - tonumber(w.qs))))
  end
  local retry = cap
  if w.csv ~= '' and w.fb == '1' and w.pr ~= '1' and tonumber(w.rd) then
    retry = math.min(retry, tonumber(w.rd) - now)
  end
  if tonumber(w.ra or '') then retry = math.min(retry, tonumber(w.ra) - now) end
  return {online = pool.on or '0', eta_ms = eta, only_recent = w['or'] == '1' and '1' or '0',
          retry_ms = string.format('%.0f', math.max(50, retry))}
end
