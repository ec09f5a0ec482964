package redisstore

import (
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts below are the only writers of latch keys. Each runs
// atomically on the node that holds its first key. Times are Unix
// milliseconds of the store's clock, passed in by the caller, except where a
// script reads the server's TIME (reservations on Cluster, which compare
// times taken on Redis nodes only).
//
// A session record is a hash with the fields
//
//	meta   driver.Meta as JSON
//	user   Meta.UserID
//	uidx   the key of the user's index ("" or absent for an anonymous session)
//	exp    Meta.ExpiresAt() in milliseconds: the record is live while exp > now
//	abs    Meta.AbsoluteDeadline() plus Meta.Grace in milliseconds: bounds
//	       exp until the next authentication, and so the life of the
//	       user's index
//	v:KEY  one field per session value, driver.EncodeValue(value)
//	prev   on Cluster, the hash a renewal created the record from
//	score  on Cluster, the record's score in the user index: an update
//	       that changes it (or the user, or raises abs) needs the index,
//	       on another slot, so it reserves first
//
// A renewal replaces the record under the old hash by a forward, a hash with
// only the fields
//
//	fwd    the new hash (hex)
//	exp    the replaced record's exp: the forward is live while exp > now,
//	       and Redis forgets it then (PEXPIRE)
//	pend   on Cluster, from the take of a renewal until its record is
//	       written (then HDEL): the new hash may not exist yet. Its value
//	       is the server time by which the renewal must write its record
//	       (after that, its create is refused: the forward will stay
//	       pending, and the session moving is lost)
//
// and, on Cluster only, Delete and DeleteUser may leave a tombstone, a hash
// with the one field "tomb", on the hash a forward names when no record is
// there yet: the renewal that left the forward is half done, and its last
// step (a create) refuses the tombstone. A tombstone lives tombstoneTTL.
//
// A user index is a sorted set of session hashes (hex) scored by
// Meta.Created in microseconds, with, on Cluster, a companion hash (the
// index key plus ":pending") of marks that record what commits did to
// entries within the last reservationGrace (see reserveScript). Both share
// the user's hash tag.

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

local function chosen(p)
  -- Whether p, a mark of a Cluster user index's pending hash, says that a
  -- commit chose its entry for eviction: "x:" (the choice may still be
  -- undone, if that commit fails) or "X:" (a later commit let a session
  -- in because of it: final).
  local k = p and string.sub(p, 1, 2)
  return k == 'x:' or k == 'X:'
end

local function servertime()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function prune(idx, pend, mode, user, prefix, now, grace, dead, seen)
  -- Remove index entries that the caller found dead. On a single node the
  -- record is checked again here, atomically. On Cluster the entry's mark
  -- in the pending hash decides (see reserveScript): an entry stays while
  -- a commit may still write its record where the caller could not see it:
  -- reserved less than grace ago ("TIME/FROM"), or written ("nTIME") at or
  -- after seen, the server time at which the caller read the index (0 if
  -- unknown). An entry whose record was written before the caller read
  -- the index, and which the caller found dead, is dead.
  local t = nil
  for _, m in ipairs(dead) do
    if mode == 'single' then
      local f = redis.call('HMGET', prefix .. 's:{' .. m .. '}', 'user', 'exp')
      if f[1] ~= user or not f[2] or tonumber(f[2]) <= now then
        redis.call('ZREM', idx, m)
      end
    else
      t = t or servertime()
      local p = redis.call('HGET', pend, m)
      local at = p and tonumber(string.match(p, '%d+'))
      local written = p and tonumber(string.match(p, '^n(%d+)$'))
      if not at or at + grace < t or (written and seen > 0 and written < seen) then
        redis.call('ZREM', idx, m)
        redis.call('HDEL', pend, m)
      end
    end
  end
end
`

// commitScript applies one driver.Commit to the record under KEYS[1].
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
// Replies {status, ...}: OK (in mode "guard", followed by the old index
// key when the update left the session's user: the caller removes the
// entry), NOTFOUND, EXISTS, LIMIT, STALE (the Cluster reservation is too
// old), RENEWED with the hash the base's forward names and its "pend"
// field ("" if the forward is not pending), or NEEDINDEX with "1" if the
// commit changes the user ("0" if not), and the old index key.
//
// A renewal ("renew", one node only) renames the source to the destination
// and leaves a forward under the source, in this one script. A create
// refuses a live record or forward with EXISTS and a tombstone with
// NOTFOUND (the create is the last step of a Cluster renewal that a Delete
// has overtaken).
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

local function state(f, key)
  -- What key holds, from f = HMGET key exp fwd tomb ...: "live" (a
  -- record), "fwd" (a forward), "tomb", or nil. An expired record or
  -- forward (by the store's clock) is forgotten now.
  if f[3] then return 'tomb' end
  if not f[1] then return nil end
  if tonumber(f[1]) <= now then
    redis.call('DEL', key)
    return nil
  end
  if f[2] then return 'fwd' end
  return 'live'
end

-- The base record, and every check, before any write.
local olduser, oldidx, oldabs, oldexp, oldscore = '', '', 0, 0, nil
if op == 'update' or op == 'renew' then
  local base = dst
  if op == 'renew' then base = src end
  local f = redis.call('HMGET', base, 'exp', 'fwd', 'tomb', 'user', 'uidx', 'abs', 'pend', 'score')
  local st = state(f, base)
  if st == 'fwd' then return {'RENEWED', f[2], f[7] or ''} end
  if st ~= 'live' then return {'NOTFOUND'} end
  olduser, oldidx, oldabs, oldexp = f[4] or '', f[5] or '', tonumber(f[6] or '0'), tonumber(f[1])
  oldscore = f[8]
end
if op ~= 'update' then
  local st = state(redis.call('HMGET', dst, 'exp', 'fwd', 'tomb'), dst)
  if st == 'tomb' then return {'NOTFOUND'} end
  if st then return {'EXISTS'} end
end

if imode == 'guard' and user ~= '' and (user ~= olduser or abs > oldabs or score ~= oldscore) then
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

local function forward()
  -- Replace the source, now moved or deleted, by a forward that lives as
  -- long as the record it replaces.
  redis.call('DEL', src)
  redis.call('HSET', src, 'fwd', dsth, 'exp', oldexp)
  redis.call('PEXPIRE', src, oldexp - now)
end

if exp <= now then
  -- The result is already expired: delete, never write a record without
  -- a deadline.
  redis.call('DEL', dst)
  if op == 'renew' then forward() end
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
  forward()
end
if clear then
  -- Values go; "prev" stays: a forward's Delete recognises by it the
  -- record its renewal created (see endScript).
  local prev = redis.call('HGET', dst, 'prev')
  redis.call('DEL', dst)
  if prev then redis.call('HSET', dst, 'prev', prev) end
else
  hcall('HDEL', dst, dels)
end
hcall('HSET', dst, sets)
redis.call('HSET', dst, 'meta', meta, 'user', user, 'exp', ARGV[4], 'abs', ARGV[5])
if imode ~= 'single' then redis.call('HSET', dst, 'score', score) end
if uidx ~= '' then
  redis.call('HSET', dst, 'uidx', uidx)
else
  redis.call('HDEL', dst, 'uidx')
end
redis.call('PEXPIRE', dst, exp - now)

if imode == 'guard' and user == '' and oldidx ~= '' then
  -- The session left its user: the caller removes the old entry.
  return {'OK', oldidx}
end
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

// maxHops bounds how many keys Delete and DeleteUser visit from one hash
// (the hash and the forwards after it), so that a corrupt cycle of
// forwards cannot hold them.
const maxHops = 16

var maxHopsLua = strconv.Itoa(maxHops)

// deleteScript ends the session under KEYS[1] on one node: it deletes what
// the key holds, and while that is a forward, goes on at the forward's
// target (at most maxHops keys), deleting the record at the end of the
// chain and its index entry. ARGV: prefix, the hash of KEYS[1]. Replies
// the number of keys it deleted.
var deleteScript = redis.NewScript(`
local prefix, h, key = ARGV[1], ARGV[2], KEYS[1]
for hop = 1, ` + maxHopsLua + ` do
  local f = redis.call('HMGET', key, 'fwd', 'uidx')
  redis.call('DEL', key)
  if not f[1] then
    if f[2] then redis.call('ZREM', f[2], h) end
    return hop
  end
  h = f[1]
  key = prefix .. 's:{' .. h .. '}'
end
return ` + maxHopsLua + `
`)

// deleteUserScript ends every session of a user on one node, atomically:
// it reads the index KEYS[1] and deletes every record of the user it
// lists, except keep and the sessions keep was renewed into (its forwards,
// followed here). A renewal is one script too, so it runs wholly before
// (its result is listed) or after (its source is gone: NOTFOUND). ARGV:
// user, prefix, now, keep hash ("" for none). Replies how many live records
// it deleted.
var deleteUserScript = redis.NewScript(`
local idx, user, prefix, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local keep, k = {}, ARGV[4]
for hop = 1, ` + maxHopsLua + ` do
  if k == '' or keep[k] then break end
  keep[k] = true
  k = redis.call('HGET', prefix .. 's:{' .. k .. '}', 'fwd') or ''
end
local n = 0
for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  if not keep[m] then
    local key = prefix .. 's:{' .. m .. '}'
    local f = redis.call('HMGET', key, 'user', 'exp')
    if f[1] == user then
      redis.call('DEL', key)
      if f[2] and tonumber(f[2]) > now then n = n + 1 end
    end
    -- Deleted, gone or now another user's: the entry goes.
    redis.call('ZREM', idx, m)
  end
end
return n
`)

// endScript is one step of Delete, DeleteUser or an eviction on Cluster,
// where the keys of a chain of forwards live on different slots: it ends
// what KEYS[1] holds. ARGV: user ("" for any), now, tombstone TTL in ms
// ("0": none), and the hash of the forward that led here ("" for none): a
// record that a Cluster renewal created names its source in the field
// "prev", and a record that does not name this forward's hash is another
// session (a renewal into a hash already taken, which fails) and is left
// alone. Replies
//
//	{"FWD", target, live} KEYS[1] held a forward, now deleted: go on at
//	                      target; live is "1" if it had not expired
//	{"DEL", live, uidx}   a record of the user (or any record, for user
//	                      ""), now deleted
//	{"OTHER"}             another user's or another session's record, left
//	                      alone
//	{"TOMB"}              nothing there, and now a tombstone (TTL > 0), so
//	                      that a renewal half done cannot create the record
//	{"NONE"}              nothing there and TTL 0, or a tombstone already
var endScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'fwd', 'user', 'exp', 'uidx', 'tomb', 'prev')
local live = '0'
if f[3] and tonumber(f[3]) > tonumber(ARGV[2]) then live = '1' end
if f[1] then
  redis.call('DEL', KEYS[1])
  return {'FWD', f[1], live}
end
if f[5] then return {'NONE'} end
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[3] == '0' then return {'NONE'} end
  redis.call('HSET', KEYS[1], 'tomb', '1')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'TOMB'}
end
if ARGV[1] ~= '' and f[2] ~= ARGV[1] then return {'OTHER'} end
if ARGV[4] ~= '' and f[6] ~= ARGV[4] then return {'OTHER'} end
redis.call('DEL', KEYS[1])
return {'DEL', live, f[4] or ''}
`)

