package audit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The hostile targets: small applications that try to make the auditor
// say PASS where the application is weak (issue 19, items 1 to 4). Each
// runs on loopback with the fake clock, so no case waits in real time.

func randomValue() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hostileApp is the state the hostile targets share: server-side sessions
// by ID, and whether alice logged in on each.
type hostileApp struct {
	mu    sync.Mutex
	clock *fakeClock
	users map[string]string // session or remember token -> user ("" anonymous)
	mes   atomic.Int64      // /me requests served
}

func newHostileApp(clock *fakeClock) *hostileApp {
	return &hostileApp{clock: clock, users: map[string]string{}}
}

// user returns the user logged in under cookie name, or "".
func (h *hostileApp) user(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return h.users[c.Value]
}

// known reports whether cookie name holds a session the server issued.
func (h *hostileApp) known(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(name)
	if err != nil {
		return "", false
	}
	_, ok := h.users[c.Value]
	return c.Value, ok
}

func goodPassword(r *http.Request) bool {
	return r.PostFormValue("username") == "alice" && r.PostFormValue("password") == "pw"
}

// refuseLogin answers a login that does not log alice in, the form for a
// GET and 401 for a wrong password, and reports whether it did.
func refuseLogin(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		fmt.Fprint(w, "form")
		return true
	}
	if !goodPassword(r) {
		http.Error(w, "no", http.StatusUnauthorized)
		return true
	}
	return false
}

// twoCookieApp needs two cookies: sid, issued before login and kept at
// login, and uid=alice, set at login. Logout only clears the browser.
func twoCookieApp(h *hostileApp) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		sid, ok := h.known(r, "sid")
		switch r.URL.Path {
		case "/", "/login":
			if !ok {
				sid = randomValue()
				h.users[sid] = ""
				w.Header().Add("Set-Cookie", "sid="+sid+"; Path=/; HttpOnly; SameSite=Lax")
			}
			if r.Method == http.MethodPost {
				if !goodPassword(r) {
					http.Error(w, "no", http.StatusUnauthorized)
					return
				}
				h.users[sid] = "alice"
				w.Header().Add("Set-Cookie", "uid=alice; Path=/; HttpOnly; SameSite=Lax")
				http.Redirect(w, r, "/me", http.StatusSeeOther)
				return
			}
			fmt.Fprint(w, "home")
		case "/me":
			h.mes.Add(1)
			uid, _ := r.Cookie("uid")
			if u := h.user(r, "sid"); u == "" || uid == nil || uid.Value != u {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"user":"alice"}`)
		case "/logout":
			w.Header().Add("Set-Cookie", "sid=; Max-Age=0; Path=/")
			w.Header().Add("Set-Cookie", "uid=; Max-Age=0; Path=/")
			http.Redirect(w, r, "/", http.StatusSeeOther)
		default:
			http.NotFound(w, r)
		}
	})
}

// rememberApp has a flawless session cookie, renewed at login and
// invalidated at logout, and a flagless remember cookie that logs the
// user in by itself and is never invalidated.
func rememberApp(h *hostileApp) http.Handler {
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
			http.Redirect(w, r, "/me", http.StatusSeeOther)
		case "/me":
			h.mes.Add(1)
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
			w.Header().Add("Set-Cookie", "__Host-sid=; Max-Age=0; Path=/; Secure")
			w.Header().Add("Set-Cookie", "remember=; Max-Age=0; Path=/")
			http.Redirect(w, r, "/", http.StatusSeeOther)
		default:
			fmt.Fprint(w, "home")
		}
	})
}

// decoyApp gives every visitor n flawless __Host-sess cookies that mean
// nothing, then the real session cookie "id": no flags, issued before
// login, kept at login, never invalidated. When strict, /me answers 503
// to a request that lacks any decoy, so dropping one tells nothing.
func decoyApp(h *hostileApp, n int, strict bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		id, ok := h.known(r, "id")
		switch r.URL.Path {
		case "/":
			for i := range n {
				w.Header().Add("Set-Cookie", fmt.Sprintf("__Host-sess%03d=%s; Path=/; Secure; HttpOnly; SameSite=Strict", i, randomValue()))
			}
			fmt.Fprint(w, "home")
		case "/login":
			if !ok {
				id = randomValue()
				h.users[id] = ""
				w.Header().Add("Set-Cookie", "id="+id)
			}
			if r.Method == http.MethodPost {
				if !goodPassword(r) {
					http.Error(w, "no", http.StatusUnauthorized)
					return
				}
				h.users[id] = "alice"
				http.Redirect(w, r, "/me", http.StatusSeeOther)
				return
			}
			fmt.Fprint(w, "form")
		case "/me":
			h.mes.Add(1)
			if strict {
				for i := range n {
					if _, err := r.Cookie(fmt.Sprintf("__Host-sess%03d", i)); err != nil && len(r.Cookies()) > 0 {
						http.Error(w, "busy", http.StatusServiceUnavailable)
						return
					}
				}
			}
			if h.user(r, "id") == "" {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"user":"alice"}`)
		case "/logout":
			w.Header().Add("Set-Cookie", "id=; Max-Age=0")
			http.Redirect(w, r, "/", http.StatusSeeOther)
		default:
			http.NotFound(w, r)
		}
	})
}

