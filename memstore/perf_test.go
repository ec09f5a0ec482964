package memstore

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// fill creates n sessions that idle out after idle, each with one small
// value, anonymous unless user is set.
func fill(tb testing.TB, s *Store, clk func() time.Time, first, n int, user string, idle time.Duration) {
	tb.Helper()
	for i := first; i < first+n; i++ {
		c := &driver.Commit{ID: spread(i), Create: true, Meta: meta(user, clk(), idle), Set: map[string]any{"k": "v"}}
		if err := s.Commit(bg, c); err != nil {
			tb.Fatalf("Commit %d: %v", i, err)
		}
	}
}

// spread returns distinct hashes spread over every shard, like SHA-256
// output would be.
func spread(i int) driver.Hash {
	h := hashOf(i)
	h[0] = byte(i * 151)
	h[4] = byte(i)
	return h
}

// TestSweepStall sweeps many expired sessions while other goroutines load
// live ones, and reports the longest Load it saw. It asserts correctness,
// not timing: the figure depends on the machine and on -race.
func TestSweepStall(t *testing.T) {
	expired := 200_000
	if testing.Short() || raceEnabled {
		expired = 50_000
	}
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now, SweepInterval: time.Hour})
	fill(t, s, clk.Now, 0, expired, "", time.Minute)
	const liveN = 1024
	fill(t, s, clk.Now, expired, liveN, "", 24*time.Hour)
	clk.Advance(time.Hour)

	var stop atomic.Bool
	var wg sync.WaitGroup
	const loaders = 2
	lat := make([][]time.Duration, loaders)
	for g := range loaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; !stop.Load(); i++ {
				h := spread(expired + i%liveN)
				start := time.Now()
				_, err := s.Load(bg, h)
				lat[g] = append(lat[g], time.Since(start))
				if err != nil {
					t.Errorf("Load of a live session during the sweep: %v", err)
					return
				}
			}
		}()
	}
	start := time.Now()
	swept := s.Sweep()
	took := time.Since(start)
	stop.Store(true)
	wg.Wait()
	if swept != expired {
		t.Errorf("Sweep: got %d removed, want %d", swept, expired)
	}
	if n := s.Len(); n != liveN {
		t.Errorf("after Sweep: %d sessions, want %d", n, liveN)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		t.Fatal("no Load ran during the sweep")
	}
	t.Logf("swept %d expired sessions in %v (%v each; batches of at most %d or %v, longest lock hold %v; race %v); "+
		"%d concurrent loads: median %v, 99.9th percentile %v, worst %v (the worst includes scheduler delays)",
		swept, took, took/time.Duration(swept), s.batch, maxHold, s.Stats().LongestHold, raceEnabled,
		len(all), all[len(all)/2], all[len(all)*999/1000], all[len(all)-1])
}

