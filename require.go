package latch

import (
	"net/http"
	"time"
)

// RequireLogin returns middleware that lets only authenticated sessions
// through; others get denied (by default 401 Unauthorized). When denied
// redirects to a sign-in page, that page still learns from Session.Ended
// why the session ended (a timeout, a revocation, the binding policy):
// latch carries the reason to the next request.
func (m *Manager) RequireLogin(denied http.Handler) func(http.Handler) http.Handler {
	if denied == nil {
		denied = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
		})
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := FromContext(r.Context())
			if err != nil || !s.IsAuthenticated() {
				denied.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireRecentAuth returns middleware for sensitive actions ("sudo mode",
// ASVS 7.5.1 and 3.7.1): it lets a request through only if the session's
// user authenticated within window, and otherwise serves reauth (for
// example a page asking for the password again, whose handler then calls
// Session.Reauthenticate). A nil reauth answers 401.
func (m *Manager) RequireRecentAuth(window time.Duration, reauth http.Handler) func(http.Handler) http.Handler {
	if reauth == nil {
		reauth = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "Please authenticate again", http.StatusUnauthorized)
		})
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := FromContext(r.Context())
			if err != nil || !s.IsAuthenticated() || m.now().Sub(s.AuthTime()) > window {
				reauth.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
