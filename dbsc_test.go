package latch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

func newMemStore(t testing.TB) *memstore.Store {
	t.Helper()
	st, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// clockedMemStore is a memstore on clock, closed when the test ends.
func clockedMemStore(t testing.TB, clock *latchtest.Clock) *memstore.Store {
	t.Helper()
	st, err := memstore.New(memstore.Options{Now: clock.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// enforcingManager is a Manager with device-bound sessions enforced and
// the rest of cfg (cfg.Keys fresh keys when nil, a Logger that discards),
// closed when the test ends: for tests whose store is their own, which
// latchtest.New does not take.
func enforcingManager(t testing.TB, cfg latch.Config) *latch.Manager {
	t.Helper()
	if cfg.Keys == nil {
		cfg.Keys = latchtest.Keys(t)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.DeviceBound = latch.DeviceBound{Mode: latch.DeviceBoundEnforce}
	m, err := latch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// dbscApp is a small application behind a Manager with device-bound
// sessions in mode: see dbscAppWith.
func dbscApp(t testing.TB, mode latch.DeviceBoundMode) (*latchtest.Harness, http.Handler) {
	t.Helper()
	return dbscAppWith(t, latch.Config{DeviceBound: latch.DeviceBound{Mode: mode}})
}

// dbscAppWith is a small application behind a Manager with device-bound
// sessions (enforced unless cfg says otherwise) and the rest of cfg: a
// login form (with remember-me), a public home page, a page behind
// RequireLogin that says whether the session is bound, whether the
// request proved it and the value "k", logout, a renewal, a
// reauthentication, a write of "k" and the user's session list.
func dbscAppWith(t testing.TB, cfg latch.Config) (*latchtest.Harness, http.Handler) {
	t.Helper()
	if cfg.DeviceBound.Mode == latch.DeviceBoundOff {
		cfg.DeviceBound.Mode = latch.DeviceBoundEnforce
	}
	tm := latchtest.New(t, cfg)
	m := tm.Manager
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Login(r.PostFormValue("username"), latch.Remember(r.PostFormValue("remember") != "")); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("public home page"))
	})
	mux.Handle("GET /me", m.RequireLogin(nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		v, _ := latch.Get[string](s, "k")
		json.NewEncoder(w).Encode(map[string]any{"user": s.UserID(), "bound": s.DeviceBound(), "verified": s.DeviceVerified(), "k": v})
	})))
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Logout()
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Renew(); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	mux.HandleFunc("POST /reauth", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Reauthenticate(); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Set("k", r.PostFormValue("v"))
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		list, err := m.Sessions(r.Context(), s.UserID(), s)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(list)
	})
	return tm, m.Handler(mux)
}

type meBody struct {
	User     string `json:"user"`
	Bound    bool   `json:"bound"`
	Verified bool   `json:"verified"`
}

// me fetches /me and returns its status and body.
func me(t testing.TB, b *browser) (int, meBody) {
	t.Helper()
	res := b.do("GET", "/me", nil)
	var body meBody
	if res.StatusCode == 200 {
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode, body
}

func login(t testing.TB, b *browser, user string) *http.Response {
	t.Helper()
	res := b.do("POST", "/login", url.Values{"username": {user}})
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("login: %d", res.StatusCode)
	}
	return res
}

func countEvents(tm *latchtest.Harness, kind latch.EventKind) int { return tm.Events.Count(kind, "") }

// eventWith reports whether an event of kind has a Reason containing s.
func eventWith(tm *latchtest.Harness, kind latch.EventKind, s string) bool {
	for _, ev := range tm.Events.All() {
		if ev.Kind == kind && strings.Contains(ev.Reason, s) {
			return true
		}
	}
	return false
}

// eventsOf lists the events for a failure message.
func eventsOf(tm *latchtest.Harness) []string {
	var out []string
	for _, ev := range tm.Events.All() {
		out = append(out, ev.Kind.String()+": "+ev.Reason)
	}
	return out
}

