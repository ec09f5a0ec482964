package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	bolt "go.etcd.io/bbolt"
)

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a bolt file ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	{
		db, err := bolt.Open(foreign, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte("someone-else"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	future := filepath.Join(dir, "future.db")
	{
		db, err := bolt.Open(future, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bucketMeta)
			if err != nil {
				return err
			}
			return b.Put(keyFormat, []byte("boltstore/99"))
		}); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}

	loose := filepath.Join(dir, "loose.db")
	{
		s, err := Open(loose, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if err := os.Chmod(loose, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name    string
		path    string
		opts    Options
		wantErr string // substring; "" means Open succeeds
	}{
		{name: "world-readable file", path: loose, wantErr: "boltstore: " + loose + " has permissions 0644, more open than 0600"},
		{name: "world-readable file allowed by FileMode", path: loose, opts: Options{FileMode: 0o644}},
		{name: "defaults", path: filepath.Join(dir, "a.db")},
		{name: "zero options reopen", path: filepath.Join(dir, "a.db")},
		{name: "explicit options", path: filepath.Join(dir, "b.db"), opts: Options{FileMode: 0o640, OpenTimeout: time.Second, SweepBatch: 5, SweepInterval: time.Hour}},
		{name: "empty path", path: "", wantErr: "boltstore: empty database path"},
		{name: "file mode with type bits", path: filepath.Join(dir, "c.db"), opts: Options{FileMode: os.ModeDir | 0o600}, wantErr: "boltstore: file mode"},
		{name: "negative open timeout", path: filepath.Join(dir, "d.db"), opts: Options{OpenTimeout: -time.Second}, wantErr: "boltstore: negative open timeout"},
		{name: "negative sweep interval: no sweeper", path: filepath.Join(dir, "f.db"), opts: Options{SweepInterval: -1}},
		{name: "negative sweep batch", path: filepath.Join(dir, "e.db"), opts: Options{SweepBatch: -1}, wantErr: "boltstore: negative sweep batch"},
		{name: "directory", path: dir, wantErr: "boltstore: open " + dir},
		{name: "missing directory", path: filepath.Join(dir, "nope", "x.db"), wantErr: "boltstore: open "},
		{name: "not a bolt file", path: garbage, wantErr: "boltstore: open " + garbage},
		{name: "foreign bolt file", path: foreign, wantErr: "not a boltstore database"},
		{name: "future format", path: future, wantErr: "unsupported format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.path, tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if err := s.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded; want error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Open error %q; want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestOpenFileMode(t *testing.T) {
	tests := []struct {
		name string
		mode os.FileMode
		want os.FileMode
	}{
		{name: "default", mode: 0, want: 0o600},
		{name: "explicit owner-only", mode: 0o400 | 0o200, want: 0o600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.db")
			s, err := Open(path, Options{FileMode: tc.mode})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tc.want {
				t.Fatalf("mode %v; want %v", got, tc.want)
			}
			if s.Path() != path {
				t.Fatalf("Path() = %q; want %q", s.Path(), path)
			}
		})
	}
}

func TestOpenInUseSameProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	s2, err := Open(path, Options{OpenTimeout: 200 * time.Millisecond})
	if err == nil {
		s2.Close()
		t.Fatal("second Open succeeded")
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("second Open took %v", elapsed)
	}
	if !errors.Is(err, ErrInUse) {
		t.Errorf("error %v does not match ErrInUse", err)
	}
	if want := "boltstore: " + path + " is in use by another process"; err.Error() != want {
		t.Errorf("error %q; want %q", err, want)
	}
}

func TestCommitAndLoad(t *testing.T) {
	ctx := context.Background()
	a, b, c := hashOf("a"), hashOf("b"), hashOf("c")
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store, clk *fakeClock)
	}{
		{"create then load", func(t *testing.T, s *Store, clk *fakeClock) {
			m := meta("alice", clk.Now())
			m.Remember, m.UserAgent, m.IP, m.Grace = true, "Firefox/140", "192.0.2.1", time.Minute
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: m, Set: map[string]any{"n": 42, "s": "x", "l": []string{"p", "q"}}})
			r := mustLoad(t, s, a)
			if !metaEqual(r.Meta, m) {
				t.Errorf("meta %+v; want %+v", r.Meta, m)
			}
			wantValues(t, r, map[string]string{"n": "42", "s": `"x"`, "l": `["p","q"]`})
			if n, ok := r.Values["n"].(json.Number); !ok || n.String() != "42" {
				t.Errorf("n = %#v; want json.Number 42", r.Values["n"])
			}
		}},
		{"create over live record", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("", clk.Now()), Set: map[string]any{"k": 1}})
			err := s.Commit(ctx, &driver.Commit{ID: a, Create: true, Meta: meta("", clk.Now()), Set: map[string]any{"k": 2}})
			if !errors.Is(err, driver.ErrExists) {
				t.Fatalf("err %v; want ErrExists", err)
			}
			wantValues(t, mustLoad(t, s, a), map[string]string{"k": "1"})
		}},
		{"create over expired record", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now()), Set: map[string]any{"old": 1}})
			clk.Advance(time.Hour)
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("bob", clk.Now()), Set: map[string]any{"new": 1}})
			wantValues(t, mustLoad(t, s, a), map[string]string{"new": "1"})
			wantUsers(t, s, "alice")
			wantUsers(t, s, "bob", a)
			if n := rawCount(t, s, bucketExpiry); n != 1 {
				t.Errorf("expiry index has %d entries; want 1", n)
			}
		}},
		{"update missing", func(t *testing.T, s *Store, clk *fakeClock) {
			err := s.Commit(ctx, &driver.Commit{ID: a, Meta: meta("", clk.Now()), Set: map[string]any{"k": 1}})
			if !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("err %v; want ErrNotFound", err)
			}
			if n := rawCount(t, s, bucketSessions); n != 0 {
				t.Errorf("%d records written", n)
			}
		}},
		{"update expired", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("", clk.Now())})
			clk.Advance(30 * time.Minute)
			err := s.Commit(ctx, &driver.Commit{ID: a, Meta: meta("", clk.Now()), Set: map[string]any{"k": 1}})
			if !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("err %v; want ErrNotFound", err)
			}
		}},
		{"updates of different keys merge", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("", clk.Now()), Set: map[string]any{"x": 1, "y": 1, "z": 1}})
			mustCommit(t, s, &driver.Commit{ID: a, Meta: meta("", clk.Now()), Set: map[string]any{"x": 2}})
			mustCommit(t, s, &driver.Commit{ID: a, Meta: meta("", clk.Now()), Set: map[string]any{"y": 3}, Delete: []string{"z", "absent"}})
			wantValues(t, mustLoad(t, s, a), map[string]string{"x": "2", "y": "3"})
		}},
		{"clear then set", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("", clk.Now()), Set: map[string]any{"x": 1, "y": 1}})
			mustCommit(t, s, &driver.Commit{ID: a, Meta: meta("", clk.Now()), Clear: true, Set: map[string]any{"z": true}})
			wantValues(t, mustLoad(t, s, a), map[string]string{"z": "true"})
		}},
		{"touch extends expiry", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			clk.Advance(20 * time.Minute)
			m := meta("alice", t0)
			m.LastSeen = clk.Now()
			mustCommit(t, s, &driver.Commit{ID: a, Meta: m})
			clk.Advance(20 * time.Minute)
			mustLoad(t, s, a)
			if n := rawCount(t, s, bucketExpiry); n != 1 {
				t.Errorf("expiry index has %d entries; want 1", n)
			}
		}},
		{"expiry boundary", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			clk.Advance(30*time.Minute - time.Nanosecond)
			mustLoad(t, s, a)
			clk.Advance(time.Nanosecond)
			if _, err := s.Load(ctx, a); !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("Load at deadline: %v; want ErrNotFound", err)
			}
			wantUsers(t, s, "alice")
		}},
		{"grace keeps the record past its deadline", func(t *testing.T, s *Store, clk *fakeClock) {
			m := meta("alice", clk.Now())
			m.Grace = 5 * time.Minute
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: m})
			clk.Advance(30*time.Minute + 5*time.Minute - time.Nanosecond)
			if n, err := s.Sweep(ctx); err != nil || n != 0 {
				t.Fatalf("Sweep within grace = %d, %v; want 0, nil", n, err)
			}
			if r := mustLoad(t, s, a); r.Grace != m.Grace {
				t.Errorf("Grace %v; want %v", r.Grace, m.Grace)
			}
			wantUsers(t, s, "alice", a)
			clk.Advance(time.Nanosecond)
			if _, err := s.Load(ctx, a); !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("Load after grace: %v; want ErrNotFound", err)
			}
			if n, err := s.Sweep(ctx); err != nil || n != 1 {
				t.Fatalf("Sweep after grace = %d, %v; want 1, nil", n, err)
			}
		}},
		{"absolute deadline", func(t *testing.T, s *Store, clk *fakeClock) {
			m := meta("alice", clk.Now())
			m.AbsoluteTimeout = 10 * time.Minute
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: m})
			clk.Advance(10 * time.Minute)
			if _, err := s.Load(ctx, a); !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("Load: %v; want ErrNotFound", err)
			}
		}},
		{"renew", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("", clk.Now()), Set: map[string]any{"cart": "3 items", "x": 1}})
			mustCommit(t, s, &driver.Commit{ID: b, From: a, Create: true, Meta: meta("alice", clk.Now()), Set: map[string]any{"x": 2}})
			wantRenewed(t, s, a, b)
			r := mustLoad(t, s, b)
			wantValues(t, r, map[string]string{"cart": `"3 items"`, "x": "2"})
			if r.UserID != "alice" {
				t.Errorf("user %q", r.UserID)
			}
			wantUsers(t, s, "alice", b)
			// One entry for the record, one for the forward left under a.
			if n := rawCount(t, s, bucketExpiry); n != 2 {
				t.Errorf("expiry index has %d entries; want 2", n)
			}
		}},
		{"renew twice keeps one user entry", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			mustCommit(t, s, &driver.Commit{ID: b, From: a, Create: true, Meta: meta("alice", clk.Now()), MaxPerUser: 1})
			mustCommit(t, s, &driver.Commit{ID: c, From: b, Create: true, Meta: meta("alice", clk.Now()), MaxPerUser: 1})
			wantUsers(t, s, "alice", c)
			if n := rawCount(t, s, bucketUsers); n != 1 {
				t.Errorf("user index has %d entries; want 1", n)
			}
		}},
		{"renew from revoked", func(t *testing.T, s *Store, clk *fakeClock) {
			err := s.Commit(ctx, &driver.Commit{ID: b, From: a, Create: true, Meta: meta("alice", clk.Now()), Set: map[string]any{"x": 1}})
			if !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("err %v; want ErrNotFound", err)
			}
			if _, err := s.Load(ctx, b); !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("new ID written: %v", err)
			}
		}},
		{"renew from expired", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("", clk.Now())})
			clk.Advance(time.Hour)
			err := s.Commit(ctx, &driver.Commit{ID: b, From: a, Create: true, Meta: meta("alice", clk.Now())})
			if !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("err %v; want ErrNotFound", err)
			}
		}},
		{"renew onto live ID", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("", clk.Now())})
			mustCommit(t, s, &driver.Commit{ID: b, Create: true, Meta: meta("", clk.Now())})
			err := s.Commit(ctx, &driver.Commit{ID: b, From: a, Create: true, Meta: meta("", clk.Now())})
			if !errors.Is(err, driver.ErrExists) {
				t.Fatalf("err %v; want ErrExists", err)
			}
			mustLoad(t, s, a)
		}},
		{"change of user moves index entry", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
			mustCommit(t, s, &driver.Commit{ID: a, Meta: meta("bob", clk.Now())})
			wantUsers(t, s, "alice")
			wantUsers(t, s, "bob", a)
			mustCommit(t, s, &driver.Commit{ID: a, Meta: meta("", clk.Now())})
			wantUsers(t, s, "bob")
			if n := rawCount(t, s, bucketUsers); n != 0 {
				t.Errorf("user index has %d entries; want 0", n)
			}
		}},
		{"user prefix is exact", func(t *testing.T, s *Store, clk *fakeClock) {
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("bob", clk.Now())})
			mustCommit(t, s, &driver.Commit{ID: b, Create: true, Meta: meta("bobby", clk.Now())})
			mustCommit(t, s, &driver.Commit{ID: c, Create: true, Meta: meta("bo", clk.Now())})
			wantUsers(t, s, "bob", a)
			wantUsers(t, s, "bobby", b)
			wantUsers(t, s, "bo", c)
		}},
		{"unencodable value writes nothing", func(t *testing.T, s *Store, clk *fakeClock) {
			err := s.Commit(ctx, &driver.Commit{ID: a, Create: true, Meta: meta("", clk.Now()), Set: map[string]any{"f": func() {}}})
			if err == nil || !strings.HasPrefix(err.Error(), "boltstore: ") {
				t.Fatalf("err %v; want a boltstore error", err)
			}
			if n := rawCount(t, s, bucketSessions); n != 0 {
				t.Errorf("%d records written", n)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			tc.run(t, openTest(t, clk, Options{}), clk)
		})
	}
}

