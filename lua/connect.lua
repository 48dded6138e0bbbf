--[[
  connect.lua: bind a new connection to a user and open (or take over) its session.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  user id (decided by the server: generated, or a verified token's subject)
  ARGV[4]  session TTL in ms

  Returns {'ok', previousConnectionId or ''}. A previous connection of the same user loses
  its conn key, so a zombie socket of that user can no longer act for it.
  Errors: none.
]]
-- @include common
local uid = ARGV[3]
local ttl = tonumber(ARGV[4])
local sk = sess_key(uid)
local previous = redis.call('HGET', sk, 'conn') or ''
redis.call('HSET', sk, 'conn', CONN_ID, 'since', now_ms())
redis.call('SET', KEYS[1], uid, 'PX', ttl)
touch(sk, ttl)
if previous ~= '' and previous ~= CONN_ID then
  redis.call('DEL', conn_key(previous))
end
return {'ok', previous}
