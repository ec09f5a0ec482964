package latchgin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchgin"
	"github.com/latchsec/latch/latchtest"
)

// passwordOK stands in for the application's user store.
func passwordOK(user, password string) bool { return user == "alice" && password == "wonderland" }

// newRouter is the README's gin set-up, copied from here.
func newRouter(m *latch.Manager) *gin.Engine {
	// snippet: gin
	r := gin.New()
	r.Use(latchgin.Middleware(m))
	r.POST("/login", func(c *gin.Context) {
		s, _ := latchgin.Session(c) // or latch.FromContext(c.Request.Context())
		user := c.PostForm("username")
		if !passwordOK(user, c.PostForm("password")) {
			c.String(http.StatusUnauthorized, "wrong user or password")
			return
		}
		if err := s.Login(user); err != nil {
			c.String(http.StatusServiceUnavailable, "try again")
			return
		}
		c.Redirect(http.StatusSeeOther, "/me")
	})
	r.GET("/me", latchgin.RequireLogin(m, nil), func(c *gin.Context) {
		s, _ := latchgin.Session(c)
		c.JSON(http.StatusOK, gin.H{"user": s.UserID()})
	})
	r.GET("/session/status", latchgin.StatusHandler(m))
	// end snippet
	return r
}

// TestSetup runs the README's gin set-up: a form login, a page behind
// RequireLogin, the status handler.
func TestSetup(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	srv := newServer(t, newRouter(tm.Manager))
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
	if res, body := srv.do("GET", "/me", "", c); res.StatusCode != 200 || body != `{"user":"alice"}` {
		t.Errorf("GET /me: %d %q", res.StatusCode, body)
	}
	if res, body := srv.do("GET", "/session/status", "", c); res.StatusCode != 200 || !strings.Contains(body, `"user":"alice"`) {
		t.Errorf("GET /session/status: %d %q", res.StatusCode, body)
	}
}
