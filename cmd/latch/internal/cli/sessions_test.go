package cli

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/boltstore"
	"github.com/latchsec/latch/driver"
)

// sessionsFixture stores, in a new bolt file, two live sessions of alice,
// one of hers past its idle deadline but still in the store's grace, and
// one of bob; it returns the --store URL and the hashes by name. The
// command reads the real clock, so the deadlines sit minutes from now.
func sessionsFixture(t *testing.T) (string, map[string]driver.Hash) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	st, err := boltstore.Open(path, boltstore.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ids := map[string]driver.Hash{}
	add := func(name, user string, lastSeen time.Duration, ua string) {
		id := sha256.Sum256([]byte(name))
		ids[name] = id
		c := &driver.Commit{ID: id, Create: true, Meta: driver.Meta{
			UserID: user, Created: now.Add(-time.Hour), LastSeen: now.Add(lastSeen), AuthTime: now.Add(-time.Hour),
			IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, Grace: 10 * time.Minute,
			UserAgent: ua, IP: "192.0.2.7",
		}}
		if err := st.Commit(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	add("alice-firefox", "alice", -5*time.Minute, "Firefox/145.0")
	add("alice-idle", "alice", -32*time.Minute, "Safari/18.0")
	add("alice-chrome", "alice", -time.Minute, "Chrome/142.0")
	add("bob", "bob", -time.Minute, "curl/8.0")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return "bolt:" + path, ids
}

func listJSON(t *testing.T, store, user string) []latch.SessionInfo {
	t.Helper()
	code, out, errOut := run(t, "", nil, "sessions", "--store", store, "--json", "list", user)
	if code != 0 {
		t.Fatalf("list %s: exit %d, %q", user, code, errOut)
	}
	var rows []latch.SessionInfo
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("list %s: %v in %q", user, err, out)
	}
	return rows
}

func agents(rows []latch.SessionInfo) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.UserAgent)
	}
	slices.Sort(out)
	return out
}

func TestSessionsList(t *testing.T) {
	store, ids := sessionsFixture(t)
	tests := []struct {
		name   string
		user   string
		agents []string
	}{
		{"expired sessions hidden", "alice", []string{"Chrome/142.0", "Firefox/145.0"}},
		{"only the user's sessions", "bob", []string{"curl/8.0"}},
		{"unknown user has none", "carol", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := listJSON(t, store, tt.user)
			if got := agents(rows); !slices.Equal(got, tt.agents) {
				t.Fatalf("sessions %q; want %q", got, tt.agents)
			}
			for _, r := range rows {
				if len(r.Handle) != 16 {
					t.Errorf("row %+v: want a 16-character handle", r)
				}
				// Idle deadline first: last seen + 30 minutes.
				if want := r.LastSeen.Add(30 * time.Minute); !r.Deadline().Equal(want) {
					t.Errorf("%s: deadline %v; want %v", r.UserAgent, r.Deadline(), want)
				}
			}
		})
	}
	t.Run("text", func(t *testing.T) {
		code, out, _ := run(t, "", nil, "sessions", "--store", store, "list", "alice")
		if code != 0 || !strings.HasPrefix(out, "HANDLE") || strings.Count(out, "\n") != 3 {
			t.Fatalf("exit %d, output %q; want a header and two rows", code, out)
		}
		for name, id := range ids {
			if strings.Contains(out, id.String()) {
				t.Errorf("output holds the whole hash of %s", name)
			}
			if want := strings.HasPrefix(name, "alice-") && name != "alice-idle"; strings.Contains(out, id.Handle()) != want {
				t.Errorf("handle of %s shown: %v; want %v", name, !want, want)
			}
		}
	})
	t.Run("text without sessions", func(t *testing.T) {
		code, out, _ := run(t, "", nil, "sessions", "--store", store, "list", "carol")
		if code != 0 || out != "no live sessions\n" {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})
}

