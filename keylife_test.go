package latch_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/memstore"
)

// A key's life while the program runs: staged keys start signing when they
// activate, a signing key that retires hands over to the newest valid key,
// and with none left, logins fail loudly instead of handing out tokens that
// are refused on the next request.

// t0 (usersessions_test.go) is the harness clock's start.

const day = 24 * time.Hour

func keyring(t *testing.T, keys ...latch.Key) *latch.Keyring {
	t.Helper()
	for i := range keys {
		keys[i].Secret = latch.GenerateKey()
	}
	r, err := latch.NewKeyringAt(t0, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRefusesKeyRetiringBeforeLongestSession(t *testing.T) {
	store, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tests := []struct {
		name    string
		cfg     latch.Config
		keys    []latch.Key
		wantErr string
	}{
		{"retires before a remember-me session could end", latch.Config{},
			[]latch.Key{{ID: "a", Retire: t0.Add(20 * day)}}, `signing key "a" retires at 2026-12-19T09:00:00Z, before a session signed now could end`},
		{"retires before an ordinary session could end", latch.Config{AbsoluteTimeout: 24 * time.Hour, RememberAbsoluteTimeout: time.Hour, RememberIdleTimeout: time.Hour},
			[]latch.Key{{ID: "a", Retire: t0.Add(12 * time.Hour)}}, "sessions may last 24h0m0s"},
		{"outlives the longest session", latch.Config{RememberAbsoluteTimeout: 10 * day},
			[]latch.Key{{ID: "a", Retire: t0.Add(20 * day)}}, ""},
		{"staged successor, old key outlives its last session", latch.Config{},
			[]latch.Key{{ID: "a", Retire: t0.Add(time.Hour + 30*day)}, {ID: "b", Activate: t0.Add(time.Hour)}}, ""},
		{"staged successor, old key retires too soon after handing over", latch.Config{},
			[]latch.Key{{ID: "a", Retire: t0.Add(30 * day)}, {ID: "b", Activate: t0.Add(time.Hour)}}, "give it a later retire= time"},
		{"no key signs now", latch.Config{},
			[]latch.Key{{ID: "a", Retire: t0.Add(-time.Second)}, {ID: "b", Activate: t0.Add(time.Hour)}}, "no signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := make([]latch.Key, len(tt.keys))
			for i, k := range tt.keys {
				keys[i] = k
				keys[i].Secret = latch.GenerateKey()
			}
			r, err := latch.NewKeyringAt(t0.Add(-2*time.Hour), keys...) // valid when made; New checks at t0
			if err != nil {
				t.Fatal(err)
			}
			cfg := tt.cfg
			cfg.Store, cfg.Keys, cfg.Now = store, r, func() time.Time { return t0 }
			_, err = latch.New(cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v; want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// The signing key passes its retirement while the program runs: from then
// on the next valid key signs, and new logins work.
func TestRetiredSigningKeyHandsOver(t *testing.T) {
	hs := newHarness(t, latch.Config{Keys: keyring(t, latch.Key{ID: "a", Retire: t0.Add(31 * day)}, latch.Key{ID: "b"})})
	if tok := hs.login("alice"); !strings.HasPrefix(tok, "a.") {
		t.Fatalf("before retirement: token %q; want one under a", tok[:2])
	}
	hs.clock.Advance(31 * day)
	tok := hs.login("bob")
	if !strings.HasPrefix(tok, "b.") {
		t.Fatalf("after a retired: token under %q; want b", tok[:2])
	}
	if r := hs.do("GET", "/me", tok); r.code != http.StatusOK || r.body != "bob" {
		t.Fatalf("the new token: %d %q; want 200 bob", r.code, r.body)
	}
	if n := hs.events.Count(latch.EventInvalidToken, ""); n != 0 {
		t.Fatalf("%d refused tokens; want none", n)
	}
}

// A staged key verifies at once and signs from its activation: a session
// signed before is re-signed under it on its next request.
func TestStagedKeyStartsSigning(t *testing.T) {
	hs := newHarness(t, latch.Config{Keys: keyring(t,
		latch.Key{ID: "old", Retire: t0.Add(10*time.Minute + 31*day)},
		latch.Key{ID: "new", Activate: t0.Add(10 * time.Minute)})})
	old := hs.login("alice")
	if !strings.HasPrefix(old, "old.") {
		t.Fatalf("before activation: token %q; want one under old", old[:4])
	}
	hs.clock.Advance(10 * time.Minute) // within the idle timeout
	r := hs.do("GET", "/me", old)
	if r.code != http.StatusOK || !strings.HasPrefix(r.token(), "new.") {
		t.Fatalf("after activation: %d, reissued %q; want 200 and a token under new", r.code, r.token())
	}
	if tok := hs.login("bob"); !strings.HasPrefix(tok, "new.") {
		t.Fatalf("login after activation: token %q; want one under new", tok[:4])
	}
}

// With no valid key left, a login fails with ErrNoSigningKey, reported as
// an error event, and writes no record and no cookie: nothing signed with a
// retired key.
func TestNoSigningKeyFailsLoudly(t *testing.T) {
	hs := newHarness(t, latch.Config{Keys: keyring(t, latch.Key{ID: "a", Retire: t0.Add(31 * day)})})
	hs.clock.Advance(31 * day)
	commits := hs.store.commits.Load()
	r := hs.do("POST", "/login?u=alice", "")
	if r.code == http.StatusOK || r.token() != "" {
		t.Fatalf("login with every key retired: %d, token %q; want an error and no token", r.code, r.token())
	}
	if n := hs.store.commits.Load() - commits; n != 0 {
		t.Errorf("%d commits reached the store; want none", n)
	}
	ev, ok := hs.events.Find(latch.EventStoreError)
	if !ok || !errors.Is(ev.Err, latch.ErrNoSigningKey) {
		t.Fatalf("event %+v; want one whose error matches ErrNoSigningKey", ev)
	}
	if !strings.Contains(hs.logs.String(), "no signing key") {
		t.Errorf("nothing logged: %q", hs.logs.String())
	}
}