// cleanScript tidies a user index. KEYS[1] index, KEYS[2] its pending hash.
// ARGV: mode ("single" or "cluster"), user, prefix, now, grace, the hash of
// a Cluster commit that has written its record ("" for none) and the mark
// its reservation set, the server time at which the caller read the index
// (for prune; 0 if unknown), the count and hashes of entries to remove
// (their records are gone), the count and hashes of entries the caller found
// dead (removed as prune decides), the count and hashes whose eviction
// marks to undo. Replies EVICTED when the finished hash was
// evicted by another commit while in flight, OK otherwise.
var cleanScript = redis.NewScript(luaCommon + `
local idx, pend = KEYS[1], KEYS[2]
local mode, user, prefix = ARGV[1], ARGV[2], ARGV[3]
local now, grace, done, mark = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7]
local seen = tonumber(ARGV[8])
local i = 9
local n = tonumber(ARGV[i])
for j = 1, n do
  redis.call('ZREM', idx, ARGV[i + j])
  redis.call('HDEL', pend, ARGV[i + j])
end
i = i + n + 1
n = tonumber(ARGV[i])
local dead = {}
for j = 1, n do dead[j] = ARGV[i + j] end
prune(idx, pend, mode, user, prefix, now, grace, dead, seen)
i = i + n + 1
n = tonumber(ARGV[i] or '0')
for j = 1, n do
  -- Undo an eviction mark of a commit that failed: the mark it replaced
  -- comes back ("nTIME" where there was none, as if written at TIME).
  local m = ARGV[i + j]
  local p = redis.call('HGET', pend, m)
  if p and string.sub(p, 1, 2) == 'x:' then
    redis.call('HSET', pend, m, string.sub(p, 3))
  end
end
if done ~= '' then
  local p = redis.call('HGET', pend, done)
  if chosen(p) then return 'EVICTED' end
  -- The record is written: the reservation's mark becomes "nTIME", until
  -- the grace ends (reserveScript sweeps it). A caller that read the index
  -- before TIME may have found the record missing and must not prune the
  -- entry; one that read it later and found it dead may (prune).
  if p == mark then redis.call('HSET', pend, done, 'n' .. servertime()) end
end
return 'OK'
`)