// TestDeviceBoundRegistration: after a login the response offers
// registration with both algorithms and a challenge; a browser with an
// ES256 or an RS256 key registers, sending its header values bare as
// Chromium does or quoted as the draft writes them; the session is bound,
// the answer states the bound cookie with exactly its Set-Cookie's
// attributes, and requests prove the device.
func TestDeviceBoundRegistration(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   func(testing.TB) *dbscKey
		quote bool
	}{
		{"ES256 bare", newES256, false},
		{"ES256 quoted", newES256, true},
		{"RS256 bare", newRS256, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm, app := dbscApp(t, latch.DeviceBoundEnforce)
			b := newBrowser(t, app, tm.Clock, tc.key(t))
			b.quote = tc.quote
			res := login(t, b, "alice")
			reg := res.Header.Get("Secure-Session-Registration")
			if !strings.HasPrefix(reg, `(ES256 RS256);path="/.latch/dbsc/register";challenge="`) {
				t.Fatalf("Secure-Session-Registration %q", reg)
			}
			if countEvents(tm, latch.EventDeviceRegistered) != 1 {
				t.Fatalf("no EventDeviceRegistered; events: %v", eventsOf(tm))
			}
			s := b.session()
			if s == nil {
				t.Fatal("the browser has no DBSC session after registering")
			}
			if s.refreshURL != "/.latch/dbsc/refresh" || s.cookie != "__Host-latch-bound" {
				t.Errorf("instructions: refresh_url %q, credential %q", s.refreshURL, s.cookie)
			}
			if s.challenge == "" {
				t.Error("the registration answer carried no challenge for the next refresh")
			}
			refresh := b.roundTrip("POST", s.refreshURL, http.Header{"Sec-Secure-Session-Id": {s.id}}, "", false)
			for k, v := range map[string]string{"Cache-Control": "no-store", "Cross-Origin-Resource-Policy": "same-origin", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": ""} {
				if got := refresh.Header.Get(k); got != v {
					t.Errorf("refresh endpoint: %s %q; want %q", k, got, v)
				}
			}
			// The credential's attributes are the bound cookie's
			// Set-Cookie attributes, less Max-Age.
			if s.attributes != "Path=/; Secure; HttpOnly; SameSite=Lax" {
				t.Errorf("credential attributes %q", s.attributes)
			}
			if code, body := me(t, b); code != 200 || !body.Bound || !body.Verified || body.User != "alice" {
				t.Errorf("GET /me: %d %+v; want 200, bound and verified", code, body)
			}
			var list []latch.SessionInfo
			json.NewDecoder(b.do("GET", "/sessions", nil).Body).Decode(&list)
			if len(list) != 1 || !list[0].DeviceBound {
				t.Errorf("Sessions: %+v; want one device-bound session", list)
			}
		})
	}
}

// TestDeviceBoundSetCookieMatchesCredential: the Set-Cookie of the bound
// cookie has the attributes the instructions state (the browser compares
// Domain, Path, Secure, HttpOnly and SameSite), a __Host- name and the
// configured lifetime; with SameSite Strict both say Strict.
func TestDeviceBoundSetCookieMatchesCredential(t *testing.T) {
	for _, ss := range []http.SameSite{http.SameSiteLaxMode, http.SameSiteStrictMode} {
		tm := latchtest.New(t, latch.Config{SameSite: ss, DeviceBound: latch.DeviceBound{Mode: latch.DeviceBoundEnforce, CookieLifetime: 5 * time.Minute}})
		b := newBrowser(t, tm.Manager.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := latch.FromContext(r.Context())
			s.Login("alice")
		})), tm.Clock, nil)
		reg := b.do("POST", "/", nil).Header.Get("Secure-Session-Registration")
		_, params, _ := parseRegistration(reg)
		key := newES256(t)
		res := b.roundTrip("POST", params["path"], http.Header{"Secure-Session-Response": {key.proof(params["challenge"], true)}}, "", false)
		var ins instructions
		json.NewDecoder(res.Body).Decode(&ins)
		var setCookie string
		for _, v := range res.Header.Values("Set-Cookie") {
			if strings.HasPrefix(v, "__Host-latch-bound=") {
				setCookie = v
			}
		}
		_, attrs, _ := strings.Cut(setCookie, "; ")
		attrs = strings.Replace(attrs, "Max-Age=300; ", "", 1)
		if res.StatusCode != 200 || len(ins.Credentials) != 1 || ins.Credentials[0].Attributes != attrs || ins.Credentials[0].Type != "cookie" {
			t.Errorf("SameSite %v: %d, Set-Cookie %q, instructions %+v", ss, res.StatusCode, setCookie, ins)
		}
		if !strings.Contains(setCookie, "Max-Age=300;") || ins.Scope == nil || ins.Scope.IncludeSite == nil || *ins.Scope.IncludeSite {
			t.Errorf("SameSite %v: Set-Cookie %q, scope %+v; want Max-Age=300 and include_site false", ss, setCookie, ins.Scope)
		}
	}
}

// TestDeviceBoundRefreshOnExpiry: when the bound cookie expires the
// browser refreshes before its next request, signing the challenge cached
// from the last answer, and the request goes through; a challenge older
// than its lifetime is answered with a fresh one, which the browser signs.
func TestDeviceBoundRefreshOnExpiry(t *testing.T) {
	tm, app := dbscApp(t, latch.DeviceBoundEnforce)
	b := newBrowser(t, app, tm.Clock, newES256(t))
	login(t, b, "alice")
	for i := 1; i <= 3; i++ {
		tm.Clock.Advance(10*time.Minute + time.Second)
		if code, body := me(t, b); code != 200 || !body.Verified {
			t.Fatalf("GET /me after expiry %d: %d %+v", i, code, body)
		}
		if b.refreshes != i || countEvents(tm, latch.EventDeviceRefreshed) != i {
			t.Fatalf("after expiry %d: %d refreshes, %d events", i, b.refreshes, countEvents(tm, latch.EventDeviceRefreshed))
		}
	}
	// Idle for longer than a challenge lives (the session's own idle
	// timeout is 30 minutes): one 403 with a fresh challenge, then success.
	tm.Clock.Advance(16 * time.Minute)
	proofs := len(b.proofs)
	if code, _ := me(t, b); code != 200 {
		t.Fatalf("GET /me after a stale challenge: %d", code)
	}
	if len(b.proofs)-proofs != 2 {
		t.Errorf("stale challenge: %d proofs sent, want 2 (the stale one, then the fresh one)", len(b.proofs)-proofs)
	}
	if countEvents(tm, latch.EventDeviceRefused) != 0 {
		t.Errorf("a stale challenge is a normal step, not a refusal: %v", eventsOf(tm))
	}
}

