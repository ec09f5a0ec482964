package pgstore

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/latchsec/latch/driver"
)

// The TestHeld tests widen the race window of issue 12 as far as it goes:
// one operation runs up to the moment before its transaction commits and
// is held there, with every row and advisory lock it took, while a second
// operation on the same session or user starts. Then the first is let go.
// Whichever order PostgreSQL gives the two, the outcome must be the one
// driver.Store promises.

// holdClass is the first key of the advisory lock a held write waits for.
const holdClass = 0x686f6c64 // "hold"

// holder holds the advisory lock that a held store's writes wait for
// before their commit.
type holder struct {
	t    *testing.T
	conn *pgxpool.Conn
	key  int32
	held bool
}

// heldStore returns a second Store on s's table whose writes (commits,
// Delete, DeleteUser) wait before their commit until h.release, and the
// holder, which holds the lock from the start.
func heldStore(t *testing.T, s *Store) (*Store, *holder) {
	t.Helper()
	ctx := context.Background()
	held, err := New(s.pool, Options{Table: s.Table(), SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	h := &holder{t: t, key: mrand.Int32()}
	held.hold = fmt.Sprintf("SELECT pg_advisory_xact_lock(%d, %d)", holdClass, h.key)
	h.conn, err = s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.conn.Exec(ctx, "SELECT pg_advisory_lock($1, $2)", int32(holdClass), h.key); err != nil {
		h.conn.Release()
		t.Fatal(err)
	}
	h.held = true
	t.Cleanup(func() {
		h.release()
		h.conn.Release()
	})
	return held, h
}

// release lets the held write commit.
func (h *holder) release() {
	h.t.Helper()
	if !h.held {
		return
	}
	h.held = false
	var ok bool
	if err := h.conn.QueryRow(context.Background(), "SELECT pg_advisory_unlock($1, $2)", int32(holdClass), h.key).Scan(&ok); err != nil || !ok {
		h.t.Errorf("release the held write: %v, %v", ok, err)
	}
}

// waitHeld waits until the held write waits for the holder's lock, that
// is, has done all its work but the commit.
func (h *holder) waitHeld() {
	h.t.Helper()
	h.waitFor("the held write to reach its commit", `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 2 AND NOT granted`,
		int64(holdClass), int64(uint32(h.key)))
}

// waitBlocked waits until a second backend waits for a lock besides the
// held write: the racing operation is blocked by what the held write
// holds. A store that lets it through unblocked is caught by the outcome
// the test checks afterwards, so after a while waitBlocked gives up
// silently and the test goes on.
func (h *holder) waitBlocked() {
	h.t.Helper()
	var n int
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		err := h.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			h.t.Fatalf("pg_stat_activity: %v", err)
		}
		if n >= 2 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *holder) waitFor(what, sql string, args ...any) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := h.conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
			h.t.Fatalf("waiting for %s: %v", what, err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// race runs first on the held store until it waits before its commit, then
// second on the plain store until it blocks, then lets first commit, and
// returns both errors.
func race(t *testing.T, s *Store, first func(held *Store) error, second func(s *Store) error) (firstErr, secondErr error) {
	t.Helper()
	held, h := heldStore(t, s)
	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() { done1 <- first(held) }()
	h.waitHeld()
	go func() { done2 <- second(s) }()
	h.waitBlocked()
	select {
	case err := <-done2:
		// It did not wait for the held write: that is a finding only if
		// the outcome is wrong, which the caller checks.
		h.release()
		return <-done1, err
	default:
	}
	h.release()
	return <-done1, <-done2
}

func sessionOf(t *testing.T, s *Store, user string, age time.Duration) driver.Hash {
	t.Helper()
	id := randomHash(t)
	m := liveMeta(user)
	m.Created = m.Created.Add(-age)
	if err := s.Commit(context.Background(), &driver.Commit{ID: id, Create: true, Meta: m, Set: map[string]any{"v": id.Handle()}}); err != nil {
		t.Fatal(err)
	}
	return id
}

// renewal renews from into a fresh hash under user, keeping from's Created,
// and returns the commit.
func renewal(t *testing.T, s *Store, from driver.Hash, user string) *driver.Commit {
	t.Helper()
	rec, err := s.Load(context.Background(), from)
	if err != nil {
		t.Fatal(err)
	}
	m := rec.Meta
	m.UserID = user
	return &driver.Commit{ID: randomHash(t), From: from, Create: true, Meta: m, Set: map[string]any{"renewed": true}}
}

// wantGone fails unless id holds no session: Load gives ErrNotFound (a
// forward's RenewedError matches it), and an update gives ErrNotFound.
func wantGone(t *testing.T, s *Store, id driver.Hash, why string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Load(ctx, id); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Load(%s) %s: got %v, want ErrNotFound", id.Handle(), why, err)
	}
	if err := s.Commit(ctx, &driver.Commit{ID: id, Meta: liveMeta("x"), Set: map[string]any{"after": 1}}); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Commit(%s) %s: got %v, want ErrNotFound", id.Handle(), why, err)
	}
}

