package latch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/memstore"
)

// TestTimeoutPolicyChange logs a session in under one configuration and
// serves it, after a restart, under another on the same store (memstore)
// or keyring (cookiestore), on one injected clock. A tightened limit
// applies to the existing session at once, in its expiry and in every
// report of its deadlines; a loosened one applies only to new logins.
func TestTimeoutPolicyChange(t *testing.T) {
	type check struct {
		at      time.Duration // since the login
		login   bool          // log in again on the new configuration first
		code    int           // of GET /me
		ended   string        // the reason /me gives with 401
		idle    time.Duration // expected idle timeout in force (0: not checked)
		idleEnd time.Duration // expected idle deadline, since the last activity
		absEnd  time.Duration // expected absolute deadline, since the (last) login
		maxAge  int           // expected Max-Age of the remember-me cookie /me sets
	}
	tests := []struct {
		name          string
		before, after latch.Config
		remember      bool
		checks        []check
	}{
		{"idle tightened from 30 to 5 minutes", latch.Config{}, latch.Config{IdleTimeout: 5 * time.Minute}, false, []check{
			{at: 4 * time.Minute, code: 200, idle: 5 * time.Minute, idleEnd: 5 * time.Minute, absEnd: 12 * time.Hour},
			{at: 10 * time.Minute, code: 401, ended: "idle"}, // 6 minutes idle
		}},
		{"20 minutes idle under a 5-minute limit", latch.Config{}, latch.Config{IdleTimeout: 5 * time.Minute}, false, []check{
			{at: 20 * time.Minute, code: 401, ended: "idle"},
		}},
		{"absolute tightened from 12 to 2 hours", latch.Config{IdleTimeout: time.Hour}, latch.Config{IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour}, false, []check{
			{at: 50 * time.Minute, code: 200, idle: time.Hour, idleEnd: time.Hour, absEnd: 2 * time.Hour},
			{at: 100 * time.Minute, code: 200, idle: time.Hour, idleEnd: time.Hour, absEnd: 2 * time.Hour},
			{at: 121 * time.Minute, code: 401, ended: "absolute"},
		}},
		{"idle loosened from 5 to 30 minutes: only new logins", latch.Config{IdleTimeout: 5 * time.Minute}, latch.Config{}, false, []check{
			{at: 4 * time.Minute, code: 200, idle: 5 * time.Minute, idleEnd: 5 * time.Minute, absEnd: 12 * time.Hour},
			{at: 10 * time.Minute, code: 401, ended: "idle"},
			{at: 10 * time.Minute, login: true, code: 200, idle: 30 * time.Minute, idleEnd: 30 * time.Minute, absEnd: 12 * time.Hour},
			{at: 30 * time.Minute, code: 200},
		}},
		{"remember-me idle tightened from 7 days to 1", latch.Config{}, latch.Config{RememberIdleTimeout: 24 * time.Hour}, true, []check{
			{at: 23 * time.Hour, code: 200, idle: 24 * time.Hour, idleEnd: 24 * time.Hour, absEnd: 30 * 24 * time.Hour, maxAge: 24 * 3600},
			{at: 48 * time.Hour, code: 401, ended: "idle"},
		}},
		{"remember-me absolute tightened from 30 days to 2", latch.Config{}, latch.Config{RememberIdleTimeout: 24 * time.Hour, RememberAbsoluteTimeout: 48 * time.Hour}, true, []check{
			{at: 20 * time.Hour, code: 200, idle: 24 * time.Hour, idleEnd: 24 * time.Hour, absEnd: 48 * time.Hour, maxAge: 24 * 3600},
			{at: 40 * time.Hour, code: 200, idle: 24 * time.Hour, idleEnd: 24 * time.Hour, absEnd: 48 * time.Hour, maxAge: 8 * 3600},
			{at: 48 * time.Hour, code: 401, ended: "absolute"},
		}},
	}
	for _, backend := range []string{"memstore", "cookiestore"} {
		for _, tt := range tests {
			t.Run(backend+"/"+tt.name, func(t *testing.T) {
				clock := newClock()
				keys := testKeys(t, "k1")
				var base latch.Config
				switch backend {
				case "memstore":
					ms, err := memstore.New(memstore.Options{Now: clock.Now})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { ms.Close() })
					base.Store = ms
				case "cookiestore":
					cs, err := cookiestore.New(keys, cookiestore.Options{Now: clock.Now})
					if err != nil {
						t.Fatal(err)
					}
					base.Stateless = cs
				}
				start := func(cfg latch.Config) (*latch.Manager, http.Handler) {
					cfg.Store, cfg.Stateless, cfg.Keys, cfg.Now = base.Store, base.Stateless, keys, clock.Now
					cfg.Logger = slog.New(slog.DiscardHandler)
					m, err := latch.New(cfg)
					if err != nil {
						t.Fatal(err)
					}
					mux := http.NewServeMux()
					mux.Handle("/", testApp(m))
					mux.HandleFunc("GET /deadlines", func(w http.ResponseWriter, r *http.Request) {
						s, _ := latch.FromContext(r.Context())
						s.NoTouch()
						idle, abs := s.Deadlines()
						json.NewEncoder(w).Encode([2]time.Time{idle, abs})
					})
					return m, m.Handler(mux)
				}
				login := func(h http.Handler) (string, time.Time) {
					path := "/login?u=alice"
					if tt.remember {
						path += "&remember=on"
					}
					r := serveWith(h, "POST", path, "")
					if r.code != 200 || r.token() == "" {
						t.Fatalf("login: %d %q", r.code, r.body)
					}
					return r.token(), clock.Now()
				}
				_, old := start(tt.before)
				tok, loggedIn := login(old)
				t0 := clock.Now()
				m, h := start(tt.after) // the restart
				lastSeen := loggedIn
				for _, c := range tt.checks {
					clock.Advance(t0.Add(c.at).Sub(clock.Now()))
					if c.login {
						tok, loggedIn = login(h)
						lastSeen = loggedIn
					}
					if c.idle != 0 {
						checkDeadlines(t, h, m, tok, c.at, c.idle, lastSeen.Add(c.idleEnd), loggedIn.Add(c.absEnd), backend == "memstore")
					}
					r := serveWith(h, "GET", "/me", tok)
					if want := "not logged in: " + c.ended + "\n"; r.code != c.code || c.code == 401 && r.body != want {
						t.Fatalf("at %v: GET /me = %d %q; want %d (ended %q)", c.at, r.code, r.body, c.code, c.ended)
					}
					if r.code == 200 {
						lastSeen = clock.Now() // the request touched the session
					}
					if c.maxAge != 0 {
						want := fmt.Sprintf("Max-Age=%d;", c.maxAge)
						if len(r.cookies) == 0 || !strings.Contains(r.cookies[0], want) {
							t.Errorf("at %v: Set-Cookie %q; want %s", c.at, r.cookies, want)
						}
					}
					if t := r.token(); t != "" {
						tok = t
					}
				}
			})
		}
	}
}