// TestDeviceBoundFirstRefreshWithoutChallenge: a browser that cached no
// challenge (Chromium does not reuse the registration's) sends no proof;
// latch answers 403 with a challenge, and the browser signs it at once.
func TestDeviceBoundFirstRefreshWithoutChallenge(t *testing.T) {
	tm, app := dbscApp(t, latch.DeviceBoundEnforce)
	b := newBrowser(t, app, tm.Clock, newES256(t))
	login(t, b, "alice")
	b.session().challenge = ""
	tm.Clock.Advance(11 * time.Minute)
	if code, _ := me(t, b); code != 200 || len(b.proofs) != 1 {
		t.Fatalf("GET /me: %d after %d proofs; want 200 after 1", code, len(b.proofs))
	}
}

// TestDeviceBoundStolenCookies: a second device with a copy of every
// cookie works only until the bound cookie expires (that is the window
// DBSC leaves); then it is treated as signed out (401 from RequireLogin,
// with a fresh challenge), whether it sends the expired bound cookie or
// none, and cannot refresh without the key; the session is not ended, and
// the real browser goes on.
func TestDeviceBoundStolenCookies(t *testing.T) {
	tm, app := dbscApp(t, latch.DeviceBoundEnforce)
	victim := newBrowser(t, app, tm.Clock, newES256(t))
	login(t, victim, "alice")
	thief := victim.copyCookies(nil)
	if code, _ := me(t, thief); code != 200 {
		t.Fatalf("the copy before the bound cookie expires: %d", code)
	}
	tm.Clock.Advance(10*time.Minute + 31*time.Second)   // past the expiry and its grace
	res := thief.roundTrip("GET", "/me", nil, "", true) // sends the expired cookie anyway
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("Secure-Session-Challenge") == "" {
		t.Errorf("the copy with the expired bound cookie: %d, challenge %q; want 401 (signed out) with a challenge", res.StatusCode, res.Header.Get("Secure-Session-Challenge"))
	}
	if code, _ := me(t, thief); code != http.StatusUnauthorized {
		t.Errorf("the copy without a bound cookie: %d; want 401 (signed out)", code)
	}
	if !eventWith(tm, latch.EventDeviceCookieMissing, "refused") {
		t.Errorf("no EventDeviceCookieMissing for the copy: %v", eventsOf(tm))
	}
	// The thief's own key cannot refresh the session.
	thiefKey := newES256(t)
	sid := victim.session().id
	hdr := http.Header{"Sec-Secure-Session-Id": {sid}}
	res = thief.roundTrip("POST", "/.latch/dbsc/refresh", hdr, "", false)
	c, _, _ := parseSFItem(res.Header.Get("Secure-Session-Challenge"))
	hdr.Set("Secure-Session-Response", thiefKey.proof(c, false))
	if res = thief.roundTrip("POST", "/.latch/dbsc/refresh", hdr, "", false); res.StatusCode != http.StatusForbidden {
		t.Errorf("refresh signed with another key: %d; want 403", res.StatusCode)
	}
	if !eventWith(tm, latch.EventDeviceRefused, "signature does not verify") {
		t.Errorf("no EventDeviceRefused for another key: %v", eventsOf(tm))
	}
	if code, _ := me(t, thief); code != http.StatusUnauthorized {
		t.Errorf("the copy after its refresh failed: %d; want 401 (signed out)", code)
	}
	if code, body := me(t, victim); code != 200 || !body.Verified {
		t.Errorf("the real browser: %d %+v; want 200, verified", code, body)
	}
}

