// Package latchtest helps test handlers that use latch sessions: a
// Manager on a memory store, with test keys and a clock that moves only
// when told to, and helpers to log a user in, to move the clock past a
// session's limits and to read what a handler stored. It needs only the
// standard library.
//
//	tm := latchtest.New(t, latch.Config{})
//	app := newApp(tm.Manager)                      // your handler, behind tm.Manager.Handler
//	rec := httptest.NewRecorder()
//	app.ServeHTTP(rec, tm.RequestAs("alice", "GET", "/profile", nil))
//
//	c := tm.Login("alice")
//	tm.PastIdle(c)                                 // the session has now ended
//	theme := tm.Stored(c).GetString("theme")       // what a handler kept, without extending it
package latchtest

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/memstore"
)

// Start is the time a Harness's clock shows when New returns it.
var Start = time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)

// Harness is a latch.Manager for tests, with what it runs on in reach.
type Harness struct {
	Manager *latch.Manager
	Clock   *Clock          // the Manager's and the store's clock, starting at Start
	Store   *memstore.Store // where the sessions are
	Events  *Events         // every event the Manager emitted
	t       testing.TB
}

// New returns a Harness whose Manager is latch.New(cfg) with, in cfg, a
// memory store and the Harness's clock, a keyring from Keys when cfg has
// neither Keys nor KeySource, and a silent Logger when cfg has none. The
// events also reach cfg.OnEvent. cfg must not set Store, Stateless or Now:
// New fails the test if it does, or if latch.New refuses cfg. The store
// and the Manager are closed when the test ends.
func New(t testing.TB, cfg latch.Config) *Harness {
	t.Helper()
	if cfg.Store != nil || cfg.Stateless != nil || cfg.Now != nil {
		t.Fatal("latchtest.New: the Harness brings its own Store and Now; leave Config.Store, Config.Stateless and Config.Now unset")
	}
	h := &Harness{Clock: NewClock(Start), Events: &Events{}, t: t}
	store, err := memstore.New(memstore.Options{Now: h.Clock.Now, SweepInterval: -1})
	if err != nil {
		t.Fatalf("latchtest.New: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	h.Store = store
	cfg.Store, cfg.Now = store, h.Clock.Now
	if cfg.Keys == nil && cfg.KeySource == nil {
		cfg.Keys = Keys(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if onEvent := cfg.OnEvent; onEvent != nil {
		cfg.OnEvent = func(ev latch.Event) { h.Events.Add(ev); onEvent(ev) }
	} else {
		cfg.OnEvent = h.Events.Add
	}
	m, err := latch.New(cfg)
	if err != nil {
		t.Fatalf("latchtest.New: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	h.Manager = m
	return h
}

// Keys returns a keyring of fresh random keys with the given ids, the
// first the one that signs ("k1" when none is given).
func Keys(t testing.TB, ids ...string) *latch.Keyring {
	t.Helper()
	if len(ids) == 0 {
		ids = []string{"k1"}
	}
	keys := make([]latch.Key, len(ids))
	for i, id := range ids {
		keys[i] = latch.Key{ID: id, Secret: latch.GenerateKey()}
	}
	r, err := latch.NewKeyring(keys...)
	if err != nil {
		t.Fatalf("latchtest: keyring: %v", err)
	}
	return r
}

// Login logs userID in on a new session, as a login handler behind the
// Manager would, and returns the session's cookie.
func (h *Harness) Login(userID string, opts ...latch.LoginOption) *http.Cookie {
	h.t.Helper()
	var err error
	res := h.serve(h.Request("POST", "/", nil, nil), func(s *latch.Session) { err = s.Login(userID, opts...) })
	if err != nil {
		h.t.Fatalf("latchtest: login %q: %v", userID, err)
	}
	c := h.Cookie(res)
	if c == nil {
		h.t.Fatalf("latchtest: login %q sent no session cookie", userID)
	}
	return c
}

// Request returns httptest.NewRequest(method, target, body), carrying the
// cookie c unless c is nil.
func (h *Harness) Request(method, target string, body io.Reader, c *http.Cookie) *http.Request {
	r := httptest.NewRequest(method, target, body)
	if c != nil {
		r.AddCookie(c)
	}
	return r
}

// RequestAs logs userID in on a new session and returns a request that
// carries its cookie.
func (h *Harness) RequestAs(userID, method, target string, body io.Reader) *http.Request {
	h.t.Helper()
	return h.Request(method, target, body, h.Login(userID))
}

// Cookie returns the session cookie that res sets, or nil when it sets
// none. A cookie that tells the browser to drop the session has MaxAge -1.
func (h *Harness) Cookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == h.Manager.CookieName() {
			return c
		}
	}
	return nil
}

// Stored returns the session that c names as the store has it now, read
// through the Manager without extending it: its user, values, deadlines,
// or (when it has ended) an empty session whose Ended says why. Read it;
// a change made to it is not saved.
func (h *Harness) Stored(c *http.Cookie) *latch.Session {
	var stored *latch.Session
	h.serve(h.Request("GET", "/", nil, c), func(s *latch.Session) {
		s.NoTouch()
		stored = s
	})
	return stored
}

// PastIdle moves the clock to the idle deadline of the session c names:
// the first instant at which it has ended, unless a request comes first.
func (h *Harness) PastIdle(c *http.Cookie) {
	h.t.Helper()
	idle, _ := h.deadlines(c)
	h.Clock.advanceTo(idle)
}

// PastAbsolute moves the clock to the absolute deadline of the session c
// names: the instant at which it ends whatever its activity.
func (h *Harness) PastAbsolute(c *http.Cookie) {
	h.t.Helper()
	_, absolute := h.deadlines(c)
	h.Clock.advanceTo(absolute)
}

func (h *Harness) deadlines(c *http.Cookie) (idle, absolute time.Time) {
	h.t.Helper()
	s := h.Stored(c)
	idle, absolute = s.Deadlines()
	if idle.IsZero() {
		h.t.Fatalf("latchtest: the cookie names no live session (ended: %q)", s.Ended())
	}
	return idle, absolute
}

// serve runs f on the session of r behind the Manager and returns the
// response.
func (h *Harness) serve(r *http.Request, f func(*latch.Session)) *http.Response {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.Manager.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := latch.FromContext(r.Context())
		if err != nil {
			h.t.Fatalf("latchtest: %v", err)
		}
		f(s)
	})).ServeHTTP(rec, r)
	res := rec.Result()
	if res.StatusCode >= 500 {
		h.t.Fatalf("latchtest: the Manager answered %s", res.Status)
	}
	return res
}
