-- An arrival score (ms, in steps of 1/1024: next_score) as 16-digit ticks of 1/1024 ms, the
-- fixed-width form the interest index sorts by.
local function score_ticks(qs) return string.format('%016.0f', tonumber(qs) * 1024) end
