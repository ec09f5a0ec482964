package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/latchsec/latch/driver"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var _ driver.Store = (*Store)(nil)

// Defaults for the zero fields of Options.
const (
	// DefaultFileMode is the permission of a new database file: owner
	// read and write only.
	DefaultFileMode os.FileMode = 0o600
	// DefaultOpenTimeout is how long Open waits for the file lock.
	DefaultOpenTimeout = time.Second
	// DefaultSweepInterval is how often expired sessions are deleted.
	DefaultSweepInterval = time.Minute
	// DefaultSweepBatch is the most sessions one sweep transaction deletes.
	DefaultSweepBatch = 1000
)

// ErrInUse is matched (with errors.Is) by the error Open returns when another
// process, or another Store in this process, holds the database file.
var ErrInUse = errors.New("boltstore: database file is in use by another process")

// ErrCorrupt is matched by the error returned when a stored record cannot be
// decoded. The store fails closed: the operation reports the error and never
// treats a corrupt record as an empty or missing session. Delete still
// removes a corrupt record, so that revocation always works.
var ErrCorrupt = errors.New("boltstore: corrupt record")

// Options configure a Store. The zero value is ready to use; each field
// documents its default.
type Options struct {
	// FileMode is the permission of the database file when Open creates it.
	// Open refuses an existing file that grants any permission outside
	// FileMode (for example a world-readable file), since session values
	// may hold secrets. Default 0600 (DefaultFileMode).
	FileMode os.FileMode
	// OpenTimeout is how long Open waits for the exclusive lock on the file
	// before it reports ErrInUse. Default one second (DefaultOpenTimeout).
	OpenTimeout time.Duration
	// Now is the clock that decides expiry. Default time.Now.
	Now func() time.Time
	// SweepInterval is the pause between two sweeps of the background
	// goroutine that deletes expired sessions. Zero means
	// DefaultSweepInterval (one minute); a negative value starts no
	// background sweeper (call Store.Sweep yourself). Expired sessions are
	// never returned, swept or not.
	SweepInterval time.Duration
	// SweepBatch is the most expired sessions deleted in one transaction, so
	// that a sweep never holds the write lock for long. Zero means
	// DefaultSweepBatch (1000); Open refuses a negative value.
	SweepBatch int
	// OnError receives the errors of the background sweeper. They hold no
	// secret. Default (nil): printed with the standard log package.
	OnError func(error)
}

// Store is a driver.Store kept in a bbolt database file. It is safe for
// concurrent use. Only one Store, in one process, may have a file open at a
// time.
type Store struct {
	db      *bolt.DB
	now     func() time.Time
	batch   int
	onError func(error)

	writes     chan *request // to the writer goroutine
	closing    chan struct{} // closed by Close
	writerDone chan struct{}

	cancel    context.CancelFunc // stops the sweeper
	done      chan struct{}      // closed when the sweeper has stopped
	closeOnce sync.Once
	closeErr  error
}

// inUseError is returned by Open when the file lock cannot be taken.
type inUseError struct {
	path string
}

func (e *inUseError) Error() string {
	return fmt.Sprintf("boltstore: %s is in use by another process", e.path)
}

func (e *inUseError) Is(target error) bool { return target == ErrInUse }
func (e *inUseError) Unwrap() error        { return berrors.ErrTimeout }

