package latchgin

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/latchsec/latch"
)

// RequireLogin returns gin middleware that lets only authenticated
// sessions through, as latch's Manager.RequireLogin. Others are served by
// denied and the chain stops; a nil denied answers 401 with no body.
func RequireLogin(m *latch.Manager, denied gin.HandlerFunc) gin.HandlerFunc {
	return guard(m.RequireLogin(refused), denied)
}

// RequireRecentAuth returns gin middleware for sensitive actions, as
// latch's Manager.RequireRecentAuth: it lets a request through only if
// the session's user authenticated within window (by the Manager's
// clock). Others are served by reauth (a page asking for the password
// again, whose handler calls Session.Reauthenticate) and the chain stops;
// a nil reauth answers 401 with no body.
func RequireRecentAuth(m *latch.Manager, window time.Duration, reauth gin.HandlerFunc) gin.HandlerFunc {
	return guard(m.RequireRecentAuth(window, refused), reauth)
}

// StatusHandler is latch's Manager.StatusHandler as a gin handler: the
// session's deadlines as JSON, without extending the session.
func StatusHandler(m *latch.Manager) gin.HandlerFunc { return gin.WrapH(m.StatusHandler()) }

// guard turns one of latch's guards into gin middleware: the guard
// decides, and deny answers when it refuses.
func guard(check func(http.Handler) http.Handler, deny gin.HandlerFunc) gin.HandlerFunc {
	allowed := check(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.(*verdict).pass = true }))
	return func(c *gin.Context) {
		var v verdict
		allowed.ServeHTTP(&v, c.Request)
		switch {
		case v.pass:
			c.Next()
		case deny != nil:
			deny(c)
			c.Abort()
		default:
			c.AbortWithStatus(http.StatusUnauthorized)
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
