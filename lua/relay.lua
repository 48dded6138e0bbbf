--[[
  relay.lua: find where a chat message goes, in one call.

  KEYS[1]  <prefix>conn:<connectionId>
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  session TTL in ms
  ARGV[4]  room TTL in s
  ARGV[5]  message limit per window (optional; 0 or absent: no limit)
  ARGV[6]  rate window in ms (optional, default 60000)

  Reply 'ok': room_id, partner_connection.
    Post the message to partner_connection.
  Reply 'partner_gone': room_id.
    The partner's session had expired (or was replaced by a fresh one that is not in this
    room); the room is dissolved and the sender should be told partner_left.
  Errors (nothing written): session_expired, not_in_room, partner_away (the partner's socket
    closed and it may still reconnect within the grace: the message is not delivered),
    rate_limited (too many messages in the window).
  Work: O(1). A delivered message makes 4 calls: the caller's session (with KEYS[2]; else
    the connection key first), which names the room and the partner (`mate`), the partner's
    session, TIME, and the increment of the send counter, which lives in the session and is
    read with it (includes/rate_limit.lua); the session, the
    connection key and the room are renewed once a quarter of their TTL (touch_lazily,
    renew_room), not on every message.
]]
-- @include common
-- @include includes/resolve
-- @include includes/touch_lazily
-- @include includes/room_of
-- @include includes/renew_room
-- @include includes/dissolve
-- @include includes/rate_limit
local uid, sk, f = resolve('room', 'mate', 'rr', 't', 'since', 'send.i', 'send.c', 'send.p')
if not uid then return refuse('session_expired') end
local rid = f.room
if not rid then return refuse('not_in_room') end
-- The partner is the session's `mate` (pair.lua): the room itself is not read. Both sessions
-- pointing at the room is what makes it live (dissolve clears both at once, and the renewal
-- below keeps the room alive as long as the sessions that point at it).
local rk, partner, last, stamp = room_key(rid), f.mate, f.rr, sk
if not partner then
  -- A room paired before sessions remembered their mate: read the members from the room.
  local m
  rk, m = room_of(sk, rid)
  if not rk then return refuse('not_in_room') end
  partner = m[1]
  if partner == uid then partner = m[2] end
  last, stamp = m[3] or m[4], nil
end
local pf = partner and redis.call('HMGET', sess_key(partner), 'conn', 'away', 'room')
local pconn = pf and pf[3] == rid and pf[1]
if not pconn then
  if pf and pf[3] == rid and pf[2] then return refuse('partner_away') end
  dissolve(rid, uid)
  return {'partner_gone', 'room_id', rid}
end
local now = now_ms()
local window_ms = tonumber(ARGV[6] or '60000') or 60000
local allowed, counter = rate_allows_session(sk, f, 'send', tonumber(ARGV[5] or '0'), window_ms,
  now)
if not allowed then return refuse('rate_limited') end
rate_record(counter, window_ms)
local session_ttl = tonumber(ARGV[3])
touch_lazily(sk, session_ttl, f.t or f.since, now)
renew_room(rk, last, tonumber(ARGV[4]), session_ttl, now, stamp)
return {'ok', 'room_id', rid, 'partner_connection', pconn}
