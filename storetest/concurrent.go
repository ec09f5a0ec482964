package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// collector gathers failures from goroutines; testing.T.Fatal must only be
// called from the test's own goroutine.
type collector struct {
	mu   sync.Mutex
	errs []string
}

func (c *collector) add(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// report fails t with the first failures collected, and says how many.
func (c *collector) report(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.errs {
		if i == 10 {
			t.Errorf("... and %d more failures", len(c.errs)-i)
			break
		}
		t.Error(e)
	}
	if len(c.errs) > 0 {
		t.FailNow()
	}
}

const patchTrials = 1000

// globby holds bytes that mean something to glob patterns, key separators
// and quoting.
const globby = "*?[]:{}\\/%_\"'\n\r\t "

func testConcurrentPatches(t *testing.T, s driver.Store) {
	var errs collector
	// Trials run a few at a time, each trial's two commits released at once.
	const parallel = 8
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for trial := range patchTrials {
		id := newHash(t)
		m := liveMeta("", 0)
		create(t, s, id, m, map[string]any{"base": trial})
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			start := make(chan struct{})
			var inner sync.WaitGroup
			for _, key := range []string{"left", "right"} {
				inner.Add(1)
				go func() {
					defer inner.Done()
					<-start
					c := &driver.Commit{ID: id, Meta: m, Set: map[string]any{key: trial}}
					if err := s.Commit(bg, c); err != nil {
						errs.add("trial %d: Commit(%s, set %q): got error %v, want nil", trial, id.Handle(), key, err)
					}
				}()
			}
			close(start)
			inner.Wait()
			r, err := s.Load(bg, id)
			if err != nil {
				errs.add("trial %d: Load(%s): %v", trial, id.Handle(), err)
				return
			}
			want := map[string]any{"base": trial, "left": trial, "right": trial}
			if diff := valuesDiff(r.Values, want); diff != "" {
				errs.add("trial %d: lost update: %s", trial, diff)
			}
		}()
	}
	wg.Wait()
	errs.report(t)
}

func testRenewRacesCommit(t *testing.T, s driver.Store) {
	const trials = 200
	var errs collector
	var landed, refused int
	for trial := range trials {
		from, to := newHash(t), newHash(t)
		m := liveMeta("", 0)
		create(t, s, from, m, map[string]any{"base": trial})
		var renewErr, commitErr error
		race(turns(trial, func() {
			renewErr = s.Commit(bg, &driver.Commit{ID: to, From: from, Create: true, Meta: m, Set: map[string]any{"renewed": true}})
		}, func() {
			commitErr = s.Commit(bg, &driver.Commit{ID: from, Meta: m, Set: map[string]any{"late": trial}})
		})...)
		if renewErr != nil {
			errs.add("trial %d: renewal: got error %v, want nil", trial, renewErr)
			continue
		}
		_, err := s.Load(bg, from)
		if got, ok := renewedTo(err); !ok || got != to {
			errs.add("trial %d: Load(old hash %s) after renewal raced a commit: got error %s, want RenewedError{To: %s}", trial, from.Handle(), showErr(err), to.Handle())
		}
		r, err := s.Load(bg, to)
		if err != nil {
			errs.add("trial %d: Load(new hash %s): %v", trial, to.Handle(), err)
			continue
		}
		want := map[string]any{"base": trial, "renewed": true}
		if commitErr == nil {
			landed++
			want["late"] = trial
		} else if got, ok := renewedTo(commitErr); ok && got == to {
			refused++
		} else {
			// After the renewal the commit must be told where the session
			// went, never that it is gone.
			errs.add("trial %d: commit racing a renewal to %s: got error %s, want nil or RenewedError{To: %s}", trial, to.Handle(), showErr(commitErr), to.Handle())
			continue
		}
		if diff := valuesDiff(r.Values, want); diff != "" {
			errs.add("trial %d: renewed record (commit error %v): %s", trial, commitErr, diff)
		}
	}
	t.Logf("%d trials: commit landed before the renewal %d times, forwarded after it %d times", trials, landed, refused)
	errs.report(t)
}

func testConcurrentCreate(t *testing.T, s driver.Store) {
	const trials, racers = 100, 4
	var errs collector
	for trial := range trials {
		id := newHash(t)
		start := make(chan struct{})
		var wg sync.WaitGroup
		results := make([]error, racers)
		for r := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[r] = s.Commit(bg, &driver.Commit{ID: id, Create: true, Meta: liveMeta("", 0), Set: map[string]any{"racer": r}})
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for r, err := range results {
			switch {
			case err == nil && winner >= 0:
				errs.add("trial %d: racers %d and %d both created %s", trial, winner, r, id.Handle())
			case err == nil:
				winner = r
			case !errors.Is(err, driver.ErrExists):
				errs.add("trial %d: racer %d: got error %v, want nil or ErrExists", trial, r, err)
			}
		}
		if winner < 0 {
			errs.add("trial %d: no racer created %s", trial, id.Handle())
			continue
		}
		rec, err := s.Load(bg, id)
		if err != nil {
			errs.add("trial %d: Load: %v", trial, err)
			continue
		}
		if diff := valuesDiff(rec.Values, map[string]any{"racer": winner}); diff != "" {
			errs.add("trial %d: record is not the winner's (%d): %s", trial, winner, diff)
		}
	}
	errs.report(t)
}