func TestCommitInvalid(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk, Options{})
	tests := []struct {
		name    string
		c       *driver.Commit
		wantErr string
	}{
		{"nil", nil, "boltstore: nil commit"},
		{"zero ID", &driver.Commit{Create: true, Meta: meta("", t0)}, "boltstore: commit with a zero session hash"},
		{"long user", &driver.Commit{ID: hashOf("a"), Create: true, Meta: meta(strings.Repeat("u", MaxUserIDLen+1), t0)}, "boltstore: user ID of 1025 bytes"},
		{"negative limit", &driver.Commit{ID: hashOf("a"), Create: true, Meta: meta("u", t0), MaxPerUser: -1}, "boltstore: negative MaxPerUser"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Commit(context.Background(), tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v; want %q", err, tc.wantErr)
			}
		})
	}
}

func TestMaxPerUser(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		existing  int // alice's sessions before, created one minute apart
		c         func(clk *fakeClock) *driver.Commit
		wantErr   error
		wantUsers []string // alice's sessions after, by name
	}{
		{
			name: "under limit", existing: 1,
			c: func(clk *fakeClock) *driver.Commit {
				return &driver.Commit{ID: hashOf("new"), Create: true, Meta: meta("alice", clk.Now()), MaxPerUser: 2}
			},
			wantUsers: []string{"s0", "new"},
		},
		{
			name: "refuse at limit", existing: 2,
			c: func(clk *fakeClock) *driver.Commit {
				return &driver.Commit{ID: hashOf("new"), Create: true, Meta: meta("alice", clk.Now()), MaxPerUser: 2}
			},
			wantErr:   driver.ErrSessionLimit,
			wantUsers: []string{"s0", "s1"},
		},
		{
			name: "evict oldest", existing: 3,
			c: func(clk *fakeClock) *driver.Commit {
				return &driver.Commit{ID: hashOf("new"), Create: true, Meta: meta("alice", clk.Now()), MaxPerUser: 2, EvictOldest: true}
			},
			wantUsers: []string{"s2", "new"},
		},
		{
			name: "renewal of own session is not an addition", existing: 2,
			c: func(clk *fakeClock) *driver.Commit {
				return &driver.Commit{ID: hashOf("new"), From: hashOf("s0"), Create: true, Meta: meta("alice", t0), MaxPerUser: 2}
			},
			wantUsers: []string{"new", "s1"},
		},
		{
			name: "login of anonymous session at limit", existing: 2,
			c: func(clk *fakeClock) *driver.Commit {
				return &driver.Commit{ID: hashOf("anon"), Meta: meta("alice", clk.Now()), MaxPerUser: 2}
			},
			wantErr:   driver.ErrSessionLimit,
			wantUsers: []string{"s0", "s1"},
		},
		{
			name: "plain update at limit", existing: 2,
			c: func(clk *fakeClock) *driver.Commit {
				return &driver.Commit{ID: hashOf("s1"), Meta: meta("alice", t0.Add(time.Minute)), MaxPerUser: 1, Set: map[string]any{"k": 1}}
			},
			wantUsers: []string{"s0", "s1"},
		},
		{
			name: "expired sessions do not count", existing: 2,
			c: func(clk *fakeClock) *driver.Commit {
				clk.Advance(45 * time.Minute) // s0, s1 idle out
				return &driver.Commit{ID: hashOf("new"), Create: true, Meta: meta("alice", clk.Now()), MaxPerUser: 1}
			},
			wantUsers: []string{"new"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			s := openTest(t, clk, Options{})
			names := map[driver.Hash]string{hashOf("new"): "new", hashOf("anon"): "anon"}
			for i := range tc.existing {
				name := fmt.Sprintf("s%d", i)
				names[hashOf(name)] = name
				mustCommit(t, s, &driver.Commit{ID: hashOf(name), Create: true, Meta: meta("alice", t0.Add(time.Duration(i)*time.Minute))})
			}
			mustCommit(t, s, &driver.Commit{ID: hashOf("anon"), Create: true, Meta: meta("", t0)})
			clk.Advance(5 * time.Minute)
			err := s.Commit(ctx, tc.c(clk))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Commit: %v; want %v", err, tc.wantErr)
			}
			infos, err := s.ListUser(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, in := range infos {
				got = append(got, names[in.ID])
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantUsers) {
				t.Fatalf("alice's sessions %v; want %v", got, tc.wantUsers)
			}
		})
	}
}

