package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts below are the only writers of latch keys. Each runs
// atomically on the node that holds its first key. Times are Unix
// milliseconds of the store's clock, passed in by the caller, except where a
// script reads the server's TIME (reservations on Cluster, which compare
// times taken on Redis nodes only).
//
// A session record is a hash with the fields
//
//	meta   latch.Meta as JSON
//	user   Meta.UserID
//	uidx   the key of the user's index ("" or absent for an anonymous session)
//	exp    Meta.ExpiresAt() in milliseconds: the record is live while exp > now
//	abs    Meta.AbsoluteDeadline() in milliseconds: bounds exp until the next
//	       authentication, and so the life of the user's index
//	v:KEY  one field per session value, latch.EncodeValue(value)
//
// A user index is a sorted set of session hashes (hex) scored by
// Meta.Created in microseconds, with a companion hash (the index key plus
// ":pending") that maps a hash to the server time at which a Cluster commit
// reserved its place. Both share the user's hash tag.

// luaCommon is prepended to every script that needs its helpers.
const luaCommon = `
local function hcall(cmd, key, list)
  -- Call cmd with key and list as arguments, in chunks small enough for
  -- unpack.
  local i = 1
  while i <= #list do
    local j = math.min(i + 999, #list)
    redis.call(cmd, key, unpack(list, i, j))
    i = j + 1
  end
end

local function extend(key, ttl)
  -- Make key live at least ttl milliseconds from now.
  local cur = redis.call('PTTL', key)
  if cur == -1 or cur < ttl then
    redis.call('PEXPIRE', key, ttl)
  end
end

local function servertime()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function reserved(pend, m)
  -- The server time at which m's place was reserved, or nil. A pending
  -- entry is "TIME"; once another commit evicts an entry it becomes
  -- "x:TIME" (it was pending) or "x:nTIME" (it was not).
  local p = redis.call('HGET', pend, m)
  if not p then return nil end
  if string.sub(p, 1, 2) == 'x:' then p = string.sub(p, 3) end
  if string.sub(p, 1, 1) == 'n' then p = string.sub(p, 2) end
  return tonumber(p)
end

local function prune(idx, pend, mode, user, prefix, now, grace, dead)
  -- Remove index entries that the caller found dead. On a single node the
  -- record is checked again here, atomically; on Cluster an entry whose
  -- place was reserved less than grace ago belongs to a commit in flight and
  -- stays.
  local t = nil
  for _, m in ipairs(dead) do
    if mode == 'single' then
      local f = redis.call('HMGET', prefix .. 's:{' .. m .. '}', 'user', 'exp')
      if f[1] ~= user or not f[2] or tonumber(f[2]) <= now then
        redis.call('ZREM', idx, m)
      end
    else
      t = t or servertime()
      local p = reserved(pend, m)
      if not p or p + grace < t then
        redis.call('ZREM', idx, m)
        redis.call('HDEL', pend, m)
      end
    end
  end
end
`