// bytesPerSession measures the heap that n sessions with one small value
// take in a store.
func bytesPerSession(tb testing.TB, n int, user string) float64 {
	clk := newClock()
	before := heapAlloc()
	s, err := New(Options{Now: clk.Now, SweepInterval: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	fill(tb, s, clk.Now, 0, n, user, time.Hour)
	after := heapAlloc()
	runtime.KeepAlive(s)
	s.Close()
	return float64(after-before) / float64(n)
}

// bytesPerForward measures the heap that the forwards left by renewing n
// sessions once each take: the store's growth, once every session has
// moved to a new hash, divided by n.
func bytesPerForward(tb testing.TB, n int) float64 {
	clk := newClock()
	s, err := New(Options{Now: clk.Now, SweepInterval: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	fill(tb, s, clk.Now, 0, n, "alice", time.Hour)
	before := heapAlloc()
	for i := range n {
		c := &driver.Commit{ID: spread(n + i), From: spread(i), Create: true, Meta: meta("alice", clk.Now(), time.Hour)}
		if err := s.Commit(bg, c); err != nil {
			tb.Fatalf("renewal %d: %v", i, err)
		}
	}
	after := heapAlloc()
	if got := s.Len(); got != 2*n {
		tb.Fatalf("after %d renewals: %d entries, want %d", n, got, 2*n)
	}
	return (float64(after) - float64(before)) / float64(n)
}

func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryPerSession reports the memory a session takes, and checks it
// against a loose bound so that a regression that makes it much larger
// fails. bench/cmd/compare measures it at a million sessions.
func TestMemoryPerSession(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation sizes")
	}
	n := 50_000
	if testing.Short() {
		n = 10_000
	}
	for _, user := range []string{"", "alice"} {
		total := bytesPerSession(t, n, user)
		t.Logf("user %q: %.0f bytes per session", user, total)
		if total > 300 {
			t.Errorf("user %q: %.0f bytes per session, want at most 300", user, total)
		}
	}
	// A renewal leaves a forward until the replaced record's expiry.
	fwd := bytesPerForward(t, n)
	t.Logf("a forward left by a renewal: %.0f bytes", fwd)
	if fwd > 200 {
		t.Errorf("%.0f bytes per forward, want at most 200", fwd)
	}
}

func BenchmarkLoad(b *testing.B) {
	s := newStore(b, Options{SweepInterval: time.Hour})
	const n = 100_000
	fill(b, s, time.Now, 0, n, "", time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Load(bg, spread(i%n)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkCommit(b *testing.B) {
	const n = 100_000
	cases := []struct {
		name string
		c    func(id driver.Hash, now time.Time) *driver.Commit
	}{
		{"touch", func(id driver.Hash, now time.Time) *driver.Commit {
			return &driver.Commit{ID: id, Meta: meta("", now, time.Hour)}
		}},
		{"set", func(id driver.Hash, now time.Time) *driver.Commit {
			return &driver.Commit{ID: id, Meta: meta("", now, time.Hour), Set: map[string]any{"k": "w"}}
		}},
		{"user", func(id driver.Hash, now time.Time) *driver.Commit {
			return &driver.Commit{ID: id, Meta: meta("alice", now, time.Hour), Set: map[string]any{"k": "w"}}
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s := newStore(b, Options{SweepInterval: time.Hour})
			user := ""
			if tc.name == "user" {
				user = "alice"
			}
			fill(b, s, time.Now, 0, n, user, time.Hour)
			b.ReportAllocs()
			b.ResetTimer()
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)) * 7919
				for pb.Next() {
					if err := s.Commit(bg, tc.c(spread(i%n), time.Now())); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
	// A renewal moves a session to a fresh hash: each goroutine renews its
	// own session again and again, in a store of n others.
	for _, user := range []string{"", "alice"} {
		name := "renew"
		if user != "" {
			name = "renew-user"
		}
		b.Run(name, func(b *testing.B) {
			s := newStore(b, Options{SweepInterval: time.Hour})
			fill(b, s, time.Now, 0, n, user, time.Hour)
			var next atomic.Int64
			next.Store(n)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				cur := spread(int(next.Add(1)))
				if err := s.Commit(bg, &driver.Commit{ID: cur, Create: true, Meta: meta(user, time.Now(), time.Hour), Set: map[string]any{"k": "v"}}); err != nil {
					b.Error(err)
					return
				}
				for pb.Next() {
					to := spread(int(next.Add(1)))
					if err := s.Commit(bg, &driver.Commit{ID: to, From: cur, Create: true, Meta: meta(user, time.Now(), time.Hour)}); err != nil {
						b.Error(err)
						return
					}
					cur = to
				}
			})
		})
	}
	b.Run("create", func(b *testing.B) {
		s := newStore(b, Options{SweepInterval: time.Hour})
		b.ReportAllocs()
		b.ResetTimer()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1))
				c := &driver.Commit{ID: spread(i), Create: true, Meta: meta("", time.Now(), time.Hour), Set: map[string]any{"k": "v"}}
				if err := s.Commit(bg, c); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkMemory reports bytes per session as custom metrics.
func BenchmarkMemory(b *testing.B) {
	for range b.N {
		b.ReportMetric(bytesPerSession(b, 100_000, "alice"), "B/session")
	}
}

// BenchmarkSweep reports the time to remove one expired session from a
// store of a million, which bounds how long a batch holds a shard lock.
func BenchmarkSweep(b *testing.B) {
	const n = 1_000_000
	clk := newClock()
	s := newStore(b, Options{Now: clk.Now, SweepInterval: time.Hour})
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		for i := range n {
			// Expiries spread over an hour so the heap is not trivially ordered.
			c := &driver.Commit{ID: spread(i), Create: true, Meta: meta("", clk.Now(), time.Minute+time.Duration(i*7919%3600)*time.Second)}
			if err := s.Commit(bg, c); err != nil {
				b.Fatal(err)
			}
		}
		clk.Advance(2 * time.Hour)
		b.StartTimer()
		start := time.Now()
		if got := s.Sweep(); got != n {
			b.Fatalf("Sweep: got %d, want %d", got, n)
		}
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/n, "ns/session")
	}
}
