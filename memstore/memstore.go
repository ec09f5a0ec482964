// Package memstore is an in-memory latch.Store.
//
// It suits a single process that can afford to lose its sessions on restart:
// tests, development, and applications whose users can log in again. For one
// machine whose sessions must survive a restart use boltstore; for several
// machines, redisstore or pgstore.
//
// # Design
//
// Records are kept as they were committed, without serialising them: Load
// returns the stored *latch.Record itself, which is shared and must be treated
// as read-only. Commit never changes a stored record; it builds a new Record
// (and a new Values map when values change) and swaps it in, so a record
// returned by Load stays as it was. Values themselves are not copied: a value
// (a slice, a map, a pointer) must not be modified after it was committed.
//
// Sessions are spread over 64 shards by the first byte of their hash, each
// with its own sync.RWMutex, so that readers do not contend. Load is one map
// lookup under a read lock plus an expiry check, and does not allocate.
//
// Each shard keeps its sessions in a min-heap ordered by expiry. A background
// goroutine (see Options.SweepInterval) walks the shards one by one and
// removes expired sessions in batches: one hold of a shard's lock removes at
// most Options.SweepBatch sessions and lasts at most about 200 microseconds,
// however many sessions have expired, so a sweep of a million sessions delays
// a concurrent Load by no more than one batch. Expired sessions are never
// returned, swept or not: the sweeper only frees memory. Sweeping cannot
// fail, so there are no sweeper errors to report.
//
// The per-user index lives in 64 more shards keyed by a hash of the user ID.
// Commits that change no user's index (the common touch or update of a
// session) take one shard lock; creation, renewal and a change of user also
// lock the users concerned, always users before sessions and each kind in
// shard order, so that operations never deadlock.
//
// # Memory
//
// A session with one small value takes about 650 bytes on amd64: some 500
// for the record that Load returns (the Meta and a one-entry Go map, which
// is that large whatever it holds) and some 150 of store overhead (the
// shard map slot, the entry, its heap slot and its user index slot).
// TestMemoryPerSession and BenchmarkMemory measure it.
//
// Go maps do not shrink: after a peak of sessions the shards keep the memory
// of their largest size until the process restarts.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchsec/latch"
)

// Defaults of Options.
const (
	DefaultSweepInterval = time.Minute
	DefaultSweepBatch    = 1024
)

// shardCount is the number of session shards and of user-index shards; it
// must be a power of two no larger than 64 (locks are chosen by bit mask).
const shardCount = 64

// dead is the expiry of an entry that has been removed from its shard.
const dead = math.MinInt64

// Options configure a Store. The zero value is valid.
type Options struct {
	// Now returns the current time, against which expiry is decided.
	// Default: time.Now. Tests inject a fake clock here.
	Now func() time.Time
	// SweepInterval is how often the background sweeper removes expired
	// sessions from memory. Default: DefaultSweepInterval (one minute).
	// Must not be negative.
	SweepInterval time.Duration
	// SweepBatch is the largest number of expired sessions the sweeper
	// removes while it holds one shard's lock (a batch also ends after
	// about 200 microseconds). Default: DefaultSweepBatch. Must not be
	// negative.
	SweepBatch int
}

