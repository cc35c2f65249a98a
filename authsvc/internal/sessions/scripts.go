package sessions

import "github.com/redis/go-redis/v9"

// The Lua scripts. Each one gets the user's index key and, when it works on one
// session, the record key in KEYS; records of other sessions are addressed as
// ARGV base .. sid, which carries the same {userID} hash tag, so every key a script
// touches lives in the slot of its KEYS (Redis Cluster safe). Times are unix ms passed
// in ARGV from the Store's clock; scripts never read the server clock.

// luaPrelude defines what several scripts share: F, the record fields in
// recordFields order, and live, the same rule as Store.live.
const luaPrelude = `
local F = {'uid', 'role', 'rjti', 'prjti', 'rot', 'cat', 'seen', 'exp', 'ip', 'ua', 'email', 'name'}
local function live(r, now, idle)
  local exp, seen = tonumber(r[8]), tonumber(r[7])
  if not exp or not seen or exp == 0 or seen == 0 then return false end
  return now < exp and now - seen < idle
end
`

// luaCreate: KEYS = record, index. ARGV = sid, now, record TTL ms, record base, max
// sessions per user, field/value pairs... Returns {0} when the session id is
// taken, else {1, evicted sids...}. It first drops index entries whose record has
// expired (by score: the work is what expired), then evicts the least recently used
// sessions beyond the limit, so it never walks the whole index.
const luaCreate = `
local rec, idx = KEYS[1], KEYS[2]
local sid, now, ttl, base, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
if redis.call('EXISTS', rec) == 1 then return {0} end
redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
local out = {1}
local n = redis.call('ZCARD', idx)
while n >= max do
  local old = redis.call('ZRANGE', idx, 0, 0)
  redis.call('DEL', base .. old[1])
  redis.call('ZREM', idx, old[1])
  out[#out + 1] = old[1]
  n = n - 1
end
redis.call('HSET', rec, unpack(ARGV, 6))
redis.call('PEXPIRE', rec, ttl)
redis.call('ZADD', idx, now + ttl, sid)
local top = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', idx, math.max(1, tonumber(top[2]) - now))
return out
`

// luaRotate: KEYS = record, index. ARGV = sid, presented jti, new jti, now, grace ms,
// idle ms. Returns {0} not found, {1, fields...} rotated, {2, fields...} grace
// replay, {3} replay (session and index entry deleted).
const luaRotate = luaPrelude + `
local rec, idx = KEYS[1], KEYS[2]
local sid, presented, new = ARGV[1], ARGV[2], ARGV[3]
local now, grace, idle = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local r = redis.call('HMGET', rec, unpack(F))
if not r[1] then return {0} end
if not live(r, now, idle) then
  redis.call('DEL', rec)
  redis.call('ZREM', idx, sid)
  return {0}
end
if r[3] == presented then
  local ttl = math.max(1, math.min(idle, tonumber(r[8]) - now))
  redis.call('HSET', rec, 'rjti', new, 'prjti', presented, 'rot', ARGV[4], 'seen', ARGV[4])
  redis.call('PEXPIRE', rec, ttl)
  redis.call('ZADD', idx, now + ttl, sid)
  if redis.call('PTTL', idx) < ttl then redis.call('PEXPIRE', idx, ttl) end
  r[3], r[4], r[5], r[7] = new, presented, ARGV[4], ARGV[4]
  return {1, unpack(r)}
end
if r[4] and r[4] ~= '' and r[4] == presented and now - (tonumber(r[5]) or 0) <= grace then
  redis.call('HSET', rec, 'seen', ARGV[4])
  r[7] = ARGV[4]
  return {2, unpack(r)}
end
redis.call('DEL', rec)
redis.call('ZREM', idx, sid)
return {3}
`

// luaTouch: KEYS = record, index. ARGV = sid, presented jti, now, grace ms, idle ms,
// min interval ms. Returns {0} when the session is not live or the jti is neither the
// current refresh token nor the one rotated away within the grace window (nothing is
// revoked: only the refresh endpoint judges reuse), else {1, fields...}, having slid the
// idle expiry (record TTL, LastSeen, index score) if it was last slid at least the min
// interval ago.
const luaTouch = luaPrelude + `
local rec, idx = KEYS[1], KEYS[2]
local sid, presented = ARGV[1], ARGV[2]
local now, grace, idle, every = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local r = redis.call('HMGET', rec, unpack(F))
if not r[1] or not live(r, now, idle) then return {0} end
local current = r[3] == presented
local recent = r[4] and r[4] ~= '' and r[4] == presented and now - (tonumber(r[5]) or 0) <= grace
if not current and not recent then return {0} end
if now - tonumber(r[7]) >= every then
  local ttl = math.max(1, math.min(idle, tonumber(r[8]) - now))
  redis.call('HSET', rec, 'seen', ARGV[3])
  redis.call('PEXPIRE', rec, ttl)
  redis.call('ZADD', idx, now + ttl, sid)
  if redis.call('PTTL', idx) < ttl then redis.call('PEXPIRE', idx, ttl) end
  r[7] = ARGV[3]
end
return {1, unpack(r)}
`

// luaList: KEYS = index. ARGV = record base, now, idle ms. Returns {{sid, fields...}...}
// for live sessions; deletes records that are past a limit and drops index entries
// without a live record.
const luaList = luaPrelude + `
local idx = KEYS[1]
local base, now, idle = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local m = redis.call('ZRANGE', idx, 0, -1)
local out = {}
for _, sid in ipairs(m) do
  local r = redis.call('HMGET', base .. sid, unpack(F))
  if r[1] and live(r, now, idle) then
    out[#out + 1] = {sid, unpack(r)}
  else
    if r[1] then redis.call('DEL', base .. sid) end
    redis.call('ZREM', idx, sid)
  end
end
return out
`

// luaDeleteAll: KEYS = index. ARGV = record base. Deletes every indexed record and the
// index; returns how many records existed.
const luaDeleteAll = `
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  n = n + redis.call('DEL', ARGV[1] .. sid)
end
redis.call('DEL', KEYS[1])
return n
`

// luaDeleteOthers: KEYS = index. ARGV = record base, the session id to keep. Deletes
// every other indexed record and its index entry; returns the ids of the records that
// existed.
const luaDeleteOthers = `
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if sid ~= ARGV[2] then
    if redis.call('DEL', ARGV[1] .. sid) == 1 then out[#out + 1] = sid end
    redis.call('ZREM', KEYS[1], sid)
  end
end
return out
`

// luaSetRole: KEYS = index. ARGV = record base, role. Sets the role field of every
// indexed record that exists (HSET keeps the key's TTL); returns how many.
const luaSetRole = `
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = ARGV[1] .. sid
  if redis.call('EXISTS', k) == 1 then
    redis.call('HSET', k, 'role', ARGV[2])
    n = n + 1
  end
end
return n
`

// scripts are the compiled scripts a Store runs (EVALSHA, falling back to EVAL when
// the server does not have them cached).
type scripts struct {
	create, rotate, touch, list, deleteAll, deleteOthers, setRole *redis.Script
}

func newScripts() scripts {
	return scripts{
		create:    redis.NewScript(luaCreate),
		rotate:    redis.NewScript(luaRotate),
		touch:     redis.NewScript(luaTouch),
		list:      redis.NewScript(luaList),
		deleteAll: redis.NewScript(luaDeleteAll),
		setRole:   redis.NewScript(luaSetRole),

		deleteOthers: redis.NewScript(luaDeleteOthers),
	}
}
