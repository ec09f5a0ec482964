package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
)

// The cases below drive a latch.Manager over the store under test with
// concurrent requests on one session, as a browser with several tabs (or
// an attacker holding a copy of the cookie) sends them. They check the
// promises that rest on the store's ordering of renewals and deletions:
// a logout or revocation that reports success has ended the session under
// every ID, and a write racing a renewal is kept and never clears the
// fresh cookie.

// managerRounds is how many times each race is run.
const managerRounds = 100

// app is a Manager over the store under test, with the handlers the races
// need, called in-process.
type app struct {
	m    *latch.Manager
	h    http.Handler
	gate *gate
}

// gate wraps the store under test to force the interleaving that breaks a
// store without ordering: on an armed round, the renewal of the target
// session waits until the racing request has read it (loaded it, or listed
// its user), and the racing request's write or deletion waits until the
// renewal is done. In-process requests are too quick to hit that window by
// chance; unarmed rounds race freely. A wait gives up after a second, so a
// round whose requests do not meet (the racing one failed early) is only
// a free race.
type gate struct {
	driver.Store
	mu      sync.Mutex
	target  driver.Hash
	loads   int           // Loads of target still to wait for
	read    chan struct{} // closed when the racing request has read target
	renewed chan struct{} // closed when the renewal from target is done
}

// arm makes the next round forced on the session of cookie: the renewal
// waits for loads Loads of it (or a ListUser, when loads is 0).
func (g *gate) arm(cookie string, loads int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.target, g.loads = hashOf(cookie), loads
	g.read, g.renewed = make(chan struct{}), make(chan struct{})
}

func (g *gate) disarm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.target, g.read, g.renewed = driver.Hash{}, nil, nil
}

// hashOf is the store key of a server-side session token: the SHA-256 of
// the session ID, which the token carries before its MAC.
func hashOf(cookie string) driver.Hash {
	_, enc, _ := strings.Cut(cookie, ".")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(raw) < latch.IDSize {
		return driver.Hash{}
	}
	return sha256.Sum256(raw[:latch.IDSize])
}

// armed returns the round's channels when h is its target.
func (g *gate) armed(h driver.Hash) (read, renewed chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.read == nil || (h != g.target && !h.IsZero()) {
		return nil, nil
	}
	return g.read, g.renewed
}

func (g *gate) noteRead(h driver.Hash, list bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	byList := g.loads == 0
	switch {
	case g.read == nil || list != byList || (!list && h != g.target):
		return
	case !list:
		if g.loads--; g.loads > 0 {
			return
		}
	}
	select {
	case <-g.read:
	default:
		close(g.read)
	}
}

func wait(ch chan struct{}) {
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-time.After(time.Second):
	}
}

func (g *gate) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	r, err := g.Store.Load(ctx, id)
	g.noteRead(id, false)
	return r, err
}

func (g *gate) ListUser(ctx context.Context, user string) ([]driver.Info, error) {
	infos, err := g.Store.ListUser(ctx, user)
	g.noteRead(driver.Hash{}, true)
	return infos, err
}

func (g *gate) Commit(ctx context.Context, c *driver.Commit) error {
	switch {
	case !c.From.IsZero():
		read, renewed := g.armed(c.From)
		if read == nil {
			break
		}
		wait(read)
		err := g.Store.Commit(ctx, c)
		g.mu.Lock()
		if g.renewed == renewed {
			close(renewed)
			g.renewed = nil
		}
		g.mu.Unlock()
		return err
	case !c.Create:
		_, renewed := g.armed(c.ID)
		wait(renewed)
	}
	return g.Store.Commit(ctx, c)
}

func (g *gate) Delete(ctx context.Context, id driver.Hash) error {
	_, renewed := g.armed(id)
	wait(renewed)
	return g.Store.Delete(ctx, id)
}

func (g *gate) DeleteUser(ctx context.Context, user string, keep driver.Hash) (int, error) {
	_, renewed := g.armed(driver.Hash{})
	wait(renewed)
	return g.Store.DeleteUser(ctx, user, keep)
}