// commitScript applies one latch.Commit to the record under KEYS[1].
//
// KEYS[1] destination record; KEYS[2] source record (op "renew" only).
// ARGV: op ("update", "create" or "renew"), index mode ("single": maintain
// the user index here, keys computed from prefix; "guard": refuse with
// NEEDINDEX a change that needs the index; "none": the caller maintains it),
// now, exp, abs, meta, user, uidx, score, clear, max, evict, prefix, dst
// hash, src hash, reservation deadline (server ms, 0 for none), then the
// count and names of fields to delete, then the count and name/value pairs
// of fields to set.
//
// Replies {status, ...}: OK, NOTFOUND, EXISTS, LIMIT, STALE (the Cluster
// reservation is too old), or NEEDINDEX with "1" when the commit changes the
// user and the old index key.
var commitScript = redis.NewScript(luaCommon + `
local dst, src = KEYS[1], KEYS[2]
local op, imode = ARGV[1], ARGV[2]
local now, exp, abs = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local meta, user, uidx, score = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local clear, max, evict = ARGV[10] == '1', tonumber(ARGV[11]), ARGV[12] == '1'
local prefix, dsth, srch, resv = ARGV[13], ARGV[14], ARGV[15], tonumber(ARGV[16])
local i = 17
local dels, sets = {}, {}
local n = tonumber(ARGV[i])
for j = 1, n do dels[j] = ARGV[i + j] end
i = i + n + 1
n = tonumber(ARGV[i])
for j = 1, 2 * n do sets[j] = ARGV[i + j] end

if resv > 0 and servertime() > resv then
  return {'STALE'}
end

local function alive(key)
  local e = redis.call('HGET', key, 'exp')
  if not e then return false end
  if tonumber(e) > now then return true end
  redis.call('DEL', key) -- expired by the store's clock: forget it now
  return false
end

-- The base record, and every check, before any write.
local olduser, oldidx, oldabs = '', '', 0
if op == 'update' or op == 'renew' then
  local base = dst
  if op == 'renew' then base = src end
  if not alive(base) then return {'NOTFOUND'} end
  local f = redis.call('HMGET', base, 'user', 'uidx', 'abs')
  olduser, oldidx, oldabs = f[1] or '', f[2] or '', tonumber(f[3] or '0')
end
if op ~= 'update' and alive(dst) then return {'EXISTS'} end

if imode == 'guard' and user ~= '' and (user ~= olduser or abs > oldabs) then
  local changed = '0'
  if user ~= olduser then changed = '1' end
  return {'NEEDINDEX', changed, oldidx}
end

local function unindex()
  if imode == 'single' and oldidx ~= '' then
    redis.call('ZREM', oldidx, dsth)
    if op == 'renew' then redis.call('ZREM', oldidx, srch) end
  end
end

if exp <= now then
  -- The result is already expired: delete, never write a record without
  -- a deadline.
  redis.call('DEL', dst)
  if op == 'renew' then redis.call('DEL', src) end
  unindex()
  return {'OK'}
end

local adds = user ~= '' and (op ~= 'update' or user ~= olduser)
local evicted = {}
if imode == 'single' and adds and max > 0 then
  local others = {}
  for _, m in ipairs(redis.call('ZRANGE', uidx, 0, -1)) do
    if m ~= dsth and m ~= srch then
      local f = redis.call('HMGET', prefix .. 's:{' .. m .. '}', 'user', 'exp')
      if f[1] == user and f[2] and tonumber(f[2]) > now then
        others[#others + 1] = m
      else
        redis.call('ZREM', uidx, m) -- a dead entry: drop it
      end
    end
  end
  if #others >= max then
    if not evict then return {'LIMIT'} end
    for j = 1, #others - max + 1 do evicted[j] = others[j] end
  end
end

-- Writes.
for _, m in ipairs(evicted) do
  redis.call('DEL', prefix .. 's:{' .. m .. '}')
  redis.call('ZREM', uidx, m)
end
if op == 'renew' then
  redis.call('RENAME', src, dst)
end
if clear then
  redis.call('DEL', dst)
else
  hcall('HDEL', dst, dels)
end
hcall('HSET', dst, sets)
redis.call('HSET', dst, 'meta', meta, 'user', user, 'exp', ARGV[4], 'abs', ARGV[5])
if uidx ~= '' then
  redis.call('HSET', dst, 'uidx', uidx)
else
  redis.call('HDEL', dst, 'uidx')
end
redis.call('PEXPIRE', dst, exp - now)

if imode == 'single' then
  if oldidx ~= '' and oldidx ~= uidx then
    redis.call('ZREM', oldidx, dsth)
  end
  if op == 'renew' and oldidx ~= '' then
    redis.call('ZREM', oldidx, srch)
  end
  if uidx ~= '' then
    redis.call('ZADD', uidx, score, dsth)
    extend(uidx, abs - now)
  end
end
return {'OK'}
`)

// deleteScript deletes the record under KEYS[1]. ARGV: index mode
// ("single" removes the index entry here), the record's hash. Replies with
// the record's index key, or "".
var deleteScript = redis.NewScript(`
local idx = redis.call('HGET', KEYS[1], 'uidx')
redis.call('DEL', KEYS[1])
if not idx then return '' end
if ARGV[1] == 'single' then redis.call('ZREM', idx, ARGV[2]) end
return idx
`)

// deleteIfUserScript deletes the record under KEYS[1] if it belongs to the
// user ARGV[1]. Replies 1 when it deleted a live record (ARGV[2] is now), 0
// when it deleted an expired one, -1 when it left the key alone.
const deleteIfUserScript = `
local f = redis.call('HMGET', KEYS[1], 'user', 'exp')
if f[1] ~= ARGV[1] then return -1 end
redis.call('DEL', KEYS[1])
if f[2] and tonumber(f[2]) > tonumber(ARGV[2]) then return 1 end
return 0
`

