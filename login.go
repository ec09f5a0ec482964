package latch

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/latchsec/latch/driver"
)

// LoginOption changes how Login records a session.
type LoginOption func(*loginOptions)

type loginOptions struct {
	remember bool
}

// Remember makes the session a remember-me session: it gets the
// Config.Remember* limits and a persistent cookie.
func Remember(on bool) LoginOption { return func(o *loginOptions) { o.remember = on } }

// Login records that userID has just authenticated on this session. It
// gives the session a new ID (in the same store operation the old one
// becomes a forward that no request can load, so a planted or stolen
// pre-login ID is worthless), records
// the authentication time, and adds the session to the user's index. If
// another user was logged in on the session, its values are dropped.
//
// Call it before the response begins; it returns ErrHeadersSent
// otherwise, and ErrSessionLimit when Config.RefuseOverLimit applies.
func (s *Session) Login(userID string, opts ...LoginOption) error {
	if userID == "" {
		return errors.New("latch: Login needs a user id")
	}
	var o loginOptions
	for _, f := range opts {
		f(&o)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkHeaders("login"); err != nil {
		return err
	}
	now := s.m.now()
	undo := s.snapshot()
	if s.meta.UserID != "" && s.meta.UserID != userID {
		s.cleared = true
		clear(s.changes)
	}
	s.meta.UserID = userID
	s.meta.AuthTime = now
	s.meta.Remember = o.remember
	s.meta.IdleTimeout, s.meta.AbsoluteTimeout = s.m.cfg.IdleTimeout, s.m.cfg.AbsoluteTimeout
	if o.remember {
		s.meta.IdleTimeout, s.meta.AbsoluteTimeout = s.m.cfg.RememberIdleTimeout, s.m.cfg.RememberAbsoluteTimeout
	}
	s.recordClient()
	s.metaSet = true
	// A login is a new session: a binding to a device (DBSC) does not
	// carry over, and the response offers a new registration.
	s.meta.DeviceKey, s.meta.DeviceBoundAt = "", time.Time{}
	s.offerDevice = s.m.dbsc != nil
	err := s.write(now, true)
	if errors.Is(err, ErrNotFound) {
		// The pre-login record vanished during the request (revoked,
		// expired, or renewed by another request, which a login never
		// follows). The user has just proved who they are, so start a
		// fresh session carrying this request's view of the values.
		s.rebase()
		err = s.write(now, true)
	}
	if err != nil {
		undo()
		return err
	}
	s.m.emit(s.ctx, Event{Kind: EventLogin, Handle: s.hash.Handle(), UserID: userID, Client: s.clientAddr()})
	return nil
}

// Reauthenticate records a fresh authentication of the logged-in user (the
// user entered their password again before a sensitive action) and gives
// the session a new ID.
func (s *Session) Reauthenticate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.meta.UserID == "" {
		return ErrNotAuthenticated
	}
	if err := s.checkHeaders("reauthenticate"); err != nil {
		return err
	}
	now := s.m.now()
	undo := s.snapshot()
	s.meta.AuthTime = now
	s.metaSet = true
	// A device-bound session stays bound to its key; one not bound yet
	// is offered registration again.
	s.offerDevice = s.m.dbsc != nil && s.meta.DeviceKey == ""
	return s.renew(now, undo)
}

// Renew gives the session a new ID, keeping its data; call it on any change
// of privilege. The old ID stops working in the same store operation. Renewing
// a session that was never stored does nothing: it has no ID yet.
func (s *Session) Renew() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkHeaders("renew"); err != nil {
		return err
	}
	if !s.stored {
		return nil
	}
	return s.renew(s.m.now(), s.snapshot())
}

// renew writes the session under a new ID. When the session ended or was
// renewed by another request meanwhile, nothing of this request is kept:
// not the change of privilege or authentication the renewal stands for,
// nor any value set with it, which would otherwise land on the session the
// other request renewed (whose cookie may be a stolen copy's). The request
// goes on with an empty anonymous session, and the error is returned.
func (s *Session) renew(now time.Time, undo func()) error {
	err := s.write(now, true)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		s.lost(err)
	default:
		undo()
	}
	return err
}

