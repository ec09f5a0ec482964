package audit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hostile targets that exploit how the auditor replays a browser's
// cookies: two cookies of one name on different paths, cookies a browser
// would not send to MePath, and answers that change with the number of
// times a cookie was seen.

// validSid reports whether any "sid" cookie of r holds alice's session
// (a browser sends every cookie of that name whose Path matches).
func (h *hostileApp) anySid(r *http.Request) bool {
	for _, c := range r.Cookies() {
		if c.Name == "sid" && h.users[c.Value] == "alice" {
			return true
		}
	}
	return false
}

// samePathApp sets two cookies named sid at login: a flagless one on
// Path=/me, never invalidated, and a flawless one on Path=/ set after it,
// which logout invalidates. Either logs the user in.
func samePathApp(h *hostileApp) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		switch r.URL.Path {
		case "/login":
			if refuseLogin(w, r) {
				return
			}
			weak, good := randomValue(), randomValue()
			h.users[weak], h.users[good] = "alice", "alice"
			w.Header().Add("Set-Cookie", "sid="+weak+"; Path=/me")
			w.Header().Add("Set-Cookie", "sid="+good+"; Path=/; Secure; HttpOnly; SameSite=Strict")
			http.Redirect(w, r, "/me", http.StatusSeeOther)
		case "/me":
			h.mes.Add(1)
			if !h.anySid(r) {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"user":"alice"}`)
		case "/logout":
			for _, c := range r.Cookies() {
				if c.Name == "sid" {
					delete(h.users, c.Value) // only what reaches /logout: the Path=/ one
				}
			}
			w.Header().Add("Set-Cookie", "sid=; Max-Age=0; Path=/; Secure")
			http.Redirect(w, r, "/", http.StatusSeeOther)
		default:
			fmt.Fprint(w, "home")
		}
	})
}

// poisonApp has a flawless session cookie, invalidated at logout, and a
// flagless remember cookie that logs in on its own and is never
// invalidated. With onPath, a third cookie, "seen", set on Path=/account
// (never sent to /me by a browser) makes /me refuse a request whose
// session cookie is invalid, remember or not; without, a session cookie
// that is present but invalid does.
func poisonApp(h *hostileApp, onPath bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		switch r.URL.Path {
		case "/login":
			if refuseLogin(w, r) {
				return
			}
			sid, rem := randomValue(), randomValue()
			h.users[sid], h.users["r:"+rem] = "alice", "alice"
			w.Header().Add("Set-Cookie", "__Host-sid="+sid+"; Path=/; Secure; HttpOnly; SameSite=Lax")
			w.Header().Add("Set-Cookie", "remember="+rem+"; Path=/; Max-Age=600")
			w.Header().Add("Set-Cookie", "seen=1; Path=/account; Secure; HttpOnly; SameSite=Lax")
			http.Redirect(w, r, "/me", http.StatusSeeOther)
		case "/me":
			h.mes.Add(1)
			_, hasSid := r.Cookie("__Host-sid")
			if hasSid == nil && h.user(r, "__Host-sid") == "" {
				if _, err := r.Cookie("seen"); err == nil || !onPath {
					http.Error(w, "no", http.StatusUnauthorized)
					return
				}
			}
			if h.user(r, "__Host-sid") == "" {
				if c, err := r.Cookie("remember"); err != nil || h.users["r:"+c.Value] == "" {
					http.Error(w, "no", http.StatusUnauthorized)
					return
				}
			}
			fmt.Fprint(w, `{"user":"alice"}`)
		case "/logout":
			if c, err := r.Cookie("__Host-sid"); err == nil {
				delete(h.users, c.Value)
			}
			http.Redirect(w, r, "/", http.StatusSeeOther)
		default:
			fmt.Fprint(w, "home")
		}
	})
}

// rollingApp wraps its session ID in a cookie whose value changes on
// every response (the ID and a fresh nonce), keeps the ID at login
// (session fixation) and gives every visitor a "guest" cookie, deleted at
// login, in whose presence /me answers 401.
func rollingApp(h *hostileApp) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		id := ""
		if c, err := r.Cookie("__Host-sid"); err == nil {
			id, _, _ = strings.Cut(c.Value, ".")
		}
		if _, ok := h.users[id]; !ok {
			id = randomValue()
			h.users[id] = ""
			w.Header().Add("Set-Cookie", "guest=1; Path=/; Secure; HttpOnly; SameSite=Lax")
		}
		roll := func() {
			w.Header().Add("Set-Cookie", "__Host-sid="+id+"."+randomValue()+"; Path=/; Secure; HttpOnly; SameSite=Lax")
		}
		switch r.URL.Path {
		case "/login":
			if r.Method == http.MethodPost {
				if !goodPassword(r) {
					http.Error(w, "no", http.StatusUnauthorized)
					return
				}
				h.users[id] = "alice"
				roll()
				w.Header().Add("Set-Cookie", "guest=; Max-Age=0; Path=/; Secure")
				http.Redirect(w, r, "/me", http.StatusSeeOther)
				return
			}
			roll()
			fmt.Fprint(w, "form")
		case "/me":
			h.mes.Add(1)
			roll()
			if _, err := r.Cookie("guest"); err == nil || h.users[id] != "alice" {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"user":"alice"}`)
		case "/logout":
			delete(h.users, id)
			http.Redirect(w, r, "/", http.StatusSeeOther)
		default:
			roll()
			fmt.Fprint(w, "home")
		}
	})
}