// line is format with %s replaced by handle, as one output line; "" stays
// "" (no output).
func line(format, handle string) string {
	if format == "" {
		return ""
	}
	return strings.ReplaceAll(format, "%s", handle) + "\n"
}

func TestSessionsRevoke(t *testing.T) {
	tests := []struct {
		name   string
		user   string
		handle func(ids map[string]driver.Hash) string
		code   int
		stdout string
		stderr string
		left   []string // alice's agents after the command
	}{
		{
			name:   "own session revoked",
			user:   "alice",
			handle: func(ids map[string]driver.Hash) string { return ids["alice-firefox"].Handle() },
			stdout: `revoked session %s of "alice"`,
			left:   []string{"Chrome/142.0"},
		},
		{
			name:   "handle not found",
			user:   "alice",
			handle: func(map[string]driver.Hash) string { return "0123456789abcdef" },
			code:   1,
			stderr: `latch sessions: user "alice" has no session 0123456789abcdef`,
			left:   []string{"Chrome/142.0", "Firefox/145.0"},
		},
		{
			name:   "handle of another user refused",
			user:   "bob",
			handle: func(ids map[string]driver.Hash) string { return ids["alice-firefox"].Handle() },
			code:   1,
			stderr: `latch sessions: user "bob" has no session %s`,
			left:   []string{"Chrome/142.0", "Firefox/145.0"},
		},
		{
			name:   "short handle refused",
			user:   "alice",
			handle: func(ids map[string]driver.Hash) string { return ids["alice-firefox"].Handle()[:6] },
			code:   1,
			stderr: `latch sessions: user "alice" has no session %s`,
			left:   []string{"Chrome/142.0", "Firefox/145.0"},
		},
		{
			name:   "whole hash refused",
			user:   "alice",
			handle: func(ids map[string]driver.Hash) string { return ids["alice-firefox"].String() },
			code:   1,
			stderr: `latch sessions: user "alice" has no session %s`,
			left:   []string{"Chrome/142.0", "Firefox/145.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, ids := sessionsFixture(t)
			h := tt.handle(ids)
			code, out, errOut := run(t, "", nil, "sessions", "--store", store, "revoke", tt.user, h)
			if code != tt.code {
				t.Fatalf("exit %d (%q, %q); want %d", code, out, errOut, tt.code)
			}
			if want := line(tt.stdout, h); out != want {
				t.Errorf("stdout %q; want %q", out, want)
			}
			if want := line(tt.stderr, h); errOut != want {
				t.Errorf("stderr %q; want %q", errOut, want)
			}
			if got := agents(listJSON(t, store, "alice")); !slices.Equal(got, tt.left) {
				t.Errorf("alice has %q; want %q", got, tt.left)
			}
			if got := agents(listJSON(t, store, "bob")); len(got) != 1 {
				t.Errorf("bob has %q; want his one session", got)
			}
		})
	}
}

// TestSessionsCommandUsage covers the command on an empty store and its
// usage errors.
func TestSessionsCommandUsage(t *testing.T) {
	dir := t.TempDir()
	store := "bolt:" + filepath.Join(dir, "s.db")
	if code, out, errOut := run(t, "", nil, "sessions", "--store", store, "list", "alice"); code != 0 || !strings.Contains(out, "no live sessions") {
		t.Fatalf("list on an empty store: %d %q %q", code, out, errOut)
	}
	if code, _, _ := run(t, "", nil, "sessions", "--store", store, "revoke", "alice", "0123456789abcdef"); code != 1 {
		t.Fatalf("revoking an unknown handle: exit %d; want 1", code)
	}
	if code, _, _ := run(t, "", nil, "sessions", "--store", "ftp://x", "list", "alice"); code != 1 {
		t.Fatalf("unknown store kind: exit %d; want 1", code)
	}
	if code, _, _ := run(t, "", nil, "sessions", "list"); code != 2 {
		t.Fatalf("no store: exit %d; want 2", code)
	}
}
