package audit

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/flask"
)

// fakeClock is the clock both the auditor and the fake applications use,
// so timeout checks run without real waiting.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return nil
}

// appOptions configures a fake application: each field switches one
// behaviour between the secure and the broken way.
type appOptions struct {
	cookieName   string
	attrs        string // appended to Set-Cookie
	counterIDs   bool   // IDs from a counter instead of crypto/rand
	short        bool   // 64-bit random IDs in hex instead of 256-bit
	adopt        bool   // keep (or adopt) the presented ID at login
	keepKnown    bool   // keep the presented ID at login if the server issued it
	adoptOnVisit bool   // GET / starts a session under an unknown presented ID
	clientLogout bool   // logout only clears the cookie
	idle, abs    time.Duration
	hsts         string
	tokenInURL   bool
	preLogin     bool // GET / issues an anonymous session
	limitEvery   int  // every n-th login answers 429 with Retry-After: 2
	jsonLogin    bool // /login takes a JSON object, not a form
}

type fakeSession struct {
	user         string
	seen, authAt time.Time
}

type fakeApp struct {
	opt    appOptions
	clock  *fakeClock
	mu     sync.Mutex
	n      int
	logins int
	s      map[string]*fakeSession
}

func (a *fakeApp) newID() string {
	if a.opt.counterIDs {
		a.n++
		return strconv.Itoa(5000 + a.n)
	}
	if a.opt.short {
		b := make([]byte, 8)
		rand.Read(b)
		return hex.EncodeToString(b)
	}
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (a *fakeApp) setCookie(w http.ResponseWriter, id string) {
	w.Header().Add("Set-Cookie", a.opt.cookieName+"="+id+a.opt.attrs)
}

// credentials reports whether the login request r carries alice's
// password, as a form with the CSRF field or, for a JSON login API, as a
// JSON object.
func (a *fakeApp) credentials(r *http.Request) bool {
	if !a.opt.jsonLogin {
		return r.PostFormValue("username") == "alice" && r.PostFormValue("password") == "pw" && r.PostFormValue("csrf") == "x"
	}
	var c struct{ Username, Password string }
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&c) != nil {
		return false
	}
	return c.Username == "alice" && c.Password == "pw"
}

// lookup returns the live session of r, enforcing the timeouts.
func (a *fakeApp) lookup(r *http.Request) (string, *fakeSession) {
	c, err := r.Cookie(a.opt.cookieName)
	if err != nil {
		return "", nil
	}
	s := a.s[c.Value]
	if s == nil {
		return c.Value, nil
	}
	now := a.clock.Now()
	if (a.opt.idle > 0 && now.Sub(s.seen) > a.opt.idle) || (a.opt.abs > 0 && s.user != "" && now.Sub(s.authAt) > a.opt.abs) {
		delete(a.s, c.Value)
		return c.Value, nil
	}
	s.seen = now
	return c.Value, s
}

