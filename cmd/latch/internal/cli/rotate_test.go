package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
)

// now is the clock of the rotate tests.
var now = time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// runAt runs the command line with the clock at when.
func runAt(t *testing.T, when time.Time, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = RunEnv(context.Background(), &Env{
		Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" },
		Now:    func() time.Time { return when },
	})
	return code, out.String(), errb.String()
}

// keyFile writes a keyring file of keys (fresh secrets) and returns its
// path.
func keyFile(t *testing.T, keys ...latch.Key) string {
	t.Helper()
	var b strings.Builder
	for _, k := range keys {
		k.Secret = latch.GenerateKey()
		b.WriteString(k.SecretEntry() + "\n")
	}
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readRing parses the file at when.
func readRing(t *testing.T, path string, when time.Time) *latch.Keyring {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := latch.ParseKeysAt(when, string(b))
	if err != nil {
		t.Fatalf("the file rotate wrote does not parse: %v", err)
	}
	return r
}

// signer returns the id of the key that signs at when.
func signer(t *testing.T, r *latch.Keyring, when time.Time) string {
	t.Helper()
	k, err := r.SigningKey(when)
	if err != nil {
		t.Fatalf("no signing key at %v: %v", when, err)
	}
	return k.ID
}

func TestRotateStages(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name     string
		keys     []latch.Key
		args     []string
		activate time.Time // of the new key "two"
		retire   time.Time // of "one", the key that signed
		output   []string
	}{
		{"defaults: signs in an hour, old key retires 31 days later", []latch.Key{{ID: "one"}}, nil,
			now.Add(h), now.Add(h + 31*day),
			[]string{`new key "two" verifies as soon as an instance reads`, "signs from 2026-12-04T22:00:00Z (in 1h0m0s)", `key "one" signs until then, and verifies until 2027-01-04T22:00:00Z`}},
		{"chosen delays", []latch.Key{{ID: "one"}}, []string{"--activate-after", "10m", "--retire-after", "48h"},
			now.Add(10 * time.Minute), now.Add(10*time.Minute + 2*day),
			[]string{"signs from 2026-12-04T21:10:00Z (in 10m0s)", "verifies until 2026-12-06T21:10:00Z"}},
		{"--now signs at once", []latch.Key{{ID: "one"}}, []string{"--now"},
			now, now.Add(31 * day),
			[]string{`new key "two" signs from now (2026-12-04T21:00:00Z)`, "--now is for one instance"}},
		{"an earlier retirement is kept, with a warning", []latch.Key{{ID: "one", Retire: now.Add(10 * day)}}, nil,
			now.Add(h), now.Add(10 * day),
			[]string{`warning: key "one" already retires at 2026-12-14T21:00:00Z`}},
		{"the key that signs is found wherever it is listed", []latch.Key{{ID: "fallback", Retire: now.Add(40 * day)}, {ID: "one", Activate: now.Add(-day)}}, nil,
			now.Add(h), now.Add(h + 31*day), []string{`key "one" signs until then`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := keyFile(t, tt.keys...)
			before := readRing(t, file, now)
			code, out, errOut := runAt(t, now, append([]string{"rotate", "--file", file, "--id", "two"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("rotate: exit %d: %s", code, errOut)
			}
			for _, want := range tt.output {
				if !strings.Contains(out, want) {
					t.Errorf("output %q lacks %q", out, want)
				}
			}
			r := readRing(t, file, now)
			two, ok := r.Lookup("two")
			if !ok || !two.Activate.Equal(tt.activate) || !two.Retire.IsZero() || len(two.Secret) != latch.KeySize {
				t.Fatalf("new key: %v; want activation at %v", two, tt.activate)
			}
			if one, _ := r.Lookup("one"); !one.Retire.Equal(tt.retire) {
				t.Errorf("old key retires at %v; want %v", one.Retire, tt.retire)
			}
			for _, k := range before.Keys() {
				got, ok := r.Lookup(k.ID)
				if !ok || !bytes.Equal(got.Secret, k.Secret) || !got.Activate.Equal(k.Activate) {
					t.Errorf("key %q lost or changed", k.ID)
				}
				if strings.Contains(out+errOut, got.SecretEntry()[len(k.ID)+1:][:20]) {
					t.Errorf("rotate printed a secret")
				}
			}
			if strings.Contains(out+errOut, two.SecretEntry()[4:24]) {
				t.Errorf("rotate printed the new secret")
			}
			if tt.activate.After(now) {
				if got := signer(t, r, tt.activate.Add(-time.Second)); got != "one" {
					t.Errorf("a second before activation %q signs; want one", got)
				}
			}
			if got := signer(t, r, tt.activate); got != "two" {
				t.Errorf("at activation %q signs; want two", got)
			}
		})
	}
}

func TestRotateCreatesAndDrops(t *testing.T) {
	t.Run("a missing file is created with a key that signs at once", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "keys")
		code, out, errOut := runAt(t, now, "rotate", "--file", file)
		if code != 0 || !strings.Contains(out, `created `+file+` with key "20261204", which signs at once`) {
			t.Fatalf("exit %d, %q %q", code, out, errOut)
		}
		if got := signer(t, readRing(t, file, now), now); got != "20261204" {
			t.Fatalf("signing key %q", got)
		}
		fi, _ := os.Stat(file)
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v; want 0600", fi.Mode().Perm())
		}
	})
	t.Run("default id is made unique, retired keys are dropped", func(t *testing.T) {
		file := keyFile(t, latch.Key{ID: "20261204"}, latch.Key{ID: "gone", Retire: now.Add(-time.Second)})
		code, out, _ := runAt(t, now, "rotate", "--file", file)
		if code != 0 || !strings.Contains(out, `new key "20261204-2"`) || !strings.Contains(out, `dropped key "gone", retired at`) {
			t.Fatalf("exit %d, %q", code, out)
		}
		r := readRing(t, file, now)
		if _, ok := r.Lookup("gone"); ok || len(r.Keys()) != 2 {
			t.Fatalf("keyring after rotation: %v", r)
		}
	})
}