// Open opens the database file at path, creating it (but not its directory)
// if needed, and, unless Options.SweepInterval is negative, starts the
// background sweeper. The zero Options gives the documented defaults.
// Close the Store when done.
//
// A file that another process holds gives an error matching ErrInUse after
// Options.OpenTimeout. A file that is not a boltstore database is refused.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("boltstore: empty database path")
	}
	if opts.FileMode == 0 {
		opts.FileMode = DefaultFileMode
	}
	if opts.FileMode&^os.ModePerm != 0 {
		return nil, fmt.Errorf("boltstore: file mode %v has bits other than permissions", opts.FileMode)
	}
	if opts.OpenTimeout < 0 {
		return nil, fmt.Errorf("boltstore: negative open timeout %v", opts.OpenTimeout)
	}
	if opts.OpenTimeout == 0 {
		opts.OpenTimeout = DefaultOpenTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if opts.SweepBatch < 0 {
		return nil, fmt.Errorf("boltstore: negative sweep batch %d", opts.SweepBatch)
	}
	if opts.SweepBatch == 0 {
		opts.SweepBatch = DefaultSweepBatch
	}
	if opts.OnError == nil {
		opts.OnError = func(err error) { log.Print(err) }
	}

	// Session values may hold secrets (CSRF tokens, OAuth state): refuse a
	// file that grants more than the mode it would have been created with.
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		if extra := fi.Mode().Perm() &^ opts.FileMode; extra != 0 {
			return nil, fmt.Errorf("boltstore: %s has permissions %#o, more open than %#o: chmod it, or set Options.FileMode",
				path, uint32(fi.Mode().Perm()), uint32(opts.FileMode))
		}
	}

	db, err := bolt.Open(path, opts.FileMode, &bolt.Options{
		Timeout:      opts.OpenTimeout,
		FreelistType: bolt.FreelistMapType,
		// NoSync stays false: every acknowledged Commit is on disk.
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, &inUseError{path: path}
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if err := db.Update(initBuckets); err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		db:      db,
		now:     opts.Now,
		batch:   opts.SweepBatch,
		onError: opts.OnError,
		cancel:  cancel,
		done:    make(chan struct{}),

		writes:     make(chan *request),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	go s.writer()
	if opts.SweepInterval > 0 {
		go s.sweeper(ctx, opts.SweepInterval)
	} else {
		close(s.done)
	}
	return s, nil
}

// initBuckets checks the format marker of an existing database, migrating
// a file of an earlier format (see legacy.go), or creates the buckets of a
// new one.
func initBuckets(tx *bolt.Tx) error {
	if m := tx.Bucket(bucketMeta); m != nil {
		switch v := m.Get(keyFormat); {
		case isLegacyFormat(v):
			if err := migrate(tx, m); err != nil {
				return fmt.Errorf("migrate from %s: %w", v, err)
			}
		case !bytes.Equal(v, formatVersion):
			return fmt.Errorf("unsupported format %q (this version reads %q and migrates %q)", v, formatVersion, legacyFormats)
		}
	} else {
		empty := true
		if err := tx.ForEach(func([]byte, *bolt.Bucket) error {
			empty = false
			return nil
		}); err != nil {
			return err
		}
		if !empty {
			return errors.New("not a boltstore database (it holds other buckets)")
		}
		m, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := m.Put(keyFormat, formatVersion); err != nil {
			return err
		}
	}
	for _, name := range [][]byte{bucketSessions, bucketExpiry, bucketUsers} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the sweeper and the writer, waits for them to finish (a
// Commit in progress completes), and closes the database. Calling Close
// again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		close(s.closing)
		<-s.done
		<-s.writerDone
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("boltstore: close: %w", err)
		}
	})
	return s.closeErr
}

// Path returns the path of the database file.
func (s *Store) Path() string { return s.db.Path() }

// buckets are the buckets of one transaction.
//
// Every change goes through putKey and deleteKey, which set *wrote when it
// is not nil: the writer uses it to tell a request that failed before
// changing anything from one that must not be committed (see runBatch).
type buckets struct {
	sessions, expiry, users *bolt.Bucket
	wrote                   *bool
}

// putKey and deleteKey change bk, recording that a change was made.
func (b buckets) putKey(bk *bolt.Bucket, k, v []byte) error {
	if b.wrote != nil {
		*b.wrote = true
	}
	return bk.Put(k, v)
}

func (b buckets) deleteKey(bk *bolt.Bucket, k []byte) error {
	if b.wrote != nil {
		*b.wrote = true
	}
	return bk.Delete(k)
}

func bucketsOf(tx *bolt.Tx) (buckets, error) {
	b := buckets{
		sessions: tx.Bucket(bucketSessions),
		expiry:   tx.Bucket(bucketExpiry),
		users:    tx.Bucket(bucketUsers),
	}
	if b.sessions == nil || b.expiry == nil || b.users == nil {
		return b, errors.New("boltstore: database is missing its buckets")
	}
	return b, nil
}

// view and update run fn in a read or write transaction and add the
// package prefix to bbolt's own errors.
func (s *Store) view(fn func(buckets) error) error {
	return s.tx(false, fn)
}

func (s *Store) update(fn func(buckets) error) error {
	return s.tx(true, fn)
}

func (s *Store) tx(writable bool, fn func(buckets) error) error {
	var fnErr error
	run := func(tx *bolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			fnErr = err
			return err
		}
		fnErr = fn(b)
		return fnErr
	}
	var err error
	if writable {
		err = s.db.Update(run)
	} else {
		err = s.db.View(run)
	}
	if err != nil && err != fnErr {
		return fmt.Errorf("boltstore: %w", err)
	}
	return err
}

func checkCtx(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	return nil
}

