package latch

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultHSTSMaxAge is one year, the minimum ASVS 3.4.1 asks for.
const DefaultHSTSMaxAge = 365 * 24 * time.Hour

// HTTPSConfig configures the HTTPS middleware. Its zero value redirects
// plain HTTP to HTTPS on the default port and sets HSTS for one year with
// includeSubDomains.
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
	// TrustForwardedProto takes X-Forwarded-Proto (and Forwarded's proto)
	// as the scheme. Default false. Set it only when a proxy that
	// overwrites these headers is the only way to reach the server.
	TrustForwardedProto bool
	// HTTPSPort is the port to redirect to. Default "" (the scheme's
	// default port, 443).
	HTTPSPort string
}

// HTTPS returns middleware that redirects plain-HTTP requests to the same
// host and path over HTTPS (308, so the method and body are kept) and adds
// Strict-Transport-Security to every HTTPS response.
func HTTPS(cfg HTTPSConfig) func(http.Handler) http.Handler {
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
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isHTTPS(r, cfg.TrustForwardedProto) {
				w.Header().Set("Strict-Transport-Security", hsts)
				next.ServeHTTP(w, r)
				return
			}
			host := r.Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if host == "" {
				http.Error(w, "HTTPS required", http.StatusBadRequest)
				return
			}
			if strings.Contains(host, ":") {
				host = "[" + host + "]" // IPv6 literal
			}
			if cfg.HTTPSPort != "" && cfg.HTTPSPort != "443" {
				host += ":" + cfg.HTTPSPort
			}
			w.Header().Set("Connection", "close")
			http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
		})
	}
}

func isHTTPS(r *http.Request, trustProxy bool) bool {
	if r.TLS != nil {
		return true
	}
	if !trustProxy {
		return false
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		p, _, _ = strings.Cut(p, ",")
		return strings.EqualFold(strings.TrimSpace(p), "https")
	}
	for _, f := range r.Header.Values("Forwarded") {
		first, _, _ := strings.Cut(f, ",")
		for part := range strings.SplitSeq(first, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.EqualFold(k, "proto") {
				return strings.EqualFold(strings.Trim(v, `"`), "https")
			}
		}
	}
	return false
}
