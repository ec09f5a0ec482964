package latch

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// checkBinding applies Config.Binding to a logged-in session that comes
// back from another user-agent family or client network than the one
// recorded at login. It returns an HTTP status and error only when the
// request must not go on.
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
		if err := s.renew(m.now(), s.snapshot()); err != nil && !errors.Is(err, ErrNotFound) {
			return http.StatusServiceUnavailable, err
		}
	case BindingEnd:
		if err := m.backend.end(s.ctx, s.hash, cookiesEnd(&rec.Meta, m.now())); err != nil {
			return http.StatusServiceUnavailable, m.storeError(s.ctx, fmt.Errorf("latch: end session: %w", err))
		}
		m.emit(s.ctx, Event{Kind: EventRevoked, Handle: s.hash.Handle(), UserID: rec.UserID, Reason: string(ReasonBinding)})
		s.reset()
		s.ended, s.expireCookie = ReasonBinding, true
	}
	return 0, nil
}

// uaFamily reduces a User-Agent to its browser family and platform, so
// that browser updates do not look like a change of client. Both results
// are constants: the check allocates nothing.
func uaFamily(ua string) (browser, platform string) {
	browser, platform = "other", "other"
	for _, b := range [...]struct{ token, name string }{
		{"Edg/", "edge"}, {"OPR/", "opera"}, {"Firefox/", "firefox"}, {"Chrome/", "chrome"},
		{"Chromium/", "chrome"}, {"Safari/", "safari"}, {"curl/", "curl"}, {"Go-http-client", "go"},
		{"python-requests", "python"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, p := range [...]struct{ token, name string }{
		{"Android", "android"}, {"iPhone", "ios"}, {"iPad", "ios"}, {"Windows", "windows"},
		{"Mac OS X", "mac"}, {"Macintosh", "mac"}, {"CrOS", "chromeos"}, {"Linux", "linux"},
	} {
		if strings.Contains(ua, p.token) {
			platform = p.name
			break
		}
	}
	return browser, platform
}

func sameUAFamily(a, b string) bool {
	if a == b {
		return true // the usual case, without parsing
	}
	ab, ap := uaFamily(a)
	bb, bp := uaFamily(b)
	return ab == bb && ap == bp
}

// sameNetwork reports whether two addresses share their /24 (IPv4) or /48
// (IPv6) network, so that a client moving within its provider's range does
// not look like a new client. Unparsable addresses must be equal.
func sameNetwork(a, b string) bool {
	if a == b {
		return true
	}
	pa, oka := network(a, 24, 48)
	pb, okb := network(b, 24, 48)
	if !oka || !okb {
		return a == b
	}
	return pa == pb
}

// network returns the network that addr belongs to: its first v4 bits
// when it is an IPv4 address, including one written as IPv4-mapped IPv6
// (::ffff:192.0.2.1), and its first v6 bits otherwise; any zone is
// dropped. The binding check and the guessing counter (guard.go) both
// group clients with it.
func network(addr string, v4, v6 int) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	bits := v6
	if a.Is4() {
		bits = v4
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}
