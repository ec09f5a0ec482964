package latch

import (
	"net/http"
	"strconv"
	"strings"
)

// Why a session ended is carried to the next request in a cookie of its
// own: the request that finds its session ended drops the session cookie
// and, typically, redirects to the sign-in page, which would otherwise
// have no way to know why. The cookie holds only the reason, one of the
// constants below, never anything secret; a value latch did not write is
// ignored, so a planted one can at most change which of these messages a
// page shows.

// endedSuffix is appended to Config.CookieName to name the cookie that
// carries why the session ended.
const endedSuffix = "-ended"

// endedMaxAge is how long, in seconds, the reason is kept for the next
// request: enough for a redirect or a page's own navigation.
const endedMaxAge = 60

// carried reports whether reason says that a session ended, and so is
// carried to the next request: a timeout, a revocation or logout
// elsewhere, or the binding policy. Refused tokens are not endings.
func carried(reason Reason) bool {
	switch reason {
	case ReasonIdle, ReasonAbsolute, ReasonNotFound, ReasonBinding:
		return true
	}
	return false
}

// endedIn is what the request's ended cookie gave.
type endedIn uint8

const (
	endedNone endedIn = iota // no ended cookie
	endedKept                // a reason, not used: the request has a session or a reason of its own
	endedUsed                // its reason is the request's Ended
	endedJunk                // a value latch did not write, or several cookies
)

// readEnded takes the reason from the request's ended cookie when the
// request has no live session and no reason of its own.
func (m *Manager) readEnded(s *Session, r *http.Request) {
	v, n := findCookie(r.Header, m.cfg.CookieName+endedSuffix)
	reason := Reason(v)
	switch {
	case n == 0:
	case n > 1 || !carried(reason):
		s.endedIn = endedJunk
	case s.ended == "" && !s.stored, s.ended == ReasonNotFound:
		// No reason of its own, or only "not found": what a request
		// gets after another one found the session's real end and
		// deleted it. That one's reason is the better answer.
		s.ended, s.endedIn = reason, endedUsed
	default:
		s.endedIn = endedKept
	}
}

// endedHeader adds the ended cookie when the session cookie is dropped
// because the session ended, and expires it once a live session makes the
// reason old news or when it holds junk. It is called with s.mu held as
// the response begins, and reports whether it added a Set-Cookie.
func (s *Session) endedHeader(h http.Header) bool {
	switch {
	case s.expireCookie && carried(s.ended) && s.endedIn != endedUsed:
		h.Add("Set-Cookie", s.m.endedCookie(string(s.ended), endedMaxAge))
	case s.endedIn == endedJunk || (s.endedIn != endedNone && s.stored):
		h.Add("Set-Cookie", s.m.endedCookie("", 0))
	default:
		return false
	}
	return true
}

// endedCookie returns the Set-Cookie value of the ended cookie; maxAge 0
// expires it.
func (m *Manager) endedCookie(reason string, maxAge int) string {
	var b strings.Builder
	b.WriteString(m.cfg.CookieName)
	b.WriteString(endedSuffix)
	b.WriteByte('=')
	b.WriteString(reason)
	b.WriteString("; Path=/; Max-Age=")
	b.WriteString(strconv.Itoa(maxAge))
	m.cookieAttrs(&b)
	return b.String()
}