// reserveScript gives a Cluster commit its place in a user index before the
// record is written, so that the index always holds every live session of
// the user. KEYS[1] index, KEYS[2] its pending hash. ARGV: user, prefix,
// now, dst hash, src hash ("" unless a renewal), score, max, evict, grace,
// ttl, the server time at which the caller read the index (see prune),
// then the count and hashes of entries the caller found dead.
//
// Replies {"LIMIT"}, {"NOTFOUND"} (the session a renewal moves was chosen
// for eviction), or {"OK", deadline, added, mark, prev, prevscore, marked,
// evicted...}: the server time by which the record must be written, "1" if
// the entry is new, the mark this reservation set, the mark and score it
// replaced ("" for none; a commit that fails puts them back, see
// unreserveScript), and the sessions the caller must delete once it is:
// first the oldest, as many as marked says (this reservation marked them;
// a commit that fails undoes those marks), then, with evict, every other
// entry an earlier commit marked evicted (it may never delete them).
//
// The pending hash holds a mark per entry that a commit touched within the
// grace: "TIME/FROM" while the commit is in flight (reserved at TIME, a
// renewal from FROM), "nTIME" once it has written its record (cleanScript),
// and "x:" before either once another commit chose the entry for eviction,
// so that no later reservation that evicts counts it again ("X:" once such
// a reservation has relied on it: then the choice is final, and a failed
// commit no longer undoes it); a commit in flight whose own entry was
// marked deletes its record when it finishes (cleanScript replies
// EVICTED).
var reserveScript = redis.NewScript(luaCommon + `
local idx, pend = KEYS[1], KEYS[2]
local user, prefix, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local dsth, srch, score = ARGV[4], ARGV[5], ARGV[6]
local max, evict = tonumber(ARGV[7]), ARGV[8] == '1'
local grace, ttl = tonumber(ARGV[9]), tonumber(ARGV[10])
local seen, n = tonumber(ARGV[11]), tonumber(ARGV[12])
local dead = {}
for j = 1, n do dead[j] = ARGV[12 + j] end
prune(idx, pend, 'cluster', user, prefix, now, grace, dead, seen)

local t = servertime()
-- Sweep reservations and marks whose grace has ended.
local all = redis.call('HGETALL', pend)
for j = 1, #all, 2 do
  local p = tonumber(string.match(all[j + 1], '%d+')) -- as prune reads it
  if not p or p + grace < t then redis.call('HDEL', pend, all[j]) end
end
if srch ~= '' then
  -- Another commit chose the session being renewed for eviction: it is
  -- ended, and so is this renewal.
  local p = redis.call('HGET', pend, srch)
  if chosen(p) then return {'NOTFOUND'} end
end
local evicted, mine = {}, {}
if max > 0 then
  -- Entries already evicted by another commit ("x:" or "X:" marks) do
  -- not count for a commit that evicts (which deletes them too, below); a
  -- commit that does not evict counts them, since the eviction may be
  -- undone.
  -- Nor does the new hash of a renewal in flight whose source is still
  -- listed (one session, counted once; evicting the source ends the
  -- renewal).
  local members = redis.call('ZRANGE', idx, 0, -1)
  local listed = {}
  for _, m in ipairs(members) do listed[m] = true end
  local others = {}
  for _, m in ipairs(members) do
    if m ~= dsth and m ~= srch then
      local p = redis.call('HGET', pend, m)
      local from = p and string.match(p, '/(%x+)$')
      if not (evict and chosen(p)) and not (from and listed[from]) then
        others[#others + 1] = m
      end
    end
  end
  if #others >= max then
    if not evict then return {'LIMIT'} end
    for j = 1, #others - max + 1 do
      local m = others[j]
      evicted[j] = m
      mine[m] = true
      local p = redis.call('HGET', pend, m) or ('n' .. t)
      redis.call('HSET', pend, m, 'x:' .. p)
    end
  end
end
local marked = #evicted
if max > 0 and evict then
  -- Sessions that an earlier commit marked evicted and that are still
  -- listed are not counted above, but that commit may stop before
  -- deleting them (cancelled, or its client gone) or fail and undo its
  -- choice: this commit deletes them too, and makes the choice final
  -- ("X:"), so that a session whose record is not written yet deletes
  -- itself when its commit finishes (cleanScript), whatever the commit
  -- that chose it does.
  for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
    local p = redis.call('HGET', pend, m)
    if m ~= dsth and m ~= srch and chosen(p) and not mine[m] then
      evicted[#evicted + 1] = m
      redis.call('HSET', pend, m, 'X:' .. string.sub(p, 3))
    end
  end
end
local prevscore = redis.call('ZSCORE', idx, dsth) or ''
local added = redis.call('ZADD', idx, score, dsth)
local prev = redis.call('HGET', pend, dsth) or ''
local mark = t .. '/' .. srch
if chosen(prev) then
  -- Chosen for eviction already (a commit retried): it stays chosen.
  mark = string.sub(prev, 1, 2) .. mark
end
redis.call('HSET', pend, dsth, mark)
extend(idx, ttl + grace)
extend(pend, ttl + grace)
local reply = {'OK', tostring(t + math.floor(grace / 2)), tostring(added), mark, prev, prevscore, tostring(marked)}
for _, m in ipairs(evicted) do reply[#reply + 1] = m end
return reply
`)