// TestDeviceBoundProofsRefused: replayed, forged and malformed proofs,
// and another key's, are refused with 403 and a fresh challenge, and an
// event saying why; none of them ends the session.
func TestDeviceBoundProofsRefused(t *testing.T) {
	tm, app := dbscApp(t, latch.DeviceBoundEnforce)
	b := newBrowser(t, app, tm.Clock, newES256(t))
	login(t, b, "alice")
	tm.Clock.Advance(11 * time.Minute)
	if code, _ := me(t, b); code != 200 {
		t.Fatal(code)
	}
	used := b.proofs[len(b.proofs)-1]
	sid := b.session().id
	// The thief's client holds the session cookie but no bound cookie.
	thief := b.copyCookies(nil)
	delete(thief.jar, "__Host-latch-bound")
	fresh := func() string {
		res := thief.roundTrip("POST", "/.latch/dbsc/refresh", http.Header{"Sec-Secure-Session-Id": {sid}}, "", false)
		c, params, ok := parseSFItem(res.Header.Get("Secure-Session-Challenge"))
		if res.StatusCode != 403 || !ok || params["id"] != sid {
			t.Fatalf("refresh without a proof: %d %q", res.StatusCode, res.Header.Get("Secure-Session-Challenge"))
		}
		return c
	}
	forged := func() string {
		p := b.session().key.proof(fresh(), false)
		return p[:len(p)-4] + "AAAA"
	}
	other := newES256(t)
	rsa := newRS256(t)
	for _, tc := range []struct {
		name, proof, reason string
	}{
		{"replayed", used, "used already"},
		{"forged signature", forged(), "signature does not verify"},
		{"another key", other.proof(fresh(), false), "signature does not verify"},
		{"another algorithm", rsa.proof(fresh(), false), "does not match"},
		{"challenge latch never issued", b.session().key.proof("k1.AAAA", false), "not issued for this session"},
		{"not a JWT", "abc.def", "not a JWT"},
		{"alg none", b64u([]byte(`{"alg":"none","typ":"dbsc+jwt"}`)) + "." + b64u([]byte(`{"jti":"x"}`)) + ".", "not ES256 or RS256"},
		{"wrong typ", strings.Replace(b.session().key.proof(fresh(), false), b64u([]byte(`{"alg":"ES256","typ":"dbsc+jwt"}`)), b64u([]byte(`{"alg":"ES256","typ":"JWT"}`)), 1), "not dbsc+jwt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := countEvents(tm, latch.EventDeviceRefused)
			hdr := http.Header{"Sec-Secure-Session-Id": {sid}, "Secure-Session-Response": {tc.proof}}
			res := thief.roundTrip("POST", "/.latch/dbsc/refresh", hdr, "", false)
			if res.StatusCode != 403 || res.Header.Get("Secure-Session-Challenge") == "" {
				t.Errorf("%d, challenge %q; want 403 with a fresh challenge", res.StatusCode, res.Header.Get("Secure-Session-Challenge"))
			}
			if countEvents(tm, latch.EventDeviceRefused) != before+1 || !eventWith(tm, latch.EventDeviceRefused, tc.reason) {
				t.Errorf("no EventDeviceRefused with %q: %v", tc.reason, eventsOf(tm))
			}
			for _, c := range res.Cookies() {
				if c.Name == "__Host-latch-bound" || c.Name == tm.Manager.CookieName() {
					t.Errorf("a refused refresh set %s", c.Name)
				}
			}
		})
	}
	if code, body := me(t, b); code != 200 || !body.Verified {
		t.Errorf("the real browser after the refused proofs: %d %+v", code, body)
	}
	// Another challenge latch issued, but for another session: refused.
	b2 := newBrowser(t, app, tm.Clock, newES256(t))
	login(t, b2, "bob")
	foreign := b.session().key.proof(b2.session().challenge, false)
	res := thief.roundTrip("POST", "/.latch/dbsc/refresh", http.Header{"Sec-Secure-Session-Id": {sid}, "Secure-Session-Response": {foreign}}, "", false)
	if res.StatusCode != 403 || !eventWith(tm, latch.EventDeviceRefused, "not issued for this session") {
		t.Errorf("another session's challenge: %d; events %v", res.StatusCode, eventsOf(tm))
	}
}

// TestDeviceBoundWithoutDBSC: a browser without DBSC ignores the offer and
// is never refused: its session works as it would without the feature, as
// long as its timeouts allow, and is not device-bound.
func TestDeviceBoundWithoutDBSC(t *testing.T) {
	tm, app := dbscApp(t, latch.DeviceBoundEnforce)
	b := newBrowser(t, app, tm.Clock, nil)
	res := login(t, b, "alice")
	if res.Header.Get("Secure-Session-Registration") == "" {
		t.Fatal("no registration offered")
	}
	for range 10 {
		tm.Clock.Advance(11 * time.Minute)
		if code, body := me(t, b); code != 200 || body.Bound || body.Verified {
			t.Fatalf("GET /me: %d %+v; want 200, not bound", code, body)
		}
	}
	if n := countEvents(tm, latch.EventDeviceCookieMissing) + countEvents(tm, latch.EventDeviceRefused); n != 0 {
		t.Errorf("%d DBSC events for a browser without DBSC", n)
	}
}

// TestDeviceBoundReportOnly: a bound session's request without a bound
// cookie goes through, with an event.
func TestDeviceBoundReportOnly(t *testing.T) {
	tm, app := dbscApp(t, latch.DeviceBoundReportOnly)
	b := newBrowser(t, app, tm.Clock, newES256(t))
	login(t, b, "alice")
	thief := b.copyCookies(nil)
	tm.Clock.Advance(11 * time.Minute)
	if code, body := me(t, thief); code != 200 || !body.Bound || body.Verified {
		t.Errorf("report only: %d %+v; want 200, bound, not verified", code, body)
	}
	if !eventWith(tm, latch.EventDeviceCookieMissing, "report only") {
		t.Errorf("no report-only EventDeviceCookieMissing: %v", eventsOf(tm))
	}
	if code, body := me(t, b); code != 200 || !body.Verified {
		t.Errorf("the browser refreshes in report-only mode too: %d %+v", code, body)
	}
}

