-- A session's wait state (field `w` while it waits; written by wait_encode), as a table:
-- qs (arrival score), rd (relaxation time, ms, or ''), pr ('1' once open to anyone: in its
-- segment queue), ra (search again from this time, ms, or ''), ['or'] ('1': the last search
-- passed over only recent partners or blocks), sv (the versions its last search saw), g, p,
-- fb, csv (what it waits with). One field instead of ten: a redis.call costs per argument.
local function wait_decode(w)
  if not w then return nil end
  local qs, rd, pr, ra, only, sv, g, p, fb, csv =
    string.match(w, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(%a*)|(%a*)|([01])|(.*)$')
  if not qs or qs == '' then return nil end
  return {qs = qs, rd = rd, pr = pr, ra = ra, ['or'] = only, sv = sv, g = g, p = p, fb = fb,
          csv = csv}
end
