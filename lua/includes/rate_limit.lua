-- Sliding-window rate limit (the previous fixed window's count, weighted by how much of it
-- still overlaps the sliding window, plus the current window's count), in two halves so a
-- script can check with its other validation and record once it starts writing.
-- The state of one kind for one subject (a user id, or an address) is one small hash,
-- rate_key(kind, subject): `i` the index of the fixed window it counts, `c` that window's
-- count, `p` the window before's. Checking is one HMGET; recording is one HINCRBY, except at
-- the first event of a window: one HSET (the counts roll over) and one PEXPIRE of two windows,
-- so the hash lives through the window after the last one it counted and no longer.
-- rate_allows reads only: false when one more event of `kind` would exceed `limit` per
-- `window_ms`, else true and the counter to pass to rate_record. A limit <= 0 disables it.
-- `now` (ms) when the caller has read the clock already.
local function rate_allows(kind, uid, limit, window_ms, now)
  if not limit or limit <= 0 then return true, nil end
  now = now or now_ms()
  local idx = math.floor(now / window_ms)
  local key = rate_key(kind, uid)
  local s = redis.call('HMGET', key, 'i', 'c', 'p')
  local at = tonumber(s[1])
  local cur, prev = 0, 0
  if at == idx then
    cur, prev = tonumber(s[2]) or 0, tonumber(s[3]) or 0
  elseif at == idx - 1 then
    prev = tonumber(s[2]) or 0
  end
  local overlap = 1 - (now % window_ms) / window_ms
  if prev * overlap + cur + 1 > limit then return false, nil end
  return true, {key = key, idx = idx, prev = prev, roll = at ~= idx}
end

local function rate_record(counter, window_ms)
  if not counter then return end
  if counter.roll then
    redis.call('HSET', counter.key, 'i', counter.idx, 'c', 1, 'p', counter.prev)
    redis.call('PEXPIRE', counter.key, window_ms * 2)
  else
    redis.call('HINCRBY', counter.key, 'c', 1)
  end
end
