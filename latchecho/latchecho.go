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
// handler writes nothing).
func Middleware(m *latch.Manager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			outer, req := c.Response(), c.Request()
			var err error
			m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				c.SetResponse(echo.NewResponse(w, c.Echo()))
				err = next(c)
			})).ServeHTTP(outer, req)
			c.SetRequest(req)
			c.SetResponse(outer)
			return err
		}
	}
}

// Session returns the request's session, or latch.ErrNoSession when the
// request did not pass through Middleware.
func Session(c echo.Context) (*latch.Session, error) {
	return latch.FromContext(c.Request().Context())
}
