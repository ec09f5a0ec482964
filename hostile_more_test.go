package latch_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchsec/latch"
)

// TestHostileCookiesMore covers the rows of the hostile-input table that
// TestHostileCookies leaves out: a token whose MAC is valid but whose ID
// names no session, and cookie tossing with many cookies of the session's
// name. Each answer is a clean anonymous session with an expiring cookie
// and an invalid-token event saying why.
func TestHostileCookiesMore(t *testing.T) {
	hs := newHarness(t, latch.Config{GuessLimit: -1})
	valid := hs.login("alice")

	// A second manager with the same keys and cookie name over its own
	// store signs a token that is genuine but unknown to hs's store.
	hs2 := newHarness(t, latch.Config{GuessLimit: -1, Keys: hs.keys})
	foreign := hs2.login("mallory")

	tests := []struct {
		name      string
		cookies   []string // one Cookie header line each
		reason    latch.Reason
		wantLoads int64
	}{
		{"valid MAC, unknown id", []string{"__Host-session=" + foreign}, latch.ReasonNotFound, 1},
		{"valid MAC, logged-out id", nil, latch.ReasonNotFound, 1}, // filled in below
		{"100 cookies of the name in one header", []string{strings.Repeat("__Host-session="+valid+"; ", 100)}, latch.ReasonDuplicate, 0},
		{"100 cookie headers of the name", hostileRepeat("__Host-session="+valid, 100), latch.ReasonDuplicate, 0},
		{"genuine then forged", []string{"__Host-session=" + valid + "; __Host-session=" + valid[:len(valid)-1] + "A"}, latch.ReasonDuplicate, 0},
		{"forged then genuine", []string{"__Host-session=" + valid[:len(valid)-1] + "A", "__Host-session=" + valid}, latch.ReasonDuplicate, 0},
	}
	out := hs.login("bob")
	if r := hs.do("POST", "/logout", out); r.code != http.StatusOK {
		t.Fatalf("logout: %d", r.code)
	}
	tests[1].cookies = []string{"__Host-session=" + out}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs.store.loads.Store(0)
			before := hs.events.Count(latch.EventInvalidToken, tt.reason)
			req := httptest.NewRequest("GET", "/me", nil)
			req.Header["Cookie"] = tt.cookies
			rec := httptest.NewRecorder()
			hs.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d; want 401 (anonymous)", rec.Code)
			}
			if n := hs.store.loads.Load(); n != tt.wantLoads {
				t.Errorf("%d store lookups; want %d", n, tt.wantLoads)
			}
			if got := hs.events.Count(latch.EventInvalidToken, tt.reason) - before; got != 1 {
				t.Errorf("%d invalid-token events with reason %q; want 1", got, tt.reason)
			}
			r := resp{cookies: rec.Result().Header.Values("Set-Cookie")}
			if sc := r.setCookie(t); !strings.Contains(sc, "Max-Age=0") || r.token() != "" {
				t.Errorf("Set-Cookie %q does not expire the cookie", sc)
			}
		})
	}
	// The genuine session is untouched by all of the above.
	if r := hs.do("GET", "/me", valid); r.code != http.StatusOK || r.body != "alice" {
		t.Fatalf("genuine session after the hostile requests: %d %q", r.code, r.body)
	}
}

func hostileRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
