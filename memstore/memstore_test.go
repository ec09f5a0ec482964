package memstore

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/storetest"
)

func newStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) driver.Store {
		// A short interval lets the sweeper run during the suite.
		return newStore(t, Options{SweepInterval: 50 * time.Millisecond})
	})
}

// clock is a fake clock that tests move by hand.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func hashOf(i int) driver.Hash {
	var h driver.Hash
	h[0], h[1], h[2], h[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
	h[31] = 1 // never the zero hash
	return h
}

// meta returns metadata of a session seen at now that idles out after idle.
func meta(user string, now time.Time, idle time.Duration) driver.Meta {
	return driver.Meta{UserID: user, Created: now, LastSeen: now, IdleTimeout: idle, AbsoluteTimeout: 12 * time.Hour}
}

var bg = context.Background()

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"zero", Options{}, ""},
		{"all set", Options{Now: time.Now, SweepInterval: time.Second, SweepBatch: 10}, ""},
		{"negative interval: no sweeper", Options{SweepInterval: -time.Second}, ""},
		{"negative batch", Options{SweepBatch: -1}, "negative SweepBatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: got error %v, want nil", err)
				}
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "memstore: ") {
				t.Fatalf("New: got error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestCommitBadInput(t *testing.T) {
	s := newStore(t, Options{})
	m := meta("", time.Now(), time.Hour)
	h := hashOf(1)
	tests := []struct {
		name    string
		c       *driver.Commit
		wantErr string
	}{
		{"nil commit", nil, "nil Commit"},
		{"zero hash", &driver.Commit{Create: true, Meta: m}, "zero session hash"},
		{"renewal to itself", &driver.Commit{ID: h, From: h, Meta: m}, "renewal to the same hash"},
		{"negative limit", &driver.Commit{ID: h, Create: true, Meta: m, MaxPerUser: -1}, "negative MaxPerUser"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Commit(bg, tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Commit: got error %v, want one containing %q", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "memstore: ") {
				t.Errorf("Commit: error %q lacks the package prefix", err)
			}
			if n := s.Len(); n != 0 {
				t.Errorf("after a refused Commit: %d sessions stored, want 0", n)
			}
		})
	}
}

func TestExpiryInjectedClock(t *testing.T) {
	tests := []struct {
		name    string
		meta    func(now time.Time) driver.Meta
		advance time.Duration
		want    bool // still returned after advance
	}{
		{"before idle deadline", func(n time.Time) driver.Meta { return meta("u", n, 10*time.Minute) }, 10*time.Minute - time.Nanosecond, true},
		{"at idle deadline", func(n time.Time) driver.Meta { return meta("u", n, 10*time.Minute) }, 10 * time.Minute, false},
		{"after idle deadline", func(n time.Time) driver.Meta { return meta("u", n, 10*time.Minute) }, time.Hour, false},
		{"absolute deadline first", func(n time.Time) driver.Meta {
			m := meta("u", n, 10*time.Minute)
			m.Created = n.Add(-12*time.Hour + time.Minute)
			return m
		}, time.Minute, false},
		{"absolute from auth time", func(n time.Time) driver.Meta {
			m := meta("u", n, 10*time.Minute)
			m.Created = n.Add(-30 * time.Hour)
			m.AuthTime = n.Add(-12*time.Hour + 2*time.Minute)
			return m
		}, time.Minute, true},
		{"zero metadata", func(time.Time) driver.Meta { return driver.Meta{} }, 0, false},
		{"beyond 2262", func(n time.Time) driver.Meta {
			m := meta("u", n, 250*365*24*time.Hour)
			m.AbsoluteTimeout = m.IdleTimeout
			return m
		}, 100 * 365 * 24 * time.Hour, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			s := newStore(t, Options{Now: clk.Now, SweepInterval: time.Hour})
			h := hashOf(7)
			if err := s.Commit(bg, &driver.Commit{ID: h, Create: true, Meta: tc.meta(clk.Now())}); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			clk.Advance(tc.advance)
			_, err := s.Load(bg, h)
			if got := err == nil; got != tc.want {
				t.Errorf("Load after %v: got live=%v (err %v), want live=%v", tc.advance, got, err, tc.want)
			}
			infos, err := s.ListUser(bg, "u")
			if err != nil {
				t.Fatal(err)
			}
			if got := len(infos) == 1; got != tc.want {
				t.Errorf("ListUser after %v: got %d sessions, want live=%v", tc.advance, len(infos), tc.want)
			}
			// A commit that is expired when it is made is not stored at all.
			wantSwept := 1
			if tc.want || tc.advance == 0 {
				wantSwept = 0
			}
			if swept := s.Sweep(); swept != wantSwept {
				t.Errorf("Sweep: got %d removed, want %d", swept, wantSwept)
			}
			if tc.want {
				if _, err := s.Load(bg, h); err != nil {
					t.Errorf("Load after Sweep: got %v, want the record", err)
				}
			}
			checkInternal(t, s)
		})
	}
}

