package latch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// errCommitFailed is returned by Write after the session could not be
// committed and the error response was sent instead.
var errCommitFailed = errors.New("latch: session commit failed; an error response was sent")

// Handler is the middleware that gives every request its session. It
// loads the session named by the cookie (verifying the token before any
// store lookup), enforces the timeouts, and commits changes when the
// response begins, so cookie changes always go out with the headers.
// Changes made after the response began are committed when the handler
// returns. A store failure answers with Config.ErrorHandler (503 by
// default) and never with a fresh session.
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
		s.cx = sessionCtx{Context: r.Context(), s: s}
		r = r.WithContext(&s.cx)
		s.rw.r = r
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
	rec, h, fallback, reason, err := m.open(s.ctx, tok, now)
	if err != nil {
		return http.StatusServiceUnavailable, m.storeError(s.ctx, fmt.Errorf("latch: load session: %w", err))
	}
	if reason == ReasonNotFound {
		s.ended = ReasonNotFound
		m.emit(s.ctx, Event{Kind: EventInvalidToken, Handle: h.Handle(), Client: s.clientAddr(), Reason: ReasonNotFound})
		return 0, nil
	}
	if reason != "" {
		return m.refuse(s, now, reason)
	}
	ended := ""
	switch {
	case !now.Before(rec.AbsoluteDeadline()):
		ended = "absolute"
	case !now.Before(rec.IdleDeadline()):
		ended = "idle"
	}
	if ended != "" {
		s.ended = ended
		if m.stateless == nil {
			if err := m.store.Delete(s.ctx, h); err != nil {
				m.storeError(s.ctx, fmt.Errorf("latch: delete expired session: %w", err))
			}
		}
		m.emit(s.ctx, Event{Kind: EventExpired, Handle: h.Handle(), UserID: rec.UserID, Client: s.clientAddr(), Reason: ended})
		return 0, nil
	}
	s.stored, s.hash, s.token, s.base, s.meta = true, h, tok, rec, rec.Meta
	s.expireCookie = false
	if fallback {
		if m.stateless != nil {
			s.metaSet = true // sealed again under the primary key at commit
		} else {
			s.token = m.tokens.reissue(tok)
			s.sendCookie = true
		}
		m.emit(s.ctx, Event{Kind: EventFallbackKey, Handle: h.Handle(), UserID: rec.UserID})
	}
	if m.cfg.Binding != BindingOff && rec.UserID != "" {
		return m.checkBinding(s, r)
	}
	return 0, nil
}

// open verifies a cookie value and loads its record. In server mode it
// checks the token's shape and MAC before any store lookup.
func (m *Manager) open(ctx context.Context, tok string, now time.Time) (rec *Record, h Hash, fallback bool, reason string, err error) {
	if m.stateless != nil {
		return m.stateless.Open(ctx, m.cfg.CookieName, tok, now)
	}
	h, fallback, reason = m.tokens.verify(tok, now)
	if reason != "" {
		return nil, h, false, reason, nil
	}
	rec, err = m.store.Load(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return nil, h, false, ReasonNotFound, nil
	}
	return rec, h, fallback, "", err
}

// refuse handles a token that failed verification: an event, the guessing
// counter, and a fresh anonymous session (or 429 past the limit).
func (m *Manager) refuse(s *Session, now time.Time, reason string) (int, error) {
	s.ended = reason
	client := s.clientAddr()
	m.emit(s.ctx, Event{Kind: EventInvalidToken, Client: client, Reason: reason})
	if m.guard == nil {
		return 0, nil
	}
	n := m.guard.refuse(client, now)
	if n <= m.cfg.GuessLimit {
		return 0, nil
	}
	if n == m.cfg.GuessLimit+1 {
		m.emit(s.ctx, Event{Kind: EventGuessing, Client: client, Reason: fmt.Sprintf("more than %d refused tokens within %v", m.cfg.GuessLimit, m.cfg.GuessWindow)})
	}
	if m.cfg.GuessReportOnly {
		return 0, nil
	}
	return http.StatusTooManyRequests, errors.New("latch: too many invalid session tokens")
}