// unreserveScript undoes the reservation of a Cluster commit that failed
// without writing its record, when its index entry was already listed (an
// entry the commit added is removed with its mark by cleanScript). KEYS[1]
// the index, KEYS[2] its pending hash. ARGV: hash, the mark the
// reservation set, the mark and the score it replaced ("" for no mark). If
// the hash still holds that mark (no later reservation replaced it, no
// commit marked it evicted), the replaced mark is put back, or the mark
// removed, and the score put back: a failed commit's mark would otherwise
// shield the entry from prune for the whole grace, and count it against
// MaxPerUser, after the session is gone, and its score would misplace the
// session among the user's oldest.
var unreserveScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
end
redis.call('ZADD', KEYS[1], 'XX', ARGV[4], ARGV[1])
return 1
`)

// takeScript is the first step of a renewal on Cluster: it reads the
// record under KEYS[1] and replaces it, atomically, by a pending forward
// to the new hash (a final one when the renewal's result is already
// expired: no record will be written for anyone to wait for). ARGV: now,
// the new hash, the grace in ms, "1" if the result is expired. Replies
// {"NOTFOUND"}, {"RENEWED", target, pend} when KEYS[1] holds a forward
// already, or
// {"OK", deadline, field, value, ...}: the server time by which the new
// record must be created (half the grace from now; a Delete that overtakes
// the renewal leaves a tombstone for the whole grace, so it outlives the
// deadline) and the fields of the record taken.
var takeScript = redis.NewScript(luaCommon + `
local now = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local f = {}
for j = 1, #all, 2 do
  local k = all[j]
  if k == 'exp' or k == 'fwd' or k == 'pend' then f[k] = all[j + 1] end
