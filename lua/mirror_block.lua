--[[
  mirror_block.lua: copy a block made in another pool into this pool's slot. A script touches
  one slot, and match.lua reads `block:` sets only in its own pool's slot, so a token user's
  block follows it across pools by being written into every configured pool (one call per
  other pool; blocks are rare). Anonymous ids never recur, so only token users' blocks are
  mirrored.

  KEYS[1]  <prefix>block:<userId>, the blocker's set in this pool (declared, so a cluster
           client routes the call)
  ARGV[1]  key prefix of this pool
  ARGV[2]  '' (no calling connection: the blocker is connected to another pool)
  ARGV[3]  the blocker's user id
  ARGV[4]  the blocked user id
  ARGV[5]  block TTL in s (refreshed, as block.lua does)

  Reply 'ok': added.
    added is '1' when the block was new in this pool, else '0'.
  Errors (nothing written): invalid_field (KEYS[1] is not ARGV[3]'s block set).
  Work: O(1).
]]
-- @include common
local bk = block_key(ARGV[3])
if KEYS[1] ~= bk then return refuse('invalid_field') end
local added = redis.call('SADD', bk, ARGV[4])
redis.call('EXPIRE', bk, tonumber(ARGV[5]))
return {'ok', 'added', tostring(added)}
