// Package memstore is an in-memory driver.Store.
//
// It suits a single process that can afford to lose its sessions on restart:
// tests, development, and applications whose users can log in again. For one
// machine whose sessions must survive a restart use boltstore; for several
// machines, redisstore or pgstore.
//
// # Design
//
// Each session is kept packed in one immutable string, in driver's record
// encoding (driver.AppendRecord; see record.go): its metadata in a compact
// binary form, then its values, each encoded as JSON by
// driver.EncodeValue. Values therefore read back as the serialising
// stores (boltstore, redisstore, pgstore) give them back: a number is a
// json.Number, a struct a map[string]any. An application tested on
// memstore behaves the same on the others, a value that cannot be encoded
// fails the Commit here as it would there, and changing a value after
// setting it cannot reach the store.
//
// Load decodes a Record from the packed form (a few small allocations:
// its strings share the packed form) on the first read after each change,
// and keeps it in a small table of recently decoded records, 256 slots a
// shard, so that the many reads of an active session share one Record and
// do not allocate. A slot answers only for the entry and the packed form it
// was decoded from, so a change or a removal is never hidden by it; the
// table's memory is bounded, whatever the number of sessions.
//
// Sessions are spread over 64 shards by the first byte of their hash, each
// with its own sync.RWMutex, so that readers do not contend. Load is one map
// lookup under a read lock, an expiry check and, after a change, the
// decoding. A commit
// encodes its values before it takes any lock; under the lock it only
// splices the stored values with the changed ones (driver.PatchRecord),
// byte strings without decoding a single value.
//
// Each shard keeps its sessions in a min-heap ordered by expiry. A background
// goroutine (see Options.SweepInterval) walks the shards one by one and
// removes expired sessions in batches: one hold of a shard's lock removes at
// most Options.SweepBatch sessions and lasts at most about 200 microseconds,
// however many sessions have expired, so a sweep of a million sessions delays
// a concurrent Load by no more than one batch (Stats reports the longest
// hold). Expired sessions are never
// returned, swept or not: the sweeper only frees memory. Sweeping cannot
// fail, so there are no sweeper errors to report.
//
// The per-user index lives in 64 more shards keyed by a hash of the user
// ID, each user's sessions on a linked list through the entries. Commits
// that change no user's index (the common touch or update of a session)
// take one shard lock; creation, renewal and a change of user also lock
// the users concerned, always users before sessions and each kind in shard
// order, so that operations never deadlock.
//
// # Renewals
//
// A renewal (a Commit with From) turns the entry under From into a
// forward to ID, in place, in the same hold of the locks that writes ID:
// its packed form becomes a zero byte and the new hash, and it keeps the
// replaced record's expiry and its place in the heap, so the sweeper
// removes it when the old token could no longer have been used, as it
// removes an expired session. A forward is in no user's list. Load, an
// update and a renewal from it give a *driver.RenewedError naming the new
// hash, and Create on it gives driver.ErrExists, until it expires; after
// that it is as good as gone.
//
// Deletions are ordered against renewals by the locks they share:
//
//   - Delete follows live forwards hop by hop, removing each, to the
//     record at the end of the chain. A renewal holds the locks of both its
//     shards, so it either ran before Delete reached its From, and Delete
//     follows the forward it left, or runs after Delete removed the record,
//     and fails with driver.ErrNotFound.
//   - DeleteUser holds the lock of the user's index shard throughout, and
//     a renewal, an eviction or a change of user of one of the user's
//     sessions takes that lock too, so each runs wholly before it or wholly
//     after. It follows keep through forwards under that lock.
//   - A Commit with MaxPerUser chooses its victims from the user's list and
//     removes them holding the user's lock, so a victim cannot be renewed
//     away in between.
//
// storetest's LogoutRacesRenewal, RevokeUserRacesRenewal,
// RevokeOthersKeepsRenewed, EvictionRacesRenewal and UpdateRacesRenewal
// race these operations, 200 rounds each, and the model test (a plain map
// of records and forwards) checks every answer of random sequences of
// them.
//
// # Memory
//
// A logged-in session with one small value takes about 175 bytes on amd64
// in a store of 50,000, and about 230 in a store of a million (the maps are
// then, on average, less full): an 80-byte entry, the packed record (48
// bytes here; a user agent and an address add their length), a slot in the
// shard's map (keyed by 8 bytes of the hash), a heap slot and a slot in the
// user index. TestMemoryPerSession and BenchmarkMemory measure it, and
// bench/cmd/compare at a million sessions.
//
// A renewal leaves a forward behind until the replaced record's expiry:
// about 185 bytes (the entry, a 33-byte packed form, a map and a heap
// slot), whatever the size of the session. TestMemoryPerSession measures
// it too.
//
// Go maps do not shrink: after a peak of sessions the shards keep the memory
// of their largest size until the process restarts.
package memstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchsec/latch/driver"
)

