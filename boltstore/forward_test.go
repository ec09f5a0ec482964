package boltstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	bolt "go.etcd.io/bbolt"
)

// wantRenewed checks that Load(id) says the session moved to to.
func wantRenewed(t testing.TB, s *Store, id, to driver.Hash) {
	t.Helper()
	_, err := s.Load(context.Background(), id)
	var re *driver.RenewedError
	if !errors.As(err, &re) || re.To != to || !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("Load(%s): %v; want RenewedError{To: %s}", id.Handle(), err, to.Handle())
	}
}

// wantGone checks that Load(id) finds nothing: no record and no forward.
func wantGone(t testing.TB, s *Store, id driver.Hash) {
	t.Helper()
	_, err := s.Load(context.Background(), id)
	if !errors.Is(err, driver.ErrNotFound) || errors.Is(err, driver.ErrRenewed) {
		t.Fatalf("Load(%s): %v; want plain ErrNotFound", id.Handle(), err)
	}
}

// putForward writes a forward from -> to by hand, as a renewal would, for
// chains no sequence of commits makes (a cycle, a very long chain).
func putForward(t testing.TB, s *Store, from, to driver.Hash, expires time.Time) {
	t.Helper()
	err := s.update(func(b buckets) error {
		if err := b.sessions.Put(from[:], encodeForward(&forward{to: to, expires: expires})); err != nil {
			return err
		}
		return b.expiry.Put(expiryKey(expires, from), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// putChain writes by hand n forwards, from hashOf("0") to hashOf("1") and
// on to hashOf(fmt.Sprint(n)), in one transaction.
func putChain(t testing.TB, s *Store, n int, expires time.Time) {
	t.Helper()
	err := s.update(func(b buckets) error {
		for i := range n {
			from, to := hashOf(fmt.Sprint(i)), hashOf(fmt.Sprint(i+1))
			if err := b.sessions.Put(from[:], encodeForward(&forward{to: to, expires: expires})); err != nil {
				return err
			}
			if err := b.expiry.Put(expiryKey(expires, from), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// renew renews from into to for user at the clock's time.
func renew(t testing.TB, s *Store, clk *fakeClock, from, to driver.Hash, user string) {
	t.Helper()
	mustCommit(t, s, &driver.Commit{ID: to, From: from, Create: true, Meta: meta(user, clk.Now())})
}

// wantCounts checks how many keys each bucket holds.
func wantCounts(t testing.TB, s *Store, sessions, expiry, users int) {
	t.Helper()
	for _, c := range []struct {
		bucket []byte
		want   int
	}{{bucketSessions, sessions}, {bucketExpiry, expiry}, {bucketUsers, users}} {
		if n := rawCount(t, s, c.bucket); n != c.want {
			t.Errorf("bucket %s has %d keys; want %d", c.bucket, n, c.want)
		}
	}
}

// TestForward checks what a renewal leaves under its old hash, and how
// each operation treats it, on the store's own clock.
func TestForward(t *testing.T) {
	ctx := context.Background()
	a, b, c := hashOf("a"), hashOf("b"), hashOf("c")
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store, clk *fakeClock)
	}{
		{"forward expires with the replaced record", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			clk.Advance(10 * time.Minute)
			renew(t, s, clk, a, b, "alice") // a would have expired at t0+30m
			clk.Advance(20*time.Minute - time.Nanosecond)
			wantRenewed(t, s, a, b)
			clk.Advance(time.Nanosecond)
			wantGone(t, s, a)
			mustLoad(t, s, b)
			// Expired, the forward is nothing: an update or a renewal
			// of a finds no session, and a may be created again.
			if err := s.Commit(ctx, &driver.Commit{ID: a, Meta: meta("alice", clk.Now())}); !errors.Is(err, driver.ErrNotFound) || errors.Is(err, driver.ErrRenewed) {
				t.Errorf("update of expired forward: %v; want plain ErrNotFound", err)
			}
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("", clk.Now())})
			mustLoad(t, s, a)
			wantCounts(t, s, 2, 2, 1)
		}},
		{"update on a forward writes nothing", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now()), Set: map[string]any{"k": 1}})
			renew(t, s, clk, a, b, "alice")
			err := s.Commit(ctx, &driver.Commit{ID: a, Meta: meta("bob", clk.Now()), Set: map[string]any{"k": 2}})
			var re *driver.RenewedError
			if !errors.As(err, &re) || re.To != b {
				t.Fatalf("update: %v; want RenewedError{To: b}", err)
			}
			wantRenewed(t, s, a, b)
			wantValues(t, mustLoad(t, s, b), map[string]string{"k": "1"})
			wantUsers(t, s, "bob")
			wantCounts(t, s, 2, 2, 1)
		}},
		{"renewal from a forward writes nothing", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			renew(t, s, clk, a, b, "alice")
			err := s.Commit(ctx, &driver.Commit{ID: c, From: a, Create: true, Meta: meta("alice", clk.Now())})
			var re *driver.RenewedError
			if !errors.As(err, &re) || re.To != b {
				t.Fatalf("renewal: %v; want RenewedError{To: b}", err)
			}
			wantGone(t, s, c)
			wantCounts(t, s, 2, 2, 1)
		}},
		{"create or renew onto a live forward", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			renew(t, s, clk, a, b, "alice")
			clk.Advance(time.Minute)
			mustCommit(t, s, &driver.Commit{ID: c, Create: true, Meta: meta("alice", clk.Now())})
			for _, cm := range []*driver.Commit{
				{ID: a, Create: true, Meta: meta("", clk.Now())},
				{ID: a, From: c, Create: true, Meta: meta("alice", clk.Now())},
				{ID: a, From: c, Meta: meta("alice", clk.Now())},
			} {
				if err := s.Commit(ctx, cm); !errors.Is(err, driver.ErrExists) {
					t.Errorf("Commit(Create %v, From %v): %v; want ErrExists", cm.Create, !cm.From.IsZero(), err)
				}
			}
			wantRenewed(t, s, a, b)
			wantUsers(t, s, "alice", b, c)
		}},
		{"a forward is not a session", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			renew(t, s, clk, a, b, "alice")
			wantUsers(t, s, "alice", b)
			// The limit counts b only: one more session fits under 2.
			mustCommit(t, s, &driver.Commit{ID: c, Create: true, Meta: meta("alice", clk.Now()), MaxPerUser: 2})
			if n, err := s.DeleteUser(ctx, "alice", driver.Hash{}); err != nil || n != 2 {
				t.Fatalf("DeleteUser = %d, %v; want 2, nil", n, err)
			}
			wantCounts(t, s, 1, 1, 0) // the forward, until it expires
		}},
		{"eviction leaves the forward to the evicted session", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			renew(t, s, clk, a, b, "alice")
			clk.Advance(time.Minute)
			mustCommit(t, s, &driver.Commit{ID: c, Create: true, Meta: meta("alice", clk.Now()), MaxPerUser: 1, EvictOldest: true})
			wantGone(t, s, b)
			wantRenewed(t, s, a, b) // and b is gone: the session has ended
			wantUsers(t, s, "alice", c)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			tc.run(t, openTest(t, clk, Options{}), clk)
		})
	}
}

