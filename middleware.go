package latch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchsec/latch/driver"
)

// errCommitFailed is returned by Write after the session could not be
// committed and the error response was sent instead.
var errCommitFailed = errors.New("latch: session commit failed; an error response was sent")

// Handler is the middleware that gives every request its session. It
// loads the session named by the cookie (verifying the token before any
// store lookup), enforces the timeouts, and commits changes when the
// response begins, so cookie changes always go out with the headers.
// Changes made after the response began are committed when the handler
// returns (a cookie session, whose cookie went out with the headers,
// cannot keep them, and emits EventLateChange). A handler that returns
// without writing leaves the status to whoever writes next: Handler
// commits the session and sets its headers (Set-Cookie, Cache-Control) but
// writes no status, so an outer middleware or framework that answers 403
// or a redirect afterwards keeps its status. A store failure answers with
// Config.ErrorHandler (503 by default) and never with a fresh session.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := &Session{m: m, ctx: r.Context()}
		s.rw = responseWriter{ResponseWriter: w, s: s}
		if status, err := m.load(s, r); err != nil {
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", strconv.Itoa(int(m.cfg.GuessWindow.Seconds())))
				http.Error(w, "Too many invalid session tokens.", status)
				return
			}
			m.cfg.ErrorHandler(w, r, err)
			return
		}
		m.readEnded(s, r)
		s.cx = sessionCtx{Context: r.Context(), s: s}
		r = r.WithContext(&s.cx)
		s.rw.r = r
		if m.dbsc != nil && m.dbsc.intercept(s, &s.rw, r) {
			s.rw.finish()
			return
		}
		// The binding check comes after the device check: a request
		// that the device check refused (a copied cookie without the
		// bound cookie) is signed out and must neither renew nor end
		// the session it names.
		if m.cfg.Binding != BindingOff && s.stored && s.base.UserID != "" {
			if _, err := m.checkBinding(s, r); err != nil {
				m.cfg.ErrorHandler(w, r, err)
				return
			}
		}
		next.ServeHTTP(&s.rw, r)
		s.rw.finish()
	})
}

// load fills s from the request's cookie. It returns an HTTP status and
// error only when the request must not go on.
func (m *Manager) load(s *Session, r *http.Request) (int, error) {
	s.rw.r = r
	tok, n := findCookie(r.Header, m.cfg.CookieName)
	if n == 0 {
		return 0, nil
	}
	now := m.now()
	s.expireCookie = true // unless the cookie names a live session
	if n > 1 {
		return m.refuse(s, now, ReasonDuplicate)
	}
	o, err := m.backend.open(s.ctx, tok, now)
	if err != nil {
		return http.StatusServiceUnavailable, m.storeError(s.ctx, fmt.Errorf("latch: load session: %w", err))
	}
	switch o.Refused {
	case "":
	case ReasonNotFound, ReasonRenewed:
		// Not a guess: the token was valid once. A renewed session's
		// cookie is left alone, as the browser most likely holds the
		// new one already and an expiry would race it.
		s.ended = o.Refused
		s.expireCookie = o.Refused == ReasonNotFound
		if o.Refused == ReasonRenewed {
			s.renewed = o.ID // for a Logout, which follows the renewal
		}
		m.emit(s.ctx, Event{Kind: EventInvalidToken, Handle: o.ID.Handle(), Client: s.clientAddr(), Reason: string(o.Refused)})
		return 0, nil
	default:
		return m.refuse(s, now, o.Refused)
	}
	rec, h := o.Record, o.ID
	if ended := endReason(m.inForce(rec.Meta), now); ended != "" {
		s.ended = ended
		// A record past its own deadline is left to the store, which
		// forgets it within its Grace: until then the requests sent
		// beside this one learn the same reason, where a deleted record
		// would read as not found, the reason of a session ended
		// elsewhere. One ended only by a tighter configuration would be
		// kept until its own, later, deadline, and is deleted.
		if endReason(rec.Meta, now) == "" {
			if err := m.backend.expired(s.ctx, h); err != nil {
				m.storeError(s.ctx, fmt.Errorf("latch: delete expired session: %w", err))
			}
		}
		m.emit(s.ctx, Event{Kind: EventExpired, Handle: h.Handle(), UserID: rec.UserID, Client: s.clientAddr(), Reason: string(ended)})
		return 0, nil
	}
	s.stored, s.hash, s.token, s.base, s.meta = true, h, tok, rec, rec.Meta
	s.loaded = now
	s.expireCookie = false
	if o.Fallback {
		// The session is written at commit (a touch), so that the cookie
		// issued under the signing key goes out only while the session
		// lives: a renewal by another request meanwhile would make it dead.
		s.metaSet = true
		if s.token = m.backend.reissue(tok, now); s.token != "" {
			s.sendCookie = true
		} else {
			s.token = tok // a sealed cookie gets its new seal at commit
		}
		m.emit(s.ctx, Event{Kind: EventFallbackKey, Handle: h.Handle(), UserID: rec.UserID})
	}
	return 0, nil
}