func testConcurrentLimit(t *testing.T, s driver.Store) {
	tests := []struct {
		name  string
		evict bool
	}{
		{"refuse", false},
		{"evict", true},
	}
	const racers, max = 16, 5
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user := newUser(t)
			ids := make([]driver.Hash, racers)
			results := make([]error, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range ids {
				ids[i] = newHash(t)
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					results[i] = s.Commit(bg, &driver.Commit{ID: ids[i], Create: true, Meta: liveMeta(user, time.Duration(i)*time.Minute),
						MaxPerUser: max, EvictOldest: tc.evict})
				}()
			}
			close(start)
			wg.Wait()
			ok := 0
			for i, err := range results {
				switch {
				case err == nil:
					ok++
				case !tc.evict && errors.Is(err, driver.ErrSessionLimit):
				default:
					t.Errorf("racer %d: got error %v, want nil%s", i, err, map[bool]string{false: " or ErrSessionLimit"}[tc.evict])
				}
			}
			live := list(t, s, user)
			if len(live) != max {
				t.Errorf("ListUser after %d racing creations with limit %d: got %d sessions, want %d", racers, max, len(live), max)
			}
			if !tc.evict && ok != max {
				t.Errorf("%d racing creations with limit %d: got %d successes, want %d", racers, max, ok, max)
			}
			loaded := 0
			for _, id := range ids {
				if _, err := s.Load(bg, id); err == nil {
					loaded++
				}
			}
			if loaded != max {
				t.Errorf("Load after the race: got %d live sessions, want %d", loaded, max)
			}
		})
	}
}

func testOpaqueHashes(t *testing.T, s driver.Store) {
	seq := func(f func(i int) byte) driver.Hash {
		var h driver.Hash
		for i := range h {
			h[i] = f(i)
		}
		return h
	}
	hashes := []struct {
		name string
		h    driver.Hash
	}{
		{"all ones", seq(func(int) byte { return 0xff })},
		{"counting", seq(func(i int) byte { return byte(i) })},
		{"zero but last", seq(func(i int) byte { return byte(i / 31) })},
		{"zero but first", seq(func(i int) byte {
			if i == 0 {
				return 1
			}
			return 0
		})},
		{"last byte differs", seq(func(i int) byte {
			if i == 31 {
				return 2
			}
			return 0
		})},
		{"glob and separators", seq(func(i int) byte { return globby[i%len(globby)] })},
		{"high bytes", seq(func(i int) byte { return 0x80 + byte(i) })},
		{"one of all ones", seq(func(i int) byte {
			if i == 16 {
				return 0xfe
			}
			return 0xff
		})},
	}
	user := newUser(t)
	var all []driver.Hash
	for i, tc := range hashes {
		create(t, s, tc.h, liveMeta(user, time.Duration(len(hashes)-i)*time.Hour), map[string]any{"name": tc.name})
		all = append(all, tc.h)
	}
	for _, tc := range hashes {
		t.Run(tc.name, func(t *testing.T) {
			r := load(t, s, tc.h)
			if diff := valuesDiff(r.Values, map[string]any{"name": tc.name}); diff != "" {
				t.Errorf("Load(%s): %s", tc.h, diff)
			}
		})
	}
	checkList(t, s, user, all...)
	for _, tc := range hashes[:4] {
		if err := s.Delete(bg, tc.h); err != nil {
			t.Fatalf("Delete(%s): %v", tc.h, err)
		}
	}
	for _, tc := range hashes[4:] {
		load(t, s, tc.h)
	}
	checkList(t, s, user, all[4:]...)
	to := newHash(t)
	commit(t, s, &driver.Commit{ID: to, From: hashes[4].h, Create: true, Meta: liveMeta(user, 0)})
	loadMissing(t, s, hashes[4].h, "after renewal from it")
	n, err := s.DeleteUser(bg, user, hashes[5].h)
	if err != nil || n != len(hashes)-5 {
		t.Errorf("DeleteUser: got %d, %v; want %d, nil", n, err, len(hashes)-5)
	}
	checkList(t, s, user, hashes[5].h)
}

