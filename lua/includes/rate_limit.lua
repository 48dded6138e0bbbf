-- Sliding-window rate limit (the previous fixed window's count, weighted by how much of it
-- still overlaps the sliding window, plus the current window's count), in two halves so a
-- script can check with its other validation and record once it starts writing.
-- The state of one kind for one subject is three fields: `i` the index of the fixed window
-- it counts, `c` that window's count, `p` the window before's. A user's counters live in its
-- session hash (fields '<kind>.i', '<kind>.c', '<kind>.p'), which the script reads anyway:
-- checking costs nothing but naming the fields in resolve(), recording is one HINCRBY (one
-- HSET at the first event of a window, when the counts roll over). A client address's (or
-- any subject without a session) is its own small hash, rate_key(kind, subject): one HMGET to
-- check, and the HSET at a roll also sets its PEXPIRE of two windows, so it lives through the
-- window after the last one it counted and no longer.
-- rate_allows*: false when one more event would exceed `limit` per `window_ms`, else true and
-- the counter to pass to rate_record. A limit <= 0 disables it. `now` (ms) when the caller
-- has read the clock already.
local function rate_verdict(key, pre, at, c, p, limit, window_ms, now)
  local idx = math.floor(now / window_ms)
  at = tonumber(at)
  local cur, prev = 0, 0
  if at == idx then
    cur, prev = tonumber(c) or 0, tonumber(p) or 0
  elseif at == idx - 1 then
    prev = tonumber(c) or 0
  end
  local overlap = 1 - (now % window_ms) / window_ms
  if prev * overlap + cur + 1 > limit then return false, nil end
  return true, {key = key, pre = pre, idx = idx, prev = prev, roll = at ~= idx}
end

-- A user's limit, from its session's fields `f` as resolve() read them.
local function rate_allows_session(sk, f, kind, limit, window_ms, now)
  if not limit or limit <= 0 then return true, nil end
  local pre = kind .. '.'
  return rate_verdict(sk, pre, f[pre .. 'i'], f[pre .. 'c'], f[pre .. 'p'], limit, window_ms,
    now or now_ms())
end

-- A subject's limit in its own hash (a client address).
local function rate_allows(kind, subject, limit, window_ms, now)
  if not limit or limit <= 0 then return true, nil end
  local key = rate_key(kind, subject)
  local s = redis.call('HMGET', key, 'i', 'c', 'p')
  return rate_verdict(key, '', s[1], s[2], s[3], limit, window_ms, now or now_ms())
end

local function rate_record(counter, window_ms)
  if not counter then return end
  local pre = counter.pre
  if counter.roll then
    redis.call('HSET', counter.key, pre .. 'i', counter.idx, pre .. 'c', 1, pre .. 'p', counter.prev)
    if pre == '' then redis.call('PEXPIRE', counter.key, window_ms * 2) end
  else
    redis.call('HINCRBY', counter.key, pre .. 'c', 1)
  end
end