// Store is an in-memory latch.Store. It is safe for concurrent use. Create
// one with New and stop its sweeper with Close.
type Store struct {
	now   func() time.Time
	batch int
	seed  maphash.Seed

	shards [shardCount]shard
	users  [shardCount]userShard

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ latch.Store = (*Store)(nil)

// shard holds the sessions whose hash starts with its index.
type shard struct {
	mu   sync.RWMutex
	m    map[latch.Hash]*entry
	heap []heapItem // min-heap by expiry; exactly the entries of m
	_    [64]byte   // keep neighbouring shards' locks off one cache line
}

// entry is one stored session. hash never changes; rec and exp change under
// the shard's write lock and are read atomically by the user index, which
// does not hold that lock.
type entry struct {
	hash latch.Hash
	rec  atomic.Pointer[latch.Record]
	exp  atomic.Int64 // Meta.ExpiresAt in Unix nanoseconds; dead once removed
	hidx int32        // position in the shard heap, under the shard lock
	uidx int32        // position in the user's list, under the user shard lock
}

// userShard holds the index of the users whose ID hashes to its index. An
// entry is in the list of user u while it is in its shard and its record's
// UserID is u; removal from the index may lag removal from the shard, so
// readers skip entries that are dead or expired.
type userShard struct {
	mu sync.Mutex
	m  map[string][]*entry
	_  [64]byte
}

// New returns a Store and starts its sweeper.
func New(opts Options) (*Store, error) {
	if opts.SweepInterval < 0 {
		return nil, fmt.Errorf("memstore: negative SweepInterval %v", opts.SweepInterval)
	}
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
		s.shards[i].m = make(map[latch.Hash]*entry)
		s.users[i].m = make(map[string][]*entry)
	}
	go s.sweeper(interval)
	return s, nil
}

// Close stops the sweeper and waits for it to return. The store still
// answers afterwards, and still never returns an expired session, but
// expired sessions are no longer removed from memory. Close always returns
// nil; calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
	})
	return nil
}

func (s *Store) shard(h latch.Hash) *shard { return &s.shards[h[0]&(shardCount-1)] }

func (s *Store) userIndex(u string) int {
	return int(maphash.String(s.seed, u) & (shardCount - 1))
}

func (s *Store) nowNano() int64 { return unixNano(s.now()) }

var (
	minNanoTime = time.Unix(0, math.MinInt64+1)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// unixNano is t.UnixNano clamped to the range it can represent: a time
// before 1678 is long past, one after 2262 as good as never.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(minNanoTime):
		return math.MinInt64 + 1
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// live reports whether e is stored and its record not expired at now. It
// needs no shard lock.
func live(e *entry, now int64) bool {
	if e.exp.Load() == dead {
		return false
	}
	r := e.rec.Load()
	return unixNano(r.ExpiresAt()) > now
}

// Load returns the live record stored under id, or latch.ErrNotFound. The
// record is shared: callers must not modify it.
func (s *Store) Load(ctx context.Context, id latch.Hash) (*latch.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: load: %w", err)
	}
	sh := s.shard(id)
	sh.mu.RLock()
	e := sh.m[id]
	var rec *latch.Record
	var exp int64
	if e != nil {
		rec, exp = e.rec.Load(), e.exp.Load()
	}
	sh.mu.RUnlock()
	if e == nil || exp <= s.nowNano() {
		return nil, latch.ErrNotFound
	}
	return rec, nil
}

// Delete removes the record under id and its index entry.
func (s *Store) Delete(ctx context.Context, id latch.Hash) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	sh := s.shard(id)
	sh.mu.Lock()
	e := sh.m[id]
	if e != nil {
		sh.remove(e)
	}
	sh.mu.Unlock()
	if e != nil {
		s.unindex(e)
	}
	return nil
}

// Len returns the number of sessions held in memory, including expired ones
// that the sweeper has not removed yet.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// unindex removes a removed entry from its user's list.
func (s *Store) unindex(e *entry) {
	u := e.rec.Load().UserID
	if u == "" {
		return
	}
	us := &s.users[s.userIndex(u)]
	us.mu.Lock()
	us.remove(u, e)
	us.mu.Unlock()
}

// ListUser returns the user's live sessions, oldest first by Created.
func (s *Store) ListUser(ctx context.Context, userID string) ([]latch.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: list user sessions: %w", err)
	}
	us := &s.users[s.userIndex(userID)]
	us.mu.Lock()
	now := s.nowNano()
	list := us.m[userID]
	infos := make([]latch.Info, 0, len(list))
	for _, e := range list {
		if live(e, now) {
			infos = append(infos, latch.Info{ID: e.hash, Meta: e.rec.Load().Meta})
		}
	}
	us.mu.Unlock()
	slices.SortFunc(infos, func(a, b latch.Info) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return compareHash(a.ID, b.ID)
	})
	return infos, nil
}