func newApp(t *testing.T, st driver.Store) *app {
	t.Helper()
	g := &gate{Store: st}
	st = g
	// Not latchtest.Keys: latchtest imports memstore, whose tests run this suite.
	keys, err := latch.NewKeyring(latch.Key{ID: "k1", Secret: latch.GenerateKey()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := latch.New(latch.Config{
		Store: st, Keys: keys, GuessLimit: -1,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Login(r.FormValue("user")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Renew(); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Logout(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /revoke-others", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if _, err := s.RevokeOthers(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Set(r.FormValue("k"), r.FormValue("v"))
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		io.WriteString(w, s.GetString(r.FormValue("k")))
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if !s.IsAuthenticated() {
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "%s %s %s", s.UserID(), s.Handle(), s.GetString(r.FormValue("k")))
	})
	return &app{m: m, h: m.Handler(mux), gate: g}
}

// reply is what a request got: its status, body and session cookie.
type reply struct {
	code    int
	body    string
	cookie  string // the new session cookie's value, "" when none was set
	cleared bool   // the response told the browser to drop the cookie
}

// do sends one request carrying cookie (a session token, or "").
func (a *app) do(method, target, cookie string) reply {
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("User-Agent", "storetest/1.0")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: a.m.CookieName(), Value: cookie})
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	out := reply{code: rec.Code, body: strings.TrimSpace(string(body))}
	for _, c := range rec.Result().Cookies() {
		if c.Name != a.m.CookieName() {
			continue
		}
		if c.MaxAge < 0 || c.Value == "" {
			out.cleared = true
		} else {
			out.cookie = c.Value
		}
	}
	return out
}

// login logs user in on a fresh session and returns its cookie.
func (a *app) login(t *testing.T, user string) string {
	t.Helper()
	r := a.do("POST", "/login?user="+user, "")
	if r.code != http.StatusOK || r.cookie == "" {
		t.Fatalf("login %s: status %d, cookie %q, body %q", user, r.code, r.cookie, r.body)
	}
	return r.cookie
}

// authenticated reports whether cookie names a logged-in session.
func (a *app) authenticated(cookie string) bool {
	return cookie != "" && a.do("GET", "/me", cookie).code == http.StatusOK
}

// race runs the functions at the same moment and waits for them.
func race(fns ...func()) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(func() {
			<-start
			fn()
		})
	}
	close(start)
	wg.Wait()
}

// testSessionLogoutRacesRenew: request A renews the session while request
// B logs it out. Once B's logout has succeeded, neither the old cookie nor
// the one A's renewal issued is logged in.
func testSessionLogoutRacesRenew(t *testing.T, st driver.Store) {
	a := newApp(t, st)
	var errs collector
	// The logout's cookie was sent before the renewal's answer came: the
	// renewed session ends too.
	c := a.login(t, newUser(t))
	renewed := a.do("POST", "/renew", c)
	if out := a.do("POST", "/logout", c); out.code != http.StatusOK || !out.cleared {
		t.Fatalf("logout with the cookie from before a renewal: status %d, cleared %v", out.code, out.cleared)
	}
	if a.authenticated(renewed.cookie) {
		t.Fatal("a logout sent with the cookie from before a renewal left the renewed session logged in")
	}
	// A login renews an anonymous session into the user's: a logout sent
	// with the anonymous cookie from before the login ends the logged-in
	// session too.
	anon := a.do("POST", "/set?k=cart&v=1", "")
	if anon.code != http.StatusOK || anon.cookie == "" {
		t.Fatalf("anonymous write: status %d, cookie %q, body %q", anon.code, anon.cookie, anon.body)
	}
	in := a.do("POST", "/login?user="+newUser(t), anon.cookie)
	if in.code != http.StatusOK || in.cookie == "" {
		t.Fatalf("login from an anonymous session: status %d, cookie %q, body %q", in.code, in.cookie, in.body)
	}
	if out := a.do("POST", "/logout", anon.cookie); out.code != http.StatusOK || !out.cleared {
		t.Fatalf("logout with the anonymous cookie from before a login: status %d, cleared %v", out.code, out.cleared)
	}
	if a.authenticated(in.cookie) {
		t.Fatal("a logout sent with the anonymous cookie from before a login left the logged-in session logged in")
	}
	for round := range managerRounds {
		user := newUser(t)
		c := a.login(t, user)
		var renewed, out reply
		if round%2 == 1 {
			a.gate.arm(c, 2)
		}
		race(
			func() { renewed = a.do("POST", "/renew", c) },
			func() { out = a.do("POST", "/logout", c) },
		)
		a.gate.disarm()
		if out.code != http.StatusOK {
			errs.add("round %d: logout: status %d %q", round, out.code, out.body)
			continue
		}
		for name, ck := range map[string]string{"old cookie": c, "renewed cookie": renewed.cookie} {
			if a.authenticated(ck) {
				errs.add("round %d: the %s is still logged in after a logout that succeeded", round, name)
			}
		}
	}
	errs.report(t)
}