func testContextCanceled(t *testing.T, s driver.Store) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	contexts := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"canceled", cancelled, context.Canceled},
		{"deadline exceeded", expired, context.DeadlineExceeded},
	}
	for _, cc := range contexts {
		t.Run(cc.name, func(t *testing.T) {
			user := newUser(t)
			id := newHash(t)
			m := liveMeta(user, time.Hour)
			create(t, s, id, m, map[string]any{"a": 1})
			fresh := newHash(t)
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, cc.want) {
					t.Errorf("%s with a %s context: got error %v, want one wrapping %v", op, cc.name, err, cc.want)
				}
			}
			_, err := s.Load(cc.ctx, id)
			check("Load", err)
			check("Commit(create)", s.Commit(cc.ctx, &driver.Commit{ID: fresh, Create: true, Meta: liveMeta(user, 0)}))
			check("Commit(update)", s.Commit(cc.ctx, &driver.Commit{ID: id, Meta: m, Set: map[string]any{"a": 2}}))
			check("Commit(renew)", s.Commit(cc.ctx, &driver.Commit{ID: fresh, From: id, Create: true, Meta: m}))
			check("Delete", s.Delete(cc.ctx, id))
			_, err = s.ListUser(cc.ctx, user)
			check("ListUser", err)
			_, err = s.DeleteUser(cc.ctx, user, driver.Hash{})
			check("DeleteUser", err)

			// Nothing changed.
			loadMissing(t, s, fresh, "after Commit with a "+cc.name+" context")
			checkRecord(t, "Load after calls with a "+cc.name+" context", load(t, s, id), m, map[string]any{"a": 1})
			checkList(t, s, user, id)
		})
	}
}

func testConcurrentSessions(t *testing.T, s driver.Store) {
	const workers, perWorker = 8, 40
	user := newUser(t)
	var errs collector
	var wg sync.WaitGroup
	final := make([][]driver.Hash, workers)
	for w := range workers {
		ids := make([]driver.Hash, perWorker)
		for i := range ids {
			ids[i] = newHash(t)
		}
		renewed := make([]driver.Hash, perWorker)
		for i := range renewed {
			renewed[i] = newHash(t)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(format string, args ...any) {
				errs.add("worker %d: "+format, append([]any{w}, args...)...)
			}
			owner := ""
			if w%2 == 0 {
				owner = user
			}
			for i, id := range ids {
				m := liveMeta(owner, time.Duration(w*perWorker+i)*time.Second)
				if err := s.Commit(bg, &driver.Commit{ID: id, Create: true, Meta: m, Set: map[string]any{"w": w, "i": i}}); err != nil {
					fail("create %d: %v", i, err)
					return
				}
				if err := s.Commit(bg, &driver.Commit{ID: id, Meta: m, Set: map[string]any{"n": 1}}); err != nil {
					fail("commit %d: %v", i, err)
				}
				if _, err := s.ListUser(bg, user); err != nil {
					fail("ListUser: %v", err)
				}
			}
			for i, id := range ids {
				r, err := s.Load(bg, id)
				if err != nil {
					fail("load %d: %v", i, err)
					continue
				}
				if diff := valuesDiff(r.Values, map[string]any{"w": w, "i": i, "n": 1}); diff != "" {
					fail("session %d: %s", i, diff)
				}
				switch i % 3 {
				case 0:
					if err := s.Delete(bg, id); err != nil {
						fail("delete %d: %v", i, err)
					}
				case 1:
					m := liveMeta(owner, time.Duration(w*perWorker+i)*time.Second)
					if err := s.Commit(bg, &driver.Commit{ID: renewed[i], From: id, Create: true, Meta: m}); err != nil {
						fail("renew %d: %v", i, err)
					}
					final[w] = append(final[w], renewed[i])
				default:
					final[w] = append(final[w], id)
				}
			}
		}()
	}
	wg.Wait()
	errs.report(t)

	wantUser := map[driver.Hash]bool{}
	for w, ids := range final {
		for _, id := range ids {
			if _, err := s.Load(bg, id); err != nil {
				t.Errorf("Load(%s) of worker %d after the run: %v", id.Handle(), w, err)
			}
			if w%2 == 0 {
				wantUser[id] = true
			}
		}
	}
	got := list(t, s, user)
	if len(got) != len(wantUser) {
		t.Errorf("ListUser after the run: got %d sessions, want %d", len(got), len(wantUser))
	}
	for i, in := range got {
		if !wantUser[in.ID] {
			t.Errorf("ListUser after the run: unexpected session %s", in.ID.Handle())
		}
		if i > 0 && in.Created.Before(got[i-1].Created) {
			t.Errorf("ListUser after the run: %s (created %v) listed after %s (created %v)", in.ID.Handle(), in.Created, got[i-1].ID.Handle(), got[i-1].Created)
		}
	}
	n, err := s.DeleteUser(bg, user, driver.Hash{})
	if err != nil || n != len(wantUser) {
		t.Errorf("DeleteUser after the run: got %d, %v; want %d, nil", n, err, len(wantUser))
	}
}