func TestDeleteFollowsForwards(t *testing.T) {
	ctx := context.Background()
	a, b, c, x := hashOf("a"), hashOf("b"), hashOf("c"), hashOf("x")
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store, clk *fakeClock)
	}{
		{"from the start of the chain", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			renew(t, s, clk, a, b, "alice")
			renew(t, s, clk, b, c, "alice")
			mustCommit(t, s, &driver.Commit{ID: x, Create: true, Meta: meta("alice", clk.Now())})
			if err := s.Delete(ctx, a); err != nil {
				t.Fatal(err)
			}
			for _, h := range []driver.Hash{a, b, c} {
				wantGone(t, s, h)
			}
			wantUsers(t, s, "alice", x)
			wantCounts(t, s, 1, 1, 1)
		}},
		{"from the middle of the chain", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			renew(t, s, clk, a, b, "alice")
			renew(t, s, clk, b, c, "alice")
			if err := s.Delete(ctx, b); err != nil {
				t.Fatal(err)
			}
			wantGone(t, s, b)
			wantGone(t, s, c)
			wantRenewed(t, s, a, b) // which leads nowhere
			wantUsers(t, s, "alice")
		}},
		{"an expired forward is not followed", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			clk.Advance(20 * time.Minute)
			renew(t, s, clk, a, b, "alice")
			clk.Advance(10 * time.Minute) // a's forward expires; b lives
			if err := s.Delete(ctx, a); err != nil {
				t.Fatal(err)
			}
			mustLoad(t, s, b)
			wantCounts(t, s, 1, 1, 1)
		}},
		{"a cycle ends", func(t *testing.T, s *Store, clk *fakeClock) {
			putForward(t, s, a, b, t0.Add(time.Hour))
			putForward(t, s, b, a, t0.Add(time.Hour))
			if err := s.Delete(ctx, a); err != nil {
				t.Fatal(err)
			}
			wantCounts(t, s, 0, 0, 0)
		}},
		{"a chain too long fails and changes nothing", func(t *testing.T, s *Store, clk *fakeClock) {
			putChain(t, s, maxForwardHops+1, t0.Add(time.Hour))
			last := hashOf(fmt.Sprint(maxForwardHops + 1))
			mustCommit(t, s, &driver.Commit{ID: last, Create: true, Meta: meta("alice", clk.Now())})
			err := s.Delete(ctx, hashOf("0"))
			if err == nil || !strings.Contains(err.Error(), "forwards to follow") {
				t.Fatalf("Delete: %v; want an error about the chain", err)
			}
			wantRenewed(t, s, hashOf("0"), hashOf("1"))
			mustLoad(t, s, last)
			// The longest chain allowed is deleted whole.
			if err := s.Delete(ctx, hashOf("1")); err != nil {
				t.Fatal(err)
			}
			wantGone(t, s, last)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			tc.run(t, openTest(t, clk, Options{}), clk)
		})
	}
}