// testSessionRevokeRacesRenew: an administrator revokes the session by its
// handle (a list, then a deletion) while the session's own request renews
// it. If Revoke reports success, no cookie of the session is logged in.
func testSessionRevokeRacesRenew(t *testing.T, st driver.Store) {
	a := newApp(t, st)
	ctx := context.Background()
	var errs collector
	revoked := 0
	for round := range managerRounds {
		user := newUser(t)
		c := a.login(t, user)
		list, err := a.m.Sessions(ctx, user, nil)
		if err != nil || len(list) != 1 {
			t.Fatalf("Sessions(%s): %v, %d sessions; want 1", user, err, len(list))
		}
		var renewed reply
		var revErr error
		if round%2 == 1 {
			a.gate.arm(c, 0)
		}
		race(
			func() { renewed = a.do("POST", "/renew", c) },
			func() { revErr = a.m.Revoke(ctx, user, list[0].Handle) },
		)
		a.gate.disarm()
		switch {
		case errors.Is(revErr, driver.ErrNotFound):
			// The listing came after the renewal: the handle is gone.
			continue
		case revErr != nil:
			errs.add("round %d: Revoke: %v", round, revErr)
			continue
		}
		revoked++
		for name, ck := range map[string]string{"old cookie": c, "renewed cookie": renewed.cookie} {
			if a.authenticated(ck) {
				errs.add("round %d: the %s is still logged in after Revoke succeeded", round, name)
			}
		}
	}
	errs.report(t)
	if revoked == 0 {
		t.Errorf("Revoke never succeeded in %d rounds", managerRounds)
	}
}

// testSessionRevokeUserRacesRenew: RevokeUser (account disabled) runs while
// one of the user's sessions is renewed. Afterwards no cookie of the user is
// logged in.
func testSessionRevokeUserRacesRenew(t *testing.T, st driver.Store) {
	a := newApp(t, st)
	ctx := context.Background()
	var errs collector
	for round := range managerRounds {
		user := newUser(t)
		c1, c2 := a.login(t, user), a.login(t, user)
		var renewed reply
		var revErr error
		if round%2 == 1 {
			a.gate.arm(c1, 1)
		}
		race(
			func() { renewed = a.do("POST", "/renew", c1) },
			func() { _, revErr = a.m.RevokeUser(ctx, user) },
		)
		a.gate.disarm()
		if revErr != nil {
			errs.add("round %d: RevokeUser: %v", round, revErr)
			continue
		}
		for name, ck := range map[string]string{"renewing session's old cookie": c1, "renewed cookie": renewed.cookie, "other session": c2} {
			if a.authenticated(ck) {
				errs.add("round %d: the %s is still logged in after RevokeUser succeeded", round, name)
			}
		}
	}
	errs.report(t)
}

// testSessionRevokeOthersRacesRenew: the user changes their password on one
// device (RevokeOthers) while another device's session is renewed. The
// other device is signed out, under its old and its new cookie; the device
// that revoked stays signed in.
func testSessionRevokeOthersRacesRenew(t *testing.T, st driver.Store) {
	a := newApp(t, st)
	var errs collector
	for round := range managerRounds {
		user := newUser(t)
		here, there := a.login(t, user), a.login(t, user)
		var renewed, rev reply
		if round%2 == 1 {
			a.gate.arm(there, 1)
		}
		race(
			func() { renewed = a.do("POST", "/renew", there) },
			func() { rev = a.do("POST", "/revoke-others", here) },
		)
		a.gate.disarm()
		if rev.code != http.StatusOK {
			errs.add("round %d: revoke-others: status %d %q", round, rev.code, rev.body)
			continue
		}
		for name, ck := range map[string]string{"other device's old cookie": there, "other device's renewed cookie": renewed.cookie} {
			if a.authenticated(ck) {
				errs.add("round %d: the %s is still logged in after RevokeOthers", round, name)
			}
		}
		if !a.authenticated(here) {
			errs.add("round %d: the device that revoked the others was signed out", round)
		}
	}
	errs.report(t)
}