// get returns what is stored under h, expired or not: a record, a forward,
// or neither when there is nothing.
func (b buckets) get(h driver.Hash, copyValues bool) (*record, *forward, error) {
	data := b.sessions.Get(h[:])
	if data == nil {
		return nil, nil, nil
	}
	r, f, err := decodeStored(data, copyValues)
	if err != nil {
		return nil, nil, fmt.Errorf("boltstore: session %s: %w", h.Handle(), err)
	}
	return r, f, nil
}

// getLive returns the live record stored under h. A live forward gives a
// *driver.RenewedError naming its target; nothing, an expired record or an
// expired forward gives driver.ErrNotFound.
func (b buckets) getLive(h driver.Hash, now time.Time, copyValues bool) (*record, error) {
	r, f, err := b.get(h, copyValues)
	switch {
	case err != nil:
		return nil, err
	case f != nil && f.live(now):
		return nil, &driver.RenewedError{To: f.to}
	case r == nil || !live(r, now):
		return nil, driver.ErrNotFound
	}
	return r, nil
}

// live reports whether r may still be returned at now.
func live(r *record, now time.Time) bool {
	return now.Before(r.meta.ExpiresAt())
}

// put stores r under h with its index entries. Entries of a previous
// record under h must have been removed first.
func (b buckets) put(h driver.Hash, r *record) error {
	if err := b.putKey(b.sessions, h[:], encodeRecord(r)); err != nil {
		return fmt.Errorf("boltstore: session %s: %w", h.Handle(), err)
	}
	if err := b.putKey(b.expiry, expiryKey(r.meta.ExpiresAt(), h), nil); err != nil {
		return fmt.Errorf("boltstore: expiry index: %w", err)
	}
	if r.meta.UserID != "" {
		if err := b.putKey(b.users, userKey(r.meta.UserID, h), nil); err != nil {
			return fmt.Errorf("boltstore: user index: %w", err)
		}
	}
	return nil
}

// remove deletes the record under h and, when r (the record that was
// stored) is known, its index entries. Without r, stale index entries stay
// behind; every reader of the indexes checks the record and ignores them.
func (b buckets) remove(h driver.Hash, r *record) error {
	if err := b.deleteKey(b.sessions, h[:]); err != nil {
		return fmt.Errorf("boltstore: session %s: %w", h.Handle(), err)
	}
	if r == nil {
		return nil
	}
	return b.unindex(h, r)
}

// unindex deletes the index entries of the record r stored under h.
func (b buckets) unindex(h driver.Hash, r *record) error {
	if err := b.deleteKey(b.expiry, expiryKey(r.meta.ExpiresAt(), h)); err != nil {
		return fmt.Errorf("boltstore: expiry index: %w", err)
	}
	return b.unindexUser(h, r)
}

// unindexUser deletes the user index entry of the record r stored under h.
func (b buckets) unindexUser(h driver.Hash, r *record) error {
	if r.meta.UserID == "" {
		return nil
	}
	if err := b.deleteKey(b.users, userKey(r.meta.UserID, h)); err != nil {
		return fmt.Errorf("boltstore: user index: %w", err)
	}
	return nil
}