func TestSweepRemovesFromIndex(t *testing.T) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now, SweepInterval: time.Hour, SweepBatch: 3})
	const n = 50
	for i := range n {
		idle := time.Minute
		if i%5 == 0 {
			idle = time.Hour
		}
		user := []string{"", "alice", "bob"}[i%3]
		if err := s.Commit(bg, &driver.Commit{ID: hashOf(i), Create: true, Meta: meta(user, clk.Now(), idle)}); err != nil {
			t.Fatalf("Commit %d: %v", i, err)
		}
	}
	clk.Advance(2 * time.Minute)
	if got := s.Sweep(); got != n-n/5 {
		t.Errorf("Sweep: got %d removed, want %d", got, n-n/5)
	}
	if got := s.Sweep(); got != 0 {
		t.Errorf("second Sweep: got %d removed, want 0", got)
	}
	checkInternal(t, s)
	total := 0
	for i := range s.users {
		for _, head := range s.users[i].m {
			for e := head; e != nil; e = e.next {
				total++
			}
		}
	}
	// Sessions 0, 5, ..., 45 remain; those with i%3 != 0 have a user.
	want := 0
	for i := 0; i < n; i += 5 {
		if i%3 != 0 {
			want++
		}
	}
	if total != want {
		t.Errorf("user index after Sweep: got %d entries, want %d", total, want)
	}
}

