package latchecho_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/latchecho"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

// server serves r over real HTTP and sends requests with or without a
// session cookie.
type server struct {
	t   *testing.T
	url string
}

func newServer(t *testing.T, r http.Handler) *server {
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &server{t: t, url: srv.URL}
}

// do sends a request and returns the response with its body read.
func (s *server) do(method, path, body string, c *http.Cookie) (*http.Response, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	switch {
	case strings.HasPrefix(body, "{"):
		req.Header.Set("Content-Type", "application/json")
	case body != "":
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c != nil {
		req.AddCookie(c)
	}
	client := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return res, string(b)
}

// session returns the request's session; a handler behind Middleware
// always has one.
func session(t *testing.T, c echo.Context) *latch.Session {
	s, err := latchecho.Session(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newEcho returns an Echo with latch's Middleware, behind outer when it
// is not nil.
func newEcho(m *latch.Manager, outer echo.MiddlewareFunc) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	if outer != nil {
		e.Use(outer)
	}
	e.Use(latchecho.Middleware(m))
	return e
}

// TestResponses: whichever way the response is written, by the handler or
// by echo after it, its status reaches the client unchanged and the
// session's cookie goes with it.
func TestResponses(t *testing.T) {
	tests := []struct {
		name    string
		handler func(c echo.Context) error
		outer   echo.MiddlewareFunc // registered before Middleware, when not nil
		status  int
		body    string
		header  string // a header the response must have: "Name: value"
	}{
		{"HTTPError 403 (echo's error handler writes it after the middleware)", func(c echo.Context) error {
			return echo.NewHTTPError(http.StatusForbidden)
		}, nil, 403, "{\"message\":\"Forbidden\"}\n", "Content-Type: application/json"},
		{"a plain error: 500 from the error handler", func(c echo.Context) error {
			return errors.New("broken")
		}, nil, 500, "{\"message\":\"Internal Server Error\"}\n", ""},
		{"Redirect 303", func(c echo.Context) error {
			return c.Redirect(http.StatusSeeOther, "/home")
		}, nil, 303, "", "Location: /home"},
		{"NoContent", func(c echo.Context) error {
			return c.NoContent(http.StatusNoContent)
		}, nil, 204, "", ""},
		{"String", func(c echo.Context) error {
			return c.String(http.StatusCreated, "made")
		}, nil, 201, "made", "Content-Type: text/plain; charset=UTF-8"},
		{"WriteHeader, then Flush", func(c echo.Context) error {
			c.Response().WriteHeader(http.StatusPartialContent)
			c.Response().Flush()
			_, err := c.Response().Write([]byte("part"))
			return err
		}, nil, 206, "part", ""},
		{"an outer middleware answers after the handler wrote nothing", func(c echo.Context) error {
			return nil
		}, func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				if err := next(c); err != nil || c.Response().Committed {
					return err
				}
				return c.NoContent(http.StatusTeapot)
			}
		}, 418, "", ""},
		{"nothing written, no error", func(c echo.Context) error { return nil }, nil, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := latchtest.New(t, latch.Config{})
			e := newEcho(tm.Manager, tt.outer)
			e.POST("/", func(c echo.Context) error {
				if err := session(t, c).Login("alice"); err != nil {
					return err
				}
				return tt.handler(c)
			})
			res, body := newServer(t, e).do("POST", "/", "", nil)
			if res.StatusCode != tt.status || body != tt.body {
				t.Errorf("got %d %q; want %d %q", res.StatusCode, body, tt.status, tt.body)
			}
			if name, value, ok := strings.Cut(tt.header, ": "); ok && res.Header.Get(name) != value {
				t.Errorf("%s: %q; want %q", name, res.Header.Get(name), value)
			}
			c := tm.Cookie(res)
			if c == nil {
				t.Fatalf("no session cookie; Set-Cookie %q", res.Header.Values("Set-Cookie"))
			}
			if user := tm.Stored(c).UserID(); user != "alice" {
				t.Errorf("the cookie's session has user %q; want alice", user)
			}
		})
	}
}