// Defaults for the zero fields of Options.
const (
	DefaultSweepInterval = time.Minute
	DefaultSweepBatch    = 1024
)

// shardCount is the number of session shards and of user-index shards; it
// must be a power of two no larger than 64 (locks are chosen by bit mask).
const shardCount = 64

// Options configure a Store. The zero value is ready to use; each field
// documents its default.
type Options struct {
	// Now returns the current time, against which expiry is decided.
	// Default: time.Now. Tests inject a fake clock here.
	Now func() time.Time
	// SweepInterval is the pause between two sweeps of the background
	// goroutine that removes expired sessions from memory. Zero means
	// DefaultSweepInterval (one minute); a negative value starts no
	// background sweeper (call Store.Sweep yourself). Expired sessions are
	// never returned, swept or not.
	SweepInterval time.Duration
	// SweepBatch is the largest number of expired sessions a sweep removes
	// while it holds one shard's lock (a batch also ends after about 200
	// microseconds). Zero means DefaultSweepBatch (1024); New refuses a
	// negative value.
	SweepBatch int
}

// Store is an in-memory driver.Store. It is safe for concurrent use. Create
// one with New and stop its sweeper with Close.
type Store struct {
	now   func() time.Time
	batch int
	seed  maphash.Seed

	shards [shardCount]shard
	users  [shardCount]userShard

	swept       atomic.Uint64 // see Stats
	longestHold atomic.Int64  // nanoseconds; see Stats

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ driver.Store = (*Store)(nil)

// shard holds the sessions whose hash starts with its index.
type shard struct {
	mu sync.RWMutex
	// m maps the first 8 bytes of a hash to its entry. Two hashes that
	// share them (which random hashes do once in 2^64 pairs) are both
	// kept: the second in overflow. A key of 8 bytes instead of 32 saves
	// some 40 bytes a session.
	m        map[uint64]*entry
	overflow map[driver.Hash]*entry
	heap     []heapItem // min-heap by expiry; exactly the entries of m and overflow
	// recent holds the records Load decoded last, one slot per value of
	// the hash's second byte, so that a session read again and again is
	// decoded once per change (see Load).
	recent [recentSlots]atomic.Pointer[decoded]
	_      [64]byte // keep neighbouring shards' locks off one cache line
}

// recentSlots is the number of decoded records each shard keeps: 16,384 in
// all, at most some 9 MB for sessions with a few small values.
const recentSlots = 256

// decoded is a record that Load decoded from the packed form data of e.
// It is immutable once published.
type decoded struct {
	e    *entry
	data string
	rec  *driver.Record
}

// entry is one stored session, or a forward (see record.go). hash never
// changes; data, exp and hidx change only under the shard's write lock,
// and the user index, which does not hold that lock, takes its read lock
// to read them. A session's entry becomes a forward in place, never the
// reverse, and once removed from its shard an entry never changes again.
type entry struct {
	hash driver.Hash
	data string // the packed record (see record.go)
	exp  int64  // Meta.ExpiresAt in Unix nanoseconds
	hidx int32  // position in the shard heap; -1 once removed
	// linked, prev and next place the entry in its user's list; they
	// change only under the lock of that user's index shard.
	linked     bool
	prev, next *entry
}

// userShard indexes the users whose ID hashes to its index. m maps the
// 64-bit hash of a user ID to the head of a doubly linked list of entries:
// the user's sessions, and (once in 2^64 pairs of users) those of another
// user with the same hash, which readers skip. An entry is in its user's
// list while it is in its shard; removal from the list may lag removal
// from the shard, so readers also skip removed and expired entries.
type userShard struct {
	mu sync.Mutex
	m  map[uint64]*entry
	_  [64]byte
}

// New returns a Store and, unless Options.SweepInterval is negative,
// starts its sweeper; Close stops it.
func New(opts Options) (*Store, error) {
	if opts.SweepBatch < 0 {
		return nil, fmt.Errorf("memstore: negative SweepBatch %d", opts.SweepBatch)
	}
	s := &Store{
		now:   opts.Now,
		batch: opts.SweepBatch,
		seed:  maphash.MakeSeed(),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.batch == 0 {
		s.batch = DefaultSweepBatch
	}
	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	for i := range s.shards {
		s.shards[i].m = make(map[uint64]*entry)
		s.shards[i].overflow = make(map[driver.Hash]*entry)
		s.users[i].m = make(map[uint64]*entry)
	}
	if interval > 0 {
		go s.sweeper(interval)
	} else {
		close(s.done)
	}
	return s, nil
}

// Close stops the background sweeper, if New started one, and waits for it
// to return. The store still answers afterwards, and still never returns an
// expired session, but expired sessions are removed from memory only by
// calls of Sweep. Close always returns
// nil; calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
	})
	return nil
}