func wantRenewed(t *testing.T, what string, err error, to driver.Hash) {
	t.Helper()
	var re *driver.RenewedError
	if !errors.As(err, &re) || re.To != to {
		t.Errorf("%s: got %v, want RenewedError{To: %s}", what, err, to.Handle())
	}
}

func wantSessions(t *testing.T, s *Store, user string, want ...driver.Hash) {
	t.Helper()
	list, err := s.ListUser(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]driver.Hash, len(list))
	for i, info := range list {
		got[i] = info.ID
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListUser(%q): got %d sessions %v, want %v", user, len(got), handlesOf(got), handlesOf(want))
	}
}

func handlesOf(ids []driver.Hash) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.Handle()
	}
	return out
}

// TestHeldRenewalThenDeleteUser: revoke-all while a renewal of one of the
// user's sessions is held before its commit (issue 12 item 2). The renewal
// commits first; DeleteUser must then delete the session at its new hash.
func TestHeldRenewalThenDeleteUser(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fromUser string // the renewed session's user before the renewal
	}{
		{"renewal", "u"},
		{"login", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := newTestStore(t, Options{})
			a, x := sessionOf(t, s, tc.fromUser, time.Minute), sessionOf(t, s, "u", 0)
			c := renewal(t, s, a, "u")
			var n int
			renewErr, delErr := race(t, s,
				func(held *Store) error { return held.Commit(ctx, c) },
				func(s *Store) (err error) { n, err = s.DeleteUser(ctx, "u", driver.Hash{}); return err })
			if renewErr != nil || delErr != nil {
				t.Fatalf("renewal: %v; DeleteUser: %v; want both nil", renewErr, delErr)
			}
			if n != 2 {
				t.Errorf("DeleteUser removed %d sessions, want 2 (the renewed one and the other)", n)
			}
			wantGone(t, s, c.ID, "after DeleteUser ran behind its renewal")
			wantGone(t, s, a, "after DeleteUser")
			wantGone(t, s, x, "after DeleteUser")
			wantSessions(t, s, "u")
		})
	}
}

// TestHeldDeleteUserThenRenewal: the renewal comes while DeleteUser is held
// before its commit; it must fail with ErrNotFound and leave nothing.
func TestHeldDeleteUserThenRenewal(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	a, x := sessionOf(t, s, "u", time.Minute), sessionOf(t, s, "u", 0)
	c := renewal(t, s, a, "u")
	var n int
	delErr, renewErr := race(t, s,
		func(held *Store) (err error) { n, err = held.DeleteUser(ctx, "u", driver.Hash{}); return err },
		func(s *Store) error { return s.Commit(ctx, c) })
	if delErr != nil || n != 2 {
		t.Errorf("DeleteUser: got %d, %v; want 2, nil", n, delErr)
	}
	if !errors.Is(renewErr, driver.ErrNotFound) || errors.Is(renewErr, driver.ErrRenewed) {
		t.Errorf("renewal behind DeleteUser: got %v, want plain ErrNotFound", renewErr)
	}
	for _, id := range []driver.Hash{a, x, c.ID} {
		wantGone(t, s, id, "after DeleteUser")
	}
	wantSessions(t, s, "u")
}

// TestHeldRenewalThenDeleteUserKeep: "sign out everywhere else" while the
// current session (keep) is being renewed: the renewed session is kept,
// the others go.
func TestHeldRenewalThenDeleteUserKeep(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	a, x := sessionOf(t, s, "u", time.Minute), sessionOf(t, s, "u", 0)
	c := renewal(t, s, a, "u")
	var n int
	renewErr, delErr := race(t, s,
		func(held *Store) error { return held.Commit(ctx, c) },
		func(s *Store) (err error) { n, err = s.DeleteUser(ctx, "u", a); return err })
	if renewErr != nil || delErr != nil || n != 1 {
		t.Fatalf("renewal: %v; DeleteUser: %d, %v; want nil, 1, nil", renewErr, n, delErr)
	}
	if _, err := s.Load(ctx, c.ID); err != nil {
		t.Errorf("the renewed current session: %v, want it kept", err)
	}
	wantGone(t, s, x, "after DeleteUser")
	wantSessions(t, s, "u", c.ID)
}