func TestSweeperRunsAndStops(t *testing.T) {
	before := runtime.NumGoroutine()
	clk := newClock()
	s, err := New(Options{Now: clk.Now, SweepInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(bg, &driver.Commit{ID: hashOf(1), Create: true, Meta: meta("", clk.Now(), time.Minute)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("background sweeper did not remove an expired session within 5s")
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: got %d after Close, want %d", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
	// The store still answers after Close.
	if _, err := s.Load(bg, hashOf(1)); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Load after Close: got %v, want ErrNotFound", err)
	}
}

// TestNegativeSweepIntervalStartsNoSweeper checks that a negative
// Options.SweepInterval means what it means in every store: no background
// goroutine, and Sweep called by hand still removes expired sessions.
func TestNegativeSweepIntervalStartsNoSweeper(t *testing.T) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now, SweepInterval: -1})
	select {
	case <-s.done:
	default:
		t.Fatal("New started a sweeper with a negative SweepInterval")
	}
	if err := s.Commit(bg, &driver.Commit{ID: hashOf(1), Create: true, Meta: meta("", clk.Now(), time.Minute)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if _, err := s.Load(bg, hashOf(1)); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Load of an expired, unswept session: got %v, want ErrNotFound", err)
	}
	if s.Len() != 1 {
		t.Errorf("Len before Sweep: got %d, want 1 (nothing swept in the background)", s.Len())
	}
	if n := s.Sweep(); n != 1 {
		t.Errorf("Sweep: removed %d, want 1", n)
	}
	if s.Len() != 0 {
		t.Errorf("Len after Sweep: got %d, want 0", s.Len())
	}
}

func TestLoadAllocations(t *testing.T) {
	s := newStore(t, Options{})
	h := hashOf(3)
	m := meta("u", time.Now(), time.Hour)
	if err := s.Commit(bg, &driver.Commit{ID: h, Create: true, Meta: m, Set: map[string]any{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	load := func() {
		if _, err := s.Load(bg, h); err != nil {
			panic(err)
		}
	}
	// Reads of an unchanged session share one decoded record.
	if allocs := testing.AllocsPerRun(1000, load); allocs != 0 {
		t.Errorf("Load of an unchanged session: got %v allocations per call, want 0", allocs)
	}
	// After each change, one decoding: the Record, its Values map (two),
	// the string value boxed in an interface and the recent slot; the
	// strings share the packed form.
	const want = 5
	allocs := testing.AllocsPerRun(200, func() {
		m.LastSeen = m.LastSeen.Add(time.Second)
		if err := s.Commit(bg, &driver.Commit{ID: h, Meta: m}); err != nil {
			panic(err)
		}
		load()
	})
	commitOnly := testing.AllocsPerRun(200, func() {
		m.LastSeen = m.LastSeen.Add(time.Second)
		if err := s.Commit(bg, &driver.Commit{ID: h, Meta: m}); err != nil {
			panic(err)
		}
	})
	if got := allocs - commitOnly; got > want {
		t.Errorf("first Load after a change: got %v allocations, want at most %d", got, want)
	}
}

// TestLoadSnapshots checks that the records Load returns are snapshots:
// a commit, a renewal or a delete afterwards changes none of them, and a
// Load after a change sees the change.
func TestLoadSnapshots(t *testing.T) {
	s := newStore(t, Options{})
	h, to := hashOf(9), hashOf(10)
	m := meta("alice", time.Now(), time.Hour)
	if err := s.Commit(bg, &driver.Commit{ID: h, Create: true, Meta: m, Set: map[string]any{"a": 1}}); err != nil {
		t.Fatal(err)
	}
	r1, err := s.Load(bg, h)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Load(bg, h); r != r1 {
		t.Errorf("two Loads of an unchanged session decoded it twice")
	}
	m2 := m
	m2.LastSeen = m.LastSeen.Add(time.Second)
	if err := s.Commit(bg, &driver.Commit{ID: h, Meta: m2, Set: map[string]any{"b": 2}}); err != nil {
		t.Fatal(err)
	}
	if len(r1.Values) != 1 || !r1.LastSeen.Equal(m.LastSeen) {
		t.Errorf("a commit changed an earlier loaded record: %v, last seen %v", r1.Values, r1.LastSeen)
	}
	r2, err := s.Load(bg, h)
	if err != nil {
		t.Fatal(err)
	}
	if !r2.LastSeen.Equal(m2.LastSeen) || len(r2.Values) != 2 || r2.Values["a"] != json.Number("1") {
		t.Errorf("after a commit: got last seen %v, values %v; want %v and a=1, b=2", r2.LastSeen, r2.Values, m2.LastSeen)
	}
	if err := s.Commit(bg, &driver.Commit{ID: to, From: h, Create: true, Meta: m2}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(bg, h); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Load of the old hash after a renewal: got %v, want ErrNotFound", err)
	}
	if err := s.Delete(bg, to); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(bg, to); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Load after Delete: got %v, want ErrNotFound", err)
	}
	if len(r2.Values) != 2 || r2.UserID != "alice" {
		t.Errorf("renewal and delete changed a loaded record: %+v", r2)
	}
}

func TestCommitRefusesUnencodableValue(t *testing.T) {
	s := newStore(t, Options{})
	h := hashOf(11)
	err := s.Commit(bg, &driver.Commit{ID: h, Create: true, Meta: meta("u", time.Now(), time.Hour),
		Set: map[string]any{"ok": 1, "bad": func() {}}})
	if err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Fatalf("Commit of a func value: got %v, want an error naming the key", err)
	}
	if _, err := s.Load(bg, h); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Load after a refused Commit: got %v, want ErrNotFound", err)
	}
	if n := s.Len(); n != 0 {
		t.Errorf("after a refused Commit: %d sessions stored, want 0", n)
	}
}

// checkInternal checks the invariants between maps, heaps and user index.
func checkInternal(t *testing.T, s *Store) {
	t.Helper()
	stored := map[*entry]bool{}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		if n := len(sh.m) + len(sh.overflow); len(sh.heap) != n {
			t.Errorf("shard %d: heap has %d entries, maps %d", i, len(sh.heap), n)
		}
		for j, it := range sh.heap {
			e := it.e
			stored[e] = true
			if it.exp != e.exp {
				t.Errorf("shard %d: heap item %d has expiry %d, its entry %d", i, j, it.exp, e.exp)
			}
			if int(e.hidx) != j {
				t.Errorf("shard %d: entry at heap position %d has hidx %d", i, j, e.hidx)
			}
			if sh.find(e.hash) != e {
				t.Errorf("shard %d: heap entry %s not in the map", i, e.hash.Handle())
			}
			if j > 0 && it.exp < sh.heap[(j-1)/arity].exp {
				t.Errorf("shard %d: heap order broken at %d", i, j)
			}
			if isForward(e.data) {
				if e.linked {
					t.Errorf("shard %d: forward %s is in a user's list", i, e.hash.Handle())
				}
			} else if _, err := unpack(e.data); err != nil {
				t.Errorf("shard %d: entry %s: %v", i, e.hash.Handle(), err)
			}
		}
		sh.mu.RUnlock()
	}
	indexed := map[*entry]bool{}
	for i := range s.users {
		us := &s.users[i]
		us.mu.Lock()
		for k, head := range us.m {
			if head == nil || head.prev != nil {
				t.Errorf("user index: bad head for key %x", k)
				continue
			}
			for e := head; e != nil; e = e.next {
				indexed[e] = true
				u := userOf(e.data)
				if got, _ := s.userKey(u); got != k {
					t.Errorf("user index: key %x lists a session of %q", k, u)
				}
				if !e.linked || (e.next != nil && e.next.prev != e) {
					t.Errorf("user %q: broken links at %s", u, e.hash.Handle())
				}
				if !stored[e] {
					t.Errorf("user %q: lists %s, which is not stored", u, e.hash.Handle())
				}
			}
		}
		us.mu.Unlock()
	}
	for e := range stored {
		if u := userOf(e.data); u != "" && !indexed[e] {
			t.Errorf("session %s of user %q is missing from the user index", e.hash.Handle(), u)
		}
	}
}