func (s *Store) shard(h driver.Hash) *shard { return &s.shards[h[0]&(shardCount-1)] }

// userKey returns the key of user u in the index, and its index shard.
func (s *Store) userKey(u string) (uint64, *userShard) {
	k := maphash.String(s.seed, u)
	return k, &s.users[k&(shardCount-1)]
}

func (s *Store) nowNano() int64 { return unixNano(s.now()) }

// The range of times that int64 Unix nanoseconds represent.
var (
	firstNano = time.Unix(0, math.MinInt64+1)
	lastNano  = time.Unix(0, math.MaxInt64)
)

// unixNano is t.UnixNano clamped to the range it can represent: a time
// before 1678 is long past, one after 2262 as good as never.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(firstNano):
		return math.MinInt64 + 1
	case t.After(lastNano):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func prefix(h driver.Hash) uint64 { return binary.LittleEndian.Uint64(h[:8]) }

// find returns the entry stored under h, or nil. The caller holds the
// shard's lock.
func (sh *shard) find(h driver.Hash) *entry {
	if e := sh.m[prefix(h)]; e != nil && e.hash == h {
		return e
	}
	if len(sh.overflow) == 0 {
		return nil
	}
	return sh.overflow[h]
}

// live reports whether e is stored and its record not expired at now. The
// caller holds e's shard lock.
func live(e *entry, now int64) bool { return e.hidx >= 0 && e.exp > now }

// Load returns the live record stored under id, driver.ErrNotFound, or a
// *driver.RenewedError when id holds a forward that has not expired. The
// record may be shared with other callers: it must not be modified.
//
// A record is decoded from its packed form on the first Load after each
// change and kept in a small per-shard table, so that the requests of an
// active session share one decoded record and do not allocate. A slot
// serves only the entry and the packed form it was decoded from, so a
// change or a removal is never hidden by it.
func (s *Store) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: load: %w", err)
	}
	sh := s.shard(id)
	sh.mu.RLock()
	e := sh.find(id)
	var data string
	var exp int64
	if e != nil {
		data, exp = e.data, e.exp
	}
	sh.mu.RUnlock()
	if e == nil || exp <= s.nowNano() {
		return nil, driver.ErrNotFound
	}
	if isForward(data) {
		return nil, &driver.RenewedError{To: forwardTo(data)}
	}
	slot := &sh.recent[id[1]]
	if d := slot.Load(); d != nil && d.e == e && d.data == data {
		return d.rec, nil
	}
	rec, err := unpack(data)
	if err != nil {
		return nil, fmt.Errorf("memstore: load: %w", err)
	}
	slot.Store(&decoded{e: e, data: data, rec: rec})
	return rec, nil
}