// Logout ends the session on the server and tells the browser to drop the
// cookie. The request goes on with a new, empty anonymous session, which is
// stored only if something is set in it. A logout after the response began
// still ends the session on the server.
//
// A logout whose cookie names a session that another request has just
// renewed (the browser sent it before the renewal's answer arrived) ends
// the renewed session: the user asked to sign out, and the browser now
// holds the renewed cookie.
func (s *Session) Logout() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.m.now()
	id, until, user := s.hash, cookiesEnd(&s.meta, now), s.meta.UserID
	if !s.stored {
		// The renewal's own end is not known here; the longest a session
		// can live bounds it.
		id, until = s.renewed, now.Add(MaxRememberTimeout+expiryGrace)
	}
	if !id.IsZero() {
		if err := s.m.backend.end(s.ctx, id, until); err != nil {
			return s.m.storeError(s.ctx, fmt.Errorf("latch: logout: %w", err))
		}
		s.m.emit(s.ctx, Event{Kind: EventLogout, Handle: id.Handle(), UserID: user, Client: s.clientAddr()})
	}
	s.reset()
	if s.headerDone {
		s.m.emit(s.ctx, Event{Kind: EventLateChange, Reason: "logout after the response began: the session ended on the server, but the cookie could not be cleared"})
		return nil
	}
	s.expireCookie = true
	return nil
}

// RevokeOthers ends every other session of the logged-in user, as after a
// password change (ASVS 7.4.3), and returns how many it ended.
func (s *Session) RevokeOthers() (int, error) {
	s.mu.Lock()
	user, keep := s.meta.UserID, s.hash
	s.mu.Unlock()
	if user == "" {
		return 0, ErrNotAuthenticated
	}
	n, reseal, err := s.m.backend.endUser(s.ctx, user, keep)
	if err != nil {
		return n, s.m.storeError(s.ctx, fmt.Errorf("latch: revoke other sessions: %w", err))
	}
	if reseal {
		// This session ended with the others (a cookie session): write
		// it again so that it survives.
		s.mu.Lock()
		s.metaSet = true
		s.mu.Unlock()
	}
	s.m.emit(s.ctx, Event{Kind: EventRevoked, UserID: user, Handle: keep.Handle(), Reason: "other sessions of the user" + count(n)})
	return n, nil
}

// snapshot returns a function that puts back the session's state as it is
// now, for operations that fail half-way.
func (s *Session) snapshot() (undo func()) {
	stored, hash, token, base, meta := s.stored, s.hash, s.token, s.base, s.meta
	changes, cleared, metaSet := maps.Clone(s.changes), s.cleared, s.metaSet
	return func() {
		s.stored, s.hash, s.token, s.base, s.meta = stored, hash, token, base, meta
		s.changes, s.cleared, s.metaSet = changes, cleared, metaSet
	}
}

// reset makes s a fresh anonymous session.
func (s *Session) reset() {
	s.stored, s.hash, s.token, s.base = false, driver.Hash{}, "", nil
	s.meta = driver.Meta{}
	s.changes, s.cleared, s.metaSet = nil, false, false
	s.sendCookie = false
	s.renewed = driver.Hash{}
	s.offerDevice, s.deviceProved, s.holdCookie = false, false, false
}

// rebase turns s into a not-yet-stored session that carries its current
// view of the values and metadata.
func (s *Session) rebase() {
	vals := s.values()
	s.stored, s.hash, s.token, s.base = false, driver.Hash{}, "", nil
	s.cleared = true
	s.changes = make(map[string]pending, len(vals))
	for k, v := range vals {
		s.changes[k] = pending{v: v}
	}
}

func (s *Session) checkHeaders(op string) error {
	if s.headerDone {
		s.m.emit(s.ctx, Event{Kind: EventLateChange, Handle: s.hash.Handle(), UserID: s.meta.UserID, Reason: op + " after the response began", Err: ErrHeadersSent})
		return ErrHeadersSent
	}
	return nil
}