// oneTimeApp replaces its session cookie on every answer and invalidates
// the value presented (one-time tokens), and its logout does nothing:
// every replay uses up the token it replays, so that a logged-out
// answer shows nothing about logout.
func oneTimeApp(h *hostileApp) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		user := h.user(r, "__Host-sid")
		if c, err := r.Cookie("__Host-sid"); err == nil {
			delete(h.users, c.Value)
		}
		if r.URL.Path == "/login" && r.Method == http.MethodPost {
			if !goodPassword(r) {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			user = "alice"
		}
		if user != "" {
			sid := randomValue()
			h.users[sid] = user
			w.Header().Add("Set-Cookie", "__Host-sid="+sid+"; Path=/; Secure; HttpOnly; SameSite=Lax")
		}
		switch r.URL.Path {
		case "/login":
			if r.Method == http.MethodPost {
				http.Redirect(w, r, "/me", http.StatusSeeOther)
				return
			}
			fmt.Fprint(w, "form")
		case "/me":
			h.mes.Add(1)
			if user == "" {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"user":"alice"}`)
		default:
			fmt.Fprint(w, "home")
		}
	})
}

// rollingURLApp rolls its session cookie's value on every answer (every
// value stays valid) and puts the value it set at login into the URL the
// login redirects to, under a parameter name no framework uses.
func rollingURLApp(h *hostileApp) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		user := h.user(r, "__Host-sid")
		set := func() string {
			v := randomValue()
			h.users[v] = user
			w.Header().Add("Set-Cookie", "__Host-sid="+v+"; Path=/; Secure; HttpOnly; SameSite=Lax")
			return v
		}
		switch r.URL.Path {
		case "/login":
			if refuseLogin(w, r) {
				return
			}
			user = "alice"
			http.Redirect(w, r, "/me?k="+set(), http.StatusSeeOther)
		case "/me":
			h.mes.Add(1)
			if user == "" {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			set()
			fmt.Fprint(w, `{"user":"alice"}`)
		default:
			fmt.Fprint(w, "home")
		}
	})
}

func TestHostileReplays(t *testing.T) {
	tests := []struct {
		name string
		app  func(*hostileApp, *fakeClock) http.Handler
		want map[string]Status
	}{
		{"two sid cookies on different paths, the weak one on /me", func(h *hostileApp, _ *fakeClock) http.Handler { return samePathApp(h) },
			map[string]Status{CheckCookieSecure: Fail, CheckCookieHTTPOnly: Fail, CheckLogout: Fail}},
		{"a cookie on another path that makes the whole replay look logged out", func(h *hostileApp, _ *fakeClock) http.Handler { return poisonApp(h, true) },
			map[string]Status{CheckLogout: Fail, CheckCookieHTTPOnly: Fail}},
		{"a stale session cookie that hides a remember cookie still valid after logout", func(h *hostileApp, _ *fakeClock) http.Handler { return poisonApp(h, false) },
			map[string]Status{CheckLogout: Fail, CheckCookieHTTPOnly: Fail}},
		{"a rolling session cookie kept at login, masked by a guest cookie", func(h *hostileApp, _ *fakeClock) http.Handler { return rollingApp(h) },
			map[string]Status{CheckSessionFixation: Fail, CheckLogout: Pass}},
		{"one-time tokens used up by the replays, and a logout that does nothing", func(h *hostileApp, _ *fakeClock) http.Handler { return oneTimeApp(h) },
			map[string]Status{CheckLogout: Warn, CheckCookieSecure: Warn}},
		{"a rolling session cookie whose value at login goes into a URL", func(h *hostileApp, _ *fakeClock) http.Handler { return rollingURLApp(h) },
			map[string]Status{CheckSessionInURL: Fail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			h := newHostileApp(clock)
			rep := quickAuditTLS(t, tt.app(h, clock), clock, nil)
			wantStatuses(t, rep, tt.want)
			for _, c := range rep.Checks {
				t.Logf("%s %s: %s", c.ID, c.Status, c.Evidence)
			}
		})
	}
}

// liesOnce wraps an application so that /me answers 401 once for each
// cookie header it has seen, the first time that header comes back after
// a pause of at least idle, or at least age after it was first seen: a
// session that looks ended to one question and lives on.
func liesOnce(next http.Handler, clock *fakeClock, idle, age time.Duration) http.Handler {
	var mu sync.Mutex
	first, last, lied := map[string]time.Time{}, map[string]time.Time{}, map[string]bool{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/me" || r.Header.Get("Cookie") == "" {
			next.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		k, now := r.Header.Get("Cookie"), clock.Now()
		f, seen := first[k]
		if !seen {
			first[k], f = now, now
		}
		lie := seen && !lied[k] && (idle > 0 && now.Sub(last[k]) >= idle || age > 0 && now.Sub(f) >= age)
		last[k] = now
		if lie {
			lied[k] = true
		}
		mu.Unlock()
		if lie {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestHostileEndedOnce(t *testing.T) {
	tests := []struct {
		name      string
		idle, age time.Duration
		tweak     func(*Config)
		want      map[string]Status
	}{
		{"idle: logged out once after the pause", 10 * time.Minute, 0, func(c *Config) { c.IdleWait = 11 * time.Minute },
			map[string]Status{CheckIdleTimeout: Fail}},
		{"absolute: logged out once at thirty minutes", 0, 30 * time.Minute, func(c *Config) { c.AbsoluteWait = 61 * time.Minute },
			map[string]Status{CheckAbsoluteTimeout: Fail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			rep := quickAuditTLS(t, liesOnce(&fakeApp{opt: neverExpires, clock: clock, s: map[string]*fakeSession{}}, clock, tt.idle, tt.age), clock, tt.tweak)
			wantStatuses(t, rep, tt.want)
		})
	}
}

// hidesOnce wraps an application so that /me answers 401 the first time
// it sees each cookie header that lacks cookie name: a second way in that
// denies itself once, to the one question that would find it.
func hidesOnce(next http.Handler, name string) http.Handler {
	var mu sync.Mutex
	seen := map[string]bool{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := r.Header.Get("Cookie")
		if r.URL.Path == "/me" && k != "" && !strings.Contains(k, name+"=") {
			mu.Lock()
			first := !seen[k]
			seen[k] = true
			mu.Unlock()
			if first {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func TestHostileCredentialHidesOnce(t *testing.T) {
	clock := newFakeClock()
	h := newHostileApp(clock)
	rep := quickAuditTLS(t, hidesOnce(rememberApp(h), "__Host-sid"), clock, nil)
	// The remember cookie has no flags: finding it fails these; not
	// finding it for certain leaves them at warn. Never a pass.
	for _, id := range []string{CheckCookieSecure, CheckCookieHTTPOnly, CheckCookieSameSite} {
		if r := resultOf(rep, id); r.Status == Pass {
			t.Errorf("%s = pass; want fail or warn: %s", id, r.Evidence)
		}
	}
}

// visitorDecoyApp gives every visitor a flawless, random cookie that is
// not the session's; the login sets the real session cookie, flagless.
func visitorDecoyApp(h *hostileApp) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		switch r.URL.Path {
		case "/login":
			if r.Method == http.MethodPost && goodPassword(r) {
				id := randomValue()
				h.users[id] = "alice"
				w.Header().Add("Set-Cookie", "id="+id)
			}
			fmt.Fprint(w, "form")
		default:
			w.Header().Add("Set-Cookie", "__Host-sess="+randomValue()+"; Path=/; Secure; HttpOnly; SameSite=Strict")
			fmt.Fprint(w, "home")
		}
	})
}

// TestHostileVisitorCookieWithoutLogin: without a login, the one cookie a
// visitor gets may not be the session's, so its checks never pass.
func TestHostileVisitorCookieWithoutLogin(t *testing.T) {
	clock := newFakeClock()
	srv := httptest.NewTLSServer(visitorDecoyApp(newHostileApp(clock)))
	t.Cleanup(srv.Close)
	cfg := loginConfig(srv.URL+"/", "http://127.0.0.1:1/", srv.Client().Transport.(*http.Transport).TLSClientConfig, clock)
	cfg.LoginPath, cfg.MePath = "", ""
	cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 40
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, c := range rep.Checks {
		if c.Status == Pass && c.ID != CheckHSTS && c.ID != CheckHTTPSRedirect {
			t.Errorf("%s = pass without a login: %s", c.ID, c.Evidence)
		}
	}
}

// refusesNewPairingOnce wraps presenceApp so that /me answers 401 the first
// time a valid "id" arrives beside a "__Host-sess" value it has not come
// with before: a made-up __Host-sess looks checked to one question.
func refusesNewPairingOnce(next http.Handler) http.Handler {
	var mu sync.Mutex
	pairs := map[string]map[string]bool{} // id -> __Host-sess values seen with it
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err1 := r.Cookie("id")
		sess, err2 := r.Cookie("__Host-sess")
		if r.URL.Path == "/me" && err1 == nil && err2 == nil {
			mu.Lock()
			seen := pairs[id.Value]
			if seen == nil {
				seen = map[string]bool{}
				pairs[id.Value] = seen
			}
			lie := len(seen) > 0 && !seen[sess.Value]
			seen[sess.Value] = true
			mu.Unlock()
			if lie {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func TestHostileUncheckedCookieLooksCheckedOnce(t *testing.T) {
	clock := newFakeClock()
	srv := httptest.NewTLSServer(refusesNewPairingOnce(presenceApp(newHostileApp(clock))))
	t.Cleanup(srv.Close)
	cfg := loginConfig(srv.URL+"/", "http://127.0.0.1:1/", srv.Client().Transport.(*http.Transport).TLSClientConfig, clock)
	cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 30
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	wantStatuses(t, rep, map[string]Status{CheckTokenEntropy: Fail})
}