// TestDeviceBoundLifecycle: a renewal keeps the binding (the bound cookie
// stays valid: it names the key, not the session ID); Reauthenticate keeps
// it and offers nothing; a new login on the same browser is a new session,
// which starts unbound and is offered registration again, and the old
// DBSC session is ended at its next refresh; logout ends the binding and
// deletes the bound cookie, and a refresh after it ends the browser's
// session.
func TestDeviceBoundLifecycle(t *testing.T) {
	tm, app := dbscApp(t, latch.DeviceBoundEnforce)
	b := newBrowser(t, app, tm.Clock, newES256(t))
	login(t, b, "alice")
	first := b.session().id
	if res := b.do("POST", "/renew", nil); res.StatusCode != 200 || tm.Cookie(res) == nil {
		t.Fatalf("renew: %d", res.StatusCode)
	}
	if code, body := me(t, b); code != 200 || !body.Verified {
		t.Errorf("after a renewal: %d %+v; want the binding kept", code, body)
	}
	if res := b.do("POST", "/reauth", nil); res.StatusCode != 200 || res.Header.Get("Secure-Session-Registration") != "" {
		t.Errorf("reauthenticate a bound session: %d, offer %q; want no offer", res.StatusCode, res.Header.Get("Secure-Session-Registration"))
	}
	if code, body := me(t, b); code != 200 || !body.Verified {
		t.Errorf("after Reauthenticate: %d %+v", code, body)
	}
	// A second login on the same browser: a new binding.
	login(t, b, "alice")
	if countEvents(tm, latch.EventDeviceRegistered) != 2 || len(b.sessions) != 2 {
		t.Fatalf("second login: %d registrations, %d browser sessions", countEvents(tm, latch.EventDeviceRegistered), len(b.sessions))
	}
	tm.Clock.Advance(11 * time.Minute)
	if code, body := me(t, b); code != 200 || !body.Verified {
		t.Errorf("after the second login's expiry: %d %+v", code, body)
	}
	if _, ok := b.sessions[first]; ok || len(b.sessions) != 1 {
		t.Errorf("the first login's DBSC session was not ended (sessions %v)", b.sessions)
	}
	res := b.do("POST", "/logout", nil)
	var dropped bool
	for _, c := range res.Cookies() {
		dropped = dropped || (c.Name == "__Host-latch-bound" && c.MaxAge < 0)
	}
	if !dropped {
		t.Errorf("logout did not delete the bound cookie: %v", res.Header.Values("Set-Cookie"))
	}
	if code, _ := me(t, b); code != 401 || len(b.sessions) != 0 {
		t.Errorf("after logout: %d, %d DBSC sessions; want 401 and none (ended by continue:false)", code, len(b.sessions))
	}
}

// TestDeviceBoundReauthenticateOffers: a session not bound yet (the
// browser ignored the login's offer) is offered registration again by
// Reauthenticate.
func TestDeviceBoundReauthenticateOffers(t *testing.T) {
	tm, app := dbscApp(t, latch.DeviceBoundEnforce)
	b := newBrowser(t, app, tm.Clock, nil)
	login(t, b, "alice")
	b.key = newES256(t)
	if res := b.do("POST", "/reauth", nil); res.Header.Get("Secure-Session-Registration") == "" {
		t.Fatal("Reauthenticate of an unbound session offered no registration")
	}
	if code, body := me(t, b); code != 200 || !body.Verified {
		t.Errorf("after registering on Reauthenticate: %d %+v", code, body)
	}
}

// TestDeviceBoundRegistrationRefused: registrations that latch refuses,
// each with a 4xx (which ends the registration in the browser) and an
// event; the session goes on unbound.
func TestDeviceBoundRegistrationRefused(t *testing.T) {
	tm, app := dbscApp(t, latch.DeviceBoundEnforce)
	key := newES256(t)
	start := func() (*browser, string) {
		b := newBrowser(t, app, tm.Clock, nil)
		res := login(t, b, "alice")
		_, params, _ := parseRegistration(res.Header.Get("Secure-Session-Registration"))
		return b, params["challenge"]
	}
	post := func(b *browser, hdr http.Header) *http.Response {
		return b.roundTrip("POST", "/.latch/dbsc/register", hdr, "", false)
	}
	for _, tc := range []struct {
		name   string
		run    func() *http.Response
		status int
		reason string
	}{
		{"no proof", func() *http.Response { b, _ := start(); return post(b, nil) }, 400, "Secure-Session-Response"},
		{"no jwk", func() *http.Response {
			b, c := start()
			return post(b, http.Header{"Secure-Session-Response": {key.proof(c, false)}})
		}, 400, "no jwk"},
		{"stale challenge", func() *http.Response {
			b, c := start()
			tm.Clock.Advance(2*time.Minute + time.Second)
			return post(b, http.Header{"Secure-Session-Response": {key.proof(c, true)}})
		}, 403, "too old"},
		{"another session's challenge", func() *http.Response {
			_, c := start()
			b, _ := start()
			return post(b, http.Header{"Secure-Session-Response": {key.proof(c, true)}})
		}, 403, "not issued for this session"},
		{"without a session", func() *http.Response {
			_, c := start()
			return post(newBrowser(t, app, tm.Clock, nil), http.Header{"Secure-Session-Response": {key.proof(c, true)}})
		}, 401, "no signed-in session"},
		{"twice", func() *http.Response {
			b, c := start()
			post(b, http.Header{"Secure-Session-Response": {key.proof(c, true)}})
			return post(b, http.Header{"Secure-Session-Response": {key.proof(c, true)}})
		}, 403, "bound to a key already"},
		{"GET", func() *http.Response {
			b, _ := start()
			return b.roundTrip("GET", "/.latch/dbsc/register", nil, "", false)
		}, 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := countEvents(tm, latch.EventDeviceRefused)
			res := tc.run()
			if res.StatusCode != tc.status {
				t.Errorf("status %d; want %d", res.StatusCode, tc.status)
			}
			if tc.reason != "" && (countEvents(tm, latch.EventDeviceRefused) <= before || !eventWith(tm, latch.EventDeviceRefused, tc.reason)) {
				t.Errorf("no EventDeviceRefused with %q: %v", tc.reason, eventsOf(tm))
			}
		})
	}
}