// forget empties the recent slot of e, if it holds e, once e changed or
// left the store: its memory is freed sooner. The caller holds the
// shard's write lock.
func (sh *shard) forget(e *entry) {
	slot := &sh.recent[e.hash[1]]
	if d := slot.Load(); d != nil && d.e == e {
		slot.Store(nil)
	}
}

// maxHops bounds the forwards that Delete and DeleteUser follow. Chains
// here cannot loop: a renewal turns its From into a forward to ID and
// makes ID a record in one step, so each forward of a chain is newer than
// the one before it. A chain is as long as the renewals of one session
// within the lifetime of its records, a handful in practice; the bound
// only stops a Delete that renewals in a tight loop keep ahead of. It is
// large because a Delete that gives up has removed the forwards it
// passed, and a second one from the same hash no longer reaches the
// session.
const maxHops = 1024

// Delete removes the record under id and its index entry. When id holds a
// forward that has not expired, it removes the forward and goes on at its
// target, hop by hop, to the record at the end of the chain; an expired
// forward is removed and not followed.
//
// Each hop holds its shard's lock, and a renewal holds those of both its
// hashes, so a renewal of the record at the end of the chain either ran
// before Delete reached it, and Delete finds its forward, or runs after,
// and finds no record to renew. Delete fails if the chain goes on for
// more than 1,024 forwards.
func (s *Store) Delete(ctx context.Context, id driver.Hash) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	for range maxHops + 1 {
		next, ok := s.deleteOne(id)
		if !ok {
			return nil
		}
		id = next
	}
	return fmt.Errorf("memstore: delete: gave up after %d forwards", maxHops)
}

// deleteOne removes what id holds. If it was a live forward it returns its
// target and ok.
func (s *Store) deleteOne(id driver.Hash) (next driver.Hash, ok bool) {
	sh := s.shard(id)
	sh.mu.Lock()
	e := sh.find(id)
	if e != nil {
		sh.remove(e)
		if isForward(e.data) && e.exp > s.nowNano() {
			next, ok = forwardTo(e.data), true
		}
	}
	sh.mu.Unlock()
	if e != nil && !ok {
		s.unindex(e)
	}
	return next, ok
}

// follow returns the hash at the end of the chain of live forwards from h
// (h itself when it holds none), following at most maxHops of them. The
// caller holds no shard lock.
func (s *Store) follow(h driver.Hash, now int64) driver.Hash {
	for range maxHops {
		sh := s.shard(h)
		sh.mu.RLock()
		e := sh.find(h)
		fwd := e != nil && live(e, now) && isForward(e.data)
		if fwd {
			h = forwardTo(e.data)
		}
		sh.mu.RUnlock()
		if !fwd {
			break
		}
	}
	return h
}

// Len returns the number of sessions held in memory, including expired ones
// that the sweeper has not removed yet, and of the forwards that renewals
// left.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m) + len(sh.overflow)
		sh.mu.RUnlock()
	}
	return n
}

// unindex removes an entry that was removed from its shard from its
// user's list.
func (s *Store) unindex(e *entry) {
	u := userOf(e.data) // e no longer changes: no lock needed
	if u == "" {
		return
	}
	k, us := s.userKey(u)
	us.mu.Lock()
	us.unlink(k, e)
	us.mu.Unlock()
}

// userEntry is what the index learns of one entry of a user's list, under
// the entry's shard lock.
type userEntry struct {
	e    *entry
	live bool // stored, not expired, and of the user asked for
	meta driver.Meta
}

