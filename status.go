package latch

import (
	"encoding/json"
	"net/http"
	"time"
)

// Status is the JSON that StatusHandler returns.
type Status struct {
	Authenticated     bool      `json:"authenticated"`
	User              string    `json:"user,omitempty"`
	IdleExpiresAt     time.Time `json:"idle_expires_at,omitzero"`
	AbsoluteExpiresAt time.Time `json:"absolute_expires_at,omitzero"`
	// IdleRemaining and AbsoluteRemaining are in whole seconds, so that a
	// page need not trust its own clock.
	IdleRemaining     int64 `json:"idle_remaining_seconds"`
	AbsoluteRemaining int64 `json:"absolute_remaining_seconds"`
	// IdleTimeout is the session's idle timeout in seconds, so a page
	// can decide how early to warn.
	IdleTimeout int64  `json:"idle_timeout_seconds"`
	Ended       Reason `json:"ended,omitempty"`
}

// Status reports the session's deadlines as of now, under the limits in
// force (the session's own or the configuration's, whichever is shorter).
func (s *Session) Status() Status {
	now := s.m.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Authenticated: s.meta.UserID != "", User: s.meta.UserID, Ended: s.ended}
	if s.stored {
		lim := s.m.inForce(s.meta)
		st.IdleExpiresAt, st.AbsoluteExpiresAt = lim.IdleDeadline(), lim.AbsoluteDeadline()
		st.IdleRemaining = int64(st.IdleExpiresAt.Sub(now) / time.Second)
		st.AbsoluteRemaining = int64(st.AbsoluteExpiresAt.Sub(now) / time.Second)
		st.IdleTimeout = int64(lim.IdleTimeout / time.Second)
	}
	return st
}

// StatusHandler answers with the session's Status as JSON, without
// extending the session, so a page can poll it and warn before expiry. It
// answers 401 when no user is logged in. Mount it behind Handler.
func (m *Manager) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := FromContext(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.NoTouch()
		st := s.Status()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !st.Authenticated {
			w.WriteHeader(http.StatusUnauthorized)
		}
		json.NewEncoder(w).Encode(st)
	})
}
