package latchecho

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/latchsec/latch"
)

// RequireLogin returns echo middleware that lets only authenticated
// sessions through, as latch's Manager.RequireLogin. Others are served by
// denied; a nil denied returns echo.ErrUnauthorized (401, through the
// error handler).
func RequireLogin(m *latch.Manager, denied echo.HandlerFunc) echo.MiddlewareFunc {
	if denied == nil {
		denied = func(echo.Context) error { return echo.ErrUnauthorized }
	}
	return guard(m.RequireLogin(refused), denied)
}

// RequireRecentAuth returns echo middleware for sensitive actions, as
// latch's Manager.RequireRecentAuth: it lets a request through only if
// the session's user authenticated within window (by the Manager's
// clock). Others are served by reauth (a page asking for the password
// again, whose handler calls Session.Reauthenticate); a nil reauth
// returns a 401 echo.HTTPError saying "Please authenticate again".
func RequireRecentAuth(m *latch.Manager, window time.Duration, reauth echo.HandlerFunc) echo.MiddlewareFunc {
	if reauth == nil {
		reauth = func(echo.Context) error {
			return echo.NewHTTPError(http.StatusUnauthorized, "Please authenticate again")
		}
	}
	return guard(m.RequireRecentAuth(window, refused), reauth)
}

// StatusHandler is latch's Manager.StatusHandler as an echo handler: the
// session's deadlines as JSON, without extending the session.
func StatusHandler(m *latch.Manager) echo.HandlerFunc { return echo.WrapHandler(m.StatusHandler()) }

// guard turns one of latch's guards into echo middleware: the guard
// decides, and deny answers when it refuses.
func guard(check func(http.Handler) http.Handler, deny echo.HandlerFunc) echo.MiddlewareFunc {
	allowed := check(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.(*verdict).pass = true }))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			var v verdict
			allowed.ServeHTTP(&v, c.Request())
			if v.pass {
				return next(c)
			}
			return deny(c)
		}
	}
}

// refused is what latch's guard serves when it refuses: nothing, so that
// the verdict stays false.
var refused = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// verdict is the ResponseWriter a guard's decision is taken with: the
// handler behind the guard sets pass. Nothing is ever written to it.
type verdict struct{ pass bool }

func (*verdict) Header() http.Header         { return http.Header{} }
func (*verdict) Write(b []byte) (int, error) { return len(b), nil }
func (*verdict) WriteHeader(int)             {}