// Load returns the live record stored under id, driver.ErrNotFound, or a
// *driver.RenewedError when a renewal left a forward under id. An expired
// record or forward is never returned, even before the sweeper deletes it.
func (s *Store) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	var out *driver.Record
	err := s.view(func(b buckets) error {
		r, err := b.getLive(id, now, false)
		if err != nil {
			return err
		}
		out = &driver.Record{Meta: r.meta, Values: make(map[string]any, len(r.values))}
		for k, raw := range r.values {
			v, err := driver.DecodeValue(raw)
			if err != nil {
				return fmt.Errorf("boltstore: session %s: %w", id.Handle(),
					&corruptError{detail: fmt.Sprintf("value %q", k), err: err})
			}
			out.Values[k] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Commit applies c atomically inside one bbolt write transaction, which is
// written and fsynced before Commit returns; see driver.Commit. Commits that
// arrive while another transaction is being written share the next one
// (group commit), each applied whole or not at all.
func (s *Store) Commit(ctx context.Context, c *driver.Commit) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	if c == nil {
		return errors.New("boltstore: nil commit")
	}
	if c.ID.IsZero() {
		return errors.New("boltstore: commit with a zero session hash")
	}
	if len(c.Meta.UserID) > MaxUserIDLen {
		return fmt.Errorf("boltstore: user ID of %d bytes is longer than %d", len(c.Meta.UserID), MaxUserIDLen)
	}
	if c.MaxPerUser < 0 {
		return fmt.Errorf("boltstore: negative MaxPerUser %d", c.MaxPerUser)
	}
	// Encode new values before taking the write lock.
	set := make(map[string][]byte, len(c.Set))
	for k, v := range c.Set {
		enc, err := driver.EncodeValue(v)
		if err != nil {
			return fmt.Errorf("boltstore: value %q: %w", k, err)
		}
		set[k] = enc
	}
	// The store keeps no reference to c once Commit returns; the writer
	// reads it only while Commit waits.
	now := s.now()
	return s.write(ctx, func(b buckets) error {
		return commitTx(b, c, set, now)
	})
}

// commitTx applies c in the transaction of b; see driver.Commit. It makes
// every check first and changes nothing when one fails: a refusal
// (driver.ErrNotFound, driver.ErrExists, *driver.RenewedError,
// driver.ErrSessionLimit, ErrCorrupt) leaves the transaction as it found it.
func commitTx(b buckets, c *driver.Commit, set map[string][]byte, now time.Time) error {
	var from *record
	if !c.From.IsZero() {
		r, err := b.getLive(c.From, now, true)
		if err != nil {
			return err
		}
		from = r
	}
	existing, fwd, err := b.get(c.ID, true)
	if err != nil {
		return err
	}
	base, err := commitBase(c, from, existing, fwd, now)
	if err != nil {
		return err
	}
	evict, stale, err := limitUser(b, c, base, now)
	if err != nil {
		return err
	}

	// Every check passed: from here on, only changes.
	next := &record{meta: c.Meta, values: applyValues(base.values, c, set)}
	if err := b.pruneUsers(stale); err != nil {
		return err
	}
	for _, e := range evict {
		if err := b.remove(e.id, e.rec); err != nil {
			return err
		}
	}
	if from != nil && c.From != c.ID {
		if err := b.leaveForward(c.From, from, c.ID); err != nil {
			return err
		}
	}
	if existing != nil {
		if err := b.unindex(c.ID, existing); err != nil {
			return err
		}
	}
	if fwd != nil { // expired, or commitBase would have refused
		if err := b.deleteKey(b.expiry, expiryKey(fwd.expires, c.ID)); err != nil {
			return fmt.Errorf("boltstore: expiry index: %w", err)
		}
	}
	return b.put(c.ID, next)
}

// commitBase returns the record that c applies to: from (the live record
// under c.From) for a renewal, an empty record for a creation, and the
// live record under c.ID (existing) for an update. fwd is the forward
// stored under c.ID, if any.
func commitBase(c *driver.Commit, from, existing *record, fwd *forward, now time.Time) (*record, error) {
	fwdLive := fwd != nil && fwd.live(now)
	if from != nil || c.Create {
		// A new session under c.ID: never over a live forward, and
		// never over a live record when Create says c.ID is new.
		if fwdLive || c.Create && existing != nil && live(existing, now) {
			return nil, driver.ErrExists
		}
		if from != nil {
			return from, nil
		}
		return &record{values: map[string][]byte{}}, nil
	}
	switch {
	case fwdLive:
		return nil, &driver.RenewedError{To: fwd.to}
	case existing == nil || !live(existing, now):
		return nil, driver.ErrNotFound
	}
	return existing, nil
}

// applyValues applies the Clear, Delete and Set of c to values (which it
// may change) and returns the result.
func applyValues(values map[string][]byte, c *driver.Commit, set map[string][]byte) map[string][]byte {
	if c.Clear {
		values = make(map[string][]byte, len(set))
	}
	for _, k := range c.Delete {
		delete(values, k)
	}
	for k, v := range set {
		values[k] = v
	}
	return values
}

// limitUser applies c.MaxPerUser when c adds a session to its user: it
// returns the sessions to evict (none below the limit) or
// driver.ErrSessionLimit, and the user's stale index entries to prune.
func limitUser(b buckets, c *driver.Commit, base *record, now time.Time) (evict []entry, stale [][]byte, err error) {
	user := c.Meta.UserID
	adds := c.Create || !c.From.IsZero() || base.meta.UserID != user
	if c.MaxPerUser <= 0 || user == "" || !adds {
		return nil, nil, nil
	}
	others, _, stale, err := liveUserSessions(b, user, now, false)
	if err != nil {
		return nil, nil, err
	}
	others = slices.DeleteFunc(others, func(e entry) bool { return e.id == c.ID || e.id == c.From })
	if len(others) < c.MaxPerUser {
		return nil, stale, nil
	}
	if !c.EvictOldest {
		return nil, nil, driver.ErrSessionLimit
	}
	return others[:len(others)-c.MaxPerUser+1], stale, nil
}

// entry is one session found through the user index.
type entry struct {
	id  driver.Hash
	rec *record
}

// liveUserSessions returns the user's live sessions, oldest first by
// Created, and the user's index entries that point at nothing, at an
// expired record, at a forward, or at a record that now belongs to someone
// else (stale: a write transaction prunes them with pruneUsers). It only
// reads. The values of the records it returns alias the transaction's
// pages: callers read only their metadata.
//
// A corrupt record fails the call, unless skipCorrupt is set: then the
// hashes of corrupt records indexed under the user are returned apart.
func liveUserSessions(b buckets, user string, now time.Time, skipCorrupt bool) (out []entry, corrupt []driver.Hash, stale [][]byte, err error) {
	prefix := userPrefix(user)
	c := b.users.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+driver.HashSize {
			stale = append(stale, bytes.Clone(k))
			continue
		}
		id := driver.Hash(k[len(prefix):])
		r, _, err := b.get(id, false)
		if err != nil {
			if skipCorrupt {
				corrupt = append(corrupt, id)
				continue
			}
			return nil, nil, nil, err
		}
		if r == nil || r.meta.UserID != user || !live(r, now) {
			stale = append(stale, bytes.Clone(k))
			continue
		}
		out = append(out, entry{id: id, rec: r})
	}
	slices.SortStableFunc(out, func(x, y entry) int {
		if c := x.rec.meta.Created.Compare(y.rec.meta.Created); c != 0 {
			return c
		}
		return bytes.Compare(x.id[:], y.id[:])
	})
	return out, corrupt, stale, nil
}

// pruneUsers deletes the user index entries stale that liveUserSessions
// found.
func (b buckets) pruneUsers(stale [][]byte) error {
	for _, k := range stale {
		if err := b.deleteKey(b.users, k); err != nil {
			return fmt.Errorf("boltstore: user index: %w", err)
		}
	}
	return nil
}

// Delete removes the record under id and its index entries. When id holds
// a live forward, Delete removes it and goes on at its target, hop by hop,
// and removes the record at the end of the chain, all in one transaction:
// a renewal either ran before (and Delete follows its forward) or runs
// after and finds nothing to renew. Deleting a missing record is not an
// error, and a corrupt record is deleted too.
func (s *Store) Delete(ctx context.Context, id driver.Hash) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	now := s.now()
	return s.update(func(b buckets) error {
		return deleteChain(b, id, now)
	})
}