func TestListAndDeleteUser(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := openTest(t, clk, Options{})
	// Created out of order to check the sort.
	for i, name := range []string{"s2", "s0", "s1"} {
		created := t0.Add(time.Duration(name[1]-'0') * time.Minute)
		_ = i
		mustCommit(t, s, &driver.Commit{ID: hashOf(name), Create: true, Meta: meta("alice", created)})
	}
	mustCommit(t, s, &driver.Commit{ID: hashOf("bob"), Create: true, Meta: meta("bob", t0)})
	wantUsers(t, s, "alice", hashOf("s0"), hashOf("s1"), hashOf("s2"))
	wantUsers(t, s, "nobody")

	for _, name := range []string{"empty user", "long user"} {
		t.Run(name, func(t *testing.T) {
			user := ""
			if name == "long user" {
				user = strings.Repeat("x", MaxUserIDLen+1)
			}
			if _, err := s.ListUser(ctx, user); err == nil {
				t.Error("ListUser succeeded")
			}
			if _, err := s.DeleteUser(ctx, user, driver.Hash{}); err == nil {
				t.Error("DeleteUser succeeded")
			}
		})
	}

	tests := []struct {
		name  string
		keep  driver.Hash
		wantN int
		want  []driver.Hash
	}{
		{"keep current", hashOf("s1"), 2, []driver.Hash{hashOf("s1")}},
		{"keep again removes nothing", hashOf("s1"), 0, []driver.Hash{hashOf("s1")}},
		{"keep none", driver.Hash{}, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.DeleteUser(ctx, "alice", tc.keep)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.wantN {
				t.Errorf("removed %d; want %d", n, tc.wantN)
			}
			wantUsers(t, s, "alice", tc.want...)
		})
	}
	wantUsers(t, s, "bob", hashOf("bob"))
	if n := rawCount(t, s, bucketSessions); n != 1 {
		t.Errorf("%d records left; want 1 (bob's)", n)
	}
	if n := rawCount(t, s, bucketExpiry); n != 1 {
		t.Errorf("%d expiry entries left; want 1", n)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := openTest(t, clk, Options{})
	a := hashOf("a")
	mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
	for _, name := range []string{"present", "already gone"} {
		t.Run(name, func(t *testing.T) {
			if err := s.Delete(ctx, a); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Load(ctx, a); !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("Load after Delete: %v", err)
			}
			wantUsers(t, s, "alice")
			for _, bk := range [][]byte{bucketSessions, bucketExpiry, bucketUsers} {
				if n := rawCount(t, s, bk); n != 0 {
					t.Errorf("%s has %d entries", bk, n)
				}
			}
		})
	}
}