func TestInvariantsAfterMixedWork(t *testing.T) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now, SweepInterval: time.Hour, SweepBatch: 7})
	users := []string{"", "a", "b", "c"}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				id := hashOf(w*100000 + i)
				u := users[(w+i)%len(users)]
				idle := time.Duration(1+i%7) * time.Minute
				c := &driver.Commit{ID: id, Create: true, Meta: meta(u, clk.Now(), idle), Set: map[string]any{"i": i},
					MaxPerUser: 20, EvictOldest: i%2 == 0}
				if err := s.Commit(bg, c); err != nil && !errors.Is(err, driver.ErrSessionLimit) {
					t.Errorf("create: %v", err)
					return
				}
				switch i % 4 {
				case 0:
					_ = s.Commit(bg, &driver.Commit{ID: id, Meta: meta(users[i%len(users)], clk.Now(), idle)})
				case 1:
					_ = s.Commit(bg, &driver.Commit{ID: hashOf(w*100000 + i + 50000), From: id, Create: true, Meta: meta(u, clk.Now(), idle)})
				case 2:
					_ = s.Delete(bg, id)
				}
				if i%50 == 0 {
					clk.Advance(time.Minute)
					s.Sweep()
				}
			}
		}()
	}
	wg.Wait()
	checkInternal(t, s)
	clk.Advance(time.Hour)
	s.Sweep()
	checkInternal(t, s)
	if n := s.Len(); n != 0 {
		t.Errorf("after every session expired and a Sweep: %d entries left", n)
	}
}

