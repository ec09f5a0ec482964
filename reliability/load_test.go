package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/boltstore"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
)

// loadSettings reads the duration per store and the number of concurrent
// sessions from the environment.
func loadSettings(t *testing.T) (time.Duration, int) {
	t.Helper()
	dur, workers := 5*time.Second, 32
	if v := os.Getenv("LATCH_RELIABILITY_LOAD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			t.Fatalf("LATCH_RELIABILITY_LOAD=%q: want a Go duration of at least 1s", v)
		}
		dur = d
	}
	if v := os.Getenv("LATCH_RELIABILITY_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 4096 {
			t.Fatalf("LATCH_RELIABILITY_WORKERS=%q: want 1 to 4096", v)
		}
		workers = n
	}
	return dur, workers
}

// TestLoad runs many sessions concurrently through their whole life (log in,
// read, write two keys from two goroutines at once, log out, check the old
// token is dead) against a Manager on each local store, for a fixed time.
// It requires zero 5xx, zero lost updates (each client checks every value
// the server answers against its own count), and a live heap that stays flat
// after warm-up. The figures are logged (go test -v).
func TestLoad(t *testing.T) {
	dur, workers := loadSettings(t)
	stores := []struct {
		name string
		open func(t *testing.T) driver.Store
	}{
		{"memstore", func(t *testing.T) driver.Store {
			s, err := memstore.New(memstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"boltstore", func(t *testing.T) driver.Store {
			s, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			a := newApp(t, st.open(t))
			runLoad(t, a, workers, dur)
		})
	}
}

// loadStats are the outcomes of one load run.
type loadStats struct {
	logins, logouts, reads, writes atomic.Int64
	lost, deadTokenAccepted        atomic.Int64
	transport, unexpected          atomic.Int64
	firstErr                       sync.Once
	firstMsg                       atomic.Pointer[string]
}

func (ls *loadStats) fail(counter *atomic.Int64, format string, args ...any) {
	counter.Add(1)
	ls.firstErr.Do(func() {
		msg := fmt.Sprintf(format, args...)
		ls.firstMsg.Store(&msg)
	})
}

func runLoad(t *testing.T, a *app, workers int, dur time.Duration) {
	client := httpClient(workers)
	defer client.CloseIdleConnections()
	lat := &latencies{}
	status := &statusCounts{}
	var ls loadStats

	baseline := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()

	heap := sampleHeap(ctx, 100*time.Millisecond)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { loadWorker(ctx, a, client, lat, status, &ls, fmt.Sprintf("user%03d", w)) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	samples := <-heap

	total := status.total()
	t.Logf("%d sessions for %v: %d requests (%.0f/s), %d logins, %d reads, %d writes, %d logouts; latency p50 %v p99 %v p99.9 %v",
		workers, elapsed.Round(time.Millisecond), total, float64(total)/elapsed.Seconds(),
		ls.logins.Load(), ls.reads.Load(), ls.writes.Load(), ls.logouts.Load(),
		lat.quantile(0.50), lat.quantile(0.99), lat.quantile(0.999))
	t.Logf("status: %d 2xx, %d 4xx (expected: the dead-token checks), %d 5xx; lost updates %d; dead tokens accepted %d; store errors %d; panics %d",
		status.ok.Load(), status.c4xx.Load(), status.c5xx.Load(), ls.lost.Load(), ls.deadTokenAccepted.Load(),
		a.events.get(latch.EventStoreError), a.panics.Load())

	if msg := ls.firstMsg.Load(); msg != nil {
		t.Errorf("first failure: %s", *msg)
	}
	if n := status.c5xx.Load(); n != 0 {
		t.Errorf("%d answers with status 5xx; want 0", n)
	}
	if n := ls.lost.Load(); n != 0 {
		t.Errorf("%d lost updates; want 0", n)
	}
	if n := ls.deadTokenAccepted.Load(); n != 0 {
		t.Errorf("%d requests with a logged-out token were served as logged in; want 0", n)
	}
	if n := ls.transport.Load() + ls.unexpected.Load(); n != 0 {
		t.Errorf("%d transport errors or unexpected answers; want 0", n)
	}
	if n := a.panics.Load(); n != 0 {
		t.Errorf("%d panics", n)
	}
	if ls.logouts.Load() < int64(workers) {
		t.Errorf("only %d complete session lives for %d workers: the load did not run", ls.logouts.Load(), workers)
	}
	checkHeapFlat(t, samples)
	client.CloseIdleConnections()
	n := settleGoroutines(t, baseline, 4)
	t.Logf("goroutines: %d before, %d after the load", baseline, n)
}

// loadWorker runs session lives one after the other until ctx ends.
func loadWorker(ctx context.Context, a *app, c *http.Client, lat *latencies, st *statusCounts, ls *loadStats, user string) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for ctx.Err() == nil {
		s := a.session(c, lat, st)
		// Requests use a background context: a life once begun runs to
		// its end, so that ctx's end never looks like a failure.
		bg := context.Background()
		code, _, err := s.do(bg, "POST", "/login?u="+user)
		if err != nil || code != http.StatusOK || s.tok() == "" {
			ls.fail(&ls.unexpected, "%s: login: %d %v", user, code, err)
			return
		}
		ls.logins.Add(1)
		var want [2]int64
		for i, ops := 0, 4+rng.IntN(12); i < ops; i++ {
			if i%3 == 2 {
				code, body, err := s.do(bg, "GET", "/read")
				if err != nil || code != http.StatusOK {
					ls.fail(&ls.unexpected, "%s: read: %d %v", user, code, err)
					return
				}
				ls.reads.Add(1)
				u, x, y, err := parseRead(body)
				if err != nil || u != user || x != want[0] || y != want[1] {
					ls.fail(&ls.lost, "%s: read %q; want %s %d %d", user, body, user, want[0], want[1])
					return
				}
				continue
			}
			// Two writes of different keys on one session at once: each
			// must keep its change (a commit carries only what changed).
			var wg sync.WaitGroup
			for j, k := range []string{"a", "b"} {
				wg.Go(func() {
					code, body, err := s.do(bg, "POST", "/incr?k="+k)
					if err != nil {
						ls.fail(&ls.transport, "%s: incr %s: %v", user, k, err)
						return
					}
					if code != http.StatusOK {
						ls.fail(&ls.unexpected, "%s: incr %s: status %d", user, k, code)
						return
					}
					ls.writes.Add(1)
					if got, _ := strconv.ParseInt(body, 10, 64); got != want[j]+1 {
						ls.fail(&ls.lost, "%s: incr %s answered %q; want %d", user, k, body, want[j]+1)
					}
				})
			}
			wg.Wait()
			want[0]++
			want[1]++
		}
		old := s.tok()
		code, _, err = s.do(bg, "POST", "/logout")
		if err != nil || code != http.StatusOK || s.tok() != "" {
			ls.fail(&ls.unexpected, "%s: logout: %d %v (cookie kept: %t)", user, code, err, s.tok() != "")
			return
		}
		ls.logouts.Add(1)
		replay := a.session(c, lat, st)
		replay.setTok(old)
		code, _, err = replay.do(bg, "GET", "/read")
		if err != nil {
			ls.fail(&ls.transport, "%s: replay: %v", user, err)
			return
		}
		if code != http.StatusUnauthorized {
			ls.fail(&ls.deadTokenAccepted, "%s: logged-out token answered %d; want 401", user, code)
		}
	}
}

// sampleHeap samples the live heap (as measured by the last GC) every
// period until ctx ends, then sends the samples.
func sampleHeap(ctx context.Context, period time.Duration) <-chan []heapSample {
	out := make(chan []heapSample, 1)
	go func() {
		var samples []heapSample
		m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		start := time.Now()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				out <- samples
				return
			case <-tick.C:
				metrics.Read(m)
				samples = append(samples, heapSample{time.Since(start), m[0].Value.Uint64()})
			}
		}
	}()
	return out
}

type heapSample struct {
	at   time.Duration
	live uint64
}

// checkHeapFlat drops the first 30% of the samples (warm-up), then
// compares the median live heap of the two halves of the rest: the second
// may not exceed the first by more than 20% plus 1 MiB.
func checkHeapFlat(t *testing.T, samples []heapSample) {
	t.Helper()
	if len(samples) < 10 {
		t.Fatalf("only %d heap samples: the run is too short to judge memory", len(samples))
	}
	rest := samples[len(samples)*3/10:]
	half := len(rest) / 2
	median := func(s []heapSample) uint64 {
		v := make([]uint64, len(s))
		for i := range s {
			v[i] = s[i].live
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	first, second := median(rest[:half]), median(rest[half:])
	peak := slices.MaxFunc(rest, func(a, b heapSample) int { return int(a.live>>10) - int(b.live>>10) })
	t.Logf("live heap after warm-up: median %.1f MiB then %.1f MiB, peak %.1f MiB (%d samples)",
		mib(first), mib(second), mib(peak.live), len(rest))
	if float64(second) > 1.2*float64(first)+1<<20 {
		t.Errorf("live heap grew from %.1f MiB to %.1f MiB after warm-up", mib(first), mib(second))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
