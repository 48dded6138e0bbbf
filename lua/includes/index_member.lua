-- An entry of the interest index (index_key(<accepted gender>), all scored 0, read with
-- ZRANGEBYLEX): '<interest>:<gender>:<ticks>:<uid>', so the entries of one interest and
-- gender sort oldest first and one prefix range finds them. No interest holds ':'.
local function index_member(interest, gender, ticks, uid)
  return interest .. ':' .. gender .. ':' .. ticks .. ':' .. uid
end
