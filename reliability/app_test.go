package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
)

// ciRequired skips the test, or fails it when CI=true, because something
// it needs is missing from the machine.
func ciRequired(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + ": scripts/test must install it")
	}
	t.Skip(msg)
}

// eventCounts counts latch events by kind.
type eventCounts struct {
	n [32]atomic.Int64
}

func (e *eventCounts) add(ev latch.Event) {
	if int(ev.Kind) < len(e.n) {
		e.n[ev.Kind].Add(1)
	}
}

func (e *eventCounts) get(k latch.EventKind) int64 { return e.n[k].Load() }

// app is a latch Manager serving a small application over a real loopback
// HTTP server.
type app struct {
	m      *latch.Manager
	srv    *httptest.Server
	events *eventCounts
	panics atomic.Int64
}

// newApp serves the test application over store. Routes:
//
//	POST /login?u=USER   log in as USER (new session ID)
//	POST /incr?k=KEY     add one to the integer under KEY, answer the new value
//	GET  /read           answer "USER a b" without changing anything
//	POST /logout         end the session
//
// Every route but /login answers 401 for an anonymous session. A panic
// anywhere is counted and answered with 500.
func newApp(t *testing.T, store driver.Store) *app {
	t.Helper()
	keys, err := latch.NewKeyring(latch.Key{ID: "r1", Secret: latch.GenerateKey()})
	if err != nil {
		t.Fatal(err)
	}
	a := &app{events: &eventCounts{}}
	a.m, err = latch.New(latch.Config{
		Store:   store,
		Keys:    keys,
		Logger:  slog.New(slog.DiscardHandler),
		OnEvent: a.events.add,
		// Loopback plain HTTP: the test client sends the cookie itself.
		InsecureCookie: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	authed := func(w http.ResponseWriter, r *http.Request) *latch.Session {
		s, err := latch.FromContext(r.Context())
		if err != nil {
			panic(err)
		}
		if !s.IsAuthenticated() {
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return nil
		}
		return s
	}
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, err := latch.FromContext(r.Context())
		if err != nil {
			panic(err)
		}
		if err := s.Login(r.FormValue("u")); err != nil {
			http.Error(w, "login failed", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /incr", func(w http.ResponseWriter, r *http.Request) {
		s := authed(w, r)
		if s == nil {
			return
		}
		k := r.FormValue("k")
		n := s.GetInt(k) + 1
		s.Set(k, n)
		io.WriteString(w, strconv.FormatInt(n, 10)) // commits before the body
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		s := authed(w, r)
		if s == nil {
			return
		}
		fmt.Fprintf(w, "%s %d %d", s.UserID(), s.GetInt("a"), s.GetInt("b"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s := authed(w, r)
		if s == nil {
			return
		}
		if err := s.Logout(); err != nil {
			http.Error(w, "logout failed", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "bye")
	})
	h := a.m.Handler(mux)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				a.panics.Add(1)
				http.Error(w, "panic", http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// httpClient returns a client for n concurrent sessions. It keeps no
// cookie jar: each session carries its own token.
func httpClient(n int) *http.Client {
	tr := &http.Transport{
		MaxIdleConns:        2 * n,
		MaxIdleConnsPerHost: 2 * n,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// session is one client session: its token, sent as the cookie.
type session struct {
	a      *app
	c      *http.Client
	mu     sync.Mutex
	token  string
	lat    *latencies
	status *statusCounts
}

func (a *app) session(c *http.Client, lat *latencies, st *statusCounts) *session {
	return &session{a: a, c: c, lat: lat, status: st}
}

// tok returns the session's current token, "" when it has none.
func (s *session) tok() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// setTok replaces the session's token.
func (s *session) setTok(tok string) {
	s.mu.Lock()
	s.token = tok
	s.mu.Unlock()
}

// do sends one request with the session's cookie and keeps the cookie the
// answer sets. It returns the status and body; err only for a transport
// failure.
func (s *session) do(ctx context.Context, method, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.a.srv.URL+path, nil)
	if err != nil {
		return 0, "", err
	}
	if tok := s.tok(); tok != "" {
		req.Header.Set("Cookie", s.a.m.CookieName()+"="+tok)
	}
	start := time.Now()
	resp, err := s.c.Do(req)
	if err != nil {
		return 0, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if s.lat != nil {
		s.lat.add(time.Since(start))
	}
	if s.status != nil {
		s.status.add(resp.StatusCode)
	}
	if err != nil {
		return 0, "", err
	}
	for _, c := range resp.Cookies() {
		if c.Name != s.a.m.CookieName() {
			continue
		}
		if c.MaxAge < 0 {
			s.setTok("")
		} else {
			s.setTok(c.Value)
		}
	}
	return resp.StatusCode, string(body), nil
}

// read parses the answer of GET /read.
func parseRead(body string) (user string, a, b int64, err error) {
	f := strings.Fields(body)
	if len(f) != 3 {
		return "", 0, 0, fmt.Errorf("malformed /read answer %q", body)
	}
	a, err1 := strconv.ParseInt(f[1], 10, 64)
	b, err2 := strconv.ParseInt(f[2], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return "", 0, 0, fmt.Errorf("malformed /read answer %q: %w", body, err)
	}
	return f[0], a, b, nil
}

// statusCounts counts answers by status class.
type statusCounts struct {
	ok, c4xx, c5xx, c503, other atomic.Int64
}

func (c *statusCounts) add(code int) {
	switch {
	case code == http.StatusServiceUnavailable:
		c.c503.Add(1)
		c.c5xx.Add(1)
	case code >= 500:
		c.c5xx.Add(1)
	case code >= 400:
		c.c4xx.Add(1)
	case code >= 200 && code < 300:
		c.ok.Add(1)
	default:
		c.other.Add(1)
	}
}

func (c *statusCounts) total() int64 {
	return c.ok.Load() + c.c4xx.Load() + c.c5xx.Load() + c.other.Load()
}

// latencies is a histogram with buckets of 1/8 of a power of two in
// microseconds: fixed memory whatever the number of requests.
type latencies struct {
	b [8 * 40]atomic.Int64
}

func latencyBucket(d time.Duration) int {
	us := max(d.Microseconds(), 1)
	e := 63 - bits.LeadingZeros64(uint64(us)) // floor(log2)
	frac := int64(0)
	if e >= 3 {
		frac = (us >> (e - 3)) & 7
	} else {
		frac = (us << (3 - e)) & 7
	}
	return min(8*e+int(frac), 8*40-1)
}

func bucketUpper(i int) time.Duration {
	e, frac := i/8, i%8
	us := (int64(8+frac+1) << e) >> 3
	return time.Duration(max(us, 1)) * time.Microsecond
}

func (l *latencies) add(d time.Duration) { l.b[latencyBucket(d)].Add(1) }

// quantile returns an upper bound of the q-quantile (0 < q <= 1).
func (l *latencies) quantile(q float64) time.Duration {
	var total int64
	for i := range l.b {
		total += l.b[i].Load()
	}
	if total == 0 {
		return 0
	}
	want := int64(q*float64(total) + 0.5)
	var seen int64
	for i := range l.b {
		seen += l.b[i].Load()
		if seen >= want && seen > 0 {
			return bucketUpper(i)
		}
	}
	return bucketUpper(len(l.b) - 1)
}

// settleGoroutines waits until the number of goroutines is at most
// baseline+slack, and fails the test with a goroutine dump if it stays
// above for 10 seconds.
func settleGoroutines(t *testing.T, baseline, slack int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= baseline+slack {
			return n
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("goroutine leak: %d goroutines, %d before the load (slack %d):\n%s", n, baseline, slack, b.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