// TestDeviceBoundPlainHTTPNotOffered: registration is offered only where
// browsers run DBSC: HTTPS or a loopback host.
func TestDeviceBoundPlainHTTPNotOffered(t *testing.T) {
	tm := latchtest.New(t, latch.Config{DeviceBound: latch.DeviceBound{Mode: latch.DeviceBoundEnforce}})
	h := tm.Manager.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Login("alice")
	}))
	for _, tc := range []struct {
		host  string
		proto string
		offer bool
	}{
		{"app.example", "", false},
		{"app.example", "https", true},
		{"localhost:8080", "", true},
		{"127.0.0.1", "", true},
	} {
		r := tm.Request("POST", "/", nil, nil)
		r.Host = tc.host
		if tc.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if got := rec.Header().Get("Secure-Session-Registration") != ""; got != tc.offer {
			t.Errorf("host %s proto %q: offered %v; want %v", tc.host, tc.proto, got, tc.offer)
		}
	}
}

// TestDeviceBoundConcurrency: a browser's requests and refreshes run in
// parallel with a thief's, under -race; of several refreshes that send one
// proof at once, exactly one succeeds.
func TestDeviceBoundConcurrency(t *testing.T) {
	tm, app := dbscApp(t, latch.DeviceBoundEnforce)
	b := newBrowser(t, app, tm.Clock, newES256(t))
	login(t, b, "alice")
	sid := b.session().id
	challenge := b.session().challenge
	proof := b.session().key.proof(challenge, false)
	thief := b.copyCookies(nil)
	delete(thief.jar, "__Host-latch-bound")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Go(func() {
			hdr := http.Header{"Sec-Secure-Session-Id": {sid}, "Secure-Session-Response": {proof}}
			res := thief.roundTrip("POST", "/.latch/dbsc/refresh", hdr, "", false)
			if res.StatusCode == 200 {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 5 {
				if code, _ := me(t, b); code != 200 {
					t.Errorf("the browser's request: %d", code)
				}
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("%d of 8 parallel refreshes with one proof succeeded; want 1", ok)
	}
	// Parallel refreshes by the browser itself after expiry.
	tm.Clock.Advance(11 * time.Minute)
	for range 4 {
		wg.Go(func() {
			if code, _ := me(t, b); code != 200 {
				t.Errorf("after expiry: %d", code)
			}
		})
	}
	wg.Wait()
}

// TestDeviceBoundRegistrationRacesWrite: a request that loaded the session
// before the registration and writes after it does not erase the key.
func TestDeviceBoundRegistrationRacesWrite(t *testing.T) {
	tm := latchtest.New(t, latch.Config{DeviceBound: latch.DeviceBound{Mode: latch.DeviceBoundEnforce}})
	loaded, release := make(chan struct{}), make(chan struct{})
	app := writeRaceApp(tm.Manager, func(s *latch.Session) {
		close(loaded)
		<-release
		s.Set("flash", "") // a write with the metadata loaded before the registration
	})
	b := newBrowser(t, app, tm.Clock, nil)
	res := b.do("POST", "/login", nil)
	done := make(chan struct{})
	go func() {
		b.roundTrip("POST", "/write", nil, "", false)
		close(done)
	}()
	<-loaded
	b.key = newES256(t)
	b.register(res.Header.Get("Secure-Session-Registration"))
	close(release)
	<-done
	if !bound(b) {
		t.Error("a concurrent write erased the device key")
	}
}

// TestDeviceBoundConfig: New validates DeviceBound like the rest of
// Config, with plain errors.
func TestDeviceBoundConfig(t *testing.T) {
	on := latch.DeviceBound{Mode: latch.DeviceBoundEnforce}
	with := func(f func(*latch.DeviceBound)) latch.DeviceBound { d := on; f(&d); return d }
	for _, tc := range []struct {
		name string
		cfg  latch.Config
		want string
	}{
		{"unknown mode", latch.Config{DeviceBound: latch.DeviceBound{Mode: 9}}, "unknown DeviceBound.Mode"},
		{"insecure cookie", latch.Config{InsecureCookie: true, DeviceBound: on}, "needs Secure cookies"},
		{"cookie without __Host-", latch.Config{DeviceBound: with(func(d *latch.DeviceBound) { d.CookieName = "bound" })}, "must start with __Host-"},
		{"cookie name of the session", latch.Config{DeviceBound: with(func(d *latch.DeviceBound) { d.CookieName = "__Host-session" })}, "another latch cookie"},
		{"bad cookie name", latch.Config{DeviceBound: with(func(d *latch.DeviceBound) { d.CookieName = "__Host-a b" })}, "invalid cookie name"},
		{"lifetime too short", latch.Config{DeviceBound: with(func(d *latch.DeviceBound) { d.CookieLifetime = time.Second })}, "CookieLifetime 1s is out of range"},
		{"lifetime under Chromium's refresh quota", latch.Config{DeviceBound: with(func(d *latch.DeviceBound) { d.CookieLifetime = 4 * time.Minute })}, "signs at most 6 times in 9 minutes"},
		{"challenge shorter than the cookie", latch.Config{DeviceBound: with(func(d *latch.DeviceBound) {
			d.CookieLifetime, d.ChallengeLifetime = 20*time.Minute, 10*time.Minute
		})}, "ChallengeLifetime 10m0s is out of range (CookieLifetime 20m0s to 24h)"},
		{"challenge lifetime too long", latch.Config{DeviceBound: with(func(d *latch.DeviceBound) { d.ChallengeLifetime = 48 * time.Hour })}, "ChallengeLifetime 48h0m0s is out of range"},
		{"relative path", latch.Config{DeviceBound: with(func(d *latch.DeviceBound) { d.Path = "dbsc" })}, "must start with /"},
		{"path with a quote", latch.Config{DeviceBound: with(func(d *latch.DeviceBound) { d.Path = `/a"b` })}, "has the character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Store = newMemStore(t)
			tc.cfg.Keys = latchtest.Keys(t)
			_, err := latch.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v; want an error containing %q", err, tc.want)
			}
		})
	}
	m, err := latch.New(latch.Config{Store: newMemStore(t), Keys: latchtest.Keys(t), DeviceBound: on})
	if err != nil {
		t.Fatal(err)
	}
	d := m.Config().DeviceBound
	if d.CookieName != "__Host-latch-bound" || d.CookieLifetime != 10*time.Minute || d.ChallengeLifetime != 15*time.Minute ||
		d.RegisterPath() != "/.latch/dbsc/register" || d.RefreshPath() != "/.latch/dbsc/refresh" {
		t.Errorf("defaults: %+v", d)
	}
}

// FuzzDeviceBoundHeaders: whatever a client puts in the DBSC request
// headers and the bound cookie of a bound session, latch answers without
// a server error, never renews the bound cookie without a valid proof,
// and never lets a request through on a bound cookie it did not issue.
func FuzzDeviceBoundHeaders(f *testing.F) {
	tm, app := dbscApp(f, latch.DeviceBoundEnforce)
	b := newBrowser(f, app, tm.Clock, newES256(f))
	login(f, b, "alice")
	s := b.session()
	real := b.jar["__Host-latch-bound"].value
	valid := s.key.proof(s.challenge, false) // the one proof that may renew, once
	f.Add(s.id, valid, "k1.AAAA")
	f.Add(`"`+s.id+`"`, `"`+s.key.proof("x", false)+`"`, real+"x")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, sid, proof, bound string) {
		c := b.copyCookies(nil)
		c.jar["__Host-latch-bound"] = jarCookie{value: bound}
		hdr := http.Header{}
		if sid != "" {
			hdr.Set("Sec-Secure-Session-Id", sid)
		}
		if proof != "" {
			hdr.Set("Secure-Session-Response", proof)
		}
		res := c.roundTrip("POST", "/.latch/dbsc/refresh", hdr, "", false)
		if res.StatusCode >= 500 {
			t.Fatalf("refresh: %d", res.StatusCode)
		}
		renewed := false
		for _, ck := range res.Cookies() {
			renewed = renewed || (ck.Name == "__Host-latch-bound" && ck.MaxAge > 0)
		}
		if renewed && strings.Trim(proof, `" `) != valid {
			t.Fatalf("bound cookie renewed for proof %q", proof)
		}
		c.jar["__Host-latch-bound"] = jarCookie{value: bound}
		res = c.roundTrip("GET", "/me", nil, "", false)
		if res.StatusCode == 200 && bound != real {
			t.Fatalf("GET /me passed with bound cookie %q", bound)
		}
		if res.StatusCode >= 500 {
			t.Fatalf("GET /me: %d", res.StatusCode)
		}
	})
}

