package latch_test

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

// clock is an injectable clock for timeout tests.
type clock = latchtest.Clock

func newClock() *clock { return latchtest.NewClock(time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)) }

// countingStore wraps a real store, counts the calls that reach it, and can
// be made to fail.
type countingStore struct {
	driver.Store
	loads, commits atomic.Int64
	fail           atomic.Bool
}

var errDown = errors.New("store is down")

func (s *countingStore) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	s.loads.Add(1)
	if s.fail.Load() {
		return nil, errDown
	}
	return s.Store.Load(ctx, id)
}

func (s *countingStore) Commit(ctx context.Context, c *driver.Commit) error {
	s.commits.Add(1)
	if s.fail.Load() {
		return errDown
	}
	return s.Store.Commit(ctx, c)
}

// events collects events.
type events = latchtest.Events

type harness struct {
	t      *testing.T
	m      *latch.Manager
	clock  *clock
	store  *countingStore
	events *events
	logs   *bytes.Buffer
	h      http.Handler
	keys   *latch.Keyring
}

func testKeys(t testing.TB, ids ...string) *latch.Keyring { return latchtest.Keys(t, ids...) }

func newHarness(t *testing.T, cfg latch.Config) *harness {
	t.Helper()
	hs := &harness{t: t, clock: newClock(), events: &events{}, logs: &bytes.Buffer{}}
	ms, err := memstore.New(memstore.Options{Now: hs.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	hs.store = &countingStore{Store: ms}
	cfg.Store = hs.store
	if cfg.Keys == nil {
		cfg.Keys = testKeys(t, "k1")
	}
	hs.keys = cfg.Keys
	cfg.Now = hs.clock.Now
	cfg.OnEvent = hs.events.Add
	cfg.Logger = slog.New(slog.NewTextHandler(hs.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, err := latch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.m = m
	hs.h = m.Handler(testApp(m))
	return hs
}

// testApp is a small application on the session API.
func testApp(m *latch.Manager) http.Handler {
	mux := http.NewServeMux()
	sess := func(r *http.Request) *latch.Session {
		s, err := latch.FromContext(r.Context())
		if err != nil {
			panic(err)
		}
		return s
	}
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, sess(r).GetString(r.FormValue("k")))
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		sess(r).Set(r.FormValue("k"), r.FormValue("v"))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		err := sess(r).Login(r.FormValue("u"), latch.Remember(r.FormValue("remember") == "on"))
		switch {
		case errors.Is(err, latch.ErrSessionLimit):
			http.Error(w, err.Error(), http.StatusConflict)
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		if err := sess(r).Renew(); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sess(r).Logout(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("POST /revoke-others", func(w http.ResponseWriter, r *http.Request) {
		n, err := sess(r).RevokeOthers()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s := sess(r)
		if !s.IsAuthenticated() {
			http.Error(w, "not logged in: "+string(s.Ended()), http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, s.UserID())
	})
	mux.HandleFunc("POST /late-set", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "body first\n")
		http.NewResponseController(w).Flush()
		sess(r).Set(r.FormValue("k"), r.FormValue("v"))
	})
	mux.HandleFunc("POST /late-login", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "body first\n")
		err := sess(r).Login("mallory")
		fmt.Fprint(w, errors.Is(err, latch.ErrHeadersSent))
	})
	mux.Handle("GET /status", m.StatusHandler())
	mux.Handle("POST /sensitive", m.RequireRecentAuth(5*time.Minute, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "done")
	})))
	return mux
}

type resp struct {
	code    int
	body    string
	cookies []string // raw Set-Cookie values
	header  http.Header
}

// setCookie returns the one Set-Cookie of the session cookie, leaving out
// the cookie that carries why a session ended (ended.go).
func (r resp) setCookie(t *testing.T) string {
	t.Helper()
	session := r.sessionCookies()
	if len(session) != 1 {
		t.Fatalf("got %d Set-Cookie headers of the session %q; want 1", len(session), r.cookies)
	}
	return session[0]
}

func (r resp) sessionCookies() []string {
	var out []string
	for _, c := range r.cookies {
		name, _, _ := strings.Cut(c, "=")
		if !strings.HasSuffix(name, "-ended") {
			out = append(out, c)
		}
	}
	return out
}

// ended returns the value of the cookie that carries why a session
// ended, "" when the response set none, and whether it expires it.
func (r resp) ended() (reason string, expires bool) {
	for _, c := range r.cookies {
		v, _, _ := strings.Cut(c, ";")
		name, v, _ := strings.Cut(v, "=")
		if strings.HasSuffix(name, "-ended") {
			return v, strings.Contains(c, "Max-Age=0")
		}
	}
	return "", false
}

// token returns the token a response set, or "" when it set none or
// expired the cookie.
func (r resp) token() string {
	for _, c := range r.sessionCookies() {
		v, _, _ := strings.Cut(c, ";")
		_, v, _ = strings.Cut(v, "=")
		if !strings.Contains(c, "Max-Age=0") {
			return v
		}
	}
	return ""
}

func (hs *harness) do(method, path, token string) resp {
	return hs.doReq(httptest.NewRequest(method, path, nil), token)
}

func (hs *harness) doReq(req *http.Request, token string) resp {
	if token != "" {
		req.Header.Set("Cookie", hs.m.CookieName()+"="+token)
	}
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return resp{code: res.StatusCode, body: string(body), cookies: res.Header.Values("Set-Cookie"), header: res.Header}
}

// login logs user in on a fresh session and returns the token.
func (hs *harness) login(user string) string {
	hs.t.Helper()
	r := hs.do("POST", "/login?u="+user, "")
	if r.code != 200 || r.token() == "" {
		hs.t.Fatalf("login: %d %q cookies %q", r.code, r.body, r.cookies)
	}
	return r.token()
}

func TestFromContextOutsideMiddleware(t *testing.T) {
	s, err := latch.FromContext(context.Background())
	if s != nil || !errors.Is(err, latch.ErrNoSession) {
		t.Fatalf("FromContext = %v, %v; want nil, ErrNoSession", s, err)
	}
}
