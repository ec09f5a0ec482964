// Package latchecho puts latch sessions into echo (v4) applications.
//
// Middleware gives every request its session, as latch's Manager.Handler
// does for net/http; inside a handler latch.FromContext(c.Request().Context())
// or Session(c) returns it. RequireLogin and RequireRecentAuth are
// latch's guards and StatusHandler its status handler, in echo's shape.
//
//	e := echo.New()
//	e.Use(latchecho.Middleware(m))
//	e.POST("/login", login)                                    // calls s.Login(user)
//	e.GET("/session/status", latchecho.StatusHandler(m))
//	e.GET("/account", account, latchecho.RequireLogin(m, nil))
//
// The session is committed when the response begins, so its cookie goes
// out with the headers. A handler that returns an error without writing
// leaves the response to echo's HTTPErrorHandler, which runs after the
// middleware: its status (403 from an echo.HTTPError, say) goes out as it
// chooses, with the session's cookie. Changes made after the body began
// are saved when the handler returns, as with net/http.
package latchecho

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/latchsec/latch"
)

// Middleware returns echo middleware that gives every request its session
// (see latch.Manager.Handler). Register it before the handlers that use
// sessions, with Echo.Use or on a group.
//
// Handlers behind it write to an echo.Response of their own, which sends
// through latch's writer to the Response the middleware was given; that
// one is the request's Response again when the middleware returns, so
// that the error handler and middleware in front see whether the response
// was committed (a store failure answers 503 itself, and then the error
// handler writes nothing). This holds when a panic passes through the
// middleware too, which therefore commits nothing: a recovery middleware
// in front answers without the session's changes or cookie, as with
// net/http.
func Middleware(m *latch.Manager) echo.MiddlewareFunc {
	h := m.Handler(http.HandlerFunc(serve)) // once: echo applies middleware on every request
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			res, req := c.Response(), c.Request()
			o := &outer{Response: res, c: c, next: next}
			defer func() { c.SetRequest(req); c.SetResponse(res) }() // on a panic too
			h.ServeHTTP(o, req)
			return o.err
		}
	}
}

// serve runs the rest of echo's chain behind latch's Handler, which hands
// it latch's writer (lw) around the outer that Middleware gave it, and the
// request that carries the session. The handlers get a Response of their
// own around lw.
func serve(lw http.ResponseWriter, r *http.Request) {
	o := unwrapOuter(lw)
	if o == nil {
		http.Error(lw, "latchecho: latch's writer does not unwrap to the adapter's", http.StatusInternalServerError)
		return
	}
	o.c.SetRequest(r)
	o.c.SetResponse(echo.NewResponse(lw, o.c.Echo()))
	o.err = o.next(o.c)
}

// outer is the request's Response as latch's writer writes to it, with the
// way back to the request's context, the next handler and its error.
type outer struct {
	*echo.Response
	c    echo.Context
	next echo.HandlerFunc
	err  error
}

// unwrapOuter returns the outer inside latch's writer, or nil.
func unwrapOuter(lw http.ResponseWriter) *outer {
	u, ok := lw.(interface{ Unwrap() http.ResponseWriter })
	if !ok {
		return nil
	}
	o, _ := u.Unwrap().(*outer)
	return o
}

// Session returns the request's session, or latch.ErrNoSession when the
// request did not pass through Middleware.
func Session(c echo.Context) (*latch.Session, error) {
	return latch.FromContext(c.Request().Context())
}