// TestDeviceBoundRegistrationGrace: Chromium registers in parallel with
// the requests that follow a login, which go out before the
// registration's answer has set the bound cookie; for 30 seconds after
// the registration such requests go through (not verified), then they are
// treated as signed out.
func TestDeviceBoundRegistrationGrace(t *testing.T) {
	tm, app := dbscApp(t, latch.DeviceBoundEnforce)
	b := newBrowser(t, app, tm.Clock, newES256(t))
	login(t, b, "alice")
	early := b.copyCookies(nil)
	delete(early.jar, "__Host-latch-bound")
	tm.Clock.Advance(29 * time.Second)
	if code, body := me(t, early); code != 200 || !body.Bound || body.Verified {
		t.Errorf("29 s after the registration, without the bound cookie: %d %+v; want 200, bound, not verified", code, body)
	}
	if n := countEvents(tm, latch.EventDeviceCookieMissing); n != 0 {
		t.Errorf("%d EventDeviceCookieMissing within the grace", n)
	}
	tm.Clock.Advance(time.Second)
	if code, _ := me(t, early); code != http.StatusUnauthorized {
		t.Errorf("30 s after the registration, without the bound cookie: %d; want 401 (signed out)", code)
	}
	if code, body := me(t, b); code != 200 || !body.Verified {
		t.Errorf("the browser: %d %+v", code, body)
	}
}