// TestSessionLifecycle: a JSON login sets the cookie, Renew replaces it,
// Logout ends the session, and a change after the body began is saved.
func TestSessionLifecycle(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	e := newEcho(tm.Manager, nil)
	e.POST("/login", func(c echo.Context) error {
		var in struct {
			User string `json:"user"`
		}
		if err := c.Bind(&in); err != nil || in.User == "" {
			return echo.NewHTTPError(http.StatusBadRequest, "user is required")
		}
		if err := session(t, c).Login(in.User); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"user": in.User})
	})
	e.POST("/renew", func(c echo.Context) error {
		if err := session(t, c).Renew(); err != nil {
			return err
		}
		return c.String(http.StatusOK, "renewed")
	})
	e.POST("/logout", func(c echo.Context) error {
		if err := session(t, c).Logout(); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/")
	})
	e.GET("/late", func(c echo.Context) error {
		if err := c.String(http.StatusOK, "body first"); err != nil {
			return err
		}
		c.Response().Flush()
		return session(t, c).Set("late", "kept")
	})
	srv := newServer(t, e)

	res, body := srv.do("POST", "/login", `{"user":"alice"}`, nil)
	login := tm.Cookie(res)
	if res.StatusCode != 200 || body != "{\"user\":\"alice\"}\n" || login == nil {
		t.Fatalf("JSON login: %d %q, cookie %v", res.StatusCode, body, login)
	}
	if res, _ := srv.do("POST", "/login", `{}`, nil); res.StatusCode != 400 || tm.Cookie(res) != nil {
		t.Errorf("JSON login without a user: %d, cookie %v; want 400 and none", res.StatusCode, tm.Cookie(res))
	}

	if res, _ := srv.do("GET", "/late", "", login); res.StatusCode != 200 {
		t.Fatalf("late change: %d", res.StatusCode)
	}
	if got := tm.Stored(login).GetString("late"); got != "kept" {
		t.Errorf("a change after the body began: stored %q; want kept", got)
	}

	res, _ = srv.do("POST", "/renew", "", login)
	renewed := tm.Cookie(res)
	if renewed == nil || renewed.Value == login.Value {
		t.Fatalf("Renew: cookie %v; want a new one", renewed)
	}
	if s := tm.Stored(login); s.UserID() != "" {
		t.Errorf("the cookie before Renew still names alice's session")
	}
	if s := tm.Stored(renewed); s.UserID() != "alice" || s.GetString("late") != "kept" {
		t.Errorf("after Renew: user %q, late %q; want alice, kept", s.UserID(), s.GetString("late"))
	}

	res, _ = srv.do("POST", "/logout", "", renewed)
	if c := tm.Cookie(res); res.StatusCode != 303 || c == nil || c.MaxAge != -1 {
		t.Errorf("Logout: %d, cookie %v; want 303 and the cookie dropped", res.StatusCode, c)
	}
	if s := tm.Stored(renewed); s.UserID() != "" {
		t.Errorf("after Logout the session still has user %q", s.UserID())
	}
}

// TestLateChangeAsNetHTTP: a change made after the body began is saved
// behind echo as behind latch's net/http middleware.
func TestLateChangeAsNetHTTP(t *testing.T) {
	late := func(s *latch.Session, w http.ResponseWriter) {
		io.WriteString(w, "body")
		http.NewResponseController(w).Flush()
		s.Set("n", 1)
	}
	tm := latchtest.New(t, latch.Config{})
	e := newEcho(tm.Manager, nil)
	e.GET("/", func(c echo.Context) error { late(session(t, c), c.Response()); return nil })
	plain := tm.Manager.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		late(s, w)
	}))
	for name, h := range map[string]http.Handler{"echo": e, "net/http": plain} {
		c := tm.Login("alice")
		res, body := newServer(t, h).do("GET", "/", "", c)
		if res.StatusCode != 200 || body != "body" || tm.Stored(c).GetInt("n") != 1 {
			t.Errorf("%s: %d %q, stored n %d; want 200 \"body\" 1", name, res.StatusCode, body, tm.Stored(c).GetInt("n"))
		}
	}
}

// failingStore fails every Commit while fail is set.
type failingStore struct {
	*memstore.Store
	fail atomic.Bool
}

func (f *failingStore) Commit(ctx context.Context, c *driver.Commit) error {
	if f.fail.Load() {
		return errors.New("store down")
	}
	return f.Store.Commit(ctx, c)
}

// TestStoreFailure: a commit that fails when the response begins, or when
// the handler returns, is answered by latch's ErrorHandler (503), never by
// the handler's status without the session; echo's error handler then
// writes nothing more, and middleware in front (a request logger) sees the
// 503 in c.Response().
func TestStoreFailure(t *testing.T) {
	mem, _ := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	store := &failingStore{Store: mem}
	store.fail.Store(true)
	m, err := latch.New(latch.Config{Store: store, Keys: latchtest.Keys(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var seen struct {
		status    int
		committed bool
	}
	e := newEcho(m, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			seen.status, seen.committed = c.Response().Status, c.Response().Committed
			return err
		}
	})
	e.GET("/write", func(c echo.Context) error {
		session(t, c).Set("k", "v")
		return c.String(http.StatusOK, "saved")
	})
	e.GET("/error", func(c echo.Context) error {
		session(t, c).Set("k", "v")
		return echo.NewHTTPError(http.StatusForbidden, "no entry")
	})
	srv := newServer(t, e)
	for _, path := range []string{"/write", "/error"} {
		res, body := srv.do("GET", path, "", nil)
		if res.StatusCode != 503 || strings.Contains(body, "saved") || strings.Contains(body, "no entry") || res.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s with the store down: %d %q, Set-Cookie %q; want 503, nothing of the handler's, no cookie",
				path, res.StatusCode, body, res.Header.Get("Set-Cookie"))
		}
		if seen.status != 503 || !seen.committed {
			t.Errorf("%s: the middleware in front saw status %d, committed %v; want 503, true", path, seen.status, seen.committed)
		}
	}
}