func checkUser(userID string) error {
	if userID == "" {
		return errors.New("boltstore: empty user ID")
	}
	if len(userID) > MaxUserIDLen {
		return fmt.Errorf("boltstore: user ID of %d bytes is longer than %d", len(userID), MaxUserIDLen)
	}
	return nil
}

// ListUser returns the user's live sessions, oldest first by Created. It
// reads only the user's index entries, never the whole store.
func (s *Store) ListUser(ctx context.Context, userID string) ([]driver.Info, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	if err := checkUser(userID); err != nil {
		return nil, err
	}
	now := s.now()
	var out []driver.Info
	err := s.view(func(b buckets) error {
		entries, _, _, err := liveUserSessions(b, userID, now, false)
		if err != nil {
			return err
		}
		out = make([]driver.Info, len(entries))
		for i, e := range entries {
			out[i] = driver.Info{ID: e.id, Meta: e.rec.meta}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteUser removes every session of the user except keep (which may be
// zero) and returns how many live sessions it removed. keep is followed
// through live forwards: the session it was renewed into is the one kept.
// Records indexed under the user that cannot be decoded are removed as well
// (and not counted), so that revoking a user's sessions never fails on
// them.
//
// It runs in one write transaction, so every renewal of one of the user's
// sessions either ran before it (and its result is removed, or kept when it
// is keep's) or runs after it and fails with driver.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, userID string, keep driver.Hash) (int, error) {
	if err := checkCtx(ctx); err != nil {
		return 0, err
	}
	if err := checkUser(userID); err != nil {
		return 0, err
	}
	now := s.now()
	var n int
	err := s.update(func(b buckets) error {
		n = 0
		keep := followKeep(b, keep, now)
		entries, corrupt, stale, err := liveUserSessions(b, userID, now, true)
		if err != nil {
			return err
		}
		if err := b.pruneUsers(stale); err != nil {
			return err
		}
		// Revocation must work even on records that cannot be read.
		for _, id := range corrupt {
			if id == keep {
				continue
			}
			if err := b.remove(id, nil); err != nil {
				return err
			}
			if err := b.deleteKey(b.users, userKey(userID, id)); err != nil {
				return fmt.Errorf("boltstore: user index: %w", err)
			}
		}
		for _, e := range entries {
			if e.id == keep && !keep.IsZero() {
				continue
			}
			if err := b.remove(e.id, e.rec); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
