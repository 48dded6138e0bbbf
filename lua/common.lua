--[[
  common.lua: the prelude every script starts with (`-- @include common`): the calling
  conventions, the clock, the reply shape, and the builder of every key a script touches.
  pairchat/domain/scripts.py splices it, and the helpers of lua/includes/ a script asks for,
  in place of the `-- @include` lines before SCRIPT LOAD (as bullmq does). It also maps a
  Redis error's line number in the spliced text back to the file and line it came from.

  Conventions shared by every script:
    KEYS[1]  <prefix>conn:<connectionId>, the calling connection's key. A cluster client
             routes the call to the node owning the prefix's slot by it.
    KEYS[2]  optional, in the scripts that resolve their caller: <prefix>sess:<userId>, the
             caller's session, when the handler knows the user id (includes/resolve.lua).
             Every other key is built below from ARGV[1]; the prefix carries the hash tag
             (e.g. "{pairchat}:"), so all of them live in that same slot.
    ARGV[1]  the key prefix
    ARGV[2]  the calling connection id
  Replies are flat arrays of strings: the status, then name/value pairs, e.g.
  {'ok', 'room_id', rid, 'user_id', uid}. Each script's header declares, per status, the
  names in order (`Reply 'ok': room_id, user_id.`); scripts.py decodes replies by name and
  refuses one that does not carry exactly the declared names. '' stands for "none" (a Lua
  nil would cut the array short). {'error', 'code', code} is a refusal made before any write.
]]
local PREFIX = ARGV[1]
local CONN_ID = ARGV[2]
-- The pool's values, as keys.py's GENDERS and PREFERENCES (pinned by test_keys.py).
local GENDERS = {'male', 'female'}
local PREFERENCES = {'male', 'female', 'any'}

-- Redis TIME in ms: one clock for every Lambda.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The refusal reply: nothing has been written when a script returns it.
local function refuse(code) return {'error', 'code', code} end

-- Key names: keys.py builds the same ones (tests/unit/domain/test_keys.py pins each builder).
-- No script spells a key itself.
local function sess_key(uid) return PREFIX .. 'sess:' .. uid end
local function conn_key(cid) return PREFIX .. 'conn:' .. cid end
local function room_key(rid) return PREFIX .. 'room:' .. rid end
local function recent_key(uid) return PREFIX .. 'recent:' .. uid end
local function block_key(uid) return PREFIX .. 'block:' .. uid end
local function rate_key(kind, uid) return PREFIX .. 'rate:' .. kind .. ':' .. uid end
-- Shadowed users (shadow_key, set by report.lua when several people reported them: the
-- cooldown's end in ms, PX the cooldown) wait in queues and an interest index of their own,
-- so that a search finds only waiters in the same state, and nobody is told. A script sets SHADOW for the user it searches for before it
-- builds a queue or index name (match.lua from the shadow key, heartbeat.lua from the
-- waiter's queue); a waiter's own entries follow its queue name (shadowed_queue).
local SHADOW = false
local function shadow_key(uid) return PREFIX .. 'shadow:' .. uid end
-- A queue's name (what a session's `q` field holds) and its key: the waiters of one segment
-- (gender, preference) who are open to anyone, scored by arrival (strict FIFO).
local function open_queue_name(gender, pref) return 'wait:chat:' .. gender .. ':' .. pref end
local function shadow_queue_name(gender, pref) return 'wait:shadow:' .. gender .. ':' .. pref end
local function queue_name(gender, pref)
  if SHADOW then return shadow_queue_name(gender, pref) end
  return open_queue_name(gender, pref)
end
local function shadowed_queue(qname) return string.sub(qname, 1, 12) == 'wait:shadow:' end
local function queue_key(qname) return PREFIX .. qname end
-- The interest index of the waiters who accept gender `accepts` (lexicographic, score 0);
-- `shadow` (default SHADOW): the shadowed waiters' index.
local function open_index_key(accepts) return PREFIX .. 'wait:int:' .. accepts end
local function shadow_index_key(accepts) return PREFIX .. 'wait:sint:' .. accepts end
local function index_key(accepts, shadow)
  if shadow == nil then shadow = SHADOW end
  if shadow then return shadow_index_key(accepts) end
  return open_index_key(accepts)
end
-- Waiters with interests and fallback, scored by their relaxation time, until promoted.
local function relax_key() return PREFIX .. 'wait:relax' end
-- Pool-wide counters: last queue score, segment versions, online count, wait statistics.
local function pool_key() return PREFIX .. 'pool' end
-- Live sessions, scored by when their registration lapses.
local function online_key() return PREFIX .. 'online' end
-- The address keys of those who reported `uid` recently, scored by time (report.lua).
local function reporters_key(uid) return PREFIX .. 'reporters:' .. uid end
-- The flagged users, scored by their cooldown's end (ms): what the ops API lists.
local function shadowed_key() return PREFIX .. 'shadowed' end
local function stats_matches_key(minute) return PREFIX .. 'stats:matches:' .. minute end
local function stats_waits_key(minute) return PREFIX .. 'stats:waits:' .. minute end