// userEntries returns the entries in the list of user u, each read under
// its shard's read lock. The caller holds u's index shard lock, which
// keeps the list itself still.
func (s *Store) userEntries(u string, now int64) ([]userEntry, error) {
	k, us := s.userKey(u)
	var out []userEntry
	for e := us.m[k]; e != nil; e = e.next {
		ue := userEntry{e: e}
		var err error
		sh := s.shard(e.hash)
		sh.mu.RLock()
		if e.hidx >= 0 && !isForward(e.data) { // a forward is never listed
			_, err = decodeMeta(e.data, &ue.meta)
			ue.live = err == nil && ue.meta.UserID == u && live(e, now)
		}
		sh.mu.RUnlock()
		if err != nil {
			return nil, fmt.Errorf("memstore: user index: %w", err)
		}
		out = append(out, ue)
	}
	return out, nil
}

// ListUser returns the user's live sessions, oldest first by Created.
func (s *Store) ListUser(ctx context.Context, userID string) ([]driver.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: list user sessions: %w", err)
	}
	if userID == "" {
		return []driver.Info{}, nil
	}
	_, us := s.userKey(userID)
	us.mu.Lock()
	list, err := s.userEntries(userID, s.nowNano())
	us.mu.Unlock()
	if err != nil {
		return nil, err
	}
	infos := make([]driver.Info, 0, len(list))
	for _, ue := range list {
		if ue.live {
			infos = append(infos, driver.Info{ID: ue.e.hash, Meta: ue.meta})
		}
	}
	slices.SortFunc(infos, func(a, b driver.Info) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return compareHash(a.ID, b.ID)
	})
	return infos, nil
}

// DeleteUser removes every session of the user except keep and returns how
// many live sessions it removed. keep is followed through live forwards:
// the session it was renewed into is kept.
//
// It holds the lock of the user's index shard throughout, and every
// renewal, eviction or change of user of one of the user's sessions takes
// that lock too, so each of them runs wholly before DeleteUser (and its
// result is removed, or kept if it is keep's) or wholly after (and finds
// no session left to renew).
func (s *Store) DeleteUser(ctx context.Context, userID string, keep driver.Hash) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: delete user sessions: %w", err)
	}
	if userID == "" {
		return 0, nil
	}
	k, us := s.userKey(userID)
	us.mu.Lock()
	defer us.mu.Unlock()
	now := s.nowNano()
	if !keep.IsZero() {
		keep = s.follow(keep, now)
	}
	var list []*entry
	for e := us.m[k]; e != nil; e = e.next {
		list = append(list, e)
	}
	n := 0
	for _, e := range list {
		if e.hash == keep {
			continue
		}
		sh := s.shard(e.hash)
		sh.mu.Lock()
		stored := e.hidx >= 0
		mine := userOf(e.data) == userID
		if stored && mine {
			if live(e, now) {
				n++
			}
			sh.remove(e)
		}
		sh.mu.Unlock()
		if !stored || mine {
			us.unlink(k, e) // a removed entry leaves the list too
		}
	}
	return n, nil
}

// Commit applies c atomically; see driver.Commit. It returns
// driver.ErrNotFound, a *driver.RenewedError, driver.ErrExists or
// driver.ErrSessionLimit as the contract says, and an error for a nil
// Commit, a zero ID, a renewal to its own hash, a negative MaxPerUser or a
// value that driver.EncodeValue cannot encode. A commit whose result has
// already expired succeeds, and its result is never returned; a renewal
// into such a result still leaves its forward.
func (s *Store) Commit(ctx context.Context, c *driver.Commit) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: commit: %w", err)
	}
	if c == nil {
		return errors.New("memstore: commit: nil Commit")
	}
	if c.ID.IsZero() {
		return errors.New("memstore: commit: zero session hash")
	}
	if c.From == c.ID {
		return errors.New("memstore: commit: renewal to the same hash")
	}
	if c.MaxPerUser < 0 {
		return fmt.Errorf("memstore: commit: negative MaxPerUser %d", c.MaxPerUser)
	}
	// Encode all that does not depend on the stored record before taking
	// any lock.
	set, err := driver.EncodeValues(c.Set)
	if err != nil {
		return fmt.Errorf("memstore: commit: %w", err)
	}
	w := write{c: c, exp: unixNano(c.Meta.ExpiresAt()), meta: driver.AppendMeta(nil, &c.Meta), set: set}
	for {
		if done, err := s.tryCommit(&w); done {
			return err
		}
	}
}

