-- @include includes/eta_field
-- One sample for the wait estimate (queue_status): a waiter of queue `qname` with interests
-- field `csv` was paired after `waited` ms. The mean moves a quarter of the way to each new
-- sample (an exponentially weighted mean); the count stops at 1000.
local function record_wait(qname, csv, waited, now)
  local field = eta_field(qname, csv)
  local old = redis.call('HGET', pool_key(), field)
  local mean, count = waited, 1
  if old then
    local m, c = string.match(old, '^([%d.]+),(%d+),')
    if m then
      mean, count = tonumber(m) + (waited - tonumber(m)) / 4, math.min(tonumber(c) + 1, 1000)
    end
  end
  redis.call('HSET', pool_key(), field, string.format('%.0f,%d,%.0f', mean, count, now))
end