// cleanScript tidies a user index. KEYS[1] index, KEYS[2] its pending hash.
// ARGV: mode ("single" or "cluster"), user, prefix, now, grace, the hash of
// a commit that has written its record ("" for none), the count and hashes of entries to remove
// (their records are gone), the count and hashes of entries the caller found
// dead (removed as prune decides), the count and hashes whose eviction
// marks to undo. Replies EVICTED when the finished hash was
// evicted by another commit while in flight, OK otherwise.
var cleanScript = redis.NewScript(luaCommon + `
local idx, pend = KEYS[1], KEYS[2]
local mode, user, prefix = ARGV[1], ARGV[2], ARGV[3]
local now, grace, done = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local i = 7
local n = tonumber(ARGV[i])
for j = 1, n do
  redis.call('ZREM', idx, ARGV[i + j])
  redis.call('HDEL', pend, ARGV[i + j])
end
i = i + n + 1
n = tonumber(ARGV[i])
local dead = {}
for j = 1, n do dead[j] = ARGV[i + j] end
prune(idx, pend, mode, user, prefix, now, grace, dead)
i = i + n + 1
n = tonumber(ARGV[i] or '0')
for j = 1, n do
  -- Undo an eviction mark of a commit that failed.
  local m = ARGV[i + j]
  local p = redis.call('HGET', pend, m)
  if p and string.sub(p, 1, 3) == 'x:n' then
    redis.call('HDEL', pend, m)
  elseif p and string.sub(p, 1, 2) == 'x:' then
    redis.call('HSET', pend, m, string.sub(p, 3))
  end
end
if done ~= '' then
  -- The mark stays until the grace ends (reserveScript sweeps it): a
  -- ListUser that read the index before the record was written may still
  -- try to prune the entry.
  local p = redis.call('HGET', pend, done)
  if p and string.sub(p, 1, 2) == 'x:' then return 'EVICTED' end
end
return 'OK'
`)

// reserveScript gives a Cluster commit its place in a user index before the
// record is written, so that the index always holds every live session of
// the user. KEYS[1] index, KEYS[2] its pending hash. ARGV: user, prefix,
// now, dst hash, src hash ("" unless a renewal), score, max, evict, grace,
// ttl, then the count and hashes of entries the caller found dead.
//
// Replies {"LIMIT"}, or {"OK", deadline, added, evicted...}: the server
// time by which the record must be written, "1" if the entry is new, and the
// oldest sessions the caller must delete once it is. Evicted entries are
// marked "x:TIME" in the pending hash so that no later reservation counts
// them again; a commit in flight whose own entry was marked deletes its
// record when it finishes (cleanScript replies EVICTED).
var reserveScript = redis.NewScript(luaCommon + `
local idx, pend = KEYS[1], KEYS[2]
local user, prefix, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local dsth, srch, score = ARGV[4], ARGV[5], ARGV[6]
local max, evict = tonumber(ARGV[7]), ARGV[8] == '1'
local grace, ttl = tonumber(ARGV[9]), tonumber(ARGV[10])
local n = tonumber(ARGV[11])
local dead = {}
for j = 1, n do dead[j] = ARGV[11 + j] end
prune(idx, pend, 'cluster', user, prefix, now, grace, dead)

local t = servertime()
-- Sweep reservations and marks whose grace has ended.
local all = redis.call('HGETALL', pend)
for j = 1, #all, 2 do
  local p = reserved(pend, all[j])
  if not p or p + grace < t then redis.call('HDEL', pend, all[j]) end
end
local evicted = {}
if max > 0 then
  -- Entries already evicted by another commit ("x:" marks) do not count.
  local others = {}
  for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
    if m ~= dsth and m ~= srch then
      local p = redis.call('HGET', pend, m)
      if not p or string.sub(p, 1, 2) ~= 'x:' then others[#others + 1] = m end
    end
  end
  if #others >= max then
    if not evict then return {'LIMIT'} end
    for j = 1, #others - max + 1 do
      local m = others[j]
      evicted[j] = m
      local p = redis.call('HGET', pend, m) or ('n' .. t)
      redis.call('HSET', pend, m, 'x:' .. p)
    end
  end
end
local added = redis.call('ZADD', idx, score, dsth)
redis.call('HSET', pend, dsth, t)
extend(idx, ttl + grace)
extend(pend, ttl + grace)
local reply = {'OK', tostring(t + math.floor(grace / 2)), tostring(added)}
for _, m in ipairs(evicted) do reply[#reply + 1] = m end
return reply
`)

// takeScript reads and deletes the record under KEYS[1] (ARGV[1] is now),
// the first half of a renewal on Cluster. Replies {"NOTFOUND"} or {"OK",
// field, value, ...}.
var takeScript = redis.NewScript(`
local e = redis.call('HGET', KEYS[1], 'exp')
if not e then return {'NOTFOUND'} end
if tonumber(e) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return {'NOTFOUND'}
end
local all = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
table.insert(all, 1, 'OK')
return all
`)

// restoreScript puts back a record that takeScript took when the renewal
// could not complete. KEYS[1] record; ARGV: ttl, then field/value pairs.
// It never overwrites a record.
var restoreScript = redis.NewScript(luaCommon + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local ttl = tonumber(ARGV[1])
if ttl <= 0 then return 0 end
local f = {}
for j = 2, #ARGV do f[#f + 1] = ARGV[j] end
hcall('HSET', KEYS[1], f)
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`)