// write is a Commit prepared for tryCommit.
type write struct {
	c    *driver.Commit
	exp  int64
	meta []byte            // the record's head: driver.AppendMeta
	set  []driver.RawValue // c.Set encoded: driver.EncodeValues
}

// peek reads, under the read lock, the entry stored under h and its user.
func (sh *shard) peek(h driver.Hash) (*entry, string) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e := sh.find(h)
	if e == nil {
		return nil, ""
	}
	return e, userOf(e.data)
}

// unchanged reports, under the shard lock, whether h still holds what peek
// saw.
func (sh *shard) unchanged(h driver.Hash, e *entry, user string) bool {
	return sh.find(h) == e && (e == nil || userOf(e.data) == user)
}

// tryCommit makes one attempt at a write. It reports done=false when
// another goroutine changed one of the sessions between the unlocked look
// and the locks, and the commit must start again.
//
// Its steps, in this order: look at ID and From unlocked (look); lock the
// users whose index may change (userMask); check the per-user limit and
// choose the evictions (planLimit); lock the shards concerned (shardMask);
// check that ID and From still hold what look saw (unchanged) and that
// they allow the write (checkBase); build the result (PatchRecord over
// base); then evict, turn From into a forward, and write ID's entry and
// move the index (update, or replace for a creation or a renewal).
func (s *Store) tryCommit(w *write) (done bool, err error) {
	a := s.look(w)
	userMask := s.userMask(&a)
	lockUsers(s, userMask)
	defer unlockUsers(s, userMask)
	now := s.nowNano()
	victims, limited, err := s.planLimit(&a, w.c, now)
	if err != nil {
		return true, err
	}
	shardMask := a.shardMask(victims)
	lockShards(s, shardMask)
	defer unlockShards(s, shardMask)

	if !a.unchanged() {
		return false, nil
	}
	if err := a.checkBase(now, limited); err != nil {
		return true, err
	}
	data, err := driver.PatchRecord(w.meta, a.base(), w.c, w.set)
	if err != nil {
		return true, fmt.Errorf("memstore: commit: %w", err)
	}

	a.newKey, a.newUsers = s.userKey(a.newUser)
	s.evict(victims, a.newKey, a.newUsers)
	if a.renew {
		s.forward(&a)
	}
	if a.renew || a.create {
		s.replace(&a, data, now)
	} else {
		s.update(&a, data)
	}
	return true, nil
}

// attempt is what one attempt at a write saw of the entries under ID and
// From, before taking any lock, and what it decided from that. The steps
// of tryCommit share it; it lives on tryCommit's stack.
type attempt struct {
	// id, from, create and exp are copied from the write: attempt holds
	// no pointer to it or to its Commit, because the steps leak what
	// attempt points to, and the caller's Commit would then escape to the
	// heap.
	id, from driver.Hash
	create   bool
	exp      int64
	renew    bool // from is set
	// adds reports whether the commit changes the user index: it adds or
	// replaces an entry, or moves one to another user. Only then are the
	// users locked and the limit checked.
	adds bool

	idSh, fromSh     *shard
	idE, fromE       *entry // nil when nothing was stored
	idUser, fromUser string // the users of idE and fromE
	newUser          string // c.Meta.UserID

	// newKey and newUsers place newUser in the index; set once the
	// result is built.
	newKey   uint64
	newUsers *userShard
}

// look reads the entries under ID and, for a renewal, From, and their
// users, each under its shard's read lock alone: what the attempt plans
// its locks and the limit from. It decides whether the commit changes the
// user index (adds).
func (s *Store) look(w *write) attempt {
	c := w.c
	a := attempt{
		id: c.ID, from: c.From, create: c.Create, exp: w.exp,
		renew: !c.From.IsZero(), newUser: c.Meta.UserID, idSh: s.shard(c.ID),
	}
	a.idE, a.idUser = a.idSh.peek(c.ID)
	if a.renew {
		a.fromSh = s.shard(c.From)
		a.fromE, a.fromUser = a.fromSh.peek(c.From)
	}
	a.adds = a.renew || c.Create || a.idUser != a.newUser
	return a
}