func TestDeleteUserFollowsKeep(t *testing.T) {
	ctx := context.Background()
	a, b, c, x := hashOf("a"), hashOf("b"), hashOf("c"), hashOf("x")
	tests := []struct {
		name     string
		run      func(t *testing.T, s *Store, clk *fakeClock) driver.Hash // returns keep
		wantN    int
		wantKept []driver.Hash
	}{
		{"keep renewed twice", func(t *testing.T, s *Store, clk *fakeClock) driver.Hash {
			renew(t, s, clk, a, b, "alice")
			renew(t, s, clk, b, c, "alice")
			return a
		}, 1, []driver.Hash{c}},
		{"keep renewed, then its forward expired", func(t *testing.T, s *Store, clk *fakeClock) driver.Hash {
			clk.Advance(20 * time.Minute)
			renew(t, s, clk, a, b, "alice")
			clk.Advance(10 * time.Minute)
			return a
		}, 1, nil}, // x has expired by now, b is removed
		{"keep in a cycle keeps nothing", func(t *testing.T, s *Store, clk *fakeClock) driver.Hash {
			mustCommit(t, s, &driver.Commit{ID: a, Delete: []string{"x"}, Meta: meta("alice", clk.Now())}) // still a record
			putForward(t, s, b, c, t0.Add(time.Hour))
			putForward(t, s, c, b, t0.Add(time.Hour))
			return b
		}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			s := openTest(t, clk, Options{})
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			mustCommit(t, s, &driver.Commit{ID: x, Create: true, Meta: meta("alice", clk.Now())})
			keep := tc.run(t, s, clk)
			n, err := s.DeleteUser(ctx, "alice", keep)
			if err != nil || n != tc.wantN {
				t.Fatalf("DeleteUser = %d, %v; want %d, nil", n, err, tc.wantN)
			}
			wantUsers(t, s, "alice", tc.wantKept...)
		})
	}
}

// TestForwardSurvivesReopen checks that a forward is on disk like a record:
// after a restart the old hash still names the renewed session, and a
// logout with it still ends that session.
func TestForwardSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	clk := newClock()
	s, err := Open(path, Options{Now: clk.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	a, b := hashOf("a"), hashOf("b")
	mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
	renew(t, s, clk, a, b, "alice")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{Now: clk.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantRenewed(t, s, a, b)
	if err := s.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantGone(t, s, b)
	wantCounts(t, s, 0, 0, 0)
}

// TestSweepForwards checks that the sweeper removes a forward when the
// record it replaced would have expired, and not before, and does not
// count it as a session.
func TestSweepForwards(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := openTest(t, clk, Options{})
	a, b, c := hashOf("a"), hashOf("b"), hashOf("c")
	mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
	clk.Advance(10 * time.Minute)
	renew(t, s, clk, a, b, "alice") // forward a expires at t0+30m
	clk.Advance(10 * time.Minute)
	renew(t, s, clk, b, c, "alice") // forward b at t0+40m, c at t0+50m
	clk.Advance(10*time.Minute - time.Nanosecond)
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("Sweep = %d, %v; want 0, nil", n, err)
	}
	wantCounts(t, s, 3, 3, 1)
	clk.Advance(time.Nanosecond)
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("Sweep = %d, %v; want 0, nil", n, err)
	}
	wantCounts(t, s, 2, 2, 1)
	wantRenewed(t, s, b, c)
	clk.Advance(20 * time.Minute)
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 (c), nil", n, err)
	}
	wantCounts(t, s, 0, 0, 0)
}

// TestBackgroundSweeperRemovesForwards runs the sweeper goroutine.
func TestBackgroundSweeperRemovesForwards(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk, Options{SweepInterval: time.Millisecond})
	a, b := hashOf("a"), hashOf("b")
	mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("", clk.Now())})
	clk.Advance(10 * time.Minute)
	renew(t, s, clk, a, b, "")
	clk.Advance(20 * time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for rawCount(t, s, bucketSessions) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not remove the expired forward")
		}
		time.Sleep(time.Millisecond)
	}
	wantCounts(t, s, 1, 1, 0)
	mustLoad(t, s, b)
}

