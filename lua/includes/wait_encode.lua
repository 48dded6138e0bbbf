-- The session field `w` for wait state `t` (see wait_decode). No part holds '|': interests
-- are normalized without it, the rest are numbers, names and version lists.
local function wait_encode(t)
  return table.concat({t.qs, t.rd or '', t.pr or '', t.ra or '', t['or'] or '0', t.sv or '',
                       t.g, t.p, t.fb, t.csv}, '|')
end