// userMask decides which user index shards the attempt locks: when the
// commit changes the index, those of the new user and of ID's and From's
// users; otherwise none.
func (s *Store) userMask(a *attempt) uint64 {
	if !a.adds {
		return 0
	}
	var mask uint64
	for _, u := range [...]string{a.newUser, a.idUser, a.fromUser} {
		if u != "" {
			k, _ := s.userKey(u)
			mask |= 1 << (k & (shardCount - 1))
		}
	}
	return mask
}

// planLimit checks the per-user limit, with the new user's list locked.
// It returns the sessions to evict to make room (EvictOldest: the oldest
// by Created), or limited when the commit must fail with
// driver.ErrSessionLimit instead. The limit binds only a commit that
// changes the index (a.adds) of a named user with a result that has not
// already expired; the entries under ID and From do not count against it,
// as the result replaces them.
func (s *Store) planLimit(a *attempt, c *driver.Commit, now int64) (victims []userEntry, limited bool, err error) {
	if c.MaxPerUser <= 0 || a.newUser == "" || a.exp <= now || !a.adds {
		return nil, false, nil
	}
	list, err := s.userEntries(a.newUser, now)
	if err != nil {
		return nil, false, err
	}
	idE, fromE := a.idE, a.fromE
	others := slices.DeleteFunc(list, func(ue userEntry) bool {
		return !ue.live || ue.e == idE || ue.e == fromE
	})
	excess := len(others) + 1 - c.MaxPerUser
	if excess <= 0 {
		return nil, false, nil
	}
	if !c.EvictOldest {
		return nil, true, nil
	}
	slices.SortFunc(others, func(a, b userEntry) int {
		if c := a.meta.Created.Compare(b.meta.Created); c != 0 {
			return c
		}
		return compareHash(a.e.hash, b.e.hash)
	})
	return others[:excess], false, nil
}

// shardMask decides which session shards the attempt locks: ID's, From's
// for a renewal, and the victims'.
func (a *attempt) shardMask(victims []userEntry) uint64 {
	mask := uint64(1) << (a.id[0] & (shardCount - 1))
	if a.renew {
		mask |= 1 << (a.from[0] & (shardCount - 1))
	}
	for _, v := range victims {
		mask |= 1 << (v.e.hash[0] & (shardCount - 1))
	}
	return mask
}

// unchanged reports, under the shard locks, whether ID and From still
// hold what look saw. If not, the attempt's locks and limit may be wrong,
// and it starts again.
func (a *attempt) unchanged() bool {
	return a.idSh.unchanged(a.id, a.idE, a.idUser) &&
		(!a.renew || a.fromSh.unchanged(a.from, a.fromE, a.fromUser))
}

// checkBase decides, under the locks, whether what ID and From hold at
// now allows the write, and returns the error the commit fails with if
// not: a renewal needs a live record under From, a creation nothing live
// under ID, an update a live record under ID. A commit over the limit
// (limited, from planLimit) fails only after these checks.
func (a *attempt) checkBase(now int64, limited bool) error {
	idLive := a.idE != nil && a.idE.exp > now // a record or a forward
	switch {
	case a.renew && (a.fromE == nil || a.fromE.exp <= now):
		return driver.ErrNotFound
	case a.renew && isForward(a.fromE.data):
		return &driver.RenewedError{To: forwardTo(a.fromE.data)}
	case a.create && idLive:
		return driver.ErrExists
	case !a.renew && !a.create && !idLive:
		return driver.ErrNotFound
	case !a.renew && !a.create && isForward(a.idE.data):
		return &driver.RenewedError{To: forwardTo(a.idE.data)}
	case limited:
		return driver.ErrSessionLimit
	}
	return nil
}

// base returns the stored values the result is patched over: From's for
// a renewal, ID's for an update, none for a creation. checkBase has
// passed.
func (a *attempt) base() string {
	switch {
	case a.renew:
		return valuesOf(a.fromE.data)
	case !a.create:
		return valuesOf(a.idE.data)
	}
	return ""
}

