package cookiestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

// clock is an injectable clock shared by the Manager, the cookie store and
// the revocation store.
type clock = latchtest.Clock

func newClock() *clock { return latchtest.NewClock(time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)) }

// events collects the Manager's events.
type events = latchtest.Events

// testKeys returns a keyring of fresh keys with the given ids, primary
// first.
func testKeys(t testing.TB, ids ...string) *latch.Keyring { return latchtest.Keys(t, ids...) }

// harness is a Manager on a cookie store, with an application that
// exposes the Session API over HTTP.
type harness struct {
	t      *testing.T
	clock  *clock
	keys   *latch.Keyring
	store  *cookiestore.Store
	revs   *memstore.Store
	m      *latch.Manager
	h      http.Handler
	events *events
	logs   *bytes.Buffer
}

type harnessOptions struct {
	cfg      latch.Config
	opts     cookiestore.Options
	keys     *latch.Keyring
	noRevoke bool            // no Options.Revocations
	src      latch.KeySource // the Manager's KeySource, reloaded by the test; keys is the store's first keyring
}

func newHarness(t *testing.T, ho harnessOptions) *harness {
	t.Helper()
	hs := &harness{t: t, clock: newClock(), events: &events{}, logs: &bytes.Buffer{}}
	hs.keys = ho.keys
	if hs.keys == nil {
		hs.keys = testKeys(t, "k1")
	}
	revs, err := memstore.New(memstore.Options{Now: hs.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { revs.Close() })
	hs.revs = revs
	opts := ho.opts
	opts.Now = hs.clock.Now
	if opts.Revocations == nil && !ho.noRevoke {
		opts.Revocations = cookiestore.StoreRevocations(revs)
	}
	hs.store, err = cookiestore.New(hs.keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ho.cfg
	cfg.Stateless = hs.store
	if ho.src != nil {
		cfg.KeySource, cfg.KeyReloadInterval = ho.src, -1
	} else {
		cfg.Keys = hs.keys
	}
	cfg.Now = hs.clock.Now
	cfg.OnEvent = hs.events.Add
	cfg.Logger = slog.New(slog.NewTextHandler(hs.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hs.m, err = latch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.h = hs.m.Handler(testApp())
	return hs
}

// testApp exposes the Session API:
//
//	GET  /get?k=K            the value under K, as "%T %v"
//	POST /set?k=K&v=V        sets K to the string V
//	POST /setn?k=K&n=N       sets K to the int N
//	POST /login?user=U[&remember=1]
//	POST /pop?k=K            removes K and answers its value, "%T %v"
//	POST /logout
//	POST /renew[?pop=K]      renews, after popping K when given
//	POST /reauth
//	POST /revoke-others      answers the count
//	GET  /whoami             "user=U ended=E"
func testApp() http.Handler {
	mux := http.NewServeMux()
	// handle runs f with the request's session.
	handle := func(pattern string, f func(w http.ResponseWriter, r *http.Request, s *latch.Session)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s, err := latch.FromContext(r.Context())
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			f(w, r, s)
		})
	}
	fail := func(w http.ResponseWriter, err error) {
		if errors.Is(err, driver.ErrNotSupported) {
			http.Error(w, err.Error(), http.StatusNotImplemented)
			return
		}
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	}
	handle("GET /get", func(w http.ResponseWriter, r *http.Request, s *latch.Session) {
		v, ok := s.Lookup(r.FormValue("k"))
		if !ok {
			http.Error(w, "no value", http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, "%T %v", v, v)
	})
	handle("POST /set", func(w http.ResponseWriter, r *http.Request, s *latch.Session) {
		s.Set(r.FormValue("k"), r.FormValue("v"))
		io.WriteString(w, "ok")
	})
	handle("POST /setn", func(w http.ResponseWriter, r *http.Request, s *latch.Session) {
		var n int
		fmt.Sscan(r.FormValue("n"), &n)
		s.Set(r.FormValue("k"), n)
		io.WriteString(w, "ok")
	})
	handle("POST /login", func(w http.ResponseWriter, r *http.Request, s *latch.Session) {
		if err := s.Login(r.FormValue("user"), latch.Remember(r.FormValue("remember") == "1")); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	handle("POST /pop", func(w http.ResponseWriter, r *http.Request, s *latch.Session) {
		v := s.Pop(r.FormValue("k"))
		fmt.Fprintf(w, "%T %v", v, v)
	})
	handle("POST /logout", func(w http.ResponseWriter, r *http.Request, s *latch.Session) {
		if err := s.Logout(); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	handle("POST /renew", func(w http.ResponseWriter, r *http.Request, s *latch.Session) {
		if k := r.FormValue("pop"); k != "" {
			s.Pop(k)
		}
		if err := s.Renew(); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	handle("POST /reauth", func(w http.ResponseWriter, r *http.Request, s *latch.Session) {
		if err := s.Reauthenticate(); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	handle("POST /revoke-others", func(w http.ResponseWriter, r *http.Request, s *latch.Session) {
		n, err := s.RevokeOthers()
		if err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, n)
	})
	handle("GET /whoami", func(w http.ResponseWriter, r *http.Request, s *latch.Session) {
		fmt.Fprintf(w, "user=%s ended=%s", s.UserID(), s.Ended())
	})
	return mux
}

// response is what a client sees of one request.
type response struct {
	code      int
	body      string
	setCookie []string
	cookie    string // the new session cookie value, "" when none was set
	expired   bool   // the session cookie was cleared
}

// do sends one request carrying the session cookie value (none when "").
func (hs *harness) do(method, target, cookie string) response {
	hs.t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = "192.0.2.10:5555"
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
	if cookie != "" {
		req.Header.Set("Cookie", hs.m.CookieName()+"="+cookie)
	}
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, req)
	res := response{code: rec.Code, body: rec.Body.String(), setCookie: rec.Result().Header.Values("Set-Cookie")}
	for _, c := range rec.Result().Cookies() {
		if c.Name != hs.m.CookieName() {
			continue
		}
		if c.MaxAge < 0 {
			res.expired = true
		} else {
			res.cookie = c.Value
		}
	}
	return res
}

// browser follows one client's cookie across requests.
type browser struct {
	hs     *harness
	cookie string
}

func (b *browser) do(method, target string) response {
	b.hs.t.Helper()
	res := b.hs.do(method, target, b.cookie)
	switch {
	case res.cookie != "":
		b.cookie = res.cookie
	case res.expired:
		b.cookie = ""
	}
	return res
}

func (b *browser) whoami() string {
	b.hs.t.Helper()
	return b.do("GET", "/whoami").body
}

// open opens a cookie value directly, as the Manager would.
func (hs *harness) open(value string) (driver.Opened, error) {
	return hs.store.Open(context.Background(), hs.m.CookieName(), value, hs.clock.Now())
}

// mustLogin logs user in from a fresh browser.
func (hs *harness) mustLogin(user string, remember bool) *browser {
	hs.t.Helper()
	b := &browser{hs: hs}
	target := "/login?user=" + user
	if remember {
		target += "&remember=1"
	}
	if res := b.do("POST", target); res.code != http.StatusOK || b.cookie == "" {
		hs.t.Fatalf("login %s: %d %q, cookie %q", user, res.code, res.body, b.cookie)
	}
	return b
}

func wantBody(t *testing.T, what string, got response, want string) {
	t.Helper()
	if got.code != http.StatusOK || strings.TrimSpace(got.body) != want {
		t.Errorf("%s: %d %q; want 200 %q", what, got.code, got.body, want)
	}
}