// serveWith sends a request with the session cookie tok (if any) to h, which
// serves one of the Managers a test restarts.
func serveWith(h http.Handler, method, path, tok string) resp {
	req := httptest.NewRequest(method, path, nil)
	if tok != "" {
		req.Header.Set("Cookie", latch.DefaultCookieName+"="+tok)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return resp{code: rec.Code, body: rec.Body.String(), cookies: rec.Result().Header.Values("Set-Cookie")}
}

// checkDeadlines compares the status handler's, Session.Deadlines' and
// (with a store that lists) Manager.Sessions' view of the session's
// deadlines with what the configuration in force gives.
func checkDeadlines(t *testing.T, h http.Handler, m *latch.Manager, tok string, at, idleTimeout time.Duration, idleEnd, absEnd time.Time, lists bool) {
	t.Helper()
	r := serveWith(h, "GET", "/status", tok)
	var st latch.Status
	if err := json.Unmarshal([]byte(r.body), &st); err != nil || r.code != 200 {
		t.Fatalf("at %v: GET /status = %d %q", at, r.code, r.body)
	}
	if !st.IdleExpiresAt.Equal(idleEnd) || !st.AbsoluteExpiresAt.Equal(absEnd) || st.IdleTimeout != int64(idleTimeout/time.Second) {
		t.Errorf("at %v: status idle %v, absolute %v, idle timeout %ds; want %v, %v, %ds", at, st.IdleExpiresAt, st.AbsoluteExpiresAt, st.IdleTimeout, idleEnd, absEnd, int64(idleTimeout/time.Second))
	}
	r = serveWith(h, "GET", "/deadlines", tok)
	var d [2]time.Time
	if err := json.Unmarshal([]byte(r.body), &d); err != nil || !d[0].Equal(idleEnd) || !d[1].Equal(absEnd) {
		t.Errorf("at %v: Deadlines = %q; want %v, %v", at, r.body, idleEnd, absEnd)
	}
	if !lists {
		return
	}
	list, err := m.Sessions(context.Background(), "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, si := range list {
		found = found || si.IdleExpiresAt.Equal(idleEnd) && si.AbsoluteExpires.Equal(absEnd)
	}
	if !found {
		t.Errorf("at %v: Sessions lists %+v; want one with deadlines %v, %v", at, list, idleEnd, absEnd)
	}
}

// TestTimeoutPolicyKeepsRecordLimits: a session keeps the limits it was
// written with, the configuration only shortens them. A logout under a
// tightened configuration must therefore refuse a copy of a stateless
// cookie sealed before the change for as long as that copy's own limits
// allow, even after the configuration is loosened again.
func TestTimeoutPolicyKeepsRecordLimits(t *testing.T) {
	clock := newClock()
	keys := testKeys(t, "k1")
	revs, err := memstore.New(memstore.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer revs.Close()
	cs, err := cookiestore.New(keys, cookiestore.Options{Revocations: cookiestore.StoreRevocations(revs), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	start := func(idle time.Duration) http.Handler {
		m, err := latch.New(latch.Config{Stateless: cs, Keys: keys, Now: clock.Now, IdleTimeout: idle, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return m.Handler(testApp(m))
	}
	stolen := serveWith(start(30*time.Minute), "POST", "/login?u=alice", "").token() // a 30-minute session
	tight := start(5 * time.Minute)
	clock.Advance(time.Minute)
	r := serveWith(tight, "GET", "/me", stolen)
	tok := r.token()
	if r.code != 200 || tok == "" {
		t.Fatalf("under the 5-minute configuration: %d %q", r.code, r.body)
	}
	if r := serveWith(tight, "POST", "/logout", tok); r.code != 200 {
		t.Fatalf("logout: %d %q", r.code, r.body)
	}
	clock.Advance(15 * time.Minute) // past 5 minutes idle and its grace, within 30
	loose := start(30 * time.Minute)
	if r := serveWith(loose, "GET", "/me", stolen); r.code != http.StatusUnauthorized {
		t.Fatalf("a copy sealed before the logout, back under the 30-minute configuration: %d %q; want 401", r.code, r.body)
	}
	// And a session not logged out gets its 30 minutes back.
	live := serveWith(loose, "POST", "/login?u=bob", "").token()
	clock.Advance(time.Minute)
	r = serveWith(tight, "GET", "/me", live)
	if r.code != 200 || r.token() == "" {
		t.Fatalf("under the 5-minute configuration: %d %q", r.code, r.cookies)
	}
	live = r.token() // sealed under the 5-minute configuration
	clock.Advance(20 * time.Minute)
	if r := serveWith(loose, "GET", "/me", live); r.code != 200 || r.body != "bob" {
		t.Fatalf("20 minutes idle, back under the 30-minute configuration: %d %q; want 200", r.code, r.body)
	}
}