func (m *Manager) checkBinding(s *Session, r *http.Request) (int, error) {
	rec := s.base
	var what []string
	if rec.UserAgent != "" && !sameUAFamily(r.UserAgent(), rec.UserAgent) {
		what = append(what, "user-agent family")
	}
	if rec.IP != "" && !sameNetwork(s.clientAddr(), rec.IP) {
		what = append(what, "client network")
	}
	if what == nil {
		return 0, nil
	}
	m.emit(s.ctx, Event{Kind: EventBindingMismatch, Handle: s.hash.Handle(), UserID: rec.UserID, Client: s.clientAddr(), Reason: strings.Join(what, " and ") + " changed"})
	switch m.cfg.Binding {
	case BindingRenew:
		s.mu.Lock()
		defer s.mu.Unlock()
		s.recordClient()
		s.metaSet = true
		if err := s.write(m.now(), true); err != nil && !errors.Is(err, ErrNotFound) {
			return http.StatusServiceUnavailable, err
		}
	case BindingEnd:
		if err := m.end(s.ctx, s.hash, rec.UserID); err != nil {
			return http.StatusServiceUnavailable, fmt.Errorf("latch: end session: %w", err)
		}
		m.emit(s.ctx, Event{Kind: EventRevoked, Handle: s.hash.Handle(), UserID: rec.UserID, Reason: "binding"})
		s.reset()
		s.ended, s.expireCookie = "binding", true
	}
	return 0, nil
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

// commitHeader commits the session as the response begins and adds the
// cookie headers. It is called once, before the first byte goes out.
func (s *Session) commitHeader(h http.Header) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.headerDone = true
	err := s.save(s.m.now())
	if errors.Is(err, ErrNotFound) {
		// Revoked, logged out or expired by another request meanwhile:
		// the session is over, and this request's changes with it.
		s.m.emit(s.ctx, Event{Kind: EventRevoked, Handle: s.hash.Handle(), UserID: s.meta.UserID, Reason: "ended during the request; its changes were not saved"})
		s.reset()
		s.expireCookie = true
		err = nil
	}
	if err != nil {
		return err
	}
	switch {
	case s.sendCookie && s.stored:
		h.Add("Set-Cookie", s.m.cookie(s.token, &s.meta))
	case s.expireCookie:
		h.Add("Set-Cookie", s.m.cookie("", nil))
	default:
		return nil
	}
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", `no-store`)
	}
	s.sendCookie, s.expireCookie = false, false
	return nil
}

// commitLate commits changes made after the response began.
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
	if err := s.write(s.m.now(), false); err != nil {
		if errors.Is(err, ErrNotFound) {
			s.m.emit(s.ctx, Event{Kind: EventRevoked, Handle: s.hash.Handle(), UserID: s.meta.UserID, Reason: "ended during the request; its changes were not saved"})
		} else {
			s.m.emit(s.ctx, Event{Kind: EventLateChange, Handle: s.hash.Handle(), UserID: s.meta.UserID, Reason: "changes made after the response began could not be saved", Err: err})
		}
	}
}

// cookie returns a Set-Cookie header value. meta is nil for a cookie that
// tells the browser to drop the session.
func (m *Manager) cookie(value string, meta *Meta) string {
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
		secs := int(meta.Deadline().Sub(m.now()).Seconds())
		b.WriteString("; Max-Age=")
		b.WriteString(strconv.Itoa(max(secs, 1)))
	}
	if !m.cfg.InsecureCookie {
		b.WriteString("; Secure")
	}
	b.WriteString("; HttpOnly")
	if m.cfg.SameSite == http.SameSiteStrictMode {
		b.WriteString("; SameSite=Strict")
	} else {
		b.WriteString("; SameSite=Lax")
	}
	return b.String()
}

// responseWriter commits the session before the first byte of the
// response. It supports http.Flusher and http.Hijacker directly and
// everything else through Unwrap (http.ResponseController).
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
	if !w.wrote {
		if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
			w.ResponseWriter.WriteHeader(code) // informational: headers not final
			return
		}
		w.wrote = true
		if err := w.s.commitHeader(w.ResponseWriter.Header()); err != nil {
			w.failed = true
			w.s.m.cfg.ErrorHandler(w.ResponseWriter, w.r, err)
			return
		}
	}
	w.ResponseWriter.WriteHeader(code)
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
func (w *responseWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if !w.failed {
		http.NewResponseController(w.ResponseWriter).Flush()
	}
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

func (w *responseWriter) finish() {
	if w.failed {
		return
	}
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
		if w.failed {
			return
		}
	}
	w.s.commitLate()
}
