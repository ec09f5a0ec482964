package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
	"github.com/redis/go-redis/v9"
)

// This file measures the behaviour figures that cmd/compare prints: what a
// library does, counted, rather than how fast it does it.

// FakeClock is a clock that moves only when told, for latch's Config.Now
// and store clocks. It is safe for concurrent use.
type FakeClock struct{ ns atomic.Int64 }

// NewFakeClock returns a clock that reads t.
func NewFakeClock(t time.Time) *FakeClock {
	c := &FakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// latchCounter counts the writes a driver.Store receives.
type latchCounter struct {
	driver.Store
	writes *atomic.Int64
}

func (c latchCounter) Commit(ctx context.Context, m *driver.Commit) error {
	c.writes.Add(1)
	return c.Store.Commit(ctx, m)
}

func (c latchCounter) Delete(ctx context.Context, id driver.Hash) error {
	c.writes.Add(1)
	return c.Store.Delete(ctx, id)
}

// scsCounter counts the writes an scs.Store receives.
type scsCounter struct {
	scs.Store
	writes *atomic.Int64
}

func (c scsCounter) Commit(token string, b []byte, expiry time.Time) error {
	c.writes.Add(1)
	return c.Store.Commit(token, b, expiry)
}

func (c scsCounter) Delete(token string) error {
	c.writes.Add(1)
	return c.Store.Delete(token)
}

// scsCtxCounter is scsCounter for a store with context methods (scs
// calls those instead when a store has them).
type scsCtxCounter struct {
	scsCounter
	ctx scs.CtxStore
}

func (c scsCtxCounter) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	return c.ctx.FindCtx(ctx, token)
}

func (c scsCtxCounter) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	c.writes.Add(1)
	return c.ctx.CommitCtx(ctx, token, b, expiry)
}

func (c scsCtxCounter) DeleteCtx(ctx context.Context, token string) error {
	c.writes.Add(1)
	return c.ctx.DeleteCtx(ctx, token)
}

// countWrites returns Options whose store wrappers count every write
// (commit or delete) in n.
func countWrites(opts Options, n *atomic.Int64) Options {
	opts.WrapLatch = func(s driver.Store) driver.Store { return latchCounter{s, n} }
	opts.WrapSCS = func(s scs.Store) scs.Store {
		c := scsCounter{s, n}
		if cs, ok := s.(scs.CtxStore); ok {
			return scsCtxCounter{c, cs}
		}
		return c
	}
	return opts
}

// Touches is what a run of read-only requests cost.
type Touches struct {
	Requests   int
	Writes     int // store commits and deletes
	SetCookies int // Set-Cookie headers sent
}

// ReadOnlyTouches serves requests read-only requests on one logged-in
// session of library name, one every gap of simulated time (latch runs on
// a fake clock; scs decides to write without looking at the clock), and
// counts the store writes and Set-Cookie headers they cause. The login
// that made the session is not counted.
func ReadOnlyTouches(ctx context.Context, name string, opts Options, requests int, gap time.Duration) (Touches, error) {
	clock := NewFakeClock(time.Now())
	opts.Now = clock.Now
	var writes atomic.Int64
	l, err := New(ctx, name, countWrites(opts, &writes))
	if err != nil {
		return Touches{}, err
	}
	defer l.Close()
	writes.Store(0)
	t := Touches{Requests: requests}
	for range requests {
		clock.Advance(gap)
		r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
		r.Header.Set("Cookie", l.Cookie)
		w := httptest.NewRecorder()
		l.Read.ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Body.String() != ThemeValue {
			return t, fmt.Errorf("bench: %s: read-only request answered %d %q", name, w.Code, w.Body.String())
		}
		t.SetCookies += len(w.Result().Header.Values("Set-Cookie"))
	}
	t.Writes = int(writes.Load())
	return t, nil
}