func TestGuards(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	m := tm.Manager
	e := newEcho(m, nil)
	ok := func(c echo.Context) error { return c.String(http.StatusOK, "through") }
	e.GET("/login-401", ok, latchecho.RequireLogin(m, nil))
	e.GET("/login-redirect", ok, latchecho.RequireLogin(m, func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/signin") }))
	e.GET("/recent", ok, latchecho.RequireRecentAuth(m, 5*time.Minute, nil))
	e.GET("/recent-form", ok, latchecho.RequireRecentAuth(m, 5*time.Minute, func(c echo.Context) error { return c.String(http.StatusForbidden, "password again") }))
	e.GET("/status", latchecho.StatusHandler(m))
	srv := newServer(t, e)

	alice := tm.Login("alice")
	tests := []struct {
		name   string
		path   string
		cookie *http.Cookie
		later  time.Duration // the clock moves this far before the request
		status int
		body   string
	}{
		{"RequireLogin, no session", "/login-401", nil, 0, 401, "{\"message\":\"Unauthorized\"}\n"},
		{"RequireLogin, signed in", "/login-401", alice, 0, 200, "through"},
		{"RequireLogin with a denied handler", "/login-redirect", nil, 0, 303, ""},
		{"RequireRecentAuth just after login", "/recent", alice, 0, 200, "through"},
		{"RequireRecentAuth, no session", "/recent", nil, 0, 401, "{\"message\":\"Please authenticate again\"}\n"},
		{"RequireRecentAuth after the window", "/recent", alice, 6 * time.Minute, 401, "{\"message\":\"Please authenticate again\"}\n"},
		{"RequireRecentAuth with a reauth handler", "/recent-form", alice, 0, 403, "password again"},
		{"status, no session", "/status", nil, 0, 401, "{\"authenticated\":false,\"idle_remaining_seconds\":0,\"absolute_remaining_seconds\":0,\"idle_timeout_seconds\":0}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm.Clock.Advance(tt.later)
			res, body := srv.do("GET", tt.path, "", tt.cookie)
			if res.StatusCode != tt.status || body != tt.body {
				t.Errorf("got %d %q; want %d %q", res.StatusCode, body, tt.status, tt.body)
			}
		})
	}

	bob := tm.Login("bob")
	res, body := srv.do("GET", "/status", "", bob)
	if res.StatusCode != 200 || !strings.Contains(body, `"user":"bob"`) || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("status of bob's session: %d %q %q", res.StatusCode, body, res.Header.Get("Content-Type"))
	}
}

func TestSessionWithoutMiddleware(t *testing.T) {
	e := echo.New()
	var err error
	e.GET("/", func(c echo.Context) error { _, err = latchecho.Session(c); return nil })
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !errors.Is(err, latch.ErrNoSession) {
		t.Errorf("Session without Middleware: %v; want ErrNoSession", err)
	}
}

// TestPanic: a panic in a handler commits nothing, as with net/http: echo's
// Recover middleware in front answers 500 without the session's cookie,
// and a value set before the panic is not saved.
func TestPanic(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	e := newEcho(tm.Manager, middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisablePrintStack: true,
		LogErrorFunc:      func(_ echo.Context, err error, _ []byte) error { return err },
	}))
	e.GET("/", func(c echo.Context) error {
		session(t, c).Set("k", "set before the panic")
		panic("boom")
	})
	c := tm.Login("alice")
	res, _ := newServer(t, e).do("GET", "/", "", c)
	if res.StatusCode != 500 || tm.Cookie(res) != nil {
		t.Errorf("panic: %d, cookie %v; want 500 and none", res.StatusCode, tm.Cookie(res))
	}
	if s := tm.Stored(c); s.UserID() != "alice" || s.GetString("k") != "" {
		t.Errorf("after the panic: user %q, k %q; want alice's session unchanged", s.UserID(), s.GetString("k"))
	}
}
