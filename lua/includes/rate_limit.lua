-- Sliding-window rate limit (the previous fixed window's count, weighted by how much of it
-- still overlaps the sliding window, plus the current window's count), in two halves so a
-- script can check with its other validation and record once it starts writing.
-- rate_allows reads only: false when one more event of `kind` would exceed `limit` per
-- `window_ms`, else true and the counter key to pass to rate_record. A limit <= 0 disables it.
local function rate_allows(kind, uid, limit, window_ms)
  if not limit or limit <= 0 then return true, nil end
  local now = now_ms()
  local idx = math.floor(now / window_ms)
  local cur_k = rate_key(kind, uid, idx)
  local prev = tonumber(redis.call('GET', rate_key(kind, uid, idx - 1)) or '0')
  local cur = tonumber(redis.call('GET', cur_k) or '0')
  local overlap = 1 - (now % window_ms) / window_ms
  if prev * overlap + cur + 1 > limit then return false, nil end
  return true, cur_k
end

local function rate_record(counter_key, window_ms)
  if not counter_key then return end
  redis.call('INCR', counter_key)
  redis.call('PEXPIRE', counter_key, window_ms * 2)
end
