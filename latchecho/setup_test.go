package latchecho_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchecho"
	"github.com/latchsec/latch/latchtest"
)

// passwordOK stands in for the application's user store.
func passwordOK(user, password string) bool { return user == "alice" && password == "wonderland" }

// newEchoApp is the README's echo set-up, copied from here.
func newEchoApp(m *latch.Manager) *echo.Echo {
	// snippet: echo
	e := echo.New()
	e.Use(latchecho.Middleware(m))
	e.POST("/login", func(c echo.Context) error {
		s, _ := latchecho.Session(c) // or latch.FromContext(c.Request().Context())
		user := c.FormValue("username")
		if !passwordOK(user, c.FormValue("password")) {
			return echo.NewHTTPError(http.StatusUnauthorized, "wrong user or password")
		}
		if err := s.Login(user); err != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, "try again")
		}
		return c.Redirect(http.StatusSeeOther, "/me")
	})
	e.GET("/me", func(c echo.Context) error {
		s, _ := latchecho.Session(c)
		return c.JSON(http.StatusOK, map[string]string{"user": s.UserID()})
	}, latchecho.RequireLogin(m, nil))
	e.GET("/session/status", latchecho.StatusHandler(m))
	// end snippet
	return e
}

// TestSetup runs the README's echo set-up: a form login, a page behind
// RequireLogin, the status handler.
func TestSetup(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	srv := newServer(t, newEchoApp(tm.Manager))
	form := func(user, password string) string {
		return url.Values{"username": {user}, "password": {password}}.Encode()
	}
	if res, _ := srv.do("GET", "/me", "", nil); res.StatusCode != 401 {
		t.Errorf("GET /me signed out: %d; want 401", res.StatusCode)
	}
	if res, _ := srv.do("POST", "/login", form("alice", "wrong"), nil); res.StatusCode != 401 || tm.Cookie(res) != nil {
		t.Errorf("wrong password: %d, cookie %v; want 401 and none", res.StatusCode, tm.Cookie(res))
	}
	res, _ := srv.do("POST", "/login", form("alice", "wonderland"), nil)
	c := tm.Cookie(res)
	if res.StatusCode != 303 || c == nil {
		t.Fatalf("login: %d, cookie %v; want 303 and a cookie", res.StatusCode, c)
	}
	if res, body := srv.do("GET", "/me", "", c); res.StatusCode != 200 || body != "{\"user\":\"alice\"}\n" {
		t.Errorf("GET /me: %d %q", res.StatusCode, body)
	}
	if res, body := srv.do("GET", "/session/status", "", c); res.StatusCode != 200 || !strings.Contains(body, `"user":"alice"`) {
		t.Errorf("GET /session/status: %d %q", res.StatusCode, body)
	}
}
