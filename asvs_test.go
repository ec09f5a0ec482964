package latch_test

import (
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
)

// TestASVSSessionIDEntropy issues sessions through the middleware and
// checks their IDs (ASVS 5.0 7.2.3 and 11.5.1, 4.0.3 3.2.2): every ID is
// IDSize bytes (256 bits), no two are equal, and every bit position is set
// in about half of them, as it is for crypto/rand output (a constant, a
// counter or a truncated UUID fails this).
func TestASVSSessionIDEntropy(t *testing.T) {
	const n = 2048
	hs := newHarness(t, latch.Config{})
	seen := make(map[string]bool, n)
	var ones [latch.IDSize * 8]int
	for range n {
		tok := hs.login("alice")
		kid, b64, ok := strings.Cut(tok, ".")
		if !ok || kid != "k1" {
			t.Fatalf("token %q is not KEYID.B64", tok)
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(b64)
		if err != nil || len(raw) != latch.IDSize+latch.MACSize {
			t.Fatalf("token body: %d bytes, %v; want %d", len(raw), err, latch.IDSize+latch.MACSize)
		}
		id := string(raw[:latch.IDSize])
		if seen[id] {
			t.Fatalf("session ID issued twice after %d sessions", len(seen))
		}
		seen[id] = true
		for i := range ones {
			if id[i/8]&(1<<(i%8)) != 0 {
				ones[i]++
			}
		}
	}
	// Each count is Binomial(n, 1/2): mean n/2, sd sqrt(n)/2. Six standard
	// deviations over 256 positions gives a false alarm about once in 10^6
	// runs.
	limit := 6 * math.Sqrt(n) / 2
	for i, c := range ones {
		if math.Abs(float64(c)-n/2) > limit {
			t.Errorf("bit %d of the session ID is set in %d of %d IDs; want %d ± %.0f", i, c, n, n/2, limit)
		}
	}
}

// TestASVSTokenOnlyInCookie checks that the token travels only in the
// Set-Cookie header (ASVS 5.0 3.3.4, 4.0.3 3.1.1 and 3.2.3): it is in no
// other header and not in the body, and a token offered anywhere but the
// session cookie (query string, form field, Authorization header, another
// cookie name) is ignored without a store lookup.
func TestASVSTokenOnlyInCookie(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	req := httptest.NewRequest("POST", "/login?u=alice", nil)
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, req)
	tok := resp{cookies: rec.Result().Header.Values("Set-Cookie")}.token()
	if tok == "" {
		t.Fatal("login set no session cookie")
	}
	for name, values := range rec.Result().Header {
		for _, v := range values {
			if name != "Set-Cookie" && strings.Contains(v, tok) {
				t.Errorf("header %s carries the token", name)
			}
		}
	}
	if strings.Contains(rec.Body.String(), tok) {
		t.Error("the response body carries the token")
	}

	q := url.QueryEscape(tok)
	tests := []struct {
		name  string
		build func() *http.Request
	}{
		{"query parameter with the cookie's name", func() *http.Request {
			return httptest.NewRequest("GET", "/me?__Host-session="+q, nil)
		}},
		{"query parameter session", func() *http.Request { return httptest.NewRequest("GET", "/me?session="+q, nil) }},
		{"form field", func() *http.Request {
			r := httptest.NewRequest("POST", "/set?k=a&v=b", strings.NewReader("__Host-session="+q))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}},
		{"Authorization bearer", func() *http.Request {
			r := httptest.NewRequest("GET", "/me", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}},
		{"cookie of another name", func() *http.Request {
			r := httptest.NewRequest("GET", "/me", nil)
			r.Header.Set("Cookie", "session="+tok+"; __Secure-session="+tok)
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs.store.loads.Store(0)
			rec := httptest.NewRecorder()
			hs.h.ServeHTTP(rec, tt.build())
			if strings.HasPrefix(tt.build().URL.Path, "/me") && rec.Code != http.StatusUnauthorized {
				t.Errorf("status %d; want 401: the token outside the cookie was used", rec.Code)
			}
			if n := hs.store.loads.Load(); n != 0 {
				t.Errorf("%d store lookups for a token outside the session cookie", n)
			}
			if r := (resp{cookies: rec.Result().Header.Values("Set-Cookie")}); r.token() == tok {
				t.Error("the answer set the offered token as the session cookie")
			}
		})
	}
}

// TestASVSCookieSize checks that the session cookie's name and value stay
// far within the 4,096 bytes browsers keep (ASVS 5.0 3.3.5), even with the
// longest key id the keyring allows.
func TestASVSCookieSize(t *testing.T) {
	kid := strings.Repeat("k", 32)
	hs := newHarness(t, latch.Config{Keys: testKeys(t, kid)})
	req := httptest.NewRequest("POST", "/login?u=alice&remember=on", nil)
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, req)
	var found bool
	for _, c := range rec.Result().Cookies() {
		if c.Name != hs.m.CookieName() {
			continue
		}
		found = true
		if got := len(c.Name) + len(c.Value); got > latch.MaxTokenLen+len(c.Name) || got > 4096 {
			t.Errorf("cookie name and value take %d bytes; want at most %d", got, latch.MaxTokenLen+len(c.Name))
		}
	}
	if !found {
		t.Fatal("no session cookie")
	}
	if n := len(rec.Result().Header.Get("Set-Cookie")); n > 512 {
		t.Errorf("Set-Cookie header of %d bytes", n)
	}
}

// TestASVSStoreHoldsOnlyHashes checks that the store never sees a session
// ID, only its SHA-256 (the store-leak row of the threat model): a copy
// of the store gives an attacker nothing latch would accept.
func TestASVSStoreHoldsOnlyHashes(t *testing.T) {
	ms, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	store := &hashLog{Store: ms, committed: map[driver.Hash]bool{}}
	m, err := latch.New(latch.Config{Store: store, Keys: testKeys(t, "k1"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(testApp(m))
	for range 20 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/login?u=alice", nil))
		tok := resp{cookies: rec.Result().Header.Values("Set-Cookie")}.token()
		_, b64, _ := strings.Cut(tok, ".")
		raw, err := base64.RawURLEncoding.DecodeString(b64)
		if err != nil || len(raw) < latch.IDSize {
			t.Fatalf("token %q: %v", tok, err)
		}
		id := raw[:latch.IDSize]
		store.mu.Lock()
		hashed := store.committed[driver.Hash(sha256.Sum256(id))]
		plain := store.committed[driver.Hash(id)]
		store.mu.Unlock()
		if !hashed || plain {
			t.Fatalf("store saw the hash: %t, the raw ID: %t; want only the hash", hashed, plain)
		}
	}
}
