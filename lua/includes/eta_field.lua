-- The pool hash field holding the wait statistics of queue `qname` for waiters with
-- interests ('i') or without ('a'): 'mean ms,count,last sample ms' (record_wait).
local function eta_field(qname, csv) return 'eta:' .. qname .. ':' .. (csv ~= '' and 'i' or 'a') end