// testSessionWriteRacesRenew: request A renews the session while request B,
// which loaded it before, sets a value. B's value is kept in the renewed
// session, and B's response neither clears the cookie nor sends the old
// one again (either would sign the browser out if it arrived after A's).
func testSessionWriteRacesRenew(t *testing.T, st driver.Store) {
	a := newApp(t, st)
	var errs collector
	for round := range managerRounds {
		user := newUser(t)
		c := a.login(t, user)
		var renewed, wrote reply
		value := fmt.Sprintf("v%d", round)
		if round%2 == 1 {
			a.gate.arm(c, 2)
		}
		race(
			func() { renewed = a.do("POST", "/renew", c) },
			func() { wrote = a.do("POST", "/set?k=note&v="+value, c) },
		)
		a.gate.disarm()
		if renewed.code != http.StatusOK || renewed.cookie == "" {
			errs.add("round %d: renew: status %d, cookie %q, body %q", round, renewed.code, renewed.cookie, renewed.body)
			continue
		}
		if wrote.code != http.StatusOK || wrote.cleared {
			errs.add("round %d: the write racing the renewal answered %d, cleared cookie %v", round, wrote.code, wrote.cleared)
		}
		if wrote.cookie != "" {
			// B's load came after the renewal, so its cookie named no
			// session: it began a session of its own, which holds its value.
			if got := a.do("GET", "/get?k=note", wrote.cookie).body; got != value {
				errs.add("round %d: the write that began its own session lost its value: got %q, want %q", round, got, value)
			}
		} else {
			me := a.do("GET", "/me?k=note", renewed.cookie)
			switch {
			case me.code != http.StatusOK:
				errs.add("round %d: the renewed cookie is not logged in: %d %q", round, me.code, me.body)
			case !strings.HasSuffix(me.body, " "+value):
				errs.add("round %d: the write racing the renewal was lost: /me says %q, want the value %q", round, me.body, value)
			}
		}
		if a.authenticated(c) {
			errs.add("round %d: the cookie before the renewal is still logged in", round)
		}
	}
	errs.report(t)
}

// testSessionWriteRacesLogin: request A logs a user in on an anonymous
// session while request B, which loaded the anonymous session before,
// sets a value. The login gave the session to a user, so B's write is not
// B's to land there: it is dropped, but B's response must not clear the
// cookie, or the browser would lose the login it just made.
func testSessionWriteRacesLogin(t *testing.T, st driver.Store) {
	a := newApp(t, st)
	var errs collector
	for round := range managerRounds {
		anon := a.do("POST", "/set?k=cart&v=1", "")
		if anon.cookie == "" {
			t.Fatalf("round %d: an anonymous write set no cookie: %d %q", round, anon.code, anon.body)
		}
		user := newUser(t)
		var login, wrote reply
		if round%2 == 1 {
			a.gate.arm(anon.cookie, 2)
		}
		race(
			func() { login = a.do("POST", "/login?user="+user, anon.cookie) },
			func() { wrote = a.do("POST", "/set?k=note&v=x", anon.cookie) },
		)
		a.gate.disarm()
		if login.code != http.StatusOK || login.cookie == "" {
			errs.add("round %d: login: status %d, cookie %q, body %q", round, login.code, login.cookie, login.body)
			continue
		}
		if wrote.cleared {
			errs.add("round %d: the write racing the login cleared the cookie", round)
		}
		if !a.authenticated(login.cookie) {
			errs.add("round %d: the login's cookie is not logged in", round)
		}
		if a.authenticated(anon.cookie) {
			errs.add("round %d: the anonymous cookie from before the login is logged in", round)
		}
	}
	errs.report(t)
}

// sessionTests are the cases that drive a Manager; Run includes them.
var sessionTests = []struct {
	name string
	fn   func(t *testing.T, s driver.Store)
}{
	{"SessionLogoutRacesRenew", testSessionLogoutRacesRenew},
	{"SessionRevokeRacesRenew", testSessionRevokeRacesRenew},
	{"SessionRevokeUserRacesRenew", testSessionRevokeUserRacesRenew},
	{"SessionRevokeOthersRacesRenew", testSessionRevokeOthersRacesRenew},
	{"SessionWriteRacesRenew", testSessionWriteRacesRenew},
	{"SessionWriteRacesLogin", testSessionWriteRacesLogin},
	{"SessionDeviceBound", testSessionDeviceBound},
}
