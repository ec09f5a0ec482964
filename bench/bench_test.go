package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
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
	tmpl := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		tmpl.Header.Set("Cookie", cookie)
	}
	var w *httptest.ResponseRecorder
	b.ReportAllocs()
	for b.Loop() {
		r := new(http.Request)
		*r = *tmpl
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if w.Code != http.StatusOK {
		b.Fatalf("%s: last response %d %q", l.Name, w.Code, w.Body.String())
	}
	if got := w.Body.String(); want != "" && got != want {
		b.Fatalf("%s: last response body %q, want %q", l.Name, got, want)
	}
	if want == "" {
		if _, err := strconv.Atoi(w.Body.String()); err != nil {
			b.Fatalf("%s: write answered %q, want a number", l.Name, w.Body.String())
		}
	}
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