// TestHeldRenewalThenDelete: a logout of the old hash while its renewal is
// held before its commit (issue 12 item 1): Delete follows the forward.
func TestHeldRenewalThenDelete(t *testing.T) {
	for _, user := range []string{"u", ""} {
		t.Run(fmt.Sprintf("user %q", user), func(t *testing.T) {
			ctx := context.Background()
			s := newTestStore(t, Options{})
			a := sessionOf(t, s, user, 0)
			c := renewal(t, s, a, user)
			renewErr, delErr := race(t, s,
				func(held *Store) error { return held.Commit(ctx, c) },
				func(s *Store) error { return s.Delete(ctx, a) })
			if renewErr != nil || delErr != nil {
				t.Fatalf("renewal: %v; Delete: %v; want both nil", renewErr, delErr)
			}
			wantGone(t, s, c.ID, "after Delete of the hash it was renewed from")
			if _, err := s.Load(ctx, a); !errors.Is(err, driver.ErrNotFound) || errors.Is(err, driver.ErrRenewed) {
				t.Errorf("Load of the deleted forward: got %v, want plain ErrNotFound", err)
			}
		})
	}
}

// TestHeldDeleteThenRenewal: the renewal comes while Delete is held before
// its commit; it must fail with ErrNotFound and leave nothing.
func TestHeldDeleteThenRenewal(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	a := sessionOf(t, s, "u", 0)
	c := renewal(t, s, a, "u")
	delErr, renewErr := race(t, s,
		func(held *Store) error { return held.Delete(ctx, a) },
		func(s *Store) error { return s.Commit(ctx, c) })
	if delErr != nil {
		t.Errorf("Delete: %v", delErr)
	}
	if !errors.Is(renewErr, driver.ErrNotFound) || errors.Is(renewErr, driver.ErrRenewed) {
		t.Errorf("renewal behind Delete: got %v, want plain ErrNotFound", renewErr)
	}
	wantGone(t, s, a, "after Delete")
	wantGone(t, s, c.ID, "after a renewal behind Delete")
	wantSessions(t, s, "u")
}

// TestHeldDeleteChainThenRenewal: Delete of a forward is held after it
// deleted the chain; a renewal of the chain's live end that comes now must
// fail.
func TestHeldDeleteChainThenRenewal(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	a := sessionOf(t, s, "u", 0)
	first := renewal(t, s, a, "u")
	if err := s.Commit(ctx, first); err != nil {
		t.Fatal(err)
	}
	c := renewal(t, s, first.ID, "u")
	delErr, renewErr := race(t, s,
		func(held *Store) error { return held.Delete(ctx, a) },
		func(s *Store) error { return s.Commit(ctx, c) })
	if delErr != nil {
		t.Errorf("Delete: %v", delErr)
	}
	if !errors.Is(renewErr, driver.ErrNotFound) || errors.Is(renewErr, driver.ErrRenewed) {
		t.Errorf("renewal behind Delete: got %v, want plain ErrNotFound", renewErr)
	}
	for _, id := range []driver.Hash{a, first.ID, c.ID} {
		wantGone(t, s, id, "after Delete of the chain")
	}
}

// TestHeldRenewalThenUpdate: a request's commit on the old hash while the
// renewal is held (issue 12 item 3): it gets RenewedError naming the new
// hash, and writes nothing to either.
func TestHeldRenewalThenUpdate(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	a := sessionOf(t, s, "u", 0)
	c := renewal(t, s, a, "u")
	renewErr, updErr := race(t, s,
		func(held *Store) error { return held.Commit(ctx, c) },
		func(s *Store) error {
			return s.Commit(ctx, &driver.Commit{ID: a, Meta: c.Meta, Set: map[string]any{"late": 1}})
		})
	if renewErr != nil {
		t.Fatalf("renewal: %v", renewErr)
	}
	wantRenewed(t, "update behind a renewal", updErr, c.ID)
	rec, err := s.Load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rec.Values["late"]; ok {
		t.Error("the refused update was written to the renewed session")
	}
	_, err = s.Load(ctx, a)
	wantRenewed(t, "Load of the old hash", err, c.ID)
}

