package latch

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultHSTSMaxAge is one year, the minimum ASVS 3.4.1 asks for.
const DefaultHSTSMaxAge = 365 * 24 * time.Hour

// ProxyHeader names the header that a TLS-terminating proxy in front of
// the server sets to tell it which scheme the client used.
type ProxyHeader uint8

const (
	// NoProxyHeader trusts no header: only a TLS connection to this
	// server is HTTPS. The default.
	NoProxyHeader ProxyHeader = iota
	// XForwardedProto trusts X-Forwarded-Proto, and only its last value:
	// the one the proxy nearest the server wrote. A value the client sent
	// comes before it, when the proxy appends instead of replacing.
	XForwardedProto
	// Forwarded trusts the proto parameter of the last element of the
	// RFC 7239 Forwarded header, the element the nearest proxy wrote.
	Forwarded
)

func (p ProxyHeader) String() string {
	switch p {
	case NoProxyHeader:
		return "none"
	case XForwardedProto:
		return "X-Forwarded-Proto"
	case Forwarded:
		return "Forwarded"
	}
	return "ProxyHeader(" + strconv.Itoa(int(p)) + ")"
}

// HTTPSConfig configures the HTTPS middleware. Its zero value redirects
// plain HTTP to HTTPS on the default port (443), trusts no proxy header,
// and sets HSTS for one year with includeSubDomains.
type HTTPSConfig struct {
	// HSTSMaxAge is the Strict-Transport-Security max-age. Default one
	// year.
	HSTSMaxAge time.Duration
	// NoSubDomains leaves includeSubDomains out of the HSTS header.
	// Default false: subdomains are included.
	NoSubDomains bool
	// Preload adds the preload directive. Default false: only add it once
	// the whole domain is ready for the browsers' preload lists.
	Preload bool
	// ProxyHeader is the header a TLS-terminating proxy in front of the
	// server sets to give the client's scheme: XForwardedProto or
	// Forwarded. Only that header is read, and only the element the proxy
	// wrote (the last one), never an earlier one a client could have
	// sent. Default NoProxyHeader: only a TLS connection counts as HTTPS.
	// Set it only when that proxy is the only way to reach the server and
	// it sets (or overwrites) the header on every request.
	ProxyHeader ProxyHeader
	// HTTPSPort is the port plain-HTTP requests are redirected to: "8443",
	// or the address the HTTPS server listens on (":8443"), whose port is
	// taken. Default "": the scheme's default port, 443. HTTPS panics when
	// it is not a port number from 1 to 65535.
	HTTPSPort string
	// Logger receives the middleware's warnings, each logged once: a
	// plain-HTTP request carrying a proxy header that claims HTTPS but is
	// not trusted (behind a TLS-terminating proxy, that redirects
	// forever), and a redirect that drops the request's non-default port
	// because HTTPSPort is not set. Default slog.Default().
	Logger *slog.Logger
}

// HTTPS returns middleware that redirects plain-HTTP requests to the same
// host and path over HTTPS (308, so the method and body are kept) and adds
// Strict-Transport-Security to every HTTPS response. It panics on an
// invalid HTTPSPort or ProxyHeader, at construction, never per request.
func HTTPS(cfg HTTPSConfig) func(http.Handler) http.Handler {
	port, err := httpsPort(cfg.HTTPSPort)
	if err != nil {
		panic(err)
	}
	if cfg.ProxyHeader > Forwarded {
		panic(fmt.Sprintf("latch: HTTPSConfig.ProxyHeader %d is unknown (use XForwardedProto or Forwarded)", cfg.ProxyHeader))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HSTSMaxAge <= 0 {
		cfg.HSTSMaxAge = DefaultHSTSMaxAge
	}
	hsts := "max-age=" + strconv.FormatInt(int64(cfg.HSTSMaxAge/time.Second), 10)
	if !cfg.NoSubDomains {
		hsts += "; includeSubDomains"
	}
	if cfg.Preload {
		hsts += "; preload"
	}
	var warned httpsWarnings
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS != nil || proxySaysHTTPS(r.Header, cfg.ProxyHeader) {
				w.Header().Set("Strict-Transport-Security", hsts)
				next.ServeHTTP(w, r)
				return
			}
			host, reqPort, ok := splitHost(r.Host)
			if !ok {
				http.Error(w, "HTTPS required", http.StatusBadRequest)
				return
			}
			warned.check(r, cfg, reqPort)
			if strings.Contains(host, ":") {
				host = "[" + host + "]" // IPv6 literal
			}
			if port != "" {
				host += ":" + port
			}
			w.Header().Set("Connection", "close")
			http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
		})
	}
}

