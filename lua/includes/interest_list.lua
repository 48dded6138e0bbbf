-- A session's interests field ('a,b', sorted; '' = none) as a list. The server normalizes
-- interests (protocol.py): none holds ',' or ':'.
local function interest_list(csv)
  local out = {}
  if csv and csv ~= '' then
    for i in string.gmatch(csv, '[^,]+') do out[#out + 1] = i end
  end
  return out
end
