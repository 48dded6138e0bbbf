-- @include includes/admits
-- The segments (gender, preference) whose waiters a user of gender `g` and preference `p`
-- may be paired with (mutual compatibility), in GENDERS x PREFERENCES order: at most 4 of 6.
local function compatible_segments(g, p)
  local out = {}
  for _, g2 in ipairs(GENDERS) do
    for _, p2 in ipairs(PREFERENCES) do
      if admits(p, g2) and admits(p2, g) then out[#out + 1] = {g2, p2} end
    end
  end
  return out
end
