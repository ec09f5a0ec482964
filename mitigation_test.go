package latch_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchsec/latch"
)

// Mitigation: a strong secret key.
func TestWeakKeyStopsManager(t *testing.T) {
	store := newHarness(t, latch.Config{}).store
	t.Run("no key", func(t *testing.T) {
		t.Setenv(latch.EnvKeys, "")
		t.Setenv(latch.EnvKeysFile, "")
		if _, err := latch.New(latch.Config{Store: store}); !errors.Is(err, latch.ErrNoKeys) {
			t.Fatalf("New without keys: %v; want ErrNoKeys", err)
		}
	})
	tests := []struct {
		name   string
		secret string
	}{
		{"changeme", "changeme"},
		{"16 random bytes", string(latch.GenerateKey()[:16])},
		{"32 copies of one byte", strings.Repeat("a", 32)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(latch.EnvKeys, latch.Key{ID: "k", Secret: []byte(tt.secret)}.SecretEntry())
			_, err := latch.New(latch.Config{Store: store})
			if !errors.Is(err, latch.ErrWeakKey) {
				t.Fatalf("New with %s: %v; want ErrWeakKey", tt.name, err)
			}
		})
	}
}

// Mitigation: Secure and HttpOnly cookies, SameSite, __Host- prefix.
func TestCookieAttributes(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		c := hs.do("POST", "/login?u=alice", "").setCookie(t)
		for _, want := range []string{"__Host-session=", "; Path=/", "; Secure", "; HttpOnly", "; SameSite=Lax"} {
			if !strings.Contains(c, want) {
				t.Errorf("Set-Cookie %q lacks %q", c, want)
			}
		}
		for _, bad := range []string{"Domain", "Max-Age", "Expires"} {
			if strings.Contains(c, bad) {
				t.Errorf("Set-Cookie %q has %q", c, bad)
			}
		}
	})
	t.Run("remember me gets a bounded persistent cookie", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		c := hs.do("POST", "/login?u=alice&remember=on", "").setCookie(t)
		if !strings.Contains(c, "; Max-Age=604800") {
			t.Errorf("Set-Cookie %q: want Max-Age=604800 (7 days idle)", c)
		}
	})
	t.Run("strict", func(t *testing.T) {
		hs := newHarness(t, latch.Config{SameSite: http.SameSiteStrictMode})
		if c := hs.do("POST", "/login?u=alice", "").setCookie(t); !strings.Contains(c, "SameSite=Strict") {
			t.Errorf("Set-Cookie %q: want SameSite=Strict", c)
		}
	})
	t.Run("insecure opt-in drops Secure and the prefix and warns", func(t *testing.T) {
		hs := newHarness(t, latch.Config{InsecureCookie: true})
		c := hs.do("POST", "/login?u=alice", "").setCookie(t)
		if !strings.HasPrefix(c, "session=") || strings.Contains(c, "Secure") || !strings.Contains(c, "HttpOnly") {
			t.Errorf("Set-Cookie %q: want session=..., HttpOnly, no Secure", c)
		}
		if !strings.Contains(hs.logs.String(), "InsecureCookie") {
			t.Errorf("no warning logged: %q", hs.logs.String())
		}
	})
	refused := []struct {
		name string
		cfg  latch.Config
	}{
		{"SameSite=None", latch.Config{SameSite: http.SameSiteNoneMode}},
		{"insecure with __Host- name", latch.Config{InsecureCookie: true, CookieName: "__Host-x"}},
		{"bad cookie name", latch.Config{CookieName: "a b"}},
		{"idle longer than absolute", latch.Config{IdleTimeout: 2 * 3600e9, AbsoluteTimeout: 3600e9}},
		{"remember beyond 400 days", latch.Config{RememberAbsoluteTimeout: 500 * 24 * 3600e9}},
	}
	for _, tt := range refused {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Store = newHarness(t, latch.Config{}).store
			cfg.Keys = testKeys(t, "k")
			if _, err := latch.New(cfg); err == nil {
				t.Fatal("New accepted an insecure configuration")
			}
		})
	}
	t.Run("no store", func(t *testing.T) {
		if _, err := latch.New(latch.Config{Keys: testKeys(t, "k")}); err == nil {
			t.Fatal("New without a store succeeded")
		}
	})
}

// Mitigation: HTTPS redirect and HSTS.
func TestHTTPS(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	tests := []struct {
		name     string
		cfg      latch.HTTPSConfig
		url      string
		tls      bool
		header   map[string]string
		code     int
		location string
		hsts     string
	}{
		{"http redirects", latch.HTTPSConfig{}, "http://example.com/a?b=c", false, nil, 308, "https://example.com/a?b=c", ""},
		{"http redirects to port", latch.HTTPSConfig{HTTPSPort: "8443"}, "http://example.com:8080/x", false, nil, 308, "https://example.com:8443/x", ""},
		{"https gets HSTS", latch.HTTPSConfig{}, "https://example.com/", true, nil, 200, "", "max-age=31536000; includeSubDomains"},
		{"preload opt-in", latch.HTTPSConfig{Preload: true}, "https://example.com/", true, nil, 200, "", "max-age=31536000; includeSubDomains; preload"},
		{"forwarded proto ignored by default", latch.HTTPSConfig{}, "http://example.com/", false, map[string]string{"X-Forwarded-Proto": "https"}, 308, "https://example.com/", ""},
		{"forwarded proto trusted", latch.HTTPSConfig{ProxyHeader: latch.XForwardedProto}, "http://example.com/", false, map[string]string{"X-Forwarded-Proto": "https"}, 200, "", "max-age=31536000; includeSubDomains"},
		{"Forwarded header trusted", latch.HTTPSConfig{ProxyHeader: latch.Forwarded}, "http://example.com/", false, map[string]string{"Forwarded": `for=1.2.3.4;proto=https`}, 200, "", "max-age=31536000; includeSubDomains"},
		{"forwarded http", latch.HTTPSConfig{ProxyHeader: latch.XForwardedProto}, "http://example.com/", false, map[string]string{"X-Forwarded-Proto": "http"}, 308, "https://example.com/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.url, nil)
			if !tt.tls {
				req.TLS = nil
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			latch.HTTPS(tt.cfg)(ok).ServeHTTP(rec, req)
			if rec.Code != tt.code || rec.Header().Get("Location") != tt.location || rec.Header().Get("Strict-Transport-Security") != tt.hsts {
				t.Fatalf("got %d %q %q; want %d %q %q", rec.Code, rec.Header().Get("Location"), rec.Header().Get("Strict-Transport-Security"), tt.code, tt.location, tt.hsts)
			}
		})
	}
}
