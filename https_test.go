package latch_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchsec/latch"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })

// TestHTTPSProxyHeader: only the configured header is read, and only its
// last element, the one the proxy nearest the server wrote. A client's
// own X-Forwarded-Proto: https, sent through a proxy that appends (or
// that sets only Forwarded), must not make a plain-HTTP request pass.
func TestHTTPSProxyHeader(t *testing.T) {
	tests := []struct {
		name   string
		trust  latch.ProxyHeader
		header http.Header
		https  bool
	}{
		{"none trusted", latch.NoProxyHeader, http.Header{"X-Forwarded-Proto": {"https"}}, false},
		{"X-Forwarded-Proto https", latch.XForwardedProto, http.Header{"X-Forwarded-Proto": {"https"}}, true},
		{"X-Forwarded-Proto: client https, proxy appended http", latch.XForwardedProto, http.Header{"X-Forwarded-Proto": {"https, http"}}, false},
		{"X-Forwarded-Proto: client line https, proxy line http", latch.XForwardedProto, http.Header{"X-Forwarded-Proto": {"https", "http"}}, false},
		{"X-Forwarded-Proto: client http, proxy appended https", latch.XForwardedProto, http.Header{"X-Forwarded-Proto": {"http,https"}}, true},
		{"X-Forwarded-Proto trusted, only Forwarded sent", latch.XForwardedProto, http.Header{"Forwarded": {"proto=https"}}, false},
		{"Forwarded https", latch.Forwarded, http.Header{"Forwarded": {`for=192.0.2.1;proto=https`}}, true},
		{"Forwarded quoted https", latch.Forwarded, http.Header{"Forwarded": {`for="[2001:db8::1]:4711";proto="https"`}}, true},
		{"Forwarded trusted, client's X-Forwarded-Proto", latch.Forwarded, http.Header{"X-Forwarded-Proto": {"https"}, "Forwarded": {"for=192.0.2.1;proto=http"}}, false},
		{"Forwarded: client https, proxy appended http", latch.Forwarded, http.Header{"Forwarded": {"proto=https, for=192.0.2.1;proto=http"}}, false},
		{"Forwarded: client line https, proxy line http", latch.Forwarded, http.Header{"Forwarded": {"proto=https", "for=192.0.2.1;proto=http"}}, false},
		{"Forwarded: proxy element without proto", latch.Forwarded, http.Header{"Forwarded": {"proto=https, for=192.0.2.1"}}, false},
		{"Forwarded: client http, proxy appended https", latch.Forwarded, http.Header{"Forwarded": {"proto=http, for=192.0.2.1;proto=https"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://example.com/a", nil)
			req.Header = tt.header
			rec := httptest.NewRecorder()
			latch.HTTPS(latch.HTTPSConfig{ProxyHeader: tt.trust, Logger: slog.New(slog.DiscardHandler)})(okHandler).ServeHTTP(rec, req)
			if got := rec.Code == 200; got != tt.https {
				t.Fatalf("got %d (served as HTTPS = %v); want HTTPS = %v", rec.Code, got, tt.https)
			}
			if tt.https && rec.Header().Get("Strict-Transport-Security") == "" {
				t.Error("no HSTS on a request served as HTTPS")
			}
		})
	}
}

// TestHTTPSRedirectTarget: the redirect keeps the host (IPv6 literals in
// one pair of brackets), puts in HTTPSPort, and refuses a malformed host.
func TestHTTPSRedirectTarget(t *testing.T) {
	tests := []struct {
		name, port, host string
		code             int
		location         string
	}{
		{"name", "", "example.com", 308, "https://example.com/p?q=1"},
		{"name with port, default HTTPS port", "", "example.com:8080", 308, "https://example.com/p?q=1"},
		{"HTTPSPort as a port", "8443", "localhost:8080", 308, "https://localhost:8443/p?q=1"},
		{"HTTPSPort as a listen address", ":8443", "localhost:8080", 308, "https://localhost:8443/p?q=1"},
		{"HTTPSPort with a host", "127.0.0.1:8443", "127.0.0.1:8080", 308, "https://127.0.0.1:8443/p?q=1"},
		{"HTTPSPort 443", "443", "example.com:80", 308, "https://example.com/p?q=1"},
		{"bracketed IPv6 without port", "", "[2001:db8::1]", 308, "https://[2001:db8::1]/p?q=1"},
		{"bracketed IPv6 with port", "", "[2001:db8::1]:8080", 308, "https://[2001:db8::1]/p?q=1"},
		{"bracketed IPv6 to HTTPSPort", "8443", "[2001:db8::1]", 308, "https://[2001:db8::1]:8443/p?q=1"},
		{"IPv4", "", "192.0.2.1:80", 308, "https://192.0.2.1/p?q=1"},
		{"empty host", "", "", 400, ""},
		{"unclosed bracket", "", "[2001:db8::1", 400, ""},
		{"not IPv6 in brackets", "", "[example.com]", 400, ""},
		{"junk after the bracket", "", "[2001:db8::1]x", 400, ""},
		{"junk port", "", "example.com:80x", 400, ""},
		// net/http refuses these Host headers itself; a request that comes
		// another way (a serverless adapter, a test) must not turn them
		// into a redirect to another host or a port in the path.
		{"userinfo: redirect to the host after @", "", "example.com@evil.example", 400, ""},
		{"slash: port lands in the path", "8443", "example.com/evil.example", 400, ""},
		{"backslash", "", `example.com\evil.example`, 400, ""},
		{"query", "8443", "example.com?x", 400, ""},
		{"fragment", "", "example.com#x", 400, ""},
		{"space", "", "example.com evil.example", 400, ""},
		{"control character", "", "example.com\tx", 400, ""},
		{"CRLF", "", "example.com\r\nX-Injected", 400, ""},
		{"non-ASCII", "", "exämple.com", 400, ""},
		{"port beyond 65535", "", "example.com:65536", 400, ""},
		{"port of many digits", "", "example.com:" + strings.Repeat("8", 100), 400, ""},
		{"empty port", "", "example.com:", 308, "https://example.com/p?q=1"},
		{"IPv6 zone", "", "[fe80::1%25eth0]", 308, "https://[fe80::1%25eth0]/p?q=1"},
		{"trailing dot", "", "example.com.", 308, "https://example.com./p?q=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://example.com/p?q=1", nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			latch.HTTPS(latch.HTTPSConfig{HTTPSPort: tt.port, Logger: slog.New(slog.DiscardHandler)})(okHandler).ServeHTTP(rec, req)
			if rec.Code != tt.code || rec.Header().Get("Location") != tt.location {
				t.Fatalf("got %d %q; want %d %q", rec.Code, rec.Header().Get("Location"), tt.code, tt.location)
			}
		})
	}
}

