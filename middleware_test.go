package latch_test

import (
	"cmp"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchsec/latch"
)

// TestHandlerLeavesStatusToOuterLayer: a handler that returns without
// writing gets the session's headers but no status, so an outer layer
// that answers afterwards (a middleware writing 403, a framework's error
// handler, a gin-style redirect) keeps its status. The "through the
// handler's writer" cases are what echo.WrapMiddleware does: it hands the
// writer latch gave the handler to echo's error handler, which writes
// after latch's middleware has returned.
func TestHandlerLeavesStatusToOuterLayer(t *testing.T) {
	tests := []struct {
		name     string
		inner    string // the app's route the handler runs
		code     int    // what the outer layer writes after the handler; 0: nothing
		through  bool   // write through the writer the handler got
		want     int
		location string
		cookie   bool // a session cookie goes out
	}{
		{"outer 403 after a Set", "/set?k=a&v=1", 403, false, 403, "", true},
		{"outer 303 after a login", "/login?u=alice", 303, false, 303, "/home", true},
		{"echo-style 403 through the handler's writer", "/set?k=a&v=1", 403, true, 403, "", true},
		{"echo-style 303 through the handler's writer", "/login?u=alice", 303, true, 303, "/home", true},
		{"outer 403, session untouched", "/quiet", 403, false, 403, "", false},
		{"nobody writes: net/http's 200", "/set?k=a&v=1", 0, false, 200, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, latch.Config{})
			app := testApp(hs.m)
			var inner http.ResponseWriter
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				next := hs.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					inner = w
					if r.URL.Path == "/quiet" {
						return // no write, no session change
					}
					app.ServeHTTP(w, r)
				}))
				next.ServeHTTP(w, r)
				out := w
				if tt.through {
					out = inner
				}
				switch tt.code {
				case 0:
				case http.StatusSeeOther:
					http.Redirect(out, r, tt.location, tt.code)
				default:
					http.Error(out, "forbidden", tt.code)
				}
			})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", tt.inner, nil))
			res := rec.Result()
			if res.StatusCode != tt.want || res.Header.Get("Location") != tt.location {
				t.Fatalf("got %d Location %q; want %d %q", res.StatusCode, res.Header.Get("Location"), tt.want, tt.location)
			}
			sc := strings.Join(res.Header.Values("Set-Cookie"), "\n")
			if got := strings.Contains(sc, hs.m.CookieName()+"="); got != tt.cookie {
				t.Fatalf("Set-Cookie %q; session cookie sent = %v, want %v", sc, got, tt.cookie)
			}
			if tt.cookie && res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q with a session cookie; want no-store", res.Header.Get("Cache-Control"))
			}
		})
	}
}

// TestHandlerStatusWithSessionChanges: the session is committed when the
// handler returns even if nobody writes, and a change made after the body
// began is still saved then.
func TestHandlerStatusWithSessionChanges(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	r := hs.do("POST", "/set?k=a&v=1", "")
	if r.code != 200 || r.token() == "" {
		t.Fatalf("set with no write: %d cookies %q", r.code, r.cookies)
	}
	tok := r.token()
	if got := hs.do("GET", "/get?k=a", tok).body; got != "1" {
		t.Fatalf("value after a handler that wrote nothing: %q", got)
	}
	if r := hs.do("POST", "/late-set?k=late&v=kept", tok); r.code != 200 || len(r.cookies) != 0 {
		t.Fatalf("late set: %d cookies %q", r.code, r.cookies)
	}
	if got := hs.do("GET", "/get?k=late", tok).body; got != "kept" {
		t.Fatalf("late change: %q; want kept", got)
	}
}

// TestPlainHTTPWarning: a Secure session cookie set on a plain-HTTP
// request to a host other than loopback is dropped by the browser, so
// every request starts a new session and signing in does not stick. latch
// says so once, as an event and a warning that name cause and fix.
func TestPlainHTTPWarning(t *testing.T) {
	tests := []struct {
		name   string
		cfg    latch.Config
		url    string
		tls    bool
		header map[string]string
		path   string
		want   int
	}{
		{"plain HTTP to a public name", latch.Config{}, "http://app.example.com/", false, nil, "/set?k=a&v=1", 1},
		{"plain HTTP to a public address", latch.Config{}, "http://192.0.2.1:8080/", false, nil, "/login?u=alice", 1},
		{"plain HTTP to a public IPv6 address", latch.Config{}, "http://[2001:db8::1]/", false, nil, "/set?k=a&v=1", 1},
		{"HTTPS", latch.Config{}, "https://app.example.com/", true, nil, "/set?k=a&v=1", 0},
		{"localhost", latch.Config{}, "http://localhost:8080/", false, nil, "/set?k=a&v=1", 0},
		{"a subdomain of localhost", latch.Config{}, "http://app.localhost:8080/", false, nil, "/set?k=a&v=1", 0},
		{"127.0.0.1", latch.Config{}, "http://127.0.0.1:8080/", false, nil, "/set?k=a&v=1", 0},
		{"another loopback address", latch.Config{}, "http://127.1.2.3/", false, nil, "/set?k=a&v=1", 0},
		{"[::1]", latch.Config{}, "http://[::1]:8080/", false, nil, "/set?k=a&v=1", 0},
		{"behind a TLS proxy", latch.Config{}, "http://app.example.com/", false, map[string]string{"X-Forwarded-Proto": "https"}, "/set?k=a&v=1", 0},
		{"behind a Forwarded TLS proxy", latch.Config{}, "http://app.example.com/", false, map[string]string{"Forwarded": "for=192.0.2.9;proto=https"}, "/set?k=a&v=1", 0},
		{"InsecureCookie", latch.Config{InsecureCookie: true}, "http://app.example.com/", false, nil, "/set?k=a&v=1", 0},
		{"no cookie set", latch.Config{}, "http://app.example.com/", false, nil, "/get?k=a", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, tt.cfg)
			for range 3 {
				req := httptest.NewRequest("POST", strings.TrimSuffix(tt.url, "/")+tt.path, nil)
				if !tt.tls {
					req.TLS = nil
				}
				for k, v := range tt.header {
					req.Header.Set(k, v)
				}
				hs.doReq(req, "")
			}
			if got := hs.events.Count(latch.EventPlainHTTP, ""); got != tt.want {
				t.Fatalf("%d plain-http events; want %d", got, tt.want)
			}
			logged := strings.Count(hs.logs.String(), "event=plain-http")
			if logged != tt.want {
				t.Fatalf("logged %d times; want %d", logged, tt.want)
			}
			if tt.want == 0 {
				return
			}
			ev, _ := hs.events.Find(latch.EventPlainHTTP)
			for _, w := range []string{"Secure", "plain HTTP", "not loopback", "browsers drop", "latch.HTTPS", "X-Forwarded-Proto", "InsecureCookie"} {
				if !strings.Contains(ev.Reason, w) {
					t.Errorf("reason %q does not say %q", ev.Reason, w)
				}
			}
			if !strings.Contains(hs.logs.String(), "level=WARN msg=\"latch session\" event=plain-http") {
				t.Errorf("not logged as a warning:\n%s", hs.logs.String())
			}
		})
	}
}

