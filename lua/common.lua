--[[
  common.lua: helpers spliced into every script where it says `-- @include common`
  (pairchat/scripts.py does the splicing before SCRIPT LOAD, as bullmq does with its includes).

  Conventions shared by every script:
    KEYS[1]  <prefix>conn:<connectionId>, the calling connection's key. It is the one declared
             key, so a cluster client routes the call to the node owning the prefix's slot.
             Every other key is built here from ARGV[1]; the prefix carries the hash tag
             (e.g. "{pairchat}:"), so all of them live in that same slot.
    ARGV[1]  the key prefix
    ARGV[2]  the calling connection id
  Results are flat arrays of strings: {status, ...}; '' stands for "none" (a Lua nil would
  cut the array short). {'error', code} is a refusal made before any write.
]]
local PREFIX = ARGV[1]
local CONN_ID = ARGV[2]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function sess_key(uid) return PREFIX .. 'sess:' .. uid end
local function conn_key(cid) return PREFIX .. 'conn:' .. cid end
local function room_key(rid) return PREFIX .. 'room:' .. rid end
local function recent_key(uid) return PREFIX .. 'recent:' .. uid end
local function block_key(uid) return PREFIX .. 'block:' .. uid end
local function rate_key(kind, uid, idx) return PREFIX .. 'rate:' .. kind .. ':' .. uid .. ':' .. idx end

-- Sliding-window rate limit (the previous fixed window's count, weighted by how much of it
-- still overlaps the sliding window, plus the current window's count). Reads only, so a
-- script can check it with its other validation: returns false when one more event of
-- `kind` would exceed `limit` per `window_ms`, else true and the counter key to pass to
-- rate_record once the script starts writing. A limit <= 0 disables the check.
local function rate_allows(kind, uid, limit, window_ms)
  if not limit or limit <= 0 then return true, nil end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local idx = math.floor(now / window_ms)
  local cur_k = rate_key(kind, uid, idx)
  local prev = tonumber(redis.call('GET', rate_key(kind, uid, idx - 1)) or '0')
  local cur = tonumber(redis.call('GET', cur_k) or '0')
  local overlap = 1 - (now % window_ms) / window_ms
  if prev * overlap + cur + 1 > limit then return false, nil end
  return true, cur_k
end

local function rate_record(counter_key, window_ms)
  if not counter_key then return end
  redis.call('INCR', counter_key)
  redis.call('PEXPIRE', counter_key, window_ms * 2)
end

-- The caller's user id and session key, or nil when the connection has no live session or
-- the session now belongs to a newer connection of the same user.
local function resolve()
  local uid = redis.call('GET', KEYS[1])
  if not uid then return nil end
  local sk = sess_key(uid)
  if redis.call('HGET', sk, 'conn') ~= CONN_ID then return nil end
  return uid, sk
end

local function touch(sk, ttl_ms)
  redis.call('PEXPIRE', sk, ttl_ms)
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
end

-- The caller's live room id and its key, or nil. A dangling `room` field (the room expired)
-- is cleared on the way.
local function current_room(sk)
  local rid = redis.call('HGET', sk, 'room')
  if not rid then return nil end
  local rk = room_key(rid)
  if redis.call('EXISTS', rk) == 0 then
    redis.call('HDEL', sk, 'room')
    return nil
  end
  return rid, rk
end

-- Deletes room `rid` and clears the `room` field of both members that still point at it.
-- A room member counts only while its session points back at the room (`in_room`).
-- Each member's session remembers the other as its last partner (`lp`, `lr` = the room), so
-- `report` and `block` can still act on a partner who just left.
-- Returns the member other than `uid` and that member's connection id ('' when none/gone).
local function dissolve(rid, uid)
  local rk = room_key(rid)
  local m = redis.call('HMGET', rk, 'a', 'b')
  redis.call('DEL', rk)
  local other = ''
  if m[1] == uid and m[2] then other = m[2] elseif m[2] == uid and m[1] then other = m[1] end
  local other_conn = ''
  for i, member in ipairs({m[1], m[2]}) do
    if member then
      local msk = sess_key(member)
      local f = redis.call('HMGET', msk, 'conn', 'room')
      -- A member whose session no longer points here (it expired and the user came back
      -- with a fresh session, maybe in another room) is not part of this room any more:
      -- leave its session alone and do not tell it partner_left.
      if f[2] == rid then
        redis.call('HDEL', msk, 'room')
        local mate = m[1]
        if i == 1 then mate = m[2] end
        if mate then redis.call('HSET', msk, 'lp', mate, 'lr', rid) end
        if member == other and f[1] then other_conn = f[1] end
      end
    end
  end
  return other, other_conn
end

-- Whether user `uid`'s session exists and points at room `rid` (a member whose session
-- expired, or was replaced by a fresh one after the expiry, is gone from the room).
local function in_room(uid, rid)
  return uid and redis.call('HGET', sess_key(uid), 'room') == rid
end

-- The other member of room key `rk`, or nil.
local function mate_in(rk, uid)
  local m = redis.call('HMGET', rk, 'a', 'b')
  if m[1] == uid then return m[2] or nil end
  if m[2] == uid then return m[1] or nil end
  return nil
end

-- Takes `uid` out of the queue its session says it waits in. Returns 1 if it was waiting.
local function dequeue(uid, sk)
  local q = redis.call('HGET', sk, 'q')
  if not q then return 0 end
  redis.call('HDEL', sk, 'q')
  return redis.call('ZREM', PREFIX .. q, uid)
end
