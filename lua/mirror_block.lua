--[[
  mirror_block.lua: copy a block made in another pool into this pool's slot. A script touches
  one slot, and match.lua reads `block:` sets only in its own pool's slot, so a token user's
  block follows it across pools by being written into every configured pool (one call per
  other pool; blocks are rare). Anonymous ids never recur, so only token users' blocks are
  mirrored.

  KEYS[1]  <prefix>block:<userId> of the blocker, in this pool
  ARGV[1]  key prefix of this pool
  ARGV[2]  '' (no connection: the blocker is connected to another pool)
  ARGV[3]  the blocked user id
  ARGV[4]  block TTL in s (refreshed, as block.lua does)

  Returns {'ok'}.
  Errors: none. Work: O(1).
]]
redis.call('SADD', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {'ok'}