func TestStats(t *testing.T) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now, SweepInterval: time.Hour, SweepBatch: 4})
	if got := s.Stats(); got != (Stats{}) {
		t.Errorf("Stats of a new store: got %+v, want zero", got)
	}
	for i := range 10 {
		idle := time.Minute
		if i < 3 {
			idle = time.Hour
		}
		if err := s.Commit(bg, &driver.Commit{ID: spread(i), Create: true, Meta: meta("u", clk.Now(), idle)}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Minute)
	if got := s.Stats(); got.Sessions != 10 || got.Swept != 0 {
		t.Errorf("Stats before a sweep: got %+v, want 10 sessions, none swept", got)
	}
	if n := s.Sweep(); n != 7 {
		t.Fatalf("Sweep: removed %d, want 7", n)
	}
	got := s.Stats()
	if got.Sessions != 3 || got.Swept != 7 || got.LongestHold <= 0 {
		t.Errorf("Stats after a sweep: got %+v, want 3 sessions, 7 swept and a hold time", got)
	}
	s.Sweep()
	if again := s.Stats(); again.Swept != 7 {
		t.Errorf("a sweep with nothing to remove changed Swept: got %d, want 7", again.Swept)
	}
}

// TestForwardExpiryInjectedClock checks that a renewal's forward answers
// until the replaced record's expiry, to the nanosecond, is then gone for
// every operation, and is swept like an expired session.
func TestForwardExpiryInjectedClock(t *testing.T) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now, SweepInterval: time.Hour})
	from, to := hashOf(1), hashOf(2)
	fm := meta("alice", clk.Now(), 10*time.Minute)
	if err := s.Commit(bg, &driver.Commit{ID: from, Create: true, Meta: fm, Set: map[string]any{"a": 1}}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := s.Commit(bg, &driver.Commit{ID: to, From: from, Create: true, Meta: meta("alice", clk.Now(), time.Hour)}); err != nil {
		t.Fatal(err)
	}
	checkInternal(t, s)
	if n := s.Len(); n != 2 {
		t.Errorf("after a renewal: Len %d, want 2 (the session and the forward)", n)
	}
	clk.Advance(fm.ExpiresAt().Sub(clk.Now()) - time.Nanosecond)
	var re *driver.RenewedError
	if _, err := s.Load(bg, from); !errors.As(err, &re) || re.To != to {
		t.Fatalf("Load of the old hash 1ns before the replaced record's expiry: got %v, want RenewedError{To: %s}", err, to.Handle())
	}
	if n := s.Sweep(); n != 0 {
		t.Errorf("Sweep before the forward's expiry: removed %d, want 0", n)
	}
	clk.Advance(time.Nanosecond)
	if _, err := s.Load(bg, from); !errors.Is(err, driver.ErrNotFound) || errors.Is(err, driver.ErrRenewed) {
		t.Errorf("Load of the old hash at the replaced record's expiry: got %v, want plain ErrNotFound", err)
	}
	if err := s.Commit(bg, &driver.Commit{ID: from, Meta: fm}); !errors.Is(err, driver.ErrNotFound) || errors.Is(err, driver.ErrRenewed) {
		t.Errorf("Commit to an expired forward: got %v, want plain ErrNotFound", err)
	}
	if n := s.Sweep(); n != 1 {
		t.Errorf("Sweep after the forward's expiry: removed %d, want 1", n)
	}
	if n := s.Len(); n != 1 {
		t.Errorf("after the sweep: Len %d, want 1", n)
	}
	if _, err := s.Load(bg, to); err != nil {
		t.Errorf("Load of the renewed session after its forward was swept: %v", err)
	}
	checkInternal(t, s)
}

// TestDeleteLongChain checks that Delete follows a chain of renewals far
// longer than any session makes, and removes every forward of it.
func TestDeleteLongChain(t *testing.T) {
	s := newStore(t, Options{SweepInterval: time.Hour})
	const renewals = 100
	m := meta("alice", time.Now(), time.Hour)
	if err := s.Commit(bg, &driver.Commit{ID: hashOf(0), Create: true, Meta: m}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= renewals; i++ {
		if err := s.Commit(bg, &driver.Commit{ID: hashOf(i), From: hashOf(i - 1), Create: true, Meta: m}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(bg, hashOf(0)); err != nil {
		t.Fatalf("Delete of the first hash of %d renewals: %v", renewals, err)
	}
	if n := s.Len(); n != 0 {
		t.Errorf("after Delete of the chain: Len %d, want 0", n)
	}
	if infos, err := s.ListUser(bg, "alice"); err != nil || len(infos) != 0 {
		t.Errorf("ListUser after Delete of the chain: got %d sessions, %v; want none", len(infos), err)
	}
	checkInternal(t, s)
}