func TestContextCancelled(t *testing.T) {
	s := openTest(t, newClock(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := hashOf("a")
	tests := []struct {
		name string
		call func() error
	}{
		{"Load", func() error { _, err := s.Load(ctx, a); return err }},
		{"Commit", func() error {
			return s.Commit(ctx, &driver.Commit{ID: a, Create: true, Meta: meta("u", t0)})
		}},
		{"Delete", func() error { return s.Delete(ctx, a) }},
		{"ListUser", func() error { _, err := s.ListUser(ctx, "u"); return err }},
		{"DeleteUser", func() error { _, err := s.DeleteUser(ctx, "u", driver.Hash{}); return err }},
		{"Sweep", func() error { _, err := s.Sweep(ctx); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v; want context.Canceled", err)
			}
		})
	}
	if n := rawCount(t, s, bucketSessions); n != 0 {
		t.Errorf("cancelled Commit wrote %d records", n)
	}
}

func TestCorruptRecords(t *testing.T) {
	ctx := context.Background()
	a, keep := hashOf("a"), hashOf("keep")
	tests := []struct {
		name    string
		corrupt func(data []byte) []byte
		wantMsg string // after "boltstore: session HANDLE: "
	}{
		{"flipped bit", func(d []byte) []byte { d[len(d)/2] ^= 0x10; return d }, "corrupt record: checksum mismatch"},
		{"truncated", func(d []byte) []byte { return d[:len(d)-7] }, "corrupt record: checksum mismatch"},
		{"empty", func([]byte) []byte { return []byte{} }, "corrupt record: truncated (0 bytes)"},
		{"bad value JSON with valid checksum", func([]byte) []byte {
			return encodeRecord(&record{meta: meta("alice", t0), values: map[string][]byte{"k": []byte("{nope")}})
		}, `corrupt record: value "k": latch: decode session value: `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			s := openTest(t, clk, Options{})
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now()), Set: map[string]any{"k": "v"}})
			mustCommit(t, s, &driver.Commit{ID: keep, Create: true, Meta: meta("alice", clk.Now())})
			if err := s.db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketSessions)
				return b.Put(a[:], tc.corrupt(cloneBytes(b.Get(a[:]))))
			}); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load(ctx, a)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Load: %v; want ErrCorrupt", err)
			}
			if want := "boltstore: session " + a.Handle() + ": " + tc.wantMsg; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Load error %q; want it to start with %q", err, want)
			}
			if strings.Contains(err.Error(), a.String()) {
				t.Errorf("Load error %q holds the whole hash", err)
			}
			// Updating a corrupt record fails closed.
			if err := s.Commit(ctx, &driver.Commit{ID: a, Meta: meta("alice", clk.Now())}); err == nil && tc.name != "bad value JSON with valid checksum" {
				t.Error("Commit over corrupt record succeeded")
			}
			// Revoking all of the user's sessions still works.
			if _, err := s.DeleteUser(ctx, "alice", keep); err != nil {
				t.Fatalf("DeleteUser: %v", err)
			}
			if _, err := s.Load(ctx, a); !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("Load after DeleteUser: %v", err)
			}
			wantUsers(t, s, "alice", keep)
		})
	}
}