// endReason says which timeout has ended a session at now, or "".
func endReason(meta driver.Meta, now time.Time) Reason {
	switch {
	case !now.Before(meta.AbsoluteDeadline()):
		return ReasonAbsolute
	case !now.Before(meta.IdleDeadline()):
		return ReasonIdle
	}
	return ""
}

// refuse handles a token that failed verification: an event, the guessing
// counter, and a fresh anonymous session (or 429 past the limit).
func (m *Manager) refuse(s *Session, now time.Time, reason Reason) (int, error) {
	s.ended = reason
	client := s.clientAddr()
	m.emit(s.ctx, Event{Kind: EventInvalidToken, Client: client, Reason: string(reason)})
	if m.guard == nil {
		return 0, nil
	}
	n, group := m.guard.refuse(client, now)
	if n <= m.cfg.GuessLimit {
		return 0, nil
	}
	if n == m.cfg.GuessLimit+1 {
		m.emit(s.ctx, Event{Kind: EventGuessing, Client: client, Reason: fmt.Sprintf("more than %d refused tokens within %v from %s", m.cfg.GuessLimit, m.cfg.GuessWindow, group)})
	}
	if m.cfg.GuessReportOnly {
		return 0, nil
	}
	return http.StatusTooManyRequests, errors.New("latch: too many invalid session tokens")
}

// findCookie returns the value of the cookie called name and how many
// cookies of that name the request carries, without allocating.
func findCookie(h http.Header, name string) (value string, n int) {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if n == 0 {
				value = v
			}
			n++
		}
	}
	return value, n
}

// cookie returns a Set-Cookie header value. meta is nil for a cookie that
// tells the browser to drop the session.
func (m *Manager) cookie(value string, meta *driver.Meta) string {
	var b strings.Builder
	b.Grow(len(m.cfg.CookieName) + len(value) + 80)
	b.WriteString(m.cfg.CookieName)
	b.WriteByte('=')
	b.WriteString(value)
	b.WriteString("; Path=/")
	switch {
	case meta == nil:
		b.WriteString("; Max-Age=0")
	case meta.Remember:
		lim := m.inForce(*meta)
		secs := int(lim.Deadline().Sub(m.now()).Seconds())
		b.WriteString("; Max-Age=")
		b.WriteString(strconv.Itoa(max(secs, 1)))
	}
	m.cookieAttrs(&b)
	return b.String()
}

// cookieAttrs writes the attributes every latch cookie has: Secure (unless
// InsecureCookie), HttpOnly and SameSite.
func (m *Manager) cookieAttrs(b *strings.Builder) {
	if !m.cfg.InsecureCookie {
		b.WriteString("; Secure")
	}
	b.WriteString("; HttpOnly")
	if m.cfg.SameSite == http.SameSiteStrictMode {
		b.WriteString("; SameSite=Strict")
	} else {
		b.WriteString("; SameSite=Lax")
	}
}

// responseWriter commits the session before the first byte of the
// response. It supports http.Flusher (with FlushError, so that
// http.ResponseController.Flush reports a failed flush) and http.Hijacker
// directly and everything else through Unwrap (http.ResponseController).
type responseWriter struct {
	http.ResponseWriter
	s      *Session
	r      *http.Request
	wrote  bool
	failed bool
}

func (w *responseWriter) WriteHeader(code int) {
	if w.failed {
		return
	}
	if !w.wrote && code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: headers not final
		return
	}
	if w.commit() {
		w.ResponseWriter.WriteHeader(code)
	}
}

// commit commits the session once, before the response's headers go out,
// and adds its headers (Set-Cookie, Cache-Control) without writing a
// status. When the commit fails, Config.ErrorHandler answers instead. It
// reports whether the response may go on.
func (w *responseWriter) commit() bool {
	if !w.wrote {
		w.wrote = true
		if err := w.s.commitHeader(w.ResponseWriter.Header()); err != nil {
			w.failed = true
			w.s.m.cfg.ErrorHandler(w.ResponseWriter, w.r, err)
		}
	}
	return !w.failed
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return 0, errCommitFailed
	}
	return w.ResponseWriter.Write(b)
}

// WriteString is Write for strings, passed on without a copy when the
// wrapped writer can.
func (w *responseWriter) WriteString(s string) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return 0, errCommitFailed
	}
	return io.WriteString(w.ResponseWriter, s)
}

// Flush commits the session if needed and flushes the response.
func (w *responseWriter) Flush() { w.FlushError() }

// FlushError is Flush that returns the error of the flush underneath (the
// client has gone), or errCommitFailed. http.ResponseController.Flush
// calls it.
func (w *responseWriter) FlushError() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return errCommitFailed
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack commits the session and hands over the connection.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.wrote {
		w.wrote = true
		if err := w.s.commitHeader(w.ResponseWriter.Header()); err != nil {
			w.failed = true
			return nil, nil, err
		}
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish runs when the handler returns. A handler that wrote nothing gets
// the session's headers but no status: whoever writes the response next
// (an outer middleware writing 403 or a redirect, a framework's error
// handler) chooses it, and if nobody does, net/http sends 200. Changes
// made after the response began are committed here.
func (w *responseWriter) finish() {
	if w.commit() {
		w.s.commitLate()
	}
}