// presenceApp needs two cookies: a random, flawless __Host-sess whose
// value it never checks (any value will do), and "id", a counter, set at
// login.
func presenceApp(h *hostileApp) http.Handler {
	n := 5000
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, err := r.Cookie("__Host-sess"); err != nil && r.URL.Path != "/me" {
			w.Header().Add("Set-Cookie", "__Host-sess="+randomValue()+"; Path=/; Secure; HttpOnly; SameSite=Strict")
		}
		switch r.URL.Path {
		case "/login":
			if refuseLogin(w, r) {
				return
			}
			n++
			id := fmt.Sprint(n)
			h.users[id] = "alice"
			w.Header().Add("Set-Cookie", "id="+id+"; Path=/; Secure; HttpOnly; SameSite=Lax")
			http.Redirect(w, r, "/me", http.StatusSeeOther)
		case "/me":
			h.mes.Add(1)
			if _, err := r.Cookie("__Host-sess"); err != nil || h.user(r, "id") == "" {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"user":"alice"}`)
		default:
			fmt.Fprint(w, "home")
		}
	})
}

// manyWaysApp sets n flawless cookies at login, each of which logs the
// user in on its own: more ways in than the search examines.
func manyWaysApp(h *hostileApp, n int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		switch r.URL.Path {
		case "/login":
			if r.Method != http.MethodPost || !goodPassword(r) {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			for i := range n {
				v := randomValue()
				h.users[v] = "alice"
				w.Header().Add("Set-Cookie", fmt.Sprintf("__Host-r%d=%s; Path=/; Secure; HttpOnly; SameSite=Strict", i, v))
			}
			http.Redirect(w, r, "/me", http.StatusSeeOther)
		case "/me":
			h.mes.Add(1)
			for i := range n {
				if h.user(r, fmt.Sprintf("__Host-r%d", i)) != "" {
					fmt.Fprint(w, `{"user":"alice"}`)
					return
				}
			}
			http.Error(w, "no", http.StatusUnauthorized)
		default:
			fmt.Fprint(w, "home")
		}
	})
}

// spaApp is a single-page application: every path answers 200. /me
// answers {"user":null} without a session; the login of any password
// starts a session, alice's when the password is right and a guest's
// otherwise. With same, /me answers the same page whoever asks.
func spaApp(h *hostileApp, same bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		switch r.URL.Path {
		case "/login":
			if r.Method == http.MethodPost {
				if c, err := r.Cookie("sid"); err == nil {
					delete(h.users, c.Value)
				}
				sid, u := randomValue(), "guest"
				if goodPassword(r) {
					u = "alice"
				}
				h.users[sid] = u
				w.Header().Add("Set-Cookie", "sid="+sid+"; Path=/; HttpOnly; SameSite=Lax")
			}
			fmt.Fprint(w, `<!doctype html><div id="app"></div>`)
		case "/me":
			h.mes.Add(1)
			switch u := h.user(r, "sid"); {
			case same:
				fmt.Fprint(w, `<!doctype html><div id="app"></div>`)
			case u == "":
				fmt.Fprint(w, `{"user":null}`)
			default:
				fmt.Fprintf(w, `{"user":%q}`, u)
			}
		case "/logout":
			if c, err := r.Cookie("sid"); err == nil {
				delete(h.users, c.Value)
			}
			w.Header().Add("Set-Cookie", "sid=; Max-Age=0; Path=/")
			fmt.Fprint(w, `<!doctype html><div id="app"></div>`)
		default:
			fmt.Fprint(w, `<!doctype html><div id="app"></div>`)
		}
	})
}

// busyMe wraps an application so that /me answers status (with
// Retry-After when retry is set) once the clock is past after, every
// every-th time (every 1: always).
func busyMe(next http.Handler, clock *fakeClock, after time.Duration, status, every int, retry string) http.Handler {
	start := clock.Now()
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/me" && clock.Now().Sub(start) > after && n.Add(1)%int64(every) == 0 {
			if retry != "" {
				w.Header().Set("Retry-After", retry)
			}
			http.Error(w, "busy", status)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// neverExpires is the fake application with sessions that never end.
var neverExpires = appOptions{cookieName: "__Host-id", attrs: "; Path=/; Secure; HttpOnly; SameSite=Lax", preLogin: true}

func TestHostileTargets(t *testing.T) {
	tests := []struct {
		name string
		app  func(*hostileApp, *fakeClock) http.Handler
		tls  bool
		// tweak adjusts the configuration (the waits are off unless set).
		tweak func(*Config)
		want  map[string]Status
		// wantErr, when set, is the error Run must return.
		wantErr error
		errText string
	}{
		{"two cookies, sid kept at login (item 1)", func(h *hostileApp, _ *fakeClock) http.Handler { return twoCookieApp(h) }, false, nil,
			map[string]Status{CheckSessionFixation: Fail, CheckLogout: Fail}, nil, ""},
		{"flagless remember cookie never invalidated (item 2)", func(h *hostileApp, _ *fakeClock) http.Handler { return rememberApp(h) }, true, nil,
			map[string]Status{CheckCookieSecure: Fail, CheckCookieHTTPOnly: Fail, CheckCookieSameSite: Fail, CheckLogout: Fail}, nil, ""},
		{"32 flawless decoys before the real cookie (item 3)", func(h *hostileApp, _ *fakeClock) http.Handler { return decoyApp(h, 32, false) }, true, nil,
			map[string]Status{CheckCookieSecure: Fail, CheckCookieHTTPOnly: Fail, CheckCookieSameSite: Fail, CheckCookieHostPrefix: Warn,
				CheckSessionFixation: Fail, CheckLogout: Fail}, nil, ""},
		{"decoys whose absence makes /me busy: ambiguous, never pass (item 3)", func(h *hostileApp, _ *fakeClock) http.Handler { return decoyApp(h, 8, true) }, true, nil,
			map[string]Status{CheckCookieSecure: Warn, CheckCookieHTTPOnly: Warn, CheckCookieSameSite: Warn, CheckCookieHostPrefix: Warn, CheckCookieSize: Warn}, nil, ""},
		{"a random cookie whose value is never checked vouches for nothing (item 3)", func(h *hostileApp, _ *fakeClock) http.Handler { return presenceApp(h) }, true,
			func(c *Config) { c.Samples = 30 }, map[string]Status{CheckTokenEntropy: Fail}, nil, ""},
		{"more ways in than the search examines: ambiguous, never pass (item 3)", func(h *hostileApp, _ *fakeClock) http.Handler { return manyWaysApp(h, maxCredentials+2) }, true, nil,
			map[string]Status{CheckCookieSecure: Warn, CheckCookieHTTPOnly: Warn, CheckCookieSameSite: Warn, CheckCookieHostPrefix: Warn}, nil, ""},
		{"/me rate-limited during the idle wait (item 4)", func(_ *hostileApp, c *fakeClock) http.Handler {
			return busyMe(&fakeApp{opt: neverExpires, clock: c, s: map[string]*fakeSession{}}, c, 5*time.Minute, http.StatusTooManyRequests, 1, "2")
		}, true, func(c *Config) { c.IdleWait = 11 * time.Minute },
			map[string]Status{CheckIdleTimeout: Warn}, nil, ""},
		{"/me rate-limited during the absolute wait (item 4)", func(_ *hostileApp, c *fakeClock) http.Handler {
			return busyMe(&fakeApp{opt: neverExpires, clock: c, s: map[string]*fakeSession{}}, c, 5*time.Minute, http.StatusTooManyRequests, 1, "2")
		}, true, func(c *Config) { c.AbsoluteWait = 61 * time.Minute },
			map[string]Status{CheckAbsoluteTimeout: Warn}, nil, ""},
		{"/me fails every other time during the absolute wait: retried (item 4)", func(_ *hostileApp, c *fakeClock) http.Handler {
			return busyMe(&fakeApp{opt: neverExpires, clock: c, s: map[string]*fakeSession{}}, c, 5*time.Minute, http.StatusInternalServerError, 2, "")
		}, true, func(c *Config) { c.AbsoluteWait = 61 * time.Minute },
			map[string]Status{CheckAbsoluteTimeout: Fail}, nil, ""},
		{"single-page app answering /me by body: logout judged by body (item 4)", func(h *hostileApp, _ *fakeClock) http.Handler { return spaApp(h, false) }, false, nil,
			map[string]Status{CheckLogout: Pass, CheckSessionFixation: Pass}, nil, ""},
		{"single-page app: a wrong password is not a login (item 4)", func(h *hostileApp, _ *fakeClock) http.Handler { return spaApp(h, false) }, false,
			func(c *Config) { c.Password = "wrong" }, nil, ErrLogin, "the same after the configured login as after a login with a wrong password"},
		{"always-200 single-page app (item 4)", func(h *hostileApp, _ *fakeClock) http.Handler { return spaApp(h, true) }, false, nil,
			nil, ErrLogin, "the same after the configured login as without a cookie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			h := newHostileApp(clock)
			var srv *httptest.Server
			if tt.tls {
				srv = httptest.NewTLSServer(tt.app(h, clock))
			} else {
				srv = httptest.NewServer(tt.app(h, clock))
			}
			t.Cleanup(srv.Close)
			cfg := loginConfig(srv.URL+"/", "http://127.0.0.1:1/", nil, clock)
			if tt.tls {
				cfg.TLS = srv.Client().Transport.(*http.Transport).TLSClientConfig
			}
			cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 4
			if tt.tweak != nil {
				tt.tweak(&cfg)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := Run(ctx, cfg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(fmt.Sprint(err), tt.errText) {
					t.Fatalf("Run error %v; want %v containing %q", err, tt.wantErr, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			wantStatuses(t, rep, tt.want)
		})
	}
}

// TestIdentificationIsBounded checks that finding the session cookie
// among many costs a number of /me requests that grows with the logarithm
// of the cookies, not with their number.
func TestIdentificationIsBounded(t *testing.T) {
	clock := newFakeClock()
	h := newHostileApp(clock)
	srv := httptest.NewTLSServer(decoyApp(h, 150, false))
	t.Cleanup(srv.Close)
	cfg := loginConfig(srv.URL+"/", "http://127.0.0.1:1/", srv.Client().Transport.(*http.Transport).TLSClientConfig, clock)
	cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 2
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(rep)[CheckCookieSecure]; got != Fail {
		t.Errorf("cookie-secure = %s; want fail (the real cookie has no flags)", got)
	}
	// Identification by bisection takes about 2·log2(151) ≈ 15 requests;
	// the rest of the audit about 20. Dropping one cookie at a time would
	// take 151.
	if n := h.mes.Load(); n > 70 {
		t.Errorf("%d requests to /me for 151 cookies; want at most 70", n)
	}
}