// TestDeviceBoundChallengeSingleUseAcrossInstances: two Managers on one
// store (two instances behind a load balancer): a proof used on one is
// refused on the other, since using a challenge leaves a marker in the
// store.
func TestDeviceBoundChallengeSingleUseAcrossInstances(t *testing.T) {
	clock := latchtest.NewClock(latchtest.Start)
	st := clockedMemStore(t, clock)
	keys := latchtest.Keys(t)
	events := &latchtest.Events{}
	var apps [2]http.Handler
	for i := range apps {
		m := enforcingManager(t, latch.Config{Store: st, Keys: keys, Now: clock.Now, OnEvent: events.Add})
		apps[i] = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := latch.FromContext(r.Context())
			if r.URL.Path == "/login" {
				s.Login("alice")
			}
		}))
	}
	b := newBrowser(t, apps[0], clock, newES256(t))
	b.do("POST", "/login", nil)
	s := b.session()
	if s == nil {
		t.Fatal("no registration")
	}
	proof := s.key.proof(s.challenge, false)
	hdr := http.Header{"Sec-Secure-Session-Id": {s.id}, "Secure-Session-Response": {proof}}
	if res := b.roundTrip("POST", "/.latch/dbsc/refresh", hdr, "", false); res.StatusCode != 200 {
		t.Fatalf("refresh on instance 0: %d", res.StatusCode)
	}
	b.app = apps[1]
	res := b.roundTrip("POST", "/.latch/dbsc/refresh", hdr, "", false)
	if res.StatusCode != 403 {
		t.Errorf("the same proof on instance 1: %d; want 403", res.StatusCode)
	}
	found := false
	for _, ev := range events.All() {
		found = found || (ev.Kind == latch.EventDeviceRefused && strings.Contains(ev.Reason, "used already"))
	}
	if !found {
		t.Error("no EventDeviceRefused for the replay on the other instance")
	}
}

// ExampleDeviceBound turns device-bound sessions on; the middleware then
// serves the registration and refresh endpoints itself.
func ExampleDeviceBound() {
	store, _ := memstore.New(memstore.Options{})
	m, err := latch.New(latch.Config{
		Store:       store,
		Keys:        exampleKeys(),
		DeviceBound: latch.DeviceBound{Mode: latch.DeviceBoundEnforce},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	d := m.Config().DeviceBound
	fmt.Println(d.RegisterPath(), d.RefreshPath(), d.CookieName, d.CookieLifetime)
	// Output: /.latch/dbsc/register /.latch/dbsc/refresh __Host-latch-bound 10m0s
}

// TestDeviceBoundChallengeDefaultFollowsCookie: a bound cookie that lives
// longer than the default challenge lifetime gets challenges that live as
// long, so that the challenge of one refresh is still good at the next.
func TestDeviceBoundChallengeDefaultFollowsCookie(t *testing.T) {
	m, err := latch.New(latch.Config{Store: newMemStore(t), Keys: latchtest.Keys(t),
		DeviceBound: latch.DeviceBound{Mode: latch.DeviceBoundEnforce, CookieLifetime: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	if d := m.Config().DeviceBound; d.ChallengeLifetime != time.Hour {
		t.Errorf("ChallengeLifetime %v; want the cookie's hour", d.ChallengeLifetime)
	}
}

// countLoads counts the Loads of a store.
type countLoads struct {
	driver.Store
	n atomic.Int64
}

func (c *countLoads) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	c.n.Add(1)
	return c.Store.Load(ctx, id)
}

// TestDeviceBoundCarryWindow: a write of a session that never registered
// reads the record again, and the registration's marker after the commit,
// only in the minutes after the login in which a registration can land;
// later writes of a browser without DBSC cost what they cost without the
// feature.
func TestDeviceBoundCarryWindow(t *testing.T) {
	clock := latchtest.NewClock(latchtest.Start)
	st := &countLoads{Store: clockedMemStore(t, clock)}
	m := enforcingManager(t, latch.Config{Store: st, Now: clock.Now})
	app := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if r.URL.Path == "/login" {
			s.Login("alice")
			return
		}
		s.Set("k", r.URL.Path)
	}))
	b := newBrowser(t, app, clock, nil)
	b.do("POST", "/login", nil)
	for _, tc := range []struct {
		after time.Duration
		loads int64
	}{{time.Minute, 3}, {2*time.Minute + time.Second, 1}} {
		clock.Advance(tc.after)
		before := st.n.Load()
		b.do("POST", "/set"+tc.after.String(), nil)
		if got := st.n.Load() - before; got != tc.loads {
			t.Errorf("a write %v after the login: %d store loads; want %d", tc.after, got, tc.loads)
		}
	}
}