// TestHeldUpdateThenRenewal: the renewal comes while a plain commit (here
// one that changes the session's user, the one kind that runs in a
// transaction) is held: the renewal carries the commit's change.
func TestHeldUpdateThenRenewal(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	a := sessionOf(t, s, "", 0)
	c := renewal(t, s, a, "u")
	renewErr, updErr := race(t, s,
		func(held *Store) error {
			return held.Commit(ctx, &driver.Commit{ID: a, Meta: liveMeta("u"), Set: map[string]any{"early": 1}})
		},
		func(s *Store) error { return s.Commit(ctx, c) })
	if updErr != nil || renewErr != nil {
		t.Fatalf("update: %v; renewal: %v; want both nil", updErr, renewErr)
	}
	rec, err := s.Load(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Values["early"] == nil || rec.Values["renewed"] != true {
		t.Errorf("renewed session values %v, want the held update's and the renewal's", rec.Values)
	}
	wantSessions(t, s, "u", c.ID)
}

// TestHeldRenewalThenEviction: a login at the session limit evicts the
// oldest session while that session's renewal is held: the eviction must
// find it at its new hash, so the user never has more than the limit.
func TestHeldRenewalThenEviction(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	oldest, other := sessionOf(t, s, "u", 2*time.Minute), sessionOf(t, s, "u", time.Minute)
	c := renewal(t, s, oldest, "u")
	login := &driver.Commit{ID: randomHash(t), Create: true, Meta: liveMeta("u"), MaxPerUser: 2, EvictOldest: true}
	renewErr, loginErr := race(t, s,
		func(held *Store) error { return held.Commit(ctx, c) },
		func(s *Store) error { return s.Commit(ctx, login) })
	if renewErr != nil || loginErr != nil {
		t.Fatalf("renewal: %v; login: %v; want both nil", renewErr, loginErr)
	}
	wantGone(t, s, c.ID, "after it was evicted as the oldest")
	wantSessions(t, s, "u", other, login.ID)
}

// TestHeldEvictionThenRenewal: the renewal of the oldest session comes
// while the eviction of it is held: it fails with ErrNotFound.
func TestHeldEvictionThenRenewal(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	oldest, other := sessionOf(t, s, "u", 2*time.Minute), sessionOf(t, s, "u", time.Minute)
	c := renewal(t, s, oldest, "u")
	login := &driver.Commit{ID: randomHash(t), Create: true, Meta: liveMeta("u"), MaxPerUser: 2, EvictOldest: true}
	loginErr, renewErr := race(t, s,
		func(held *Store) error { return held.Commit(ctx, login) },
		func(s *Store) error { return s.Commit(ctx, c) })
	if loginErr != nil {
		t.Fatalf("login: %v", loginErr)
	}
	if !errors.Is(renewErr, driver.ErrNotFound) || errors.Is(renewErr, driver.ErrRenewed) {
		t.Errorf("renewal behind the eviction: got %v, want plain ErrNotFound", renewErr)
	}
	wantSessions(t, s, "u", other, login.ID)
}

// TestSimpleProtocol runs the held races through a pool that sends every
// statement with the simple protocol (a setting some deployments use
// behind a connection pooler): there a batch of locks and a statement is
// one multi-statement query, which PostgreSQL also runs as one
// transaction.
func TestSimpleProtocol(t *testing.T) {
	ctx := context.Background()
	base := newTestStore(t, Options{})
	cfg, err := pgxpool.ParseConfig(os.Getenv(envURL))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups, not defers: the holder releases its connection in one,
	// which must run before the pool closes.
	t.Cleanup(pool.Close)
	s, err := New(pool, Options{Table: base.Table(), SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	a, x := sessionOf(t, s, "u", time.Minute), sessionOf(t, s, "u", 0)
	c := renewal(t, s, a, "u")
	var n int
	renewErr, delErr := race(t, s,
		func(held *Store) error { return held.Commit(ctx, c) },
		func(s *Store) (err error) { n, err = s.DeleteUser(ctx, "u", driver.Hash{}); return err })
	if renewErr != nil || delErr != nil || n != 2 {
		t.Fatalf("renewal: %v; DeleteUser: %d, %v; want nil, 2, nil", renewErr, n, delErr)
	}
	for _, id := range []driver.Hash{a, x, c.ID} {
		wantGone(t, s, id, "after DeleteUser")
	}

	// A limited renewal, a forward, and a Delete that follows it.
	b := sessionOf(t, s, "u", 0)
	c = renewal(t, s, b, "u")
	c.MaxPerUser, c.EvictOldest = 1, true
	if err := s.Commit(ctx, c); err != nil {
		t.Fatalf("limited renewal: %v", err)
	}
	_, err = s.Load(ctx, b)
	wantRenewed(t, "Load of the renewed hash", err, c.ID)
	if err := s.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	wantGone(t, s, c.ID, "after Delete of the hash it was renewed from")
}