// TestOpenUpgradesFormat opens a file marked boltstore/1 whose records are
// already in the current encoding: the migration leaves them as they are
// and relabels the file. TestOpenMigratesLegacyFile opens real files of
// boltstore/1 and /2.
func TestOpenUpgradesFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	clk := newClock()
	s, err := Open(path, Options{Now: clk.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	a := hashOf("a")
	mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now()), Set: map[string]any{"k": "v"}})
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, []byte("boltstore/1")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{Now: clk.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantValues(t, mustLoad(t, s, a), map[string]string{"k": `"v"`})
	var format string
	if err := s.db.View(func(tx *bolt.Tx) error { format = string(tx.Bucket(bucketMeta).Get(keyFormat)); return nil }); err != nil {
		t.Fatal(err)
	}
	if format != string(formatVersion) {
		t.Errorf("format %q after Open; want %q", format, formatVersion)
	}
}

// TestConcurrentRenewalsKeepIndexes runs renewals, updates, deletions and
// revocations of a few users' sessions from many goroutines at once (so
// that the writer groups them into shared transactions), then checks that
// the indexes match the stored values exactly: no entry is lost or left
// behind by a renewal, a forward or a request that failed inside a batch.
func TestConcurrentRenewalsKeepIndexes(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := openTest(t, clk, Options{})
	const workers, rounds = 8, 40
	users := []string{"alice", "bob", "carol"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := users[w%len(users)]
			cur := hashOf(fmt.Sprintf("w%d", w))
			if err := s.Commit(ctx, &driver.Commit{ID: cur, Create: true, Meta: meta(user, clk.Now()), MaxPerUser: 4, EvictOldest: true}); err != nil {
				t.Errorf("create: %v", err)
				return
			}
			for i := range rounds {
				next := hashOf(fmt.Sprintf("w%d/%d", w, i))
				var err error
				switch i % 5 {
				case 0, 1:
					err = s.Commit(ctx, &driver.Commit{ID: next, From: cur, Create: true, Meta: meta(user, clk.Now()), MaxPerUser: 4, EvictOldest: true})
					if err == nil {
						cur = next
					}
				case 2:
					err = s.Commit(ctx, &driver.Commit{ID: cur, Meta: meta(user, clk.Now()), Set: map[string]any{"i": i}})
				case 3:
					_, err = s.DeleteUser(ctx, user, cur)
				case 4:
					if err = s.Delete(ctx, cur); err == nil {
						err = s.Commit(ctx, &driver.Commit{ID: next, Create: true, Meta: meta(user, clk.Now()), MaxPerUser: 4, EvictOldest: true})
						cur = next
					}
				}
				if err != nil && !errors.Is(err, driver.ErrNotFound) {
					t.Errorf("worker %d round %d: %v", w, i, err)
					return
				}
			}
			// End on a renewal, which nothing after it prunes.
			err := s.Commit(ctx, &driver.Commit{ID: hashOf(fmt.Sprintf("w%d/last", w)), From: cur, Create: true, Meta: meta(user, clk.Now())})
			if err != nil && !errors.Is(err, driver.ErrNotFound) {
				t.Errorf("worker %d: last renewal: %v", w, err)
			}
		}()
	}
	wg.Wait()
	checkIndexes(t, s)
	for _, u := range users {
		if _, err := s.DeleteUser(ctx, u, driver.Hash{}); err != nil {
			t.Fatal(err)
		}
		wantUsers(t, s, u)
	}
	checkIndexes(t, s)
}

// checkIndexes checks that the expiry index holds exactly one entry per
// record and forward, at its expiry, and the user index exactly one entry
// per record of a user.
func checkIndexes(t testing.TB, s *Store) {
	t.Helper()
	err := s.view(func(b buckets) error {
		wantExpiry, wantUsers := map[string]bool{}, map[string]bool{}
		err := b.sessions.ForEach(func(k, v []byte) error {
			h := driver.Hash(k)
			r, f, err := decodeStored(v, false)
			switch {
			case err != nil:
				return err
			case f != nil:
				wantExpiry[string(expiryKey(f.expires, h))] = true
			default:
				wantExpiry[string(expiryKey(r.meta.ExpiresAt(), h))] = true
				if r.meta.UserID != "" {
					wantUsers[string(userKey(r.meta.UserID, h))] = true
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, ix := range []struct {
			name string
			bk   *bolt.Bucket
			want map[string]bool
		}{{"expiry", b.expiry, wantExpiry}, {"users", b.users, wantUsers}} {
			n := 0
			if err := ix.bk.ForEach(func(k, _ []byte) error {
				n++
				if !ix.want[string(k)] {
					t.Errorf("%s index: stray entry %x", ix.name, k)
				}
				return nil
			}); err != nil {
				return err
			}
			if n != len(ix.want) {
				t.Errorf("%s index has %d entries; the values need %d", ix.name, n, len(ix.want))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
