package latchgin_test

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

	"github.com/gin-gonic/gin"
	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/latchgin"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

func init() { gin.SetMode(gin.TestMode) }

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
func session(t *testing.T, c *gin.Context) *latch.Session {
	s, err := latchgin.Session(c)
	if err != nil {
		t.Error(err)
		c.AbortWithStatus(http.StatusInternalServerError)
	}
	return s
}

// TestResponses: whichever of gin's ways writes the response, its status
// reaches the client unchanged and the session's cookie goes with it.
func TestResponses(t *testing.T) {
	tests := []struct {
		name    string
		handler func(t *testing.T, c *gin.Context)
		outer   gin.HandlerFunc // registered before Middleware, when not nil
		status  int
		body    string
		header  string // a header the response must have: "Name: value"
	}{
		{"AbortWithStatus", func(t *testing.T, c *gin.Context) {
			session(t, c).Login("alice")
			c.AbortWithStatus(http.StatusForbidden)
		}, nil, 403, "", ""},
		{"Redirect 303 after a POST (gin writes the status after the handler)", func(t *testing.T, c *gin.Context) {
			session(t, c).Login("alice")
			c.Redirect(http.StatusSeeOther, "/home")
		}, nil, 303, "", "Location: /home"},
		{"Status only (gin writes it after the chain)", func(t *testing.T, c *gin.Context) {
			session(t, c).Login("alice")
			c.Status(http.StatusAccepted)
		}, nil, 202, "", ""},
		{"an outer middleware answers after the handler wrote nothing", func(t *testing.T, c *gin.Context) {
			session(t, c).Login("alice")
		}, func(c *gin.Context) {
			c.Next()
			if !c.Writer.Written() {
				c.AbortWithStatus(http.StatusTeapot)
			}
		}, 418, "", ""},
		{"String", func(t *testing.T, c *gin.Context) {
			session(t, c).Login("alice")
			c.String(http.StatusCreated, "made")
		}, nil, 201, "made", "Content-Type: text/plain; charset=utf-8"},
		{"Status, then Flush", func(t *testing.T, c *gin.Context) {
			session(t, c).Login("alice")
			c.Status(http.StatusPartialContent)
			c.Writer.Flush()
			c.Writer.WriteString("part")
		}, nil, 206, "part", ""},
		{"Status, then Writer.Write", func(t *testing.T, c *gin.Context) {
			session(t, c).Login("alice")
			c.Status(http.StatusConflict)
			c.Writer.Write([]byte("taken"))
		}, nil, 409, "taken", ""},
		{"nothing written, no status", func(t *testing.T, c *gin.Context) {
			session(t, c).Login("alice")
		}, nil, 200, "", ""},
		{"net/http's Redirect on c.Writer", func(t *testing.T, c *gin.Context) {
			session(t, c).Login("alice")
			http.Redirect(c.Writer, c.Request, "/there", http.StatusFound)
		}, nil, 302, "", "Location: /there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := latchtest.New(t, latch.Config{})
			r := gin.New()
			if tt.outer != nil {
				r.Use(tt.outer)
			}
			r.Use(latchgin.Middleware(tm.Manager))
			r.POST("/", func(c *gin.Context) { tt.handler(t, c) })
			res, body := newServer(t, r).do("POST", "/", "", nil)
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
	r := gin.New()
	r.Use(latchgin.Middleware(tm.Manager))
	r.POST("/login", func(c *gin.Context) {
		var form struct {
			User string `json:"user" binding:"required"`
		}
		if err := c.ShouldBindJSON(&form); err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		if err := session(t, c).Login(form.User); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": form.User})
	})
	r.POST("/renew", func(c *gin.Context) {
		if err := session(t, c).Renew(); err != nil {
			t.Error(err)
		}
		c.String(http.StatusOK, "renewed")
	})
	r.POST("/logout", func(c *gin.Context) {
		if err := session(t, c).Logout(); err != nil {
			t.Error(err)
		}
		c.Redirect(http.StatusSeeOther, "/")
	})
	r.GET("/late", func(c *gin.Context) {
		c.String(http.StatusOK, "body first")
		c.Writer.Flush()
		if err := session(t, c).Set("late", "kept"); err != nil {
			t.Error(err)
		}
	})
	srv := newServer(t, r)

	res, body := srv.do("POST", "/login", `{"user":"alice"}`, nil)
	login := tm.Cookie(res)
	if res.StatusCode != 200 || body != `{"user":"alice"}` || login == nil {
		t.Fatalf("JSON login: %d %q, cookie %v", res.StatusCode, body, login)
	}
	if res, _ := srv.do("POST", "/login", `{}`, nil); res.StatusCode != 400 || tm.Cookie(res) != nil {
		t.Errorf("JSON login without a user: %d, cookie %v; want 400 and none", res.StatusCode, tm.Cookie(res))
	}

	res, _ = srv.do("GET", "/late", "", login)
	if res.StatusCode != 200 {
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
// behind gin as behind latch's net/http middleware.
func TestLateChangeAsNetHTTP(t *testing.T) {
	late := func(s *latch.Session, w http.ResponseWriter) {
		io.WriteString(w, "body")
		http.NewResponseController(w).Flush()
		s.Set("n", 1)
	}
	tm := latchtest.New(t, latch.Config{})
	r := gin.New()
	r.Use(latchgin.Middleware(tm.Manager))
	r.GET("/", func(c *gin.Context) { late(session(t, c), c.Writer) })
	plain := tm.Manager.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		late(s, w)
	}))
	for name, h := range map[string]http.Handler{"gin": r, "net/http": plain} {
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
// the handler wrote nothing, is answered by latch's ErrorHandler (503),
// never by the handler's status without the session.
func TestStoreFailure(t *testing.T) {
	mem, _ := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	store := &failingStore{Store: mem}
	store.fail.Store(true)
	m, err := latch.New(latch.Config{Store: store, Keys: latchtest.Keys(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(latchgin.Middleware(m))
	r.GET("/write", func(c *gin.Context) {
		session(t, c).Set("k", "v")
		c.String(http.StatusOK, "saved")
	})
	r.GET("/status", func(c *gin.Context) {
		session(t, c).Set("k", "v")
		c.Status(http.StatusAccepted)
	})
	srv := newServer(t, r)
	for _, path := range []string{"/write", "/status"} {
		res, body := srv.do("GET", path, "", nil)
		if res.StatusCode != 503 || strings.Contains(body, "saved") || res.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s with the store down: %d %q, Set-Cookie %q; want 503, no body of the handler, no cookie",
				path, res.StatusCode, body, res.Header.Get("Set-Cookie"))
		}
	}
}

func TestGuards(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	m := tm.Manager
	r := gin.New()
	r.Use(latchgin.Middleware(m))
	ok := func(c *gin.Context) { c.String(http.StatusOK, "through") }
	r.GET("/login-401", latchgin.RequireLogin(m, nil), ok)
	r.GET("/login-redirect", latchgin.RequireLogin(m, func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/signin") }), ok)
	r.GET("/recent", latchgin.RequireRecentAuth(m, 5*time.Minute, nil), ok)
	r.GET("/recent-form", latchgin.RequireRecentAuth(m, 5*time.Minute, func(c *gin.Context) { c.String(http.StatusForbidden, "password again") }), ok)
	r.GET("/status", latchgin.StatusHandler(m))
	srv := newServer(t, r)

	alice := tm.Login("alice")
	tests := []struct {
		name   string
		path   string
		cookie *http.Cookie
		later  time.Duration // the clock moves this far before the request
		status int
		body   string
	}{
		{"RequireLogin, no session", "/login-401", nil, 0, 401, ""},
		{"RequireLogin, signed in", "/login-401", alice, 0, 200, "through"},
		{"RequireLogin with a denied handler", "/login-redirect", nil, 0, 303, "<a href=\"/signin\">See Other</a>.\n\n"},
		{"RequireRecentAuth just after login", "/recent", alice, 0, 200, "through"},
		{"RequireRecentAuth, no session", "/recent", nil, 0, 401, ""},
		{"RequireRecentAuth after the window", "/recent", alice, 6 * time.Minute, 401, ""},
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
	r := gin.New()
	var err error
	r.GET("/", func(c *gin.Context) { _, err = latchgin.Session(c) })
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !errors.Is(err, latch.ErrNoSession) {
		t.Errorf("Session without Middleware: %v; want ErrNoSession", err)
	}
}

// TestPanic: a panic in a handler commits nothing, as with net/http: the
// recovery middleware in front answers 500 without the session's cookie,
// and a value set before the panic is not saved.
func TestPanic(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	r := gin.New()
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) { c.AbortWithStatus(http.StatusInternalServerError) }))
	r.Use(latchgin.Middleware(tm.Manager))
	r.GET("/", func(c *gin.Context) {
		session(t, c).Set("k", "set before the panic")
		panic("boom")
	})
	c := tm.Login("alice")
	res, _ := newServer(t, r).do("GET", "/", "", c)
	if res.StatusCode != 500 || tm.Cookie(res) != nil {
		t.Errorf("panic: %d, cookie %v; want 500 and none", res.StatusCode, tm.Cookie(res))
	}
	if s := tm.Stored(c); s.UserID() != "alice" || s.GetString("k") != "" {
		t.Errorf("after the panic: user %q, k %q; want alice's session unchanged", s.UserID(), s.GetString("k"))
	}
}
