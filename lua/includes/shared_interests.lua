-- @include includes/interest_list
-- The interests in list `mine` that interests field `csv` also holds, sorted (byte order is
-- code point order for UTF-8: the order Python sorts them in).
local function shared_interests(mine, csv)
  local other, out = {}, {}
  for _, i in ipairs(interest_list(csv)) do other[i] = true end
  for _, i in ipairs(mine) do
    if other[i] then out[#out + 1] = i end
  end
  table.sort(out)
  return out
end
