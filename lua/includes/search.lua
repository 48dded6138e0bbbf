-- @include includes/admits
-- @include includes/compatible_segments
-- @include includes/live_waiter
-- @include includes/promote_due
-- The partner of user `uid` by the matching rule (docs/protocol.md), the hard rules always
-- applied (compatibility, self, recent partners and blocks both ways, live sessions): the
-- oldest compatible waiter sharing one of `me.interests`; else, when `me.open`, the oldest
-- compatible waiter open to anyone. Relaxed waiters are opened first (promote_due); entries
-- whose user no longer waits are removed when met.
-- `me`: g, p, interests (list), open. Work: promote_due(`window`), then at most
-- #interests x 2 index ranges and, when open, 4 queue ranges of at most `window` entries,
-- each entry a few O(1)/O(log n) calls.
-- Returns the partner's id and wait state (live_waiter), or nil, and a report:
--   stale: entries removed; passed: waiters passed over as recent partners or blocked;
--   complete: no range filled its window (a fuller scan could not have found more);
--   recheck: ms until a recent partnership that kept a waiter out ends (nil: none).
local function search(uid, me, window, now)
  local window_s, last_s = tostring(window), tostring(window - 1)
  promote_due(string.format('%.0f', now), window_s)
  local rep = {stale = 0, passed = 0, complete = true}
  local recent_me, block_me = recent_key(uid), block_key(uid)
  -- Most users have no blocks, and new ones no recent partners: checked once per call.
  local has_recent = redis.call('EXISTS', recent_me) == 1
  local has_blocks = redis.call('EXISTS', block_me) == 1
  local ttls = {}

  local function passed_over(recent)
    rep.passed = rep.passed + 1
    if recent and not ttls[recent] then
      ttls[recent] = redis.call('PTTL', recent)
      if ttls[recent] > 0 and (not rep.recheck or ttls[recent] < rep.recheck) then
        rep.recheck = ttls[recent]
      end
    end
  end

  -- The first of candidates `ids` (oldest first) the caller may be paired with: its position
  -- and waiting fields (`live(i)` reads them; nil: stale), and the positions of stale ones.
  -- The caller's own recent partners and blocks are looked up for the whole range in one
  -- SMISMEMBER each: a range headed by them costs a few calls, not the window.
  local function first_eligible(ids, live)
    local n, gone = #ids, {}
    if n >= window then rep.complete = false end
    if n == 0 then return nil, nil, gone end
    local mine_r, mine_b = {}, {}
    if has_recent then mine_r = redis.call('SMISMEMBER', recent_me, unpack(ids)) end
    if has_blocks then mine_b = redis.call('SMISMEMBER', block_me, unpack(ids)) end
    for i = 1, n do
      local cand = ids[i]
      if cand == uid then
        -- a waiter searching again meets its own entries
      elseif mine_r[i] == 1 then
        passed_over(recent_me)
      elseif mine_b[i] == 1 then
        passed_over(nil)
      else
        local w = live(i)
        if not w then
          gone[#gone + 1] = i
        elseif redis.call('SISMEMBER', recent_key(cand), uid) == 1 then
          passed_over(recent_key(cand))
        elseif redis.call('SISMEMBER', block_key(cand), uid) == 1 then
          passed_over(nil)
        else
          return i, w, gone
        end
      end
    end
    return nil, nil, gone
  end

  local function remove(key, entries, gone)
    if #gone == 0 then return end
    local dead = {}
    for _, i in ipairs(gone) do dead[#dead + 1] = entries[i] end
    redis.call('ZREM', key, unpack(dead))
    rep.stale = rep.stale + #dead
  end

  -- 1. Shared interests: the index of waiters who accept the caller's gender, one range per
  -- interest and per gender the caller accepts; later ranges fetch only older entries.
  local best, best_w, best_ticks
  local index = index_key(me.g)
  for _, interest in ipairs(me.interests) do
    for _, g2 in ipairs(GENDERS) do
      if admits(me.p, g2) then
        local head = interest .. ':' .. g2 .. ':'
        local stop = '(' .. interest .. ':' .. g2 .. ';'
        if best_ticks then stop = '(' .. head .. best_ticks end
        local entries = redis.call('ZRANGEBYLEX', index, '[' .. head, stop, 'LIMIT', '0', window_s)
        local ids, ticks = {}, {}
        for i, entry in ipairs(entries) do
          local _, _, t, id = string.match(entry, '^([^:]*):(%a+):(%d+):(.*)$')
          ids[i], ticks[i] = id or '', t
        end
        local i, w, gone = first_eligible(ids, function(k) return live_waiter(ids[k], nil, ticks[k]) end)
        remove(index, entries, gone)
        if i then best, best_w, best_ticks = ids[i], w, ticks[i] end
      end
    end
  end
  if best or not me.open then return best, best_w, rep end

  -- 2. Open to anyone: the compatible segment queues, scored by arrival, so the oldest across
  -- them is the lowest score among their first eligible entries; later queues fetch only
  -- entries older than the best so far (members only: the winner's score is its session's).
  local best_qs
  for _, seg in ipairs(compatible_segments(me.g, me.p)) do
    local qname = queue_name(seg[1], seg[2])
    local qkey = queue_key(qname)
    local ids
    if best_qs then
      ids = redis.call('ZRANGEBYSCORE', qkey, '-inf', '(' .. best_qs, 'LIMIT', '0', window_s)
    else
      ids = redis.call('ZRANGE', qkey, '0', last_s)
    end
    local i, w, gone = first_eligible(ids, function(k) return live_waiter(ids[k], qname) end)
    remove(qkey, ids, gone)
    if i then best, best_w, best_qs = ids[i], w, w.qs end
  end
  return best, best_w, rep
end