func TestRotateRefuses(t *testing.T) {
	tests := []struct {
		name   string
		keys   []latch.Key
		args   []string
		code   int
		stderr string
	}{
		{"a key is already staged", []latch.Key{{ID: "one"}, {ID: "two", Activate: now.Add(time.Minute)}}, []string{"--id", "three"}, 1, `key "two" is already staged to sign from 2026-12-04T21:01:00Z`},
		{"the key that signs retires before the new one would", []latch.Key{{ID: "one", Retire: now.Add(30 * time.Minute)}}, nil, 1, "no key could sign in between"},
		{"id taken", []latch.Key{{ID: "one"}}, []string{"--id", "one"}, 2, `key id "one" is already in the keyring`},
		{"--now with --activate-after", []latch.Key{{ID: "one"}}, []string{"--now", "--activate-after", "1h"}, 2, "contradict"},
		{"negative delay", []latch.Key{{ID: "one"}}, []string{"--activate-after", "-1h"}, 2, "must not be negative"},
		{"zero retirement delay", []latch.Key{{ID: "one"}}, []string{"--retire-after", "0s"}, 2, "must be positive"},
		{"stray argument", []latch.Key{{ID: "one"}}, []string{"extra"}, 2, "usage"},
		{"--revoke with staging flags", []latch.Key{{ID: "one"}}, []string{"--revoke", "one", "--retire-after", "1h"}, 2, "--revoke takes only --now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := keyFile(t, tt.keys...)
			before, _ := os.ReadFile(file)
			code, _, errOut := runAt(t, now, append([]string{"rotate", "--file", file}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("exit %d, %q; want %d and %q", code, errOut, tt.code, tt.stderr)
			}
			if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
				t.Fatal("a refused rotation changed the file")
			}
		})
	}
	t.Run("file readable by others", func(t *testing.T) {
		file := keyFile(t, latch.Key{ID: "one"})
		os.Chmod(file, 0o644)
		if code, _, errOut := runAt(t, now, "rotate", "--file", file); code != 1 || !strings.Contains(errOut, "chmod 600") {
			t.Fatalf("exit %d, %q", code, errOut)
		}
	})
	t.Run("every key retired", func(t *testing.T) {
		file := keyFile(t, latch.Key{ID: "one", Retire: now.Add(-time.Second)})
		if code, _, errOut := runAt(t, now, "rotate", "--file", file); code != 1 || !strings.Contains(errOut, "start a new one (latch keygen)") {
			t.Fatalf("exit %d, %q", code, errOut)
		}
	})
}