// DeleteUser removes every session of the user except keep and returns how
// many live sessions it removed.
func (s *Store) DeleteUser(ctx context.Context, userID string, keep latch.Hash) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: delete user sessions: %w", err)
	}
	us := &s.users[s.userIndex(userID)]
	us.mu.Lock()
	defer us.mu.Unlock()
	now := s.nowNano()
	list := slices.Clone(us.m[userID])
	n := 0
	for _, e := range list {
		if e.hash == keep {
			continue
		}
		sh := s.shard(e.hash)
		sh.mu.Lock()
		if sh.m[e.hash] == e {
			if live(e, now) {
				n++
			}
			sh.remove(e)
		}
		sh.mu.Unlock()
		us.remove(userID, e)
	}
	return n, nil
}

// Commit applies c atomically; see latch.Commit. It returns
// latch.ErrNotFound, latch.ErrExists or latch.ErrSessionLimit as the
// contract says, and an error for a nil Commit, a zero ID, a renewal to its
// own hash or a negative MaxPerUser. A commit whose result has already
// expired succeeds, and its result is never returned.
func (s *Store) Commit(ctx context.Context, c *latch.Commit) error {
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
	exp := unixNano(c.Meta.ExpiresAt())
	for {
		if done, err := s.tryCommit(c, exp); done {
			return err
		}
	}
}

// peek reads, under the read lock, the entry stored under h and its user.
func (sh *shard) peek(h latch.Hash) (*entry, string) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e := sh.m[h]
	if e == nil {
		return nil, ""
	}
	return e, e.rec.Load().UserID
}

// unchanged reports, under the shard lock, whether h still holds what peek
// saw.
func (sh *shard) unchanged(h latch.Hash, e *entry, user string) bool {
	got := sh.m[h]
	return got == e && (e == nil || e.rec.Load().UserID == user)
}