// httpsPort checks HTTPSConfig.HTTPSPort and returns the port to put in
// redirects: "" for 443.
func httpsPort(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	p := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		p = s[i+1:]
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] == '+' || p[0] == '0' {
		return "", fmt.Errorf("latch: HTTPSConfig.HTTPSPort %q is not a port from 1 to 65535 or an address such as \":8443\"", s)
	}
	if n == 443 {
		return "", nil
	}
	return p, nil
}

// splitHost splits a request's Host into the host, without brackets for
// an IPv6 literal, and the port ("" when there is none). ok is false for
// an empty or malformed host, a port beyond 65535, and a name with a byte
// that has no place in one ('@', '/', '\', '?', '#', spaces, controls,
// non-ASCII): net/http refuses those, but a request built another way must
// not be redirected to the host after an '@' or get its port in the path.
func splitHost(hostport string) (host, port string, ok bool) {
	if rest, found := strings.CutPrefix(hostport, "["); found {
		host, port, found = strings.Cut(rest, "]")
		if !found || (port != "" && port[0] != ':') {
			return "", "", false
		}
		port = strings.TrimPrefix(port, ":")
		a, err := netip.ParseAddr(host)
		return host, port, err == nil && a.Is6() && isPort(port)
	}
	if strings.Count(hostport, ":") > 1 { // an IPv6 literal without brackets
		a, err := netip.ParseAddr(hostport)
		return hostport, "", err == nil && a.Is6()
	}
	host, port, _ = strings.Cut(hostport, ":")
	return host, port, isRegName(host) && isPort(port)
}

// isPort reports whether s is empty or a port number, 0 to 65535.
func isPort(s string) bool {
	if s == "" {
		return true
	}
	if len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	n, _ := strconv.Atoi(s)
	return n <= 65535
}

// isRegName reports whether s is a non-empty host name or IPv4 address of
// the bytes RFC 3986 allows in one: letters, digits, "-._~", sub-delims
// and percent-encoding.
func isRegName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=%", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// proxySaysHTTPS reports whether the trusted proxy header's last element
// says https.
func proxySaysHTTPS(h http.Header, which ProxyHeader) bool {
	switch which {
	case XForwardedProto:
		return strings.EqualFold(lastElement(h["X-Forwarded-Proto"]), "https")
	case Forwarded:
		return strings.EqualFold(forwardedProto(lastElement(h["Forwarded"])), "https")
	}
	return false
}