end
if not f.exp then return {'NOTFOUND'} end
local exp = tonumber(f.exp)
if exp <= now then
  redis.call('DEL', KEYS[1])
  return {'NOTFOUND'}
end
if f.fwd then return {'RENEWED', f.fwd, f.pend or ''} end
local deadline = tostring(servertime() + math.floor(tonumber(ARGV[3]) / 2))
redis.call('DEL', KEYS[1])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'fwd', ARGV[2], 'exp', f.exp)
else
  redis.call('HSET', KEYS[1], 'fwd', ARGV[2], 'exp', f.exp, 'pend', deadline)
end
redis.call('PEXPIRE', KEYS[1], exp - now)
table.insert(all, 1, deadline)
table.insert(all, 1, 'OK')
return all
`)

// restoreScript puts back a record that takeScript took when the renewal
// could not complete, if KEYS[1] still holds the forward the take left
// (to ARGV[2]): a Delete or DeleteUser that removed the forward meanwhile
// ended the session, and it stays ended. ARGV: ttl, the new hash, then
// field/value pairs. Replies 1 if it restored the record.
var restoreScript = redis.NewScript(luaCommon + `
if redis.call('HGET', KEYS[1], 'fwd') ~= ARGV[2] then return 0 end
local ttl = tonumber(ARGV[1])
if ttl <= 0 then return 0 end
local f = {}
for j = 3, #ARGV do f[#f + 1] = ARGV[j] end
redis.call('DEL', KEYS[1])
hcall('HSET', KEYS[1], f)
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`)