// tryCommit makes one attempt at c. It reports done=false when another
// goroutine changed one of the sessions between the unlocked look and the
// locks, and the commit must start again.
func (s *Store) tryCommit(c *latch.Commit, exp int64) (done bool, err error) {
	renew := !c.From.IsZero()
	newUser := c.Meta.UserID
	idSh := s.shard(c.ID)
	idE, idUser := idSh.peek(c.ID)
	var fromSh *shard
	var fromE *entry
	var fromUser string
	if renew {
		fromSh = s.shard(c.From)
		fromE, fromUser = fromSh.peek(c.From)
	}

	// The index changes only when the commit adds or replaces an entry or
	// moves one to another user (and only then is the limit checked); then
	// the users concerned are locked first.
	adds := renew || c.Create || idUser != newUser
	var userMask uint64
	if adds {
		for _, u := range [...]string{newUser, idUser, fromUser} {
			if u != "" {
				userMask |= 1 << s.userIndex(u)
			}
		}
	}
	lockUsers(s, userMask)
	defer unlockUsers(s, userMask)
	now := s.nowNano()
	resultLive := exp > now

	// Plan the per-user limit with the user's list locked.
	var victims []*entry
	limited := false
	if c.MaxPerUser > 0 && newUser != "" && resultLive && adds {
		var others []*entry
		for _, e := range s.users[s.userIndex(newUser)].m[newUser] {
			if e != idE && e != fromE && live(e, now) {
				others = append(others, e)
			}
		}
		if excess := len(others) + 1 - c.MaxPerUser; excess > 0 {
			if c.EvictOldest {
				slices.SortFunc(others, func(a, b *entry) int {
					if c := a.rec.Load().Created.Compare(b.rec.Load().Created); c != 0 {
						return c
					}
					return compareHash(a.hash, b.hash)
				})
				victims = others[:excess]
			} else {
				limited = true
			}
		}
	}

	shardMask := uint64(1) << (c.ID[0] & (shardCount - 1))
	if renew {
		shardMask |= 1 << (c.From[0] & (shardCount - 1))
	}
	for _, v := range victims {
		shardMask |= 1 << (v.hash[0] & (shardCount - 1))
	}
	lockShards(s, shardMask)
	defer unlockShards(s, shardMask)

	if !idSh.unchanged(c.ID, idE, idUser) || (renew && !fromSh.unchanged(c.From, fromE, fromUser)) {
		return false, nil
	}
	idLive := idE != nil && idE.exp.Load() > now
	switch {
	case renew && (fromE == nil || fromE.exp.Load() <= now):
		return true, latch.ErrNotFound
	case c.Create && idLive:
		return true, latch.ErrExists
	case !renew && !c.Create && !idLive:
		return true, latch.ErrNotFound
	case limited:
		return true, latch.ErrSessionLimit
	}

	var base map[string]any
	switch {
	case renew:
		base = fromE.rec.Load().Values
	case !c.Create:
		base = idE.rec.Load().Values
	}
	rec := &latch.Record{Meta: c.Meta, Values: patch(base, c)}

	newUsers := &s.users[s.userIndex(newUser)]
	for _, v := range victims {
		if vsh := s.shard(v.hash); vsh.m[v.hash] == v {
			vsh.remove(v)
			newUsers.remove(newUser, v)
		}
	}
	if renew {
		fromSh.remove(fromE)
		s.users[s.userIndex(fromUser)].remove(fromUser, fromE)
	}
	if !renew && !c.Create {
		// An update keeps its entry, even when the result has already
		// expired: the sweeper removes it, and Load never returns it.
		idE.rec.Store(rec)
		idE.exp.Store(exp)
		idSh.fix(idE)
		if idUser != newUser {
			s.users[s.userIndex(idUser)].remove(idUser, idE)
			newUsers.add(newUser, idE)
		}
		return true, nil
	}
	if idE != nil {
		idSh.remove(idE)
		s.users[s.userIndex(idUser)].remove(idUser, idE)
	}
	if resultLive {
		e := &entry{hash: c.ID}
		e.rec.Store(rec)
		e.exp.Store(exp)
		idSh.insert(e)
		newUsers.add(newUser, e)
	}
	return true, nil
}

// patch applies the value changes of c to base without modifying it. When c
// changes no value, base itself is shared by the new record.
func patch(base map[string]any, c *latch.Commit) map[string]any {
	if !c.Clear && len(c.Delete) == 0 && len(c.Set) == 0 {
		return base
	}
	n := len(c.Set)
	if !c.Clear {
		n += len(base)
	}
	if n == 0 {
		return nil
	}
	out := make(map[string]any, n)
	if !c.Clear {
		maps.Copy(out, base)
	}
	for _, k := range c.Delete {
		delete(out, k)
	}
	maps.Copy(out, c.Set)
	if len(out) == 0 {
		return nil
	}
	return out
}

func compareHash(a, b latch.Hash) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

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

// add appends e to the list of user u (no-op for ""). The caller holds
// us.mu.
func (us *userShard) add(u string, e *entry) {
	if u == "" {
		return
	}
	list := us.m[u]
	e.uidx = int32(len(list))
	us.m[u] = append(list, e)
}

// remove takes e out of the list of user u if it is there. The caller holds
// us.mu.
func (us *userShard) remove(u string, e *entry) {
	if u == "" {
		return
	}
	list := us.m[u]
	i := int(e.uidx)
	if i >= len(list) || list[i] != e {
		return
	}
	last := len(list) - 1
	if i != last {
		list[i] = list[last]
		list[i].uidx = int32(i)
	}
	list[last] = nil
	list = list[:last]
	switch {
	case last == 0:
		delete(us.m, u)
	case cap(list) > 8 && len(list) < cap(list)/4:
		us.m[u] = slices.Clip(slices.Clone(list))
	default:
		us.m[u] = list
	}
}
