package latch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/latchsec/latch/driver"
)

// dirty reports whether values or metadata changed.
func (s *Session) dirty() bool { return len(s.changes) > 0 || s.cleared || s.metaSet }

// save commits what the request changed, or refreshes the last-seen time
// when it is older than the touch interval. It is called with s.mu held
// when the response begins and when the handler returns.
func (s *Session) save(now time.Time) error {
	switch {
	case !s.stored && !s.dirty():
		return nil // nothing to keep: no session is created without a reason
	case !s.stored && s.holdCookie && s.meta.UserID == "":
		return nil // the browser's session cookie must survive (dbsc.go)
	case !s.stored:
		return s.write(now, true)
	case s.dirty():
		return s.write(now, false)
	case !s.noTouch && now.Sub(s.meta.LastSeen) >= s.m.cfg.TouchInterval:
		if err := s.write(now, false); err != nil {
			return err
		}
		s.sendCookie = s.sendCookie || s.meta.Remember
	}
	return nil
}

// expiryGrace is how long stores keep a record after its deadline, so that
// a request that comes back late learns which timeout ended its session.
const expiryGrace = 5 * time.Minute

// write commits the request's changes. With renew the result is stored
// under a fresh ID (creation or renewal), and the old record, if any, is
// replaced in the same store operation.
func (s *Session) write(now time.Time, renew bool) error {
	w := s.prepare(now, renew)
	var reread driver.Hash // carryDeviceKey re-read it and found no key
	if !s.offerDevice {
		reread = s.carryDeviceKey(s.ctx, &w.c)
	}
	if w.c.MaxPerUser > 0 {
		if err := s.m.pruneEnded(s.ctx, w.c.Meta.UserID, now); err != nil {
			return s.m.storeError(s.ctx, fmt.Errorf("latch: delete ended sessions: %w", err))
		}
	}
	out, err := s.m.backend.save(s.ctx, w)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrSessionLimit):
		return err
	case errors.Is(err, ErrBadValue):
		return s.badValue(err) // the application's error, not the store's
	default:
		return s.m.storeError(s.ctx, fmt.Errorf("latch: commit session: %w", err))
	}
	s.adopt(w, &out)
	if !reread.IsZero() {
		s.repairDeviceKey(reread, now)
	}
	return nil
}