// LostUpdates runs trials of two overlapping requests on one session of
// library name and returns in how many trials an update was lost. Each
// trial logs a new session in, then starts two requests that both load
// the session before either finishes. With readOnly false, each sets its
// own key (a trial loses when either key is missing afterwards). With
// readOnly true, the first only reads, and returns after the second, which
// sets a key, has finished (a trial loses when the key is missing).
func LostUpdates(ctx context.Context, name string, opts Options, trials int, readOnly bool) (int, error) {
	l, err := New(ctx, name, opts)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	lost := 0
	for i := range trials {
		w := httptest.NewRecorder()
		l.Login.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/login", nil).WithContext(ctx))
		cookie := ""
		for _, c := range w.Result().Cookies() {
			if c.Name == l.CookieName {
				cookie = c.Name + "=" + c.Value
			}
		}
		if cookie == "" {
			return lost, fmt.Errorf("bench: %s: login set no cookie", name)
		}
		var loaded sync.WaitGroup
		loaded.Add(2)
		secondDone := make(chan struct{})
		first := l.Handler(func(h Handle, w http.ResponseWriter, r *http.Request) {
			_ = h.Get(ThemeKey)
			loaded.Done()
			loaded.Wait()
			if readOnly {
				<-secondDone
				return
			}
			h.Set("a", i)
		})
		second := l.Handler(func(h Handle, w http.ResponseWriter, r *http.Request) {
			_ = h.Get(ThemeKey)
			loaded.Done()
			loaded.Wait()
			h.Set("b", i)
		})
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for j, h := range []http.Handler{first, second} {
			wg.Go(func() {
				r := httptest.NewRequest(http.MethodPost, "/", nil).WithContext(ctx)
				r.Header.Set("Cookie", cookie)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				codes[j] = w.Code
				if j == 1 {
					close(secondDone)
				}
			})
		}
		wg.Wait()
		if codes[0] != http.StatusOK || codes[1] != http.StatusOK {
			return lost, fmt.Errorf("bench: %s: overlapping requests answered %d and %d", name, codes[0], codes[1])
		}
		keys := []string{"a", "b"}
		if readOnly {
			keys = []string{"b"}
		}
		for _, k := range keys {
			r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
			r.Header.Set("Cookie", cookie)
			w := httptest.NewRecorder()
			l.Peek(k).ServeHTTP(w, r)
			if w.Body.String() != fmt.Sprint(i) {
				lost++
				break
			}
		}
	}
	return lost, nil
}

// Memory is what holding many sessions in a memory store costs.
type Memory struct {
	Sessions        int
	BytesPerSession float64
	// Stall is the longest single lookup while every session but the
	// probes expired and the store's own sweeper removed them.
	Stall time.Duration
	// Baseline is the longest single lookup of the same probe in the same
	// time with nothing swept: the machine's own noise (scheduling, GC).
	Baseline time.Duration
	// Lookups is how many lookups the probe made during the sweep, Slow
	// how many of them took longer than SlowLookup, and SlowBaseline the
	// same count for the baseline.
	Lookups      int
	Slow         int
	SlowBaseline int
	// Phase and BaselinePhase are how long the probe ran during the sweep
	// (until the store held only the probes, for latch; four cleanup
	// intervals around the expiry, for scs) and for the baseline.
	Phase         time.Duration
	BaselinePhase time.Duration
	// After is the heap in use after the sweep, per session swept: it
	// shows that the sweep really freed the sessions.
	After float64
	// LongestHold is the longest one sweep batch held a shard's lock, as
	// latch's memstore reports it (memstore.Stats): the store's own part
	// of a stall. Zero for scs, whose cleanup holds its one lock for the
	// whole pass (its Stall shows it).
	LongestHold time.Duration
}

// probeCount is the number of sessions that do not expire, looked up in
// turn by the probe, so that it meets every shard of a sharded store.
const probeCount = 256

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// SlowLookup is the lookup time above which Memory counts a lookup as
// slow.
const SlowLookup = time.Millisecond

// probeResult is what one probe saw.
type probeResult struct {
	took  time.Duration
	worst time.Duration
	n     int // lookups
	slow  int // lookups longer than SlowLookup
}

// probeFor runs probe for d.
func probeFor(d time.Duration, lookup func(i int) error) (probeResult, error) {
	stop := make(chan struct{})
	time.AfterFunc(d, func() { close(stop) })
	return probe(stop, lookup)
}

// probe looks up sessions with lookup until stop is closed.
func probe(stop <-chan struct{}, lookup func(i int) error) (probeResult, error) {
	var res probeResult
	begin := time.Now()
	for {
		select {
		case <-stop:
			res.took = time.Since(begin)
			return res, nil
		default:
		}
		start := time.Now()
		err := lookup(res.n % probeCount)
		d := time.Since(start)
		res.worst = max(res.worst, d)
		if d > SlowLookup {
			res.slow++
		}
		if err != nil {
			res.took = time.Since(begin)
			return res, err
		}
		res.n++
	}
}

// userID names the i-th user of the memory figures: every session has its
// own user.
func userID(i int) string { return fmt.Sprintf("user-%07d", i) }

