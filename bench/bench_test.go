package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Every benchmark serves one request per iteration through httptest: a
// shallow copy of one prepared request (the session libraries attach
// their state to the request, and gorilla's registry even rewrites it in
// place, so none may see another iteration's request) and a new
// httptest.ResponseRecorder (so no Set-Cookie piles up). The bare library
// pays the same per-request costs, so ratios to it isolate the session
// work.

// BenchmarkRead is a page view: a logged-in session, one value read and
// written in the body, nothing changed.
func BenchmarkRead(b *testing.B) {
	for _, name := range Names {
		b.Run(name, func(b *testing.B) {
			l := newLib(b, name, Options{Dir: b.TempDir()})
			run(b, l, l.Read, l.Cookie, ThemeValue)
		})
	}
}

// BenchmarkWrite changes one value of a logged-in session on every
// request.
func BenchmarkWrite(b *testing.B) {
	for _, name := range Names {
		b.Run(name, func(b *testing.B) {
			l := newLib(b, name, Options{Dir: b.TempDir()})
			run(b, l, l.Write, l.Cookie, "")
		})
	}
}

// BenchmarkLogin logs a user in on a request that brings no session: a
// new session ID (gorilla's cookie sessions have none), the user and one
// value stored, a cookie sent.
func BenchmarkLogin(b *testing.B) {
	for _, name := range Names {
		b.Run(name, func(b *testing.B) {
			l := newLib(b, name, Options{Dir: b.TempDir()})
			run(b, l, l.Login, "", "ok")
		})
	}
}

// BenchmarkReadRedis is BenchmarkRead with the sessions in Redis, at
// LATCH_TEST_REDIS_URL.
func BenchmarkReadRedis(b *testing.B) {
	url := redisURL(b)
	for _, name := range RedisNames {
		b.Run(name, func(b *testing.B) {
			l := newLib(b, name, Options{RedisURL: url})
			run(b, l, l.Read, l.Cookie, ThemeValue)
		})
	}
}

// run serves h b.N times and checks the last response: status 200 and,
// when want is set, the body.
func run(b *testing.B, l *Lib, h http.Handler, cookie, want string) {
	b.Helper()
	serveLoop(b, l.Name, h, cookie, want)
}

// serveLoop is run for a handler named name.
func serveLoop(b *testing.B, name string, h http.Handler, cookie, want string) {
	b.Helper()
	tmpl := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		tmpl.Header.Set("Cookie", cookie)
	}
	var w *httptest.ResponseRecorder
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		r := new(http.Request)
		*r = *tmpl
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if cpu > 0 {
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	}
	if w.Code != http.StatusOK {
		b.Fatalf("%s: last response %d %q", name, w.Code, w.Body.String())
	}
	if got := w.Body.String(); want != "" && got != want {
		b.Fatalf("%s: last response body %q, want %q", name, got, want)
	}
	if want == "" {
		if _, err := strconv.Atoi(w.Body.String()); err != nil {
			b.Fatalf("%s: write answered %q, want a number", name, w.Body.String())
		}
	}
}

// cpuTime returns the CPU time (user and system) the process has used so
// far, or 0 when the system cannot tell. On a machine shared with other
// work, CPU time per operation (the cpu-ns/op metric) varies far less than
// wall time, which includes the time spent waiting for a core; it counts
// every goroutine of the process, the garbage collector's included. For
// the Redis benchmarks, whose requests mostly wait on the network, ns/op
// is the figure that matters.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func newLib(tb testing.TB, name string, opts Options) *Lib {
	tb.Helper()
	l, err := New(context.Background(), name, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Error(err)
		}
	})
	return l
}

// redisURL returns LATCH_TEST_REDIS_URL, or ends tb when it is unset:
// a failure under CI, a skip elsewhere.
func redisURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("LATCH_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("LATCH_TEST_REDIS_URL not set: scripts/test must start a redis-server")
		}
		tb.Skip("LATCH_TEST_REDIS_URL not set")
	}
	return url
}
