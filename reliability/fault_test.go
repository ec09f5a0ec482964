package reliability

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/pgstore"
	"github.com/latchsec/latch/redisstore"
)

// TestFaultRedis kills redis-server (SIGKILL; appendonly, fsync on every
// write) in the middle of a write load and starts it again.
func TestFaultRedis(t *testing.T) {
	srv := startRedis(t)
	store, err := redisstore.Open(context.Background(), srv.URL(), redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	runFault(t, srv, store)
}

// TestFaultPostgres stops PostgreSQL (pg_ctl stop -m fast) in the middle of
// a write load and starts it again.
func TestFaultPostgres(t *testing.T) {
	srv := startPostgres(t)
	ctx := context.Background()
	store, err := pgstore.Open(ctx, srv.URL(), pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	runFault(t, srv, store)
}

// Phases of a fault run. A request is counted in a phase only when it
// began and ended in it.
const (
	phaseHealthy    int32 = iota // before the fault
	phaseStopping                // the server is being stopped
	phaseDown                    // the server is stopped
	phaseRestarting              // the server is starting, or latch has not yet served a request
	phaseRecovered               // latch served a request after the restart
	phaseCount
)

var phaseNames = [phaseCount]string{"healthy", "stopping", "down", "restarting", "recovered"}

// faultWorker is one session that increments its counter in a loop and
// keeps its own account of what the server acknowledged.
type faultWorker struct {
	s       *session
	user    string
	acked   int64 // the last value answered with 200
	unknown int64 // requests since then that failed: each may have applied, or not
	streak  int64 // writes acknowledged since the last failure
}

func runFault(t *testing.T, srv faultServer, store driver.Store) {
	const (
		workers = 8
		healthy = 1500 * time.Millisecond
		down    = 2500 * time.Millisecond
		after   = 1500 * time.Millisecond
	)
	a := newApp(t, store)
	client := httpClient(workers + 1)
	defer client.CloseIdleConnections()
	bg := context.Background()

	var phase atomic.Int32
	var byPhase [phaseCount]statusCounts
	var transport, unexpected, lost atomic.Int64
	var lastFailure atomic.Int64 // unix ns of the last 503 after the restart began
	var failMu sync.Mutex
	var failures []string
	fail := func(c *atomic.Int64, format string, args ...any) {
		c.Add(1)
		failMu.Lock()
		if len(failures) < 10 {
			failures = append(failures, t.Name()+": "+fmt.Sprintf(format, args...))
		}
		failMu.Unlock()
	}

	// A probe session, used to tell when latch serves requests again.
	probe := a.session(client, nil, nil)
	if code, _, err := probe.do(bg, "POST", "/login?u=probe"); err != nil || code != http.StatusOK {
		t.Fatalf("probe login: %d %v", code, err)
	}
	ws := make([]*faultWorker, workers)
	for i := range ws {
		w := &faultWorker{s: a.session(client, nil, nil), user: "fault" + strconv.Itoa(i)}
		if code, _, err := w.s.do(bg, "POST", "/login?u="+w.user); err != nil || code != http.StatusOK {
			t.Fatalf("login %s: %d %v", w.user, code, err)
		}
		ws[i] = w
	}
	runtime.GC()
	baseline := runtime.NumGoroutine()

	ctx, stop := context.WithCancel(bg)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() {
			for ctx.Err() == nil {
				p0 := phase.Load()
				code, body, err := w.s.do(bg, "POST", "/incr?k=a")
				p1 := phase.Load()
				if err != nil {
					fail(&transport, "%s: %v", w.user, err)
					return
				}
				if p0 == p1 {
					byPhase[p0].add(code)
				}
				switch code {
				case http.StatusOK:
					n, err := strconv.ParseInt(body, 10, 64)
					if err != nil || n < w.acked+1 || n > w.acked+1+w.unknown {
						fail(&lost, "%s: server answered %q after %d acknowledged and %d failed writes", w.user, body, w.acked, w.unknown)
						return
					}
					w.acked, w.unknown = n, 0
					w.streak++
				case http.StatusServiceUnavailable:
					w.unknown++
					w.streak = 0
					if p1 >= phaseRestarting {
						lastFailure.Store(time.Now().UnixNano())
					}
					time.Sleep(5 * time.Millisecond)
				default:
					fail(&unexpected, "%s: status %d in phase %s: %q", w.user, code, phaseNames[p1], body)
					return
				}
			}
		})
	}

	time.Sleep(healthy)
	phase.Store(phaseStopping)
	time.Sleep(20 * time.Millisecond) // let each worker see the phase change before its next request
	stopped := time.Now()
	srv.Stop(t)
	phase.Store(phaseDown)
	errorsBefore := a.events.get(latch.EventStoreError)
	time.Sleep(down)
	phase.Store(phaseRestarting)
	errorsDown := a.events.get(latch.EventStoreError) - errorsBefore
	restart := time.Now()
	srv.Start(t)
	started := time.Since(restart)
	var recovered time.Duration
	for {
		code, _, err := probe.do(bg, "GET", "/read")
		if err == nil && code == http.StatusOK {
			recovered = time.Since(restart)
			break
		}
		if time.Since(restart) > 30*time.Second {
			stop()
			wg.Wait()
			t.Fatalf("latch did not recover within 30s of the restart (last answer %d %v)", code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	phase.Store(phaseRecovered)
	// A client may take a moment to trust the server again (go-redis
	// answers with its last dial error for up to a second after a run of
	// failed dials). Full recovery is the end of the last failure; from
	// there every request must succeed for the whole "after" period.
	var full time.Duration
	for {
		last := lastFailure.Load()
		full = max(time.Duration(last-restart.UnixNano()), recovered)
		if time.Since(restart)-full >= after {
			break
		}
		if time.Since(restart) > 30*time.Second {
			stop()
			wg.Wait()
			t.Fatalf("requests still fail %v after the restart", time.Since(restart).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	wg.Wait()

	for i := range phaseCount {
		c := &byPhase[i]
		t.Logf("%-10s %5d requests: %d 200, %d 503, %d other 5xx, %d 4xx", phaseNames[i], c.total(), c.ok.Load(), c.c503.Load(), c.c5xx.Load()-c.c503.Load(), c.c4xx.Load())
	}
	t.Logf("server stopped for %v; it answered %v after the restart began; latch served a request after %v and every request from %v; %d store-error events while down",
		restart.Sub(stopped).Round(time.Millisecond), started.Round(time.Millisecond), recovered.Round(time.Millisecond), full.Round(time.Millisecond), errorsDown)
	for _, f := range failures {
		t.Error(f)
	}

	d := &byPhase[phaseDown]
	if d.total() == 0 {
		t.Error("no request completed while the server was down: the fault was not exercised")
	}
	if d.ok.Load() != 0 || d.c4xx.Load() != 0 || d.other.Load() != 0 || d.c5xx.Load() != d.c503.Load() {
		t.Errorf("while the server was down: %d 200, %d 4xx, %d 5xx other than 503; want 503 only", d.ok.Load(), d.c4xx.Load(), d.c5xx.Load()-d.c503.Load())
	}
	if errorsDown < d.c503.Load() {
		t.Errorf("%d store-error events for %d answers 503 while down; want one event per failed request at least", errorsDown, d.c503.Load())
	}
	if h := &byPhase[phaseHealthy]; h.ok.Load() == 0 || h.total() != h.ok.Load() {
		t.Errorf("before the fault: %d of %d requests answered 200; want all", h.ok.Load(), h.total())
	}
	if r := &byPhase[phaseRecovered]; r.ok.Load() == 0 || r.total() != r.ok.Load()+r.c503.Load() {
		t.Errorf("after recovery: %d of %d requests answered 200, %d 503; want 200 or 503 only", r.ok.Load(), r.total(), r.c503.Load())
	}
	if n := transport.Load() + unexpected.Load(); n != 0 {
		t.Errorf("%d transport errors or unexpected answers", n)
	}
	if n := lost.Load(); n != 0 {
		t.Errorf("%d acknowledged writes lost or phantom writes", n)
	}
	if n := a.panics.Load(); n != 0 {
		t.Errorf("%d panics", n)
	}

	// Every session and every acknowledged write survived the fault.
	var acked int64
	for _, w := range ws {
		code, body, err := w.s.do(bg, "GET", "/read")
		if err != nil || code != http.StatusOK {
			t.Errorf("%s after the restart: %d %v; want the session alive", w.user, code, err)
			continue
		}
		user, n, _, err := parseRead(body)
		if err != nil || user != w.user || n < w.acked || n > w.acked+w.unknown {
			t.Errorf("%s after the restart: %q; want user %s and counter %d (+%d unconfirmed)", w.user, body, w.user, w.acked, w.unknown)
		}
		if w.streak == 0 {
			t.Errorf("%s: no write acknowledged after the last failure", w.user)
		}
		acked += w.acked
	}
	t.Logf("%d sessions, %d writes acknowledged in all, every one present after the restart", workers, acked)

	client.CloseIdleConnections()
	n := settleGoroutines(t, baseline, 6)
	t.Logf("goroutines: %d before the load, %d after", baseline, n)
}