// TestHandlerWritePathsOnRealServer: every way a handler can begin (or
// not begin) the response sends the session cookie with the final status,
// on a real HTTP/1.1 connection: never with an informational 103, whose
// headers a browser does not keep, and never lost when the handler only
// flushes, copies, or writes nothing at all.
func TestHandlerWritePathsOnRealServer(t *testing.T) {
	sess := func(r *http.Request) *latch.Session {
		s, err := latch.FromContext(r.Context())
		if err != nil {
			panic(err)
		}
		return s
	}
	set := func(r *http.Request) {
		if err := sess(r).Set("k", "v"); err != nil {
			panic(err)
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  string // the final status line
		early   bool   // a 103 comes first
	}{
		{"writes nothing", func(w http.ResponseWriter, r *http.Request) { set(r) }, "HTTP/1.1 200 OK", false},
		{"only flushes", func(w http.ResponseWriter, r *http.Request) { set(r); w.(http.Flusher).Flush() }, "HTTP/1.1 200 OK", false},
		{"flushes through ResponseController", func(w http.ResponseWriter, r *http.Request) {
			set(r)
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
		}, "HTTP/1.1 200 OK", false},
		{"ResponseController reaches the connection, then nothing", func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
				panic(err)
			}
			set(r)
		}, "HTTP/1.1 200 OK", false},
		{"io.Copy", func(w http.ResponseWriter, r *http.Request) { set(r); io.Copy(w, strings.NewReader("body")) }, "HTTP/1.1 200 OK", false},
		{"http.Error after Set", func(w http.ResponseWriter, r *http.Request) { set(r); http.Error(w, "no", http.StatusTeapot) }, "HTTP/1.1 418 I'm a teapot", false},
		{"103 Early Hints, then nothing", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</app.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			set(r)
		}, "HTTP/1.1 200 OK", true},
		{"103 Early Hints, then 201", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			set(r)
			w.WriteHeader(http.StatusCreated)
		}, "HTTP/1.1 201 Created", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, latch.Config{})
			srv := httptest.NewServer(hs.m.Handler(tt.handler))
			defer srv.Close()
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
			raw, err := io.ReadAll(conn)
			if err != nil {
				t.Fatal(err)
			}
			heads := strings.Split(string(raw), "\r\n\r\n")
			if tt.early {
				if !strings.HasPrefix(heads[0], "HTTP/1.1 103 ") || strings.Contains(heads[0], "Set-Cookie") {
					t.Fatalf("first response %q; want a 103 without Set-Cookie", heads[0])
				}
				heads = heads[1:]
			}
			final := heads[0]
			if !strings.HasPrefix(final, tt.status+"\r\n") {
				t.Fatalf("response %q; want %q", final, tt.status)
			}
			if !strings.Contains(final, "Set-Cookie: "+hs.m.CookieName()+"=") || !strings.Contains(final, "Cache-Control: no-store") {
				t.Fatalf("final headers %q; want the session cookie and no-store", final)
			}
		})
	}
}

// flushFailer is a ResponseWriter whose flush fails, as it does once the
// client has gone.
type flushFailer struct {
	http.ResponseWriter
}

var errClientGone = errors.New("client gone")

func (f flushFailer) FlushError() error { return errClientGone }

// TestFlushReportsErrors: http.ResponseController.Flush through the
// middleware returns the error of the flush underneath, so a streaming
// handler (server-sent events) learns that its client has gone, and
// returns the commit's failure rather than nil when the session could not
// be committed and an error response went out instead.
func TestFlushReportsErrors(t *testing.T) {
	tests := []struct {
		name      string
		storeDown bool  // when the handler flushes: its change cannot be committed
		want      error // nil: any error
	}{
		{"flush fails underneath", false, errClientGone},
		{"commit failed", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, latch.Config{})
			var got error
			h := hs.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, _ := latch.FromContext(r.Context())
				s.Set("k", "v")
				hs.store.fail.Store(tt.storeDown)
				got = http.NewResponseController(w).Flush()
			}))
			outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(flushFailer{w}, r) })
			outer.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			if got == nil || (tt.want != nil && !errors.Is(got, tt.want)) {
				t.Fatalf("Flush = %v; want %v", got, cmp.Or(tt.want, errors.New("an error")))
			}
		})
	}
}