// LatchMemory fills a latch memstore with n logged-in sessions (a distinct
// user each, ThemeKey set, as Login leaves them), measures the heap they
// take, then lets all of them expire and measures the longest lookup of
// live sessions while the store's background sweeper removes them.
//
// window is how long the baseline probe runs; the sweeper runs every
// window/2.
func LatchMemory(ctx context.Context, n int, window time.Duration) (Memory, error) {
	res := Memory{Sessions: n}
	clock := NewFakeClock(time.Now())
	before := heapInUse()
	st, err := memstore.New(memstore.Options{Now: clock.Now, SweepInterval: window / 2})
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	defer st.Close()
	now := clock.Now()
	meta := func(user string, idle time.Duration) driver.Meta {
		return driver.Meta{UserID: user, Created: now, LastSeen: now, AuthTime: now,
			IdleTimeout: idle, AbsoluteTimeout: AbsoluteTimeout}
	}
	var probes [probeCount]driver.Hash
	for i := range probes {
		probes[i] = driver.Hash(sha256.Sum256([]byte(rand.Text())))
		err := st.Commit(ctx, &driver.Commit{ID: probes[i], Create: true,
			Meta: meta("probe", AbsoluteTimeout), Set: map[string]any{ThemeKey: ThemeValue}})
		if err != nil {
			return res, fmt.Errorf("bench: memstore commit: %w", err)
		}
	}
	var id [32]byte
	for i := range n {
		rand.Read(id[:])
		err := st.Commit(ctx, &driver.Commit{ID: driver.Hash(sha256.Sum256(id[:])), Create: true,
			Meta: meta(userID(i), IdleTimeout), Set: map[string]any{ThemeKey: ThemeValue}})
		if err != nil {
			return res, fmt.Errorf("bench: memstore commit: %w", err)
		}
	}
	full := heapInUse()
	res.BytesPerSession = float64(full-before) / float64(n)

	lookup := func(i int) error {
		_, err := st.Load(ctx, probes[i])
		return err
	}
	// Baseline: the same probe, for as long as a sweep will be given,
	// with nothing to sweep.
	base, err := probeFor(window, lookup)
	res.Baseline, res.SlowBaseline, res.BaselinePhase = base.worst, base.slow, base.took
	if err != nil {
		return res, fmt.Errorf("bench: memstore probe: %w", err)
	}

	clock.Advance(IdleTimeout + time.Second)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(time.Minute)
		for st.Len() > probeCount && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		close(stop)
	}()
	sweep, err := probe(stop, lookup)
	res.Stall, res.Lookups, res.Slow, res.Phase = sweep.worst, sweep.n, sweep.slow, sweep.took
	<-done
	if err != nil {
		return res, fmt.Errorf("bench: memstore probe: %w", err)
	}
	if left := st.Len(); left > probeCount {
		return res, fmt.Errorf("bench: memstore swept too slowly: %d sessions left after a minute", left-probeCount)
	}
	res.After = float64(int64(heapInUse())-int64(before)) / float64(n)
	res.LongestHold = st.Stats().LongestHold
	return res, nil
}