// pruneEnded deletes the sessions of user that have ended but that the
// store keeps for their grace (expiryGrace) or under limits longer than the
// configuration's, before a commit that adds a session to the user: the
// store counts them toward Config.MaxSessionsPerUser, so a login would be
// refused, or would evict a live session, for a session already over.
func (m *Manager) pruneEnded(ctx context.Context, user string, now time.Time) error {
	list, err := m.backend.list(ctx, user)
	if err != nil {
		return err
	}
	for _, in := range list {
		if endReason(m.inForce(in.Meta), now) == "" {
			continue
		}
		if err := m.backend.expired(ctx, in.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// prepare builds the write of the request's changes.
func (s *Session) prepare(now time.Time, renew bool) *write {
	w := &write{now: now}
	if s.base != nil {
		w.prev = s.base.Meta
	}
	c := &w.c
	c.Meta, c.Clear = s.meta, s.cleared
	if !s.keepLastSeen || !s.stored {
		c.Meta.LastSeen = now
	}
	c.Meta.Grace = expiryGrace
	if !s.stored {
		c.Meta.Created = now
		if s.meta.UserID == "" {
			c.Meta.IdleTimeout, c.Meta.AbsoluteTimeout = s.m.cfg.IdleTimeout, s.m.cfg.AbsoluteTimeout
			s.recordClient()
			c.Meta.UserAgent, c.Meta.IP = s.meta.UserAgent, s.meta.IP
		}
	}
	for k, p := range s.changes {
		if p.del {
			c.Delete = append(c.Delete, k)
			continue
		}
		if c.Set == nil {
			c.Set = make(map[string]any, len(s.changes))
		}
		c.Set[k] = p.v
	}
	if renew {
		w.id = newID()
		c.ID = sha256.Sum256(w.id[:])
		c.Create = true
		if s.stored {
			c.From = s.hash
		}
		if c.Meta.UserID != "" && s.m.cfg.MaxSessionsPerUser > 0 {
			c.MaxPerUser, c.EvictOldest = s.m.cfg.MaxSessionsPerUser, !s.m.cfg.RefuseOverLimit
		}
	} else {
		c.ID = s.hash
	}
	w.vals = s.baseValues()
	if len(s.changes) > 0 || s.cleared {
		w.vals = s.values()
	}
	return w
}

// adopt makes the saved session the request's view of it.
func (s *Session) adopt(w *write, out *saved) {
	wasStored, old := s.stored, s.hash
	s.base = &driver.Record{Meta: out.meta, Values: out.vals}
	s.meta = out.meta
	s.changes, s.cleared, s.metaSet = nil, false, false
	s.stored = true
	s.hash = out.id
	if out.token != "" {
		s.token, s.sendCookie, s.expireCookie = out.token, true, false
	} else if out.id != old {
		// Landed on a session that another request renewed meanwhile:
		// that request sends its cookie, and this one must not send the
		// old one again.
		s.token, s.sendCookie = "", false
	}
	switch {
	case !w.c.Create:
	case wasStored:
		s.m.emit(s.ctx, Event{Kind: EventRenewed, Handle: out.id.Handle(), UserID: out.meta.UserID, Reason: "was " + old.Handle()})
	default:
		s.m.emit(s.ctx, Event{Kind: EventCreated, Handle: out.id.Handle(), UserID: out.meta.UserID, Client: s.clientAddr()})
	}
}

func (s *Session) baseValues() map[string]any {
	if s.base == nil {
		return nil
	}
	return s.base.Values
}

// commitHeader commits the session as the response begins and adds the
// cookie headers. It is called once, before the first byte goes out.
func (s *Session) commitHeader(h http.Header) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.headerDone = true
	if err := s.save(s.m.now()); err != nil && !s.settle(err) {
		return err
	}
	ended := s.endedHeader(h)
	switch {
	case s.sendCookie && s.stored && s.token != "":
		h.Add("Set-Cookie", s.m.cookie(s.token, &s.meta))
		s.m.warnPlainHTTP(s)
		if s.m.dbsc != nil {
			s.m.dbsc.onCommit(s, h, s.m.now())
		}
	case s.expireCookie:
		h.Add("Set-Cookie", s.m.cookie("", nil))
		if d := s.m.dbsc; d != nil && s.rw.r != nil {
			if _, n := findCookie(s.rw.r.Header, d.cfg.CookieName); n > 0 {
				h.Add("Set-Cookie", d.boundCookie(""))
			}
		}
	case !ended:
		return nil
	}
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", `no-store`)
	}
	s.sendCookie, s.expireCookie = false, false
	return nil
}

// settle handles the commit errors that do not fail the request: the
// session ended or renewed meanwhile (lost), and a value that cannot be
// encoded (unsaved). It reports whether err was one of them.
func (s *Session) settle(err error) bool {
	switch {
	case errors.Is(err, ErrNotFound):
		s.lost(err)
	case errors.Is(err, ErrBadValue):
		s.unsaved(err)
	default:
		return false
	}
	return true
}

// lost handles a commit that found its session gone: ended by another
// request meanwhile (logged out, revoked or expired), or renewed by one,
// when this request may not follow (a renewal of its own, or a login that
// gave the session to another user). The request's
// changes are not saved. An ended session's cookie is cleared; a renewed
// one's is left alone, since the browser most likely holds the new one.
func (s *Session) lost(err error) {
	reason := "ended during the request; its changes were not saved"
	renewed := errors.Is(err, driver.ErrRenewed)
	if renewed {
		reason = "renewed by another request during this one; its changes were not saved"
	}
	s.m.emit(s.ctx, Event{Kind: EventRevoked, Handle: s.hash.Handle(), UserID: s.meta.UserID, Reason: reason})
	s.reset()
	s.expireCookie = !renewed
}

// commitLate commits changes made after the response began. A cookie
// session cannot keep them, as its cookie went out with the headers: an
// EventLateChange says so.
func (s *Session) commitLate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty() {
		return
	}
	if !s.stored {
		s.m.emit(s.ctx, Event{Kind: EventLateChange, Reason: "values set on a new session after the response began: the session could not be created because its cookie could not be sent"})
		return
	}
	s.sendCookie = false // the headers are gone
	if err := s.write(s.m.now(), false); err != nil && !s.settle(err) {
		s.m.emit(s.ctx, Event{Kind: EventLateChange, Handle: s.hash.Handle(), UserID: s.meta.UserID, Reason: "changes made after the response began could not be saved", Err: err})
		return
	}
	if s.sendCookie {
		// The write gave a new cookie: the session lives in its cookie
		// (a cookie store), and the headers that could carry it are gone.
		s.sendCookie = false
		s.m.emit(s.ctx, Event{Kind: EventLateChange, Handle: s.hash.Handle(), UserID: s.meta.UserID, Reason: "changes made after the response began are lost: the session is kept in its cookie, which went out with the headers; make them before writing the response"})
	}
}

// badValue names the key in a commit's *ValueError. A store that encodes
// values one by one may not say which failed: then the first of the
// request's values that fails again is named. (Set checks each value, so
// only a value changed after Set gets here.)
func (s *Session) badValue(err error) error {
	var ve *ValueError
	if errors.As(err, &ve) && ve.Key != "" {
		return ve
	}
	vals := s.values()
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		if _, err := driver.EncodeValue(vals[k]); err != nil {
			return withKey(k, err)
		}
	}
	return err
}

// unsaved handles a commit that failed on a value the application changed
// after Set so that JSON cannot encode it: an EventBadValue names the key,
// and the request's changes are dropped, as one commit keeps all of them
// or none. It is not a store failure, and the response goes on as the
// handler chose it.
func (s *Session) unsaved(err error) {
	reason := "a session value cannot be encoded; the request's changes were not saved"
	var ve *ValueError
	if errors.As(err, &ve) && ve.Key != "" {
		reason = fmt.Sprintf("session value %q cannot be encoded; the request's changes were not saved", ve.Key)
	}
	s.m.emit(s.ctx, Event{Kind: EventBadValue, Handle: s.hash.Handle(), UserID: s.meta.UserID, Reason: reason, Err: err})
	s.changes, s.cleared, s.metaSet = nil, false, false
}
