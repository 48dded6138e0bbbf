--[[
  report.lua: decide whether a report of the current partner (or the one just left) is
  accepted, count it, and flag a user that several distinct people reported (the shadow pool).

  The server decides whom the report is about (partner_or_last): the other member of the
  caller's room, else the session's last partner. Ids in the client's frame are never used.
  The report itself (with its reason) is not kept here: the service writes an accepted one to
  the durable report store (DynamoDB, ports.ReportSink), which spam cannot trim. Redis keeps
  only the counters the quotas and the shadow flag need.

  KEYS[1]  <prefix>conn:<connectionId>
  KEYS[2]  <prefix>sess:<userId> (optional: the caller's session, as the authorizer knows it;
           saves the connection key's read, lua/includes/resolve.lua)
  ARGV[1]  key prefix
  ARGV[2]  connection id
  ARGV[3]  the client's address as an opaque key ('' unknown: no per-address quota, and the
           reporter's user id stands in for it when reporters are counted)
  ARGV[4]  reports allowed per reporter (user id) per hour (0: no limit)
  ARGV[5]  reports allowed per address per hour, every user behind it together (0: no limit)
  ARGV[6]  minimum age of the reported room in ms (0: none)
  ARGV[7]  recent-partner TTL in ms (RECENT_TTL_SECONDS): how the age of a room that has
           already ended is known (see below)
  ARGV[8]  distinct reporters (by address) within the window that shadow a user (0: never)
  ARGV[9]  that window in ms
  ARGV[10] the shadow cooldown in ms

  Reply 'ok': room_id, user_id, reported_id, ts, reporters, shadowed.
    ts is when the report was accepted (ms, Redis time), '' when this user had already
    reported that room (one report per room and reporter: nothing is counted or written
    again, and the client is told `reported` as before). reporters: the distinct reporters
    of reported_id within the window, this one included ('0' for a repeat). shadowed: '1'
    when this report set (or renewed) reported_id's shadow flag.
  Errors (nothing written): session_expired, no_partner, too_soon (the room is younger than
    ARGV[6]), rate_limited (the reporter's or the address's hourly quota is spent).

  The room's age: a live room's hash holds its start (`ts`). A room that has ended is gone,
  but it is the reporter's latest pairing (partner_or_last prefers a live room), and every
  pairing sets recent_key(uid)'s TTL to RECENT_TTL afresh (includes/pair.lua) and nothing else
  touches it: so the room started RECENT_TTL - PTTL(recent_key(uid)) ms ago. No such key: the
  pairing is older than RECENT_TTL, which settings.py keeps >= the minimum age.
  tests/integration/lua/test_report.py pins this.

  The shadow flag: shadow_key(uid) = the cooldown's end (ms), PX = the cooldown; match.lua
  reads it (a flagged user is paired only with flagged users; nobody tells it).
  reporters_key(uid) is a sorted set of the reporters' address keys scored by time, trimmed
  to the window: one person with many anonymous sockets behind one address counts once.
  shadowed_key() lists flagged users by the cooldown's end, for the ops API (`GET /shadow`).

  The reporter's hourly counter is its own hash (rate_key('report', uid)), not fields of its
  session as the per-minute limits are: a session ends at every disconnect, and a token user
  must not get a fresh hour by reconnecting. Reports are rare; the one HMGET is cheap.

  Work: O(log n) (the reporters and shadowed sorted sets; both trimmed on every write).
]]
-- @include common
-- @include includes/resolve
-- @include includes/partner_or_last
-- @include includes/rate_limit
local HOUR_MS = 3600000
local uid, sk, f = resolve('rp')
if not uid then return refuse('session_expired') end
local partner, rid, live = partner_or_last(uid, sk)
if not partner then return refuse('no_partner') end
if f.rp == rid then
  return {'ok', 'room_id', rid, 'user_id', uid, 'reported_id', partner, 'ts', '',
          'reporters', '0', 'shadowed', '0'}
end

local now = now_ms()
local min_age = tonumber(ARGV[6]) or 0
if min_age > 0 then
  local started
  if live then
    started = tonumber(redis.call('HGET', room_key(rid), 'ts'))
  else
    local left = redis.call('PTTL', recent_key(uid))
    if left > 0 then started = now - (tonumber(ARGV[7]) - left) end
  end
  if started and now - started < min_age then return refuse('too_soon') end
end

local source = ARGV[3]
local allowed, by_user = rate_allows('report', uid, tonumber(ARGV[4]), HOUR_MS, now)
if not allowed then return refuse('rate_limited') end
local by_source = nil
if source ~= '' then
  allowed, by_source = rate_allows('report-src', source, tonumber(ARGV[5]), HOUR_MS, now)
  if not allowed then return refuse('rate_limited') end
end

-- Accepted: from here on, writes.
redis.call('HSET', sk, 'rp', rid)
rate_record(by_user, HOUR_MS)
rate_record(by_source, HOUR_MS)

local threshold = tonumber(ARGV[8]) or 0
local reporters, shadowed = 0, '0'
if threshold > 0 then
  local window, cooldown = tonumber(ARGV[9]), tonumber(ARGV[10])
  local rk = reporters_key(partner)
  local who = source
  if who == '' then who = 'u:' .. uid end
  redis.call('ZREMRANGEBYSCORE', rk, '-inf', now - window)
  redis.call('ZADD', rk, now, who)
  redis.call('PEXPIRE', rk, window)
  reporters = redis.call('ZCARD', rk)
  if reporters >= threshold and cooldown > 0 then
    local ends = now + cooldown
    redis.call('SET', shadow_key(partner), string.format('%.0f', ends), 'PX', cooldown)
    local listed = shadowed_key()
    redis.call('ZREMRANGEBYSCORE', listed, '-inf', now)
    redis.call('ZADD', listed, ends, partner)
    redis.call('PEXPIRE', listed, cooldown)
    shadowed = '1'
  end
end
return {'ok', 'room_id', rid, 'user_id', uid, 'reported_id', partner,
        'ts', string.format('%.0f', now), 'reporters', tostring(reporters), 'shadowed', shadowed}