// TestHTTPSRefusesBadConfig: a port that is not one, or an unknown proxy
// header, stops the program when the middleware is built.
func TestHTTPSRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  latch.HTTPSConfig
		want string
	}{
		{"port 0", latch.HTTPSConfig{HTTPSPort: "0"}, "HTTPSPort"},
		{"port too large", latch.HTTPSConfig{HTTPSPort: "65536"}, "HTTPSPort"},
		{"not a number", latch.HTTPSConfig{HTTPSPort: "https"}, "HTTPSPort"},
		{"signed", latch.HTTPSConfig{HTTPSPort: "+443"}, "HTTPSPort"},
		{"address without port", latch.HTTPSConfig{HTTPSPort: "localhost:"}, "HTTPSPort"},
		{"unknown proxy header", latch.HTTPSConfig{ProxyHeader: 7}, "ProxyHeader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if msg, _ := r.(string); r == nil || !strings.Contains(msg+errText(r), tt.want) {
					t.Fatalf("HTTPS(%+v) recovered %v; want a panic naming %s", tt.cfg, r, tt.want)
				}
			}()
			latch.HTTPS(tt.cfg)
		})
	}
}

func errText(r any) string {
	if err, ok := r.(error); ok {
		return err.Error()
	}
	return ""
}

// TestHTTPSWarnsOnce: a plain-HTTP request carrying a proxy header that
// says https, when that header is not trusted, is the redirect loop behind
// a TLS-terminating proxy: logged once, with the setting that fixes it.
// So is a redirect that drops the request's port because HTTPSPort is not
// set.
func TestHTTPSWarnsOnce(t *testing.T) {
	tests := []struct {
		name   string
		cfg    latch.HTTPSConfig
		host   string
		header http.Header
		want   []string // in the one warning; nil: no warning
	}{
		{"untrusted X-Forwarded-Proto", latch.HTTPSConfig{}, "example.com", http.Header{"X-Forwarded-Proto": {"https"}},
			[]string{"X-Forwarded-Proto", "HTTPSConfig.ProxyHeader", "latch.XForwardedProto"}},
		{"untrusted Forwarded", latch.HTTPSConfig{}, "example.com", http.Header{"Forwarded": {"for=192.0.2.1;proto=https"}},
			[]string{"Forwarded", "HTTPSConfig.ProxyHeader", "latch.Forwarded"}},
		{"proxy sets Forwarded, X-Forwarded-Proto trusted", latch.HTTPSConfig{ProxyHeader: latch.XForwardedProto}, "example.com", http.Header{"Forwarded": {"proto=https"}},
			[]string{"latch.Forwarded"}},
		{"https only in an earlier element", latch.HTTPSConfig{ProxyHeader: latch.XForwardedProto}, "example.com", http.Header{"X-Forwarded-Proto": {"https, http"}},
			[]string{"last", "nearest"}},
		{"port dropped", latch.HTTPSConfig{}, "localhost:8080", nil, []string{"8080", "HTTPSConfig.HTTPSPort"}},
		{"plain request", latch.HTTPSConfig{}, "example.com", nil, nil},
		{"port 80", latch.HTTPSConfig{}, "example.com:80", nil, nil},
		{"port configured", latch.HTTPSConfig{HTTPSPort: "8443"}, "localhost:8080", nil, nil},
		{"proxy header says http", latch.HTTPSConfig{}, "example.com", http.Header{"X-Forwarded-Proto": {"http"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &captureHandler{min: slog.LevelDebug}
			tt.cfg.Logger = slog.New(logs)
			h := latch.HTTPS(tt.cfg)(okHandler)
			for range 3 {
				req := httptest.NewRequest("GET", "http://example.com/", nil)
				req.Host, req.Header = tt.host, tt.header.Clone()
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusPermanentRedirect {
					t.Fatalf("got %d; want a redirect", rec.Code)
				}
			}
			logs.mu.Lock()
			defer logs.mu.Unlock()
			if tt.want == nil {
				if len(logs.recs) != 0 {
					t.Fatalf("logged %q; want nothing", logs.recs[0].msg)
				}
				return
			}
			if len(logs.recs) != 1 || logs.recs[0].level != slog.LevelWarn {
				t.Fatalf("got %d records %+v; want one warning", len(logs.recs), logs.recs)
			}
			for _, w := range tt.want {
				if !strings.Contains(logs.recs[0].msg, w) {
					t.Errorf("warning %q does not name %q", logs.recs[0].msg, w)
				}
			}
		})
	}
}
