// Package latchgin puts latch sessions into gin applications.
//
// Middleware gives every request its session, as latch's Manager.Handler
// does for net/http; inside a handler latch.FromContext(c.Request.Context())
// or Session(c) returns it. RequireLogin and RequireRecentAuth are
// latch's guards and StatusHandler its status handler, as gin handlers.
//
//	r := gin.New()
//	r.Use(latchgin.Middleware(m))
//	r.POST("/login", login)                                    // calls s.Login(user)
//	r.GET("/session/status", latchgin.StatusHandler(m))
//	r.GET("/account", latchgin.RequireLogin(m, nil), account)
//
// The session is committed when the response begins, so its cookie goes
// out with the headers, whichever of gin's ways writes them (c.JSON,
// c.String, c.Redirect, c.AbortWithStatus, c.Writer). A handler that
// writes nothing leaves the status to gin: a status chosen with c.Status
// goes out as chosen, with the session's cookie. Changes made after the
// body began are saved when the handler returns, as with net/http.
package latchgin

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/latchsec/latch"
)

// Middleware returns gin middleware that gives every request its session
// (see latch.Manager.Handler). Register it before the handlers that use
// sessions, with Engine.Use or on a group.
func Middleware(m *latch.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		origWriter, origReq := c.Writer, c.Request
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.Writer = &writer{ResponseWriter: origWriter, lw: w}
			c.Request = r
			c.Next()
		})).ServeHTTP(origWriter, origReq)
		c.Writer, c.Request = origWriter, origReq
	}
}

// Session returns the request's session, or latch.ErrNoSession when the
// request did not pass through Middleware.
func Session(c *gin.Context) (*latch.Session, error) {
	return latch.FromContext(c.Request.Context())
}
