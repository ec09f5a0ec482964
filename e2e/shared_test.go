package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestTwoInstancesShareSessions runs two demo processes on different ports
// against one store, with the same keys, as two machines behind a load
// balancer would: a session made on one works on the other, and a logout or
// a revoke on one is refused on the other at once (no cache, no delay).
func TestTwoInstancesShareSessions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  string
	}{
		{"redis", "LATCH_TEST_REDIS_URL"},
		{"postgres", "LATCH_TEST_POSTGRES_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := requireEnv(t, tc.env)
			o := demoOptions{Keys: newKeys(t), Args: []string{"--store", store}}
			a, b := startDemo(t, o), startDemo(t, o)

			// Made on A, valid on B.
			onA, _ := a.login(t, "alice", "wonderland", "")
			if code, user := b.me(t, onA); code != http.StatusOK || user != "alice" {
				t.Fatalf("session made on A, GET /me on B = %d %q, want 200 alice", code, user)
			}
			// Made on B, valid on A.
			onB, _ := b.login(t, "alice", "wonderland", "")
			if code, user := a.me(t, onB); code != http.StatusOK || user != "alice" {
				t.Fatalf("session made on B, GET /me on A = %d %q, want 200 alice", code, user)
			}

			// Revoked on A by its handle, refused on B.
			handle := currentHandle(t, b, onB)
			listed := false
			for _, s := range sessionList(t, a, onA) {
				listed = listed || s.Handle == handle
			}
			if !listed {
				t.Fatal("A's session list lacks the session made on B")
			}
			res := a.do(t, "POST", "/sessions/revoke", onA, url.Values{"handle": {handle}}, "Accept", "application/json")
			if res.Status != http.StatusOK {
				t.Fatalf("POST /sessions/revoke on A = %d, want 200", res.Status)
			}
			if code, _ := b.me(t, onB); code != http.StatusUnauthorized {
				t.Errorf("revoked on A, GET /me on B = %d, want 401", code)
			}
			if code, _ := a.me(t, onB); code != http.StatusUnauthorized {
				t.Errorf("revoked on A, GET /me on A = %d, want 401", code)
			}

			// Signed out on B, refused on A.
			if code, _ := a.me(t, onA); code != http.StatusOK {
				t.Fatalf("A's own session after revoking the other: GET /me = %d, want 200", code)
			}
			if res := b.do(t, "POST", "/logout", onA, url.Values{}); res.Status != http.StatusSeeOther {
				t.Fatalf("POST /logout on B = %d, want 303", res.Status)
			}
			if code, _ := a.me(t, onA); code != http.StatusUnauthorized {
				t.Errorf("signed out on B, GET /me on A = %d, want 401", code)
			}
		})
	}
}

// sessionEntry is one row of GET /sessions as JSON.
type sessionEntry struct {
	Handle  string `json:"handle"`
	Current bool   `json:"current"`
}

func sessionList(t *testing.T, d *demoProc, token string) []sessionEntry {
	t.Helper()
	res := d.do(t, "GET", "/sessions", token, nil, "Accept", "application/json")
	if res.Status != http.StatusOK {
		t.Fatalf("GET /sessions = %d, want 200", res.Status)
	}
	var list []sessionEntry
	if err := json.Unmarshal([]byte(res.Body), &list); err != nil {
		t.Fatalf("GET /sessions: not a JSON list: %v", err)
	}
	return list
}

// currentHandle returns the handle of the token's own session.
func currentHandle(t *testing.T, d *demoProc, token string) string {
	t.Helper()
	for _, s := range sessionList(t, d, token) {
		if s.Current {
			return s.Handle
		}
	}
	t.Fatal("GET /sessions marks no session as current")
	return ""
}