// lastElement returns the last comma-separated element of a header's
// lines, trimmed: the one the proxy nearest the server wrote, whether it
// appended a line or a value.
func lastElement(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	last := lines[len(lines)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.TrimSpace(last)
}

// forwardedProto returns the proto parameter of one Forwarded element.
func forwardedProto(elem string) string {
	for part := range strings.SplitSeq(elem, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(k, "proto") {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// claimsHTTPS reports whether any element of a proxy header says https.
func claimsHTTPS(h http.Header, which ProxyHeader) bool {
	for _, line := range h[which.String()] {
		for elem := range strings.SplitSeq(line, ",") {
			v := strings.TrimSpace(elem)
			if which == Forwarded {
				v = forwardedProto(v)
			}
			if strings.EqualFold(v, "https") {
				return true
			}
		}
	}
	return false
}

// httpsWarnings logs each misconfiguration the redirect can reveal once.
type httpsWarnings struct {
	loop, port atomic.Bool
}

// check runs before a redirect of r, which arrived over plain HTTP on
// reqPort.
func (w *httpsWarnings) check(r *http.Request, cfg HTTPSConfig, reqPort string) {
	if cause := loopCause(r.Header, cfg.ProxyHeader); cause != "" && w.loop.CompareAndSwap(false, true) {
		cfg.Logger.Warn("latch: HTTPS: " + cause)
	}
	if cfg.HTTPSPort == "" && reqPort != "" && reqPort != "80" && w.port.CompareAndSwap(false, true) {
		cfg.Logger.Warn("latch: HTTPS: a plain-HTTP request on port " + reqPort + " is redirected to HTTPS on port 443: set HTTPSConfig.HTTPSPort to the port your HTTPS server listens on")
	}
}

// loopCause explains, with the fix, why a plain-HTTP request that carries
// a proxy header claiming HTTPS is still redirected: behind a
// TLS-terminating proxy, that redirect comes back forever. It returns ""
// when no proxy header claims HTTPS.
func loopCause(h http.Header, trusted ProxyHeader) string {
	for _, p := range [...]ProxyHeader{XForwardedProto, Forwarded} {
		switch {
		case !claimsHTTPS(h, p):
		case p != trusted:
			return fmt.Sprintf("a plain-HTTP request carries %s saying https, which is not trusted (HTTPSConfig.ProxyHeader is %v), so it is redirected to HTTPS; behind a TLS-terminating proxy that sets %s, every request is redirected forever: set HTTPSConfig.ProxyHeader to latch.%s if that proxy is the only way to reach the server", p, trusted, p, proxyConst(p))
		default:
			return fmt.Sprintf("a plain-HTTP request carries %s with https in an element before the last one, which is all latch trusts (the element the nearest proxy wrote), so it is redirected to HTTPS; if proxies are chained, the one nearest the server must write the scheme the client used", p)
		}
	}
	return ""
}

func proxyConst(p ProxyHeader) string {
	if p == Forwarded {
		return "Forwarded"
	}
	return "XForwardedProto"
}

// warnPlainHTTP emits EventPlainHTTP, once per Manager, when s's request
// sets a Secure session cookie but came over plain HTTP to a host other
// than loopback: browsers keep Secure cookies only from HTTPS and from
// loopback, so this cookie is dropped, every request starts a new session,
// and signing in seems not to work. A request that a proxy marks as HTTPS
// (X-Forwarded-Proto or Forwarded saying https) is taken at its word here:
// this is only a warning.
func (m *Manager) warnPlainHTTP(s *Session) {
	r := s.rw.r
	if m.cfg.InsecureCookie || r == nil || r.TLS != nil || m.plainHTTP.Load() {
		return
	}
	host, _, _ := splitHost(r.Host)
	if isLoopback(host) || claimsHTTPS(r.Header, XForwardedProto) || claimsHTTPS(r.Header, Forwarded) {
		return
	}
	if !m.plainHTTP.CompareAndSwap(false, true) {
		return
	}
	if len(host) > 64 {
		host = host[:64] + "..."
	}
	m.emit(s.ctx, Event{Kind: EventPlainHTTP, Client: s.clientAddr(), Reason: fmt.Sprintf(
		"the session cookie is Secure, but this request came over plain HTTP to %q, which is not loopback: "+
			"browsers drop the cookie, so every request starts a new session and signing in does not stick. "+
			"Serve HTTPS (latch.HTTPS redirects plain HTTP); behind a TLS-terminating proxy, have it send "+
			"X-Forwarded-Proto or Forwarded; for development use localhost, or Config.InsecureCookie", host)})
}

// isLoopback reports whether browsers treat host as loopback, where they
// keep Secure cookies over plain HTTP: localhost, its subdomains, and
// loopback addresses.
func isLoopback(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
