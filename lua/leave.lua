--[[
  leave.lua: leave the room or the queue; on disconnect (or a 410 Gone found while posting),
  erase every trace of the connection.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  mode: 'leave' (user asked; the session stays), 'disconnect' ($disconnect) or
           'gone' (a post met 410): both of the latter delete the session and the conn key.
  ARGV[4]  session TTL in ms (refreshed on 'leave')

  Returns {'left', userId, roomId, partnerId, partnerConnectionId, wasQueued ('1'|'0')};
  '' where there is none. partnerConnectionId is who to tell partner_left.
  A 'disconnect'/'gone' for a connection whose user has since reconnected elsewhere only
  removes the old conn key: the newer session is left alone.
  Errors: session_expired ('leave' only).
]]
-- @include common
local mode = ARGV[3]
local uid, sk = resolve()
if not uid then
  if mode == 'leave' then return {'error', 'session_expired'} end
  redis.call('DEL', KEYS[1])
  return {'left', '', '', '', '', '0'}
end
local rid = current_room(sk)
local partner, pconn = '', ''
if rid then partner, pconn = dissolve(rid, uid) end
local was_queued = dequeue(uid, sk)
if mode == 'leave' then
  touch(sk, tonumber(ARGV[4]))
  return {'left', uid, rid or '', partner, pconn, tostring(was_queued)}
end
redis.call('DEL', sk, KEYS[1])
return {'left', uid, rid or '', partner, pconn, tostring(was_queued)}