// SCSMemory is LatchMemory for scs's memstore: the same sessions,
// encoded by scs's default gob codec as scs commits them, and its own
// cleanup goroutine (every window/2 instead of every minute; the interval
// does not change what one sweep costs) to remove them. scs's store reads
// the system clock, so the sessions expire in real time, a few seconds
// after the store is filled.
func SCSMemory(ctx context.Context, n int, window time.Duration) (Memory, error) {
	res := Memory{Sessions: n}
	codec := scs.GobCodec{}
	far := time.Now().Add(AbsoluteTimeout)
	encode := func(user string) ([]byte, error) {
		b, err := codec.Encode(far, map[string]any{"user": user, ThemeKey: ThemeValue})
		if err != nil {
			return nil, fmt.Errorf("bench: scs encode: %w", err)
		}
		return b, nil
	}
	// Encoding is most of the fill time: time a sample to pick the moment
	// every session expires, after the fill and the baseline.
	sample := min(n, 10000)
	start := time.Now()
	for i := range sample {
		if _, err := encode(userID(i)); err != nil {
			return res, err
		}
	}
	per := time.Since(start) / time.Duration(sample)
	interval := window / 2
	expire := time.Now().Add(per*time.Duration(n)*3 + 2*window + 3*interval + 500*time.Millisecond)

	before := heapInUse()
	st := scsmem.NewWithCleanupInterval(interval)
	// StopCleanup races with the goroutine it stops (see libs.go): the
	// goroutine is left to run until the process ends.
	var probes [probeCount]string
	for i := range probes {
		probes[i] = rand.Text() + rand.Text()[:17] // 43 characters, like scs's tokens
		b, err := encode("probe")
		if err != nil {
			return res, err
		}
		if err := st.Commit(probes[i], b, far); err != nil {
			return res, fmt.Errorf("bench: scs commit: %w", err)
		}
	}
	for i := range n {
		b, err := encode(userID(i))
		if err != nil {
			return res, err
		}
		if err := st.Commit(rand.Text()+rand.Text()[:17], b, expire); err != nil {
			return res, fmt.Errorf("bench: scs commit: %w", err)
		}
	}
	full := heapInUse()
	res.BytesPerSession = float64(full-before) / float64(n)
	if time.Until(expire) < window+interval {
		return res, errors.New("bench: filling scs's memstore took longer than planned (a busy machine?): run again")
	}

	lookup := func(i int) error {
		_, found, err := st.Find(probes[i])
		if err == nil && !found {
			err = errors.New("probe session missing")
		}
		return err
	}
	base, err := probeFor(window, lookup)
	res.Baseline, res.SlowBaseline, res.BaselinePhase = base.worst, base.slow, base.took
	if err != nil {
		return res, fmt.Errorf("bench: scs probe: %w", err)
	}
	time.Sleep(time.Until(expire) - interval/2)
	sweep, err := probeFor(4*interval, lookup)
	res.Stall, res.Lookups, res.Slow, res.Phase = sweep.worst, sweep.n, sweep.slow, sweep.took
	if err != nil {
		return res, fmt.Errorf("bench: scs probe: %w", err)
	}
	res.After = float64(int64(heapInUse())-int64(before)) / float64(n)
	runtime.KeepAlive(st)
	return res, nil
}

// RedisCount is what read-only requests cost in Redis.
type RedisCount struct {
	Requests int
	// Commands is the increase of every command's calls in INFO
	// commandstats (less the INFO calls themselves), from any client.
	Commands int
	// ClientCommands and RoundTrips are counted inside the library's own
	// client: they equal Commands when nothing else uses the server.
	ClientCommands int
	RoundTrips     int
}

// redisCounter is a go-redis hook that counts commands and round trips.
type redisCounter struct{ cmds, trips atomic.Int64 }

func (c *redisCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *redisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.cmds.Add(1)
		c.trips.Add(1)
		return next(ctx, cmd)
	}
}

func (c *redisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.cmds.Add(int64(len(cmds)))
		c.trips.Add(1)
		return next(ctx, cmds)
	}
}

// commandCalls sums the calls of every command in INFO commandstats but
// INFO itself.
func commandCalls(ctx context.Context, c redis.UniversalClient) (int, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, fmt.Errorf("bench: redis INFO commandstats: %w", err)
	}
	total := 0
	for line := range strings.Lines(info) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_info" {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				var n int
				if _, err := fmt.Sscan(v, &n); err != nil {
					return 0, fmt.Errorf("bench: redis INFO commandstats: bad calls field")
				}
				total += n
			}
		}
	}
	return total, nil
}

// RedisCommands serves requests read-only requests on one logged-in
// session of library name (latch-redis or scs-redis) and counts the
// Redis commands they cause.
func RedisCommands(ctx context.Context, name string, opts Options, requests int) (RedisCount, error) {
	res := RedisCount{Requests: requests}
	l, err := New(ctx, name, opts)
	if err != nil {
		return res, err
	}
	defer l.Close()
	if l.Redis == nil {
		return res, fmt.Errorf("bench: %s does not use Redis", name)
	}
	counter := &redisCounter{}
	l.Redis.AddHook(counter)
	before, err := commandCalls(ctx, l.Redis)
	if err != nil {
		return res, err
	}
	counter.cmds.Store(0)
	counter.trips.Store(0)
	for range requests {
		r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
		r.Header.Set("Cookie", l.Cookie)
		w := httptest.NewRecorder()
		l.Read.ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Body.String() != ThemeValue {
			return res, fmt.Errorf("bench: %s: read-only request answered %d %q", name, w.Code, w.Body.String())
		}
	}
	res.ClientCommands, res.RoundTrips = int(counter.cmds.Load()), int(counter.trips.Load())
	after, err := commandCalls(ctx, l.Redis)
	if err != nil {
		return res, err
	}
	res.Commands = after - before
	return res, nil
}