func TestRotateRevoke(t *testing.T) {
	tests := []struct {
		name   string
		keys   []latch.Key
		args   []string
		code   int
		left   []string // ids left, in order
		signer string   // at now, after
		output string   // on stdout, or stderr when code != 0
	}{
		{"a fallback key", []latch.Key{{ID: "new"}, {ID: "old", Retire: now.Add(10 * day)}}, []string{"--revoke", "old"}, 0,
			[]string{"new"}, "new", `revoked key "old": removed from`},
		{"the signing key, with another valid key", []latch.Key{{ID: "new"}, {ID: "old"}}, []string{"--revoke", "new"}, 0,
			[]string{"old"}, "old", `key "old" signs from now on.`},
		{"a staged key", []latch.Key{{ID: "cur"}, {ID: "next", Activate: now.Add(time.Hour)}}, []string{"--revoke", "next"}, 0,
			[]string{"cur"}, "cur", `revoked key "next"`},
		{"the only key, replaced in the same step", []latch.Key{{ID: "leaked"}}, []string{"--revoke", "leaked", "--now", "--id", "fresh"}, 0,
			[]string{"fresh"}, "fresh", `new key "fresh" signs from now (2026-12-04T21:00:00Z)`},
		{"the only key", []latch.Key{{ID: "only"}}, []string{"--revoke", "only"}, 1,
			nil, "", `refusing to revoke "only": no other key could sign now, so every login would fail`},
		{"the only valid signing key, the other only staged", []latch.Key{{ID: "cur"}, {ID: "next", Activate: now.Add(time.Hour)}}, []string{"--revoke", "cur"}, 1,
			nil, "", "--revoke cur --now"},
		{"an unknown id", []latch.Key{{ID: "cur"}}, []string{"--revoke", "nope"}, 1, nil, "", `no key "nope"`},
		{"--id without --now", []latch.Key{{ID: "cur"}}, []string{"--revoke", "cur", "--id", "x"}, 2, nil, "", "needs --now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := keyFile(t, tt.keys...)
			before, _ := os.ReadFile(file)
			code, out, errOut := runAt(t, now, append([]string{"rotate", "--file", file}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d (%s%s); want %d", code, out, errOut, tt.code)
			}
			if code != 0 {
				if !strings.Contains(errOut, tt.output) {
					t.Errorf("stderr %q lacks %q", errOut, tt.output)
				}
				if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
					t.Fatal("a refused revocation changed the file")
				}
				return
			}
			if !strings.Contains(out, tt.output) || !strings.Contains(out, "(unknown-key)") {
				t.Errorf("output %q lacks %q and what happens to sessions", out, tt.output)
			}
			r := readRing(t, file, now)
			var ids []string
			for _, k := range r.Keys() {
				ids = append(ids, k.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.left, ",") {
				t.Errorf("keys left %v; want %v", ids, tt.left)
			}
			if got := signer(t, r, now); got != tt.signer {
				t.Errorf("signing key %q; want %q", got, tt.signer)
			}
		})
	}
}

// The file is replaced by a rename, never rewritten in place: a reader
// holding the old file sees it whole, the new file has mode 0600, and no
// temporary file is left behind.
func TestRotateWritesAtomically(t *testing.T) {
	file := keyFile(t, latch.Key{ID: "one"})
	old, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	oldText, _ := os.ReadFile(file)
	oldInfo, _ := old.Stat()
	if code, _, errOut := runAt(t, now, "rotate", "--file", file, "--id", "two"); code != 0 {
		t.Fatalf("rotate: %s", errOut)
	}
	newInfo, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(oldInfo, newInfo) {
		t.Fatal("the keyring file was rewritten in place")
	}
	if newInfo.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v; want 0600", newInfo.Mode().Perm())
	}
	var held bytes.Buffer
	held.ReadFrom(old)
	if !bytes.Equal(held.Bytes(), oldText) {
		t.Fatal("a reader of the old file saw it change")
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d files; want only the keyring", len(entries))
	}
}