func (a *fakeApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.opt.hsts != "" && r.TLS != nil {
		w.Header().Set("Strict-Transport-Security", a.opt.hsts)
	}
	id, s := a.lookup(r)
	switch r.URL.Path {
	case "/":
		if a.opt.adoptOnVisit && s == nil && id != "" {
			a.s[id] = &fakeSession{seen: a.clock.Now()}
		} else if a.opt.preLogin && s == nil {
			id = a.newID()
			a.s[id] = &fakeSession{seen: a.clock.Now()}
			a.setCookie(w, id)
		}
		fmt.Fprint(w, `<form method="post" action="/login"><input type="hidden" name="csrf" value="x"></form>`)
	case "/login":
		if r.Method != http.MethodPost {
			fmt.Fprint(w, `<form method="post"><input type="hidden" name="csrf" value="x"><input name="username"></form>`)
			return
		}
		a.logins++
		if a.opt.limitEvery > 0 && a.logins%a.opt.limitEvery == 0 {
			w.Header().Set("Retry-After", "2")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		if !a.credentials(r) {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		if keep := a.opt.adopt || (a.opt.keepKnown && a.s[id] != nil); !keep || id == "" {
			delete(a.s, id)
			id = a.newID()
		}
		now := a.clock.Now()
		a.s[id] = &fakeSession{user: "alice", seen: now, authAt: now}
		a.setCookie(w, id)
		loc := "/me"
		if a.opt.tokenInURL {
			loc += "?sid=" + id
		}
		http.Redirect(w, r, loc, http.StatusSeeOther)
	case "/me":
		if s == nil || s.user == "" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"user":%q}`, s.user)
	case "/logout":
		if !a.opt.clientLogout {
			delete(a.s, id)
		}
		w.Header().Add("Set-Cookie", a.opt.cookieName+"=; Max-Age=0; Path=/")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	default:
		http.NotFound(w, r)
	}
}

var secureApp = appOptions{
	cookieName: "__Host-id", attrs: "; Path=/; Secure; HttpOnly; SameSite=Lax",
	idle: 10 * time.Minute, abs: time.Hour, hsts: "max-age=63072000; includeSubDomains", preLogin: true,
}

var weakApp = appOptions{
	cookieName: "sid", attrs: "; path=/; max-age=315360000", counterIDs: true, adopt: true,
	clientLogout: true, tokenInURL: true, preLogin: true,
}

// startApp serves a fake application over TLS (or plain HTTP) and, for
// TLS, a plain-HTTP listener that redirects to it.
func startApp(t *testing.T, opt appOptions, useTLS bool, clock *fakeClock) (target, httpURL string, tc *tls.Config) {
	t.Helper()
	app := &fakeApp{opt: opt, clock: clock, s: map[string]*fakeSession{}}
	if !useTLS {
		srv := httptest.NewServer(app)
		t.Cleanup(srv.Close)
		return srv.URL + "/", "", nil
	}
	srv := httptest.NewTLSServer(app)
	t.Cleanup(srv.Close)
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+r.URL.Path, http.StatusMovedPermanently)
	}))
	t.Cleanup(redir.Close)
	return srv.URL + "/", redir.URL + "/", srv.Client().Transport.(*http.Transport).TLSClientConfig
}

func loginConfig(target, httpURL string, tc *tls.Config, clock *fakeClock) Config {
	return Config{
		Target: target, HTTPURL: httpURL, TLS: tc,
		LoginPath: "/login", Username: "alice", Password: "pw", MePath: "/me",
		IdleWait: 11 * time.Minute, AbsoluteWait: 61 * time.Minute, Samples: 60,
		Now: clock.Now, Sleep: clock.Sleep, Timeout: 5 * time.Second,
	}
}

// quickAuditTLS runs the audit against app served over TLS (plain HTTP
// refused, at 127.0.0.1:1), with no waits and 4 samples, once tweak (when
// not nil) has changed the Config; an error of Run ends the test.
func quickAuditTLS(t *testing.T, app http.Handler, clock *fakeClock, tweak func(*Config)) *Report {
	t.Helper()
	srv := httptest.NewTLSServer(app)
	t.Cleanup(srv.Close)
	cfg := loginConfig(srv.URL+"/", "http://127.0.0.1:1/", srv.Client().Transport.(*http.Transport).TLSClientConfig, clock)
	cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 4
	if tweak != nil {
		tweak(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

// wantStatuses reports every check of rep whose status is not the one
// want gives it, with its evidence.
func wantStatuses(t *testing.T, rep *Report, want map[string]Status) {
	t.Helper()
	got := statuses(rep)
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s = %s; want %s", id, got[id], w)
			t.Logf("evidence: %s", resultOf(rep, id).Evidence)
		}
	}
}

func statuses(r *Report) map[string]Status {
	m := map[string]Status{}
	for _, c := range r.Checks {
		m[c.ID] = c.Status
	}
	return m
}

func TestRunAgainstFakeApps(t *testing.T) {
	tests := []struct {
		name  string
		opt   appOptions
		tls   bool
		tweak func(*Config)
		want  map[string]Status
	}{
		// With the fake clock only one wait runs per case: two goroutines
		// sleeping on one fake clock would advance it for each other.
		{"secure app", secureApp, true, func(c *Config) { c.AbsoluteWait = 0 }, map[string]Status{
			CheckHTTPSRedirect: Pass, CheckHSTS: Pass, CheckCookieSecure: Pass, CheckCookieHTTPOnly: Pass,
			CheckCookieSameSite: Pass, CheckCookieHostPrefix: Pass, CheckSessionFixation: Pass, CheckLogout: Pass,
			CheckIdleTimeout: Pass, CheckAbsoluteTimeout: Skip, CheckTokenEntropy: Pass, CheckWeakSecretKey: Skip,
			CheckSessionInURL: Pass, CheckCookieSize: Pass,
		}},
		{"absolute timeout ends a busy session", secureApp, true, func(c *Config) { c.IdleWait = 0 }, map[string]Status{
			CheckAbsoluteTimeout: Pass, CheckIdleTimeout: Skip,
		}},
		{"no absolute timeout", func() appOptions { o := secureApp; o.abs = 0; return o }(), true, func(c *Config) { c.IdleWait = 0 }, map[string]Status{
			CheckAbsoluteTimeout: Fail,
		}},
		{"idle timeout longer than the wait", func() appOptions { o := secureApp; o.idle = 30 * time.Minute; return o }(), true, func(c *Config) { c.AbsoluteWait = 0 }, map[string]Status{
			CheckIdleTimeout: Fail,
		}},
		{"64-bit IDs, too few samples to prove", appOptions{cookieName: "id", attrs: "; Secure", short: true}, true, nil, map[string]Status{
			CheckTokenEntropy: Warn,
		}},
		{"weak app", weakApp, false, nil, map[string]Status{
			CheckHTTPSRedirect: Fail, CheckHSTS: Fail, CheckCookieSecure: Fail, CheckCookieHTTPOnly: Fail,
			CheckCookieSameSite: Fail, CheckCookieHostPrefix: Warn, CheckSessionFixation: Fail, CheckLogout: Fail,
			CheckIdleTimeout: Fail, CheckAbsoluteTimeout: Fail, CheckTokenEntropy: Fail, CheckWeakSecretKey: Skip,
			CheckSessionInURL: Fail, CheckCookieSize: Pass,
		}},
		{"JSON login API", func() appOptions { o := secureApp; o.jsonLogin = true; return o }(), true,
			func(c *Config) { c.LoginJSON, c.IdleWait, c.AbsoluteWait = true, 0, 0 }, map[string]Status{
				CheckCookieSecure: Pass, CheckSessionFixation: Pass, CheckLogout: Pass, CheckTokenEntropy: Pass,
			}},
		{"weak app without waits", weakApp, false, func(c *Config) { c.IdleWait, c.AbsoluteWait = 0, 0 }, map[string]Status{
			CheckIdleTimeout: Warn, CheckAbsoluteTimeout: Warn,
		}},
		{"secure app without waits", secureApp, true, func(c *Config) { c.IdleWait, c.AbsoluteWait = 0, 0 }, map[string]Status{
			CheckIdleTimeout: Skip, CheckAbsoluteTimeout: Skip,
		}},
		{"adopts only made-up IDs", appOptions{cookieName: "__Host-id", attrs: "; Path=/; Secure; HttpOnly; SameSite=Strict", adopt: true}, true, nil,
			map[string]Status{CheckSessionFixation: Fail, CheckCookieSameSite: Pass}},
		{"SameSite=None and a parent Domain", appOptions{cookieName: "id", attrs: "; Path=/; HttpOnly; SameSite=None; Domain=.example.test"}, false,
			servedAs("app.example.test"), map[string]Status{CheckCookieSameSite: Fail, CheckCookieHostPrefix: Fail}},
		{"broken __Host- cookie", appOptions{cookieName: "__Host-id", attrs: "; Path=/app; HttpOnly; SameSite=lax", preLogin: true}, true,
			func(c *Config) { c.LoginPath, c.MePath = "", "" },
			map[string]Status{CheckCookieHostPrefix: Fail, CheckCookieSecure: Fail, CheckCookieSameSite: Warn}},
		{"short HSTS", appOptions{cookieName: "id", attrs: "; Secure", hsts: "max-age=600"}, true, nil,
			map[string]Status{CheckHSTS: Warn}},
		{"HSTS without includeSubDomains", appOptions{cookieName: "id", attrs: "; Secure", hsts: "max-age=31536000"}, true, nil,
			map[string]Status{CheckHSTS: Warn}},
		{"HSTS max-age=0", appOptions{cookieName: "id", attrs: "; Secure", hsts: "max-age=0; includeSubDomains"}, true, nil,
			map[string]Status{CheckHSTS: Fail}},
		{"no HSTS", appOptions{cookieName: "id", attrs: "; Secure"}, true, nil,
			map[string]Status{CheckHSTS: Fail}},
		{"no plain-HTTP listener", secureApp, true, func(c *Config) { c.HTTPURL = "http://127.0.0.1:1/" }, map[string]Status{
			CheckHTTPSRedirect: Warn,
		}},
		{"no login configured", weakApp, false, func(c *Config) { c.LoginPath, c.MePath = "", "" }, map[string]Status{
			CheckSessionFixation: Skip, CheckLogout: Skip, CheckIdleTimeout: Skip, CheckAbsoluteTimeout: Skip,
			CheckCookieSecure: Fail, CheckTokenEntropy: Fail,
		}},
		{"no login configured, adopts made-up IDs on a visit", func() appOptions { o := weakApp; o.adoptOnVisit = true; return o }(), false,
			func(c *Config) { c.LoginPath, c.MePath = "", "" }, map[string]Status{
				CheckSessionFixation: Warn, CheckLogout: Skip, CheckIdleTimeout: Skip, CheckAbsoluteTimeout: Skip,
			}},
		{"no login configured, secure app", secureApp, true, func(c *Config) { c.LoginPath, c.MePath = "", "" }, map[string]Status{
			CheckSessionFixation: Skip, CheckCookieSecure: Warn, CheckTokenEntropy: Warn,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			target, httpURL, tc := startApp(t, tt.opt, tt.tls, clock)
			cfg := loginConfig(target, httpURL, tc, clock)
			if tt.tweak != nil {
				tt.tweak(&cfg)
			}
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(rep.Checks) != len(Checks) {
				t.Fatalf("%d checks; want %d", len(rep.Checks), len(Checks))
			}
			wantStatuses(t, rep, tt.want)
			for _, c := range rep.Checks {
				if c.Status == Fail && c.Recommendation == "" {
					t.Errorf("%s fails without a recommendation", c.ID)
				}
				if c.Evidence == "" {
					t.Errorf("%s has no evidence", c.ID)
				}
			}
		})
	}
}

// TestFixationNamesEveryWay checks that session-fixation tries both the
// pre-login token and a made-up one, and names each way that works.
func TestFixationNamesEveryWay(t *testing.T) {
	const (
		replayed = "issued before login is authenticated after login"
		madeUp   = "made up by the client (never issued by the server) became authenticated"
		refused  = "a made-up token presented at login was not adopted"
		renewed  = "a new token was issued"
	)
	base := appOptions{cookieName: "__Host-id", attrs: "; Path=/; Secure; HttpOnly; SameSite=Lax"}
	tests := []struct {
		name      string
		tweak     func(*appOptions)
		want      Status
		has, hasn []string
	}{
		{"adopts any ID, keeps it at login (PHP defaults)", func(o *appOptions) { o.preLogin, o.adopt = true, true }, Fail,
			[]string{replayed, madeUp}, []string{refused}},
		{"keeps issued IDs at login, refuses made-up ones (strict mode, no regeneration)", func(o *appOptions) { o.preLogin, o.keepKnown = true, true }, Fail,
			[]string{replayed, refused}, []string{madeUp}},
		{"adopts made-up IDs, no pre-login session", func(o *appOptions) { o.adopt = true }, Fail,
			[]string{madeUp, "no session cookie was issued before login"}, []string{replayed}},
		{"new ID at login", func(o *appOptions) { o.preLogin = true }, Pass,
			[]string{renewed, refused}, []string{replayed, madeUp}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := base
			tt.tweak(&opt)
			clock := newFakeClock()
			target, httpURL, tc := startApp(t, opt, true, clock)
			cfg := loginConfig(target, httpURL, tc, clock)
			cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 5
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range rep.Checks {
				if c.ID != CheckSessionFixation {
					continue
				}
				if c.Status != tt.want {
					t.Errorf("status %s; want %s", c.Status, tt.want)
				}
				for _, h := range tt.has {
					if !strings.Contains(c.Evidence, h) {
						t.Errorf("evidence lacks %q: %s", h, c.Evidence)
					}
				}
				for _, h := range tt.hasn {
					if strings.Contains(c.Evidence, h) {
						t.Errorf("evidence has %q: %s", h, c.Evidence)
					}
				}
			}
		})
	}
}

// TestNoSecretsInReport checks that neither tokens nor the password nor a
// cracked key appear anywhere in any format.
func TestNoSecretsInReport(t *testing.T) {
	clock := newFakeClock()
	app := &fakeApp{opt: secureApp, clock: clock, s: map[string]*fakeSession{}}
	var mu sync.Mutex
	var tokens []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, r)
		for _, h := range rec.Header().Values("Set-Cookie") {
			if c, err := ParseSetCookie(h); err == nil && c.Value != "" {
				mu.Lock()
				tokens = append(tokens, c.Value)
				mu.Unlock()
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	defer srv.Close()
	cfg := loginConfig(srv.URL+"/", "http://127.0.0.1:1/", srv.Client().Transport.(*http.Transport).TLSClientConfig, clock)
	cfg.Password = "pw-secret-0123"
	app.opt.cookieName = "__Host-id"
	// The fake app checks "pw"; make it accept the long password too.
	rep, err := Run(context.Background(), withPassword(cfg, "pw"))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range Formats {
		var b strings.Builder
		if err := Write(&b, rep, format, true); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, tok := range tokens {
			if strings.Contains(out, tok) {
				t.Errorf("%s report contains a session token", format)
				break
			}
		}
		if strings.Contains(out, "=pw") || strings.Contains(out, `"pw"`) {
			t.Errorf("%s report contains the password", format)
		}
	}
}

func withPassword(c Config, pw string) Config { c.Password = pw; return c }

// signedApp serves a signed-cookie session app: Flask- or Django-style
// (the session in the cookie), express-session-style (a signed random ID
// naming a server-side session) or cookie-parser-style ("express-json": a
// signed JSON cookie).
func signedApp(t *testing.T, framework, key string, clock *fakeClock) string {
	t.Helper()
	name := map[string]string{"flask": "session", "django": "sessionid", "express": "connect.sid", "express-adopt": "connect.sid", "express-json": "auth"}[framework]
	var mu sync.Mutex
	ids := map[string]bool{}
	sign := func(payload string) string {
		switch framework {
		case "express", "express-adopt":
			b := make([]byte, 24)
			rand.Read(b)
			id := base64.RawURLEncoding.EncodeToString(b)
			mu.Lock()
			ids[id] = true
			mu.Unlock()
			return SignExpress(key, id)
		case "express-json":
			return SignExpress(key, "j:"+payload)
		}
		if framework == "django" {
			c, err := SignDjango(key, "sha256", []byte(payload), clock.Now(), true)
			if err != nil {
				t.Error(err)
			}
			return c
		}
		s := flask.New(key)
		s.Now = clock.Now
		c, err := s.Encode(map[string]any{"user": "alice", "csrf_token": "hidden"})
		if err != nil {
			t.Error(err)
		}
		return c
	}
	valid := func(v string) bool {
		switch framework {
		case "express", "express-adopt":
			e, err := ParseExpress(v)
			mu.Lock()
			defer mu.Unlock()
			return err == nil && e.Verify(key) && ids[e.Value]
		case "express-json":
			e, err := ParseExpress(v)
			if err != nil || !e.Verify(key) {
				return false
			}
			m, ok := e.JSON()
			return ok && m["user"] == "alice"
		}
		if framework == "django" {
			d, err := ParseDjango(v)
			return err == nil && d.Verify(key) && strings.Contains(string(d.Payload), "alice")
		}
		s := flask.New(key)
		s.Now = clock.Now
		p, err := s.Decode(v, 31*24*time.Hour)
		return err == nil && p.Data["user"] == "alice"
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			if r.Method == http.MethodPost && r.PostFormValue("password") == "pw" {
				if c, err := r.Cookie(name); err == nil && framework == "express-adopt" {
					// A store that logs in whatever validly signed ID
					// the browser presents.
					if e, err := ParseExpress(c.Value); err == nil && e.Verify(key) {
						mu.Lock()
						ids[e.Value] = true
						mu.Unlock()
						http.Redirect(w, r, "/me", http.StatusFound)
						return
					}
				}
				w.Header().Add("Set-Cookie", name+"="+sign(`{"user":"alice"}`)+"; HttpOnly; Path=/; SameSite=Lax")
				http.Redirect(w, r, "/me", http.StatusFound)
				return
			}
			w.WriteHeader(http.StatusUnauthorized)
		case "/me":
			if c, err := r.Cookie(name); err == nil && valid(c.Value) {
				fmt.Fprint(w, "alice")
				return
			}
			w.WriteHeader(http.StatusUnauthorized)
		case "/logout":
			w.Header().Add("Set-Cookie", name+"=; Max-Age=0; Path=/")
		default:
			fmt.Fprint(w, "home")
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func TestSignedCookieFrameworks(t *testing.T) {
	tests := []struct {
		name, framework, key string
		wordlist             []string
		want                 Status
		evidence             string
		// fixation is the session-fixation status and a phrase of its
		// evidence, when the case is about it.
		fixation         Status
		fixationEvidence string
	}{
		{"flask weak key", "flask", "changeme", nil, Fail, "proven", "", ""},
		{"flask key from wordlist", "flask", "s3cr3t-corp", []string{"nope", "s3cr3t-corp"}, Fail, "entry 2 of the --wordlist file", "", ""},
		{"flask strong key", "flask", "9f8a7d6c5b4e3f2a1b0c9d8e7f6a5b4c", nil, Pass, "none of", "", ""},
		{"django weak key", "django", "changeme", nil, Fail, "proven", "", ""},
		{"django strong key", "django", "q8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3", []string{"x"}, Pass, "none of", "", ""},
		{"express-session weak secret", "express", "changeme", nil, Fail, "HMAC-SHA256 tag",
			Pass, "made-up token presented at login (signed with the weak secret found, so it passed the signature check) was not adopted"},
		{"express-style store that adopts signed IDs", "express-adopt", "changeme", nil, Fail, "HMAC-SHA256 tag",
			Fail, "(signed with the weak secret found, so it passed the signature check) became authenticated"},
		{"express-session strong secret", "express", "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f", nil, Pass, "session data stays on the server", "", ""},
		{"cookie-parser JSON cookie, weak secret", "express-json", "secret", nil, Fail, "proven", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			cfg := loginConfig(signedApp(t, tt.framework, tt.key, clock), "", nil, clock)
			cfg.IdleWait, cfg.AbsoluteWait = 0, 0
			cfg.WeakKeys = []string{"secret", "changeme"}
			cfg.Wordlist = tt.wordlist
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range rep.Checks {
				switch c.ID {
				case CheckWeakSecretKey:
					if c.Status != tt.want || !strings.Contains(c.Evidence, tt.evidence) {
						t.Errorf("weak-secret-key = %s: %s", c.Status, c.Evidence)
					}
					if strings.Contains(c.Evidence, tt.key) {
						t.Error("evidence names the key")
					}
					wantSev := map[Status]Severity{Fail: Critical, Pass: Info}[tt.want]
					idOnly := tt.framework == "express" || tt.framework == "express-adopt"
					if idOnly && tt.want == Fail {
						wantSev = High // only an ID is signed
					}
					if c.Severity != wantSev {
						t.Errorf("severity %s; want %s", c.Severity, wantSev)
					}
					if strings.Contains(c.Evidence, "hidden") {
						t.Error("evidence shows a csrf token value")
					}
				case CheckSessionFixation:
					if tt.fixation != "" && (c.Status != tt.fixation || !strings.Contains(c.Evidence, tt.fixationEvidence)) {
						t.Errorf("session-fixation = %s: %s", c.Status, c.Evidence)
					}
					if tt.want == Pass && strings.Contains(c.Evidence, "weak secret") {
						t.Errorf("session-fixation mentions a weak secret none was found: %s", c.Evidence)
					}
				case CheckTokenEntropy:
					// A cookie that names a server-side session is
					// sampled for its ID; one that is the session is not.
					want := Skip
					if tt.framework == "express" || tt.framework == "express-adopt" {
						want = Pass
					}
					if c.Status != want {
						t.Errorf("token-entropy = %s; want %s: %s", c.Status, want, c.Evidence)
					}
					if want == Pass && !strings.Contains(c.Evidence, "base64url alphabet") {
						t.Errorf("token-entropy did not sample the signed ID: %s", c.Evidence)
					}
				}
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	clock := newFakeClock()
	target, _, _ := startApp(t, weakApp, false, clock)
	jsonTarget, _, _ := startApp(t, appOptions{cookieName: "sid", jsonLogin: true}, false, clock)
	// noCookie logs anyone in and never sets a cookie, as an app whose
	// Secure cookie is withheld over plain HTTP seems to the auditor.
	noCookie := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(noCookie.Close)
	tests := []struct {
		name    string
		cfg     Config
		wantErr error
		text    string
	}{
		{"login sets no cookie over plain HTTP", Config{Target: noCookie.URL + "/", LoginPath: "/login", Username: "alice", Password: "pw", MePath: "/me"},
			ErrLogin, "audit its https:// URL"},
		{"form login to a JSON login API", Config{Target: jsonTarget, LoginPath: "/login", Username: "alice", Password: "pw", MePath: "/me"},
			ErrLogin, "--login-json"},
		{"not a URL", Config{Target: "ftp://x"}, nil, "not an http or https URL"},
		{"login without me-path", Config{Target: target, LoginPath: "/login", Username: "a"}, nil, "--me-path"},
		{"login without user", Config{Target: target, LoginPath: "/login", MePath: "/me"}, nil, "username"},
		{"too many samples", Config{Target: target, Samples: MaxSamples + 1}, nil, "samples"},
		{"bad http url", Config{Target: target, HTTPURL: "https://x"}, nil, "--http-url"},
		{"unreachable", Config{Target: "http://127.0.0.1:1/"}, ErrNetwork, ""},
		{"unreachable with a token in the URL", Config{Target: "http://127.0.0.1:1/?sid=tok3n-in-url"}, ErrNetwork, "127.0.0.1:1/?…"},
		{"wrong password", Config{Target: target, LoginPath: "/login", Username: "alice", Password: "bad", MePath: "/me"}, ErrLogin, "answered 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Now, tt.cfg.Sleep = clock.Now, clock.Sleep
			rep, err := Run(context.Background(), tt.cfg)
			if err == nil {
				t.Fatalf("Run = %v; want an error", rep)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v; want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.text) || !strings.HasPrefix(err.Error(), "audit: ") {
				t.Errorf("error %q; want it to contain %q", err, tt.text)
			}
			if strings.Contains(err.Error(), "tok3n-in-url") {
				t.Error("error shows the query string")
			}
			if strings.Contains(err.Error(), "bad") && tt.name == "wrong password" {
				t.Error("error shows the password")
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	clock := newFakeClock()
	target, _, _ := startApp(t, weakApp, false, clock)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Config{Target: target}); err == nil {
		t.Fatal("Run with a cancelled context succeeded")
	}
}

func TestRateLimitedLoginsAreWaitedOut(t *testing.T) {
	clock := newFakeClock()
	opt := secureApp
	opt.limitEvery = 5
	target, httpURL, tc := startApp(t, opt, true, clock)
	cfg := loginConfig(target, httpURL, tc, clock)
	cfg.IdleWait, cfg.AbsoluteWait = 0, 0
	start := clock.Now()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		if c.ID == CheckTokenEntropy && (c.Status != Pass || strings.Contains(c.Evidence, "failed")) {
			t.Errorf("token-entropy %s: %s", c.Status, c.Evidence)
		}
	}
	// 60 samples and a few other logins: about 13 pauses of 2s.
	if waited := clock.Now().Sub(start); waited < 20*time.Second {
		t.Errorf("clock advanced %v; the rate-limit pauses were not taken", waited)
	}
}
