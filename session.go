package latch

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/latchsec/latch/driver"
)

// Errors of the Session API.
var (
	// ErrNoSession means the request did not pass through Manager.Handler.
	ErrNoSession = errors.New("latch: no session in this request's context: wrap the handler with Manager.Handler")
	// ErrHeadersSent means a change that needs a new cookie (Login,
	// Renew, Reauthenticate) came after the response's headers were
	// written. Nothing was changed; an EventLateChange was emitted.
	ErrHeadersSent = errors.New("latch: the response has already begun, so the session cookie cannot change: call Login, Renew and Reauthenticate before writing the response")
	// ErrNotAuthenticated means an operation needs a logged-in session.
	ErrNotAuthenticated = errors.New("latch: the session is not authenticated")

	// ErrNotFound means there is no session with the handle
	// (Manager.Revoke, RevokeSession). It is driver.ErrNotFound, which
	// stores return. A missing value is ErrNoValue.
	ErrNotFound = driver.ErrNotFound
	// ErrSessionLimit means the user already has Config.MaxSessionsPerUser
	// sessions and Config.RefuseOverLimit is set (Login).
	ErrSessionLimit = driver.ErrSessionLimit
	// ErrNotSupported means the sessions' backend cannot do the operation:
	// listing or revoking one session of cookie sessions, or revoking any
	// without revocations configured (see package cookiestore).
	ErrNotSupported = driver.ErrNotSupported
	// ErrTooLarge means the store cannot keep a session this large: a
	// cookie session over the browser's 4096-byte cookie limit. The
	// request fails with 500 (see Config.ErrorHandler) and the session
	// stays as it was.
	ErrTooLarge = driver.ErrTooLarge
)

type ctxKey struct{}

// sessionCtx is the request's context with the Session attached: a
// context.WithValue that lives inside the Session.
type sessionCtx struct {
	context.Context
	s *Session
}

func (c *sessionCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return c.s
	}
	return c.Context.Value(key)
}

// FromContext returns the session that Manager.Handler attached to ctx, or
// ErrNoSession. It never panics.
func FromContext(ctx context.Context) (*Session, error) {
	if s, ok := ctx.Value(ctxKey{}).(*Session); ok {
		return s, nil
	}
	return nil, ErrNoSession
}

// pending is one uncommitted change of a value.
type pending struct {
	v   any
	del bool
}

// Session is one request's view of a session. Reads see the stored record
// plus this request's changes; the changes are committed when the response
// begins (and again when the handler returns, for changes made after
// that, which a cookie session cannot keep: see EventLateChange). Only the
// keys this request changed are written, so concurrent requests on one
// session do not undo each other's changes.
//
// A Session is safe for use by the goroutines of one request.
type Session struct {
	m      *Manager
	ctx    context.Context
	rw     responseWriter // held in the Session to save an allocation per request
	cx     sessionCtx     // likewise: the request context that carries the Session
	client string         // set lazily by clientAddr

	mu      sync.Mutex
	stored  bool           // a record exists in the store under hash
	hash    driver.Hash    // the store key of the session, zero when not stored
	token   string         // the cookie value for hash
	base    *driver.Record // the stored record, read-only; nil when not stored
	meta    driver.Meta    // working metadata
	changes map[string]pending
	cleared bool
	metaSet bool // meta changed beyond a touch

	sendCookie   bool // the token changed (or a persistent cookie needs its expiry refreshed)
	expireCookie bool // tell the browser to drop its cookie
	headerDone   bool // the response has begun
	noTouch      bool // this request must not extend the session
	ended        Reason
	endedIn      endedIn     // what the request's ended cookie gave (ended.go)
	renewed      driver.Hash // the session the cookie named, when another request renewed it

	// Device-bound sessions (dbsc.go).
	offerDevice  bool      // offer registration in this response (Login, Reauthenticate)
	deviceProved bool      // the request brought a valid bound cookie, or refreshed it
	holdCookie   bool      // signed out only for now: create no session that would replace the cookie
	keepLastSeen bool      // the write is not activity (a registration)
	loaded       time.Time // when load read the stored record
}

// UserID returns the authenticated user, or "".
func (s *Session) UserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.meta.UserID
}

// IsAuthenticated reports whether a user is logged in on this session.
func (s *Session) IsAuthenticated() bool { return s.UserID() != "" }

// AuthTime returns the time of the last authentication, or zero.
func (s *Session) AuthTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.meta.AuthTime
}

// IsNew reports whether the session has not been stored yet.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.stored
}

// Handle returns the session's non-secret handle, or "" when the session
// has not been stored yet.
func (s *Session) Handle() string {
	h := s.hashNow()
	if h.IsZero() {
		return ""
	}
	return h.Handle()
}

func (s *Session) hashNow() driver.Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hash
}

// Deadlines returns when the session ends if idle from now on, and when it
// ends whatever happens, under the limits in force (the session's own or
// the configuration's, whichever is shorter). Both are zero for a session
// not stored yet. Because idle refreshes are throttled, idle is the
// deadline the server enforces, which may be up to Config.TouchInterval
// earlier than the last request plus the idle timeout.
func (s *Session) Deadlines() (idle, absolute time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stored {
		return time.Time{}, time.Time{}
	}
	lim := s.m.inForce(s.meta)
	return lim.IdleDeadline(), lim.AbsoluteDeadline()
}

// Remember reports whether this is a remember-me session.
func (s *Session) Remember() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.meta.Remember
}

// Ended says why the session this request's cookie named is over, when it
// is: ReasonIdle or ReasonAbsolute (a timeout), ReasonNotFound (logged
// out, revoked or unknown), ReasonRenewed (replaced by a newer ID: the
// browser most likely sent an old cookie with a request that crossed a
// login), ReasonBinding (ended by the binding policy), ReasonDevice (a
// device-bound session's request that did not prove the device: it goes
// on signed out), or another token refusal reason. It is "" when the request brought no cookie or a live
// session. A login page can use it to tell the user why they must sign in
// again.
//
// The reason outlives the request that found the session ended: that
// request drops the session cookie and usually redirects to the sign-in
// page (RequireLogin's denied handler), so latch carries ReasonIdle,
// ReasonAbsolute, ReasonNotFound and ReasonBinding to the next requests in
// a cookie of its own, CookieName+"-ended" (the reason only, with the
// session cookie's attributes, for 60 seconds), and Ended reports it there
// as well. A value in that cookie that is not one of these reasons is
// ignored. The first response that carries a live session (a login)
// clears it.
func (s *Session) Ended() Reason {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// Touch records activity now, whatever the touch interval: for a "stay
// signed in" button that must push the idle deadline back.
func (s *Session) Touch() {
	s.mu.Lock()
	if s.stored {
		s.metaSet = true
	}
	s.mu.Unlock()
}

// NoTouch keeps this request from extending the session's idle deadline:
// for status polls and background refreshes that are not user activity.
func (s *Session) NoTouch() {
	s.mu.Lock()
	s.noTouch = true
	s.mu.Unlock()
}

func (s *Session) clientAddr() string {
	if s.client == "" && s.rw.r != nil {
		s.client = s.m.cfg.ClientIP(s.rw.r)
	}
	return s.client
}

// recordClient stores the client hints shown in session lists and used by
// the binding check.
func (s *Session) recordClient() {
	if s.rw.r == nil {
		return
	}
	ua := s.rw.r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	s.meta.UserAgent, s.meta.IP = ua, s.clientAddr()
}
