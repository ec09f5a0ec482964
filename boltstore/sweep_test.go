package boltstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	bolt "go.etcd.io/bbolt"
)

func TestSweep(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		batch       int
		sessions    int           // created at t0, one second apart, 30-minute idle timeout
		advance     time.Duration // clock advance before the sweep
		wantDeleted int
	}{
		{name: "nothing due", batch: 3, sessions: 10, advance: 29 * time.Minute, wantDeleted: 0},
		{name: "exactly at first deadline", batch: 3, sessions: 10, advance: 30 * time.Minute, wantDeleted: 1},
		{name: "some due", batch: 3, sessions: 10, advance: 30*time.Minute + 4*time.Second, wantDeleted: 5},
		{name: "all due in several batches", batch: 3, sessions: 10, advance: time.Hour, wantDeleted: 10},
		{name: "batch equals due count", batch: 5, sessions: 10, advance: 30*time.Minute + 4*time.Second, wantDeleted: 5},
		{name: "one batch", batch: 1000, sessions: 10, advance: time.Hour, wantDeleted: 10},
		{name: "empty store", batch: 3, sessions: 0, advance: time.Hour, wantDeleted: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			s := openTest(t, clk, Options{SweepBatch: tc.batch})
			for i := range tc.sessions {
				user := ""
				if i%2 == 0 {
					user = "alice"
				}
				mustCommit(t, s, &driver.Commit{ID: hashOf(fmt.Sprint(i)), Create: true,
					Meta: meta(user, t0.Add(time.Duration(i)*time.Second))})
			}
			clk.Advance(tc.advance)
			n, err := s.Sweep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.wantDeleted {
				t.Errorf("Sweep deleted %d; want %d", n, tc.wantDeleted)
			}
			left := tc.sessions - tc.wantDeleted
			if got := rawCount(t, s, bucketSessions); got != left {
				t.Errorf("%d records left; want %d", got, left)
			}
			if got := rawCount(t, s, bucketExpiry); got != left {
				t.Errorf("%d expiry entries left; want %d", got, left)
			}
			wantAlice := 0
			for i := tc.wantDeleted; i < tc.sessions; i++ {
				if i%2 == 0 {
					wantAlice++
				}
			}
			if got := rawCount(t, s, bucketUsers); got != wantAlice {
				t.Errorf("%d user entries left; want %d", got, wantAlice)
			}
			for i := tc.wantDeleted; i < tc.sessions; i++ {
				mustLoad(t, s, hashOf(fmt.Sprint(i)))
			}
			if n, err := s.Sweep(ctx); err != nil || n != 0 {
				t.Errorf("second Sweep = %d, %v; want 0, nil", n, err)
			}
		})
	}
}

func TestSweepStaleAndCorrupt(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := openTest(t, clk, Options{SweepBatch: 2})
	live, gone, bad := hashOf("live"), hashOf("gone"), hashOf("bad")
	mustCommit(t, s, &driver.Commit{ID: live, Create: true, Meta: meta("alice", clk.Now())})
	mustCommit(t, s, &driver.Commit{ID: bad, Create: true, Meta: meta("alice", clk.Now())})
	if err := s.db.Update(func(tx *bolt.Tx) error {
		// A stale entry whose record is gone, one for an old expiry of a
		// live record, a malformed key, and a corrupt record.
		ex := tx.Bucket(bucketExpiry)
		for _, k := range [][]byte{expiryKey(t0, gone), expiryKey(t0, live), []byte("short")} {
			if err := ex.Put(k, nil); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketSessions).Put(bad[:], []byte("garbage"))
	}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatalf("early Sweep: %v", err)
	}
	if n != 0 {
		t.Errorf("early Sweep deleted %d; want 0", n)
	}
	mustLoad(t, s, live)
	if got := rawCount(t, s, bucketExpiry); got != 2 {
		t.Errorf("%d expiry entries after early sweep; want 2 (the live and the corrupt record's)", got)
	}

	clk.Advance(time.Hour)
	n, err = s.Sweep(ctx)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Sweep: %v; want an error matching ErrCorrupt", err)
	}
	if !strings.Contains(err.Error(), "deleted 1 unreadable") || !strings.Contains(err.Error(), bad.Handle()) {
		t.Errorf("Sweep error %q does not say what it deleted", err)
	}
	if n != 2 {
		t.Errorf("Sweep deleted %d; want 2", n)
	}
	for _, bk := range [][]byte{bucketSessions, bucketExpiry} {
		if got := rawCount(t, s, bk); got != 0 {
			t.Errorf("%s has %d entries left", bk, got)
		}
	}
	// The corrupt record's user entry is stale; ListUser ignores it and
	// the next write that reads alice's index prunes it.
	wantUsers(t, s, "alice")
	if _, err := s.DeleteUser(ctx, "alice", driver.Hash{}); err != nil {
		t.Fatal(err)
	}
	if got := rawCount(t, s, bucketUsers); got != 0 {
		t.Errorf("%d user entries left after DeleteUser", got)
	}
}

func TestBackgroundSweeper(t *testing.T) {
	clk := newClock()
	var mu sync.Mutex
	var bgErrs []error
	s := openTest(t, clk, Options{
		SweepInterval: 5 * time.Millisecond,
		OnError: func(err error) {
			mu.Lock()
			defer mu.Unlock()
			bgErrs = append(bgErrs, err)
		},
	})
	for i := range 5 {
		mustCommit(t, s, &driver.Commit{ID: hashOf(fmt.Sprint(i)), Create: true, Meta: meta("alice", clk.Now())})
	}
	clk.Advance(10 * time.Minute)
	time.Sleep(50 * time.Millisecond) // several sweeps: nothing is due yet
	if got := rawCount(t, s, bucketSessions); got != 5 {
		t.Fatalf("sweeper deleted live sessions: %d left", got)
	}
	clk.Advance(time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for rawCount(t, s, bucketSessions) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("background sweeper left %d expired records", rawCount(t, s, bucketSessions))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("sweeper goroutine still running after Close")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bgErrs) != 0 {
		t.Errorf("background errors: %v", bgErrs)
	}
}

func TestBackgroundSweeperReportsErrors(t *testing.T) {
	clk := newClock()
	errs := make(chan error, 100)
	s := openTest(t, clk, Options{
		SweepInterval: 5 * time.Millisecond,
		OnError: func(err error) {
			select {
			case errs <- err:
			default:
			}
		},
	})
	bad := hashOf("bad")
	mustCommit(t, s, &driver.Commit{ID: bad, Create: true, Meta: meta("", clk.Now())})
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Put(bad[:], []byte("garbage"))
	}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	select {
	case err := <-errs:
		if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "boltstore: sweep: ") {
			t.Fatalf("reported %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sweeper reported no error")
	}
}
