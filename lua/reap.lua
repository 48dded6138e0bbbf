--[[
  reap.lua: end a room one of whose members' sessions is gone (expired without $disconnect,
  or its reconnect grace ran out, or replaced by a fresh session that is not in this room).
  The sweeper calls it for each room it scans, so a live user left alone in such a room
  hears partner_left even if it never sends or heartbeats.

  KEYS[1]  <prefix>room:<roomId> (declared so a cluster client routes by the same hash tag)
  ARGV[1]  key prefix
  ARGV[2]  '' (no calling connection)
  ARGV[3]  room id

  Reply 'alive': room_id.
    Both sessions exist: nothing done (a member within its reconnect grace counts as
    existing).
  Reply 'none': room_id.
    No such room.
  Reply 'reaped': room_id, survivor_id, survivor_connection.
    The room is deleted; tell the survivor partner_left ('' when nobody is left).
  Errors: none.
  Work: O(1).
]]
-- @include common
-- @include includes/in_room
-- @include includes/dissolve
local rid = ARGV[3]
local m = redis.call('HMGET', room_key(rid), 'a', 'b')
if not m[1] and not m[2] then return {'none', 'room_id', rid} end
local a_live = m[1] and in_room(m[1], rid)
local b_live = m[2] and in_room(m[2], rid)
if a_live and b_live then return {'alive', 'room_id', rid} end
local gone = m[1]
if a_live or not m[1] then gone = m[2] end
local survivor, sconn = dissolve(rid, gone or '')
if not (a_live or b_live) then survivor, sconn = '', '' end
return {'reaped', 'room_id', rid, 'survivor_id', survivor, 'survivor_connection', sconn}