// evict removes the victims planLimit chose from their shards and from
// the list of their user (key k in us). A victim may have been deleted
// since it was planned, never moved to another user: that takes the user
// lock the caller holds. The caller holds the victims' shard locks.
func (s *Store) evict(victims []userEntry, k uint64, us *userShard) {
	for _, ue := range victims {
		v := ue.e
		if vsh := s.shard(v.hash); vsh.find(v.hash) == v {
			vsh.remove(v)
			us.unlink(k, v)
		}
	}
}

// forward turns From's entry into the forward to ID, in place: it keeps
// its expiry, the replaced record's, and its place in the heap, and
// leaves its user's list.
func (s *Store) forward(a *attempt) {
	s.unlinkFrom(a.fromUser, a.fromE)
	a.fromE.data = packForward(a.id)
	a.fromSh.forget(a.fromE)
}

// update writes the result of an update into ID's entry, in place, and
// moves the entry to the new user's list if its user changed. It keeps
// the entry even when the result has already expired: the sweeper
// removes it, and Load never returns it.
func (s *Store) update(a *attempt, data string) {
	e := a.idE
	e.data, e.exp = data, a.exp
	a.idSh.fix(e)
	a.idSh.forget(e)
	if a.idUser != a.newUser {
		s.unlinkFrom(a.idUser, e)
		a.newUsers.link(a.newUser, a.newKey, e)
	}
}

// replace writes the result of a creation or a renewal: it removes
// whatever ID held from its shard and its user's list, and stores a new
// entry in the new user's list, unless the result has already expired at
// now.
func (s *Store) replace(a *attempt, data string, now int64) {
	if a.idE != nil {
		a.idSh.remove(a.idE)
		s.unlinkFrom(a.idUser, a.idE)
	}
	if a.exp > now {
		e := &entry{hash: a.id, data: data, exp: a.exp}
		a.idSh.insert(e)
		a.newUsers.link(a.newUser, a.newKey, e)
	}
}

// unlinkFrom takes e out of the list of user u. The caller holds u's
// index shard lock.
func (s *Store) unlinkFrom(u string, e *entry) {
	if u == "" {
		return
	}
	k, us := s.userKey(u)
	us.unlink(k, e)
}

func compareHash(a, b driver.Hash) int { return bytes.Compare(a[:], b[:]) }

// Locks are taken in ascending index order, users before shards.

func lockUsers(s *Store, mask uint64) {
	for m := mask; m != 0; m &= m - 1 {
		s.users[bits.TrailingZeros64(m)].mu.Lock()
	}
}

func unlockUsers(s *Store, mask uint64) {
	for m := mask; m != 0; m &= m - 1 {
		s.users[bits.TrailingZeros64(m)].mu.Unlock()
	}
}

func lockShards(s *Store, mask uint64) {
	for m := mask; m != 0; m &= m - 1 {
		s.shards[bits.TrailingZeros64(m)].mu.Lock()
	}
}

func unlockShards(s *Store, mask uint64) {
	for m := mask; m != 0; m &= m - 1 {
		s.shards[bits.TrailingZeros64(m)].mu.Unlock()
	}
}

// link puts e at the head of the list of user u (key k); nothing for the
// anonymous user. The caller holds us.mu.
func (us *userShard) link(u string, k uint64, e *entry) {
	if u == "" {
		return
	}
	head := us.m[k]
	e.prev, e.next, e.linked = nil, head, true
	if head != nil {
		head.prev = e
	}
	us.m[k] = e
}

// unlink takes e out of the list under key k if it is in it. The caller
// holds us.mu.
func (us *userShard) unlink(k uint64, e *entry) {
	if !e.linked {
		return
	}
	if e.next != nil {
		e.next.prev = e.prev
	}
	switch {
	case e.prev != nil:
		e.prev.next = e.next
	case e.next != nil:
		us.m[k] = e.next
	default:
		delete(us.m, k)
	}
	e.prev, e.next, e.linked = nil, nil, false
}