func TestCorruptRecordDelete(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := openTest(t, clk, Options{})
	a := hashOf("a")
	mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now())})
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Put(a[:], []byte("garbage"))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListUser(ctx, "alice"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ListUser: %v; want ErrCorrupt", err)
	}
	if err := s.Delete(ctx, a); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Load(ctx, a); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("Load: %v", err)
	}
	// The stale index entry left by deleting an unreadable record is ignored.
	wantUsers(t, s, "alice")
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	clk := newClock()
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	a := hashOf("a")
	mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta("alice", clk.Now()), Set: map[string]any{"k": "v"}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Load(ctx, a); err == nil || !strings.HasPrefix(err.Error(), "boltstore: ") {
		t.Fatalf("Load after Close: %v; want a boltstore error", err)
	}
	s, err = Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantValues(t, mustLoad(t, s, a), map[string]string{"k": `"v"`})
	wantUsers(t, s, "alice", a)
}

// cloneBytes copies a bbolt value out of its transaction.
func cloneBytes(b []byte) []byte { return append([]byte(nil), b...) }

func mustCommit(t testing.TB, s *Store, c *driver.Commit) {
	t.Helper()
	if err := s.Commit(context.Background(), c); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func mustLoad(t testing.TB, s *Store, id driver.Hash) *driver.Record {
	t.Helper()
	r, err := s.Load(context.Background(), id)
	if err != nil {
		t.Fatalf("Load %s: %v", id.Handle(), err)
	}
	return r
}

// wantValues checks r's values by their JSON encoding.
func wantValues(t testing.TB, r *driver.Record, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for k, v := range r.Values {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("value %q: %v", k, err)
		}
		got[k] = string(b)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("values %v; want %v", got, want)
	}
}

func wantUsers(t testing.TB, s *Store, user string, want ...driver.Hash) {
	t.Helper()
	infos, err := s.ListUser(context.Background(), user)
	if err != nil {
		t.Fatalf("ListUser(%q): %v", user, err)
	}
	var got []string
	for _, in := range infos {
		got = append(got, in.ID.Handle())
		if in.UserID != user {
			t.Errorf("ListUser(%q) returned a session of %q", user, in.UserID)
		}
	}
	var w []string
	for _, h := range want {
		w = append(w, h.Handle())
	}
	if fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("ListUser(%q) = %v; want %v", user, got, w)
	}
}

func metaEqual(a, b driver.Meta) bool {
	return a.UserID == b.UserID && a.Created.Equal(b.Created) && a.LastSeen.Equal(b.LastSeen) &&
		a.AuthTime.Equal(b.AuthTime) && a.IdleTimeout == b.IdleTimeout &&
		a.AbsoluteTimeout == b.AbsoluteTimeout && a.Remember == b.Remember &&
		a.UserAgent == b.UserAgent && a.IP == b.IP && a.Grace == b.Grace
}
