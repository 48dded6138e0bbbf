-- The first hard rule, one direction: preference `pref` admits gender `gender` ('any' admits
-- both). Compatibility is mutual: both directions must hold.
local function admits(pref, gender) return pref == 'any' or pref == gender end
