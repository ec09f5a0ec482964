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
//
// When the middleware returns, and when a panic passes through it, the
// context has gin's writer and the request as they came again. A panic
// therefore commits nothing: a recovery middleware in front (gin.Recovery)
// answers without the session's changes or cookie, as with net/http.
func Middleware(m *latch.Manager) gin.HandlerFunc {
	h := m.Handler(http.HandlerFunc(serve))
	return func(c *gin.Context) {
		w := &writer{ResponseWriter: c.Writer, c: c}
		w.below = below{ResponseWriter: c.Writer, w: w}
		req := c.Request
		defer func() { c.Writer, c.Request = w.below.ResponseWriter, req }() // on a panic too
		h.ServeHTTP(&w.below, req)
		if w.lw == nil {
			// latch answered by itself (a store failure, too many
			// invalid tokens, a device-bound session endpoint) without
			// running the rest of the chain: gin must not run it after
			// this middleware returns, without a session and after the
			// answer went out.
			c.Abort()
		}
	}
}

// serve runs the rest of gin's chain behind latch's Handler, which hands
// it latch's writer (lw) around the below that Middleware gave it, and
// the request that carries the session. The handlers write to the
// writer that below belongs to, which sends through lw.
func serve(lw http.ResponseWriter, r *http.Request) {
	below := unwrapBelow(lw)
	if below == nil {
		http.Error(lw, "latchgin: latch's writer does not unwrap to the adapter's", http.StatusInternalServerError)
		return
	}
	w := below.w
	w.lw = lw
	w.c.Writer, w.c.Request = w, r
	w.c.Next()
}

// unwrapBelow returns the below inside latch's writer, or nil.
func unwrapBelow(lw http.ResponseWriter) *below {
	u, ok := lw.(interface{ Unwrap() http.ResponseWriter })
	if !ok {
		return nil
	}
	b, _ := u.Unwrap().(*below)
	return b
}

// Session returns the request's session, or latch.ErrNoSession when the
// request did not pass through Middleware.
func Session(c *gin.Context) (*latch.Session, error) {
	return latch.FromContext(c.Request.Context())
}
