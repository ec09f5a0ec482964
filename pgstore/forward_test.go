package pgstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// TestForwardStoredForm checks what a renewal leaves in the tables: no
// session row under the old hash, and a forward row with the old row's
// expires_at and nothing else of the session.
func TestForwardStoredForm(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	from := sessionOf(t, s, "alice", 0)
	var oldExpiry time.Time
	if err := s.pool.QueryRow(ctx, "SELECT expires_at FROM "+s.table.ident("")+" WHERE id = $1", from[:]).Scan(&oldExpiry); err != nil {
		t.Fatal(err)
	}
	c := renewal(t, s, from, "alice")
	c.Meta.LastSeen = c.Meta.LastSeen.Add(time.Minute) // the new record lives longer
	if err := s.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+s.table.ident("")+" WHERE id = $1", from[:]).Scan(&n); err != nil || n != 0 {
		t.Errorf("session rows under the old hash: %d, %v; want 0", n, err)
	}
	var (
		to      []byte
		expires time.Time
	)
	if err := s.pool.QueryRow(ctx, "SELECT forward_to, expires_at FROM "+s.table.ident("_forwards")+" WHERE id = $1", from[:]).Scan(&to, &expires); err != nil {
		t.Fatalf("forward row: %v", err)
	}
	if string(to) != string(c.ID[:]) {
		t.Errorf("forward to %x, want %x", to, c.ID[:])
	}
	if !expires.Equal(oldExpiry) {
		t.Errorf("forward expires at %v, want the replaced record's %v", expires, oldExpiry)
	}
}

// TestSweepForwards checks that the sweeper deletes expired forwards, and
// only those, in batches.
func TestSweepForwards(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{SweepBatch: 2})
	var dead, live []driver.Hash
	for i := range 5 {
		c := renewal(t, s, sessionOf(t, s, "u", 0), "u")
		if err := s.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			dead = append(dead, c.From)
		} else {
			live = append(live, c.From)
		}
	}
	ids := make([][]byte, len(dead))
	for i, id := range dead {
		ids[i] = id[:]
	}
	if _, err := s.pool.Exec(ctx, "UPDATE "+s.table.ident("_forwards")+" SET expires_at = now() - interval '1 second' WHERE id = ANY($1)", ids); err != nil {
		t.Fatal(err)
	}
	for _, id := range dead {
		if _, err := s.Load(ctx, id); !errors.Is(err, driver.ErrNotFound) || errors.Is(err, driver.ErrRenewed) {
			t.Errorf("Load of an expired forward: got %v, want plain ErrNotFound", err)
		}
	}
	n, err := s.Sweep(ctx)
	if err != nil || n != 3 {
		t.Errorf("Sweep: got %d, %v; want 3 expired forwards", n, err)
	}
	var left int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+s.table.ident("_forwards")).Scan(&left); err != nil || left != 2 {
		t.Errorf("%d forwards left (%v), want the 2 live ones", left, err)
	}
	for _, id := range live {
		if _, err := s.Load(ctx, id); !errors.Is(err, driver.ErrRenewed) {
			t.Errorf("Load of a live forward after a sweep: got %v, want RenewedError", err)
		}
	}
}

// forwardRows writes forwards by hand: each pair is from, to.
func forwardRows(t *testing.T, s *Store, pairs ...driver.Hash) {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		_, err := s.pool.Exec(context.Background(), "INSERT INTO "+s.table.ident("_forwards")+
			" (id, forward_to, expires_at) VALUES ($1, $2, now() + interval '1 hour')", pairs[i][:], pairs[i+1][:])
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeleteChainBound checks that Delete survives a corrupt chain: a
// cycle ends it, and a chain longer than maxHops is refused whole, so a
// later Delete still finds it.
func TestDeleteChainBound(t *testing.T) {
	ctx := context.Background()
	t.Run("cycle", func(t *testing.T) {
		s := newTestStore(t, Options{})
		a, b := randomHash(t), randomHash(t)
		forwardRows(t, s, a, b, b, a)
		if err := s.Delete(ctx, a); err != nil {
			t.Fatalf("Delete of a cycle: %v", err)
		}
		for _, id := range []driver.Hash{a, b} {
			if _, err := s.Load(ctx, id); errors.Is(err, driver.ErrRenewed) {
				t.Errorf("forward %s left after Delete", id.Handle())
			}
		}
	})
	t.Run("too long", func(t *testing.T) {
		s := newTestStore(t, Options{})
		chain := []driver.Hash{randomHash(t)}
		for range maxHops + 1 {
			next := randomHash(t)
			forwardRows(t, s, chain[len(chain)-1], next)
			chain = append(chain, next)
		}
		end := chain[len(chain)-1]
		if err := s.Commit(ctx, &driver.Commit{ID: end, Create: true, Meta: liveMeta("u")}); err != nil {
			t.Fatal(err)
		}
		err := s.Delete(ctx, chain[0])
		if err == nil || !strings.Contains(err.Error(), "forwards in a row") {
			t.Fatalf("Delete of a chain of %d forwards: got %v, want an error", maxHops+1, err)
		}
		if _, err := s.Load(ctx, chain[0]); !errors.Is(err, driver.ErrRenewed) {
			t.Errorf("the refused Delete changed the chain: Load of its head: %v", err)
		}
		// Deleting from further along the chain reaches the session.
		if err := s.Delete(ctx, chain[1]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(ctx, end); !errors.Is(err, driver.ErrNotFound) {
			t.Errorf("Load of the chain's session after Delete: %v", err)
		}
	})
	t.Run("dead forward not followed", func(t *testing.T) {
		s := newTestStore(t, Options{})
		a, b := randomHash(t), sessionOf(t, s, "u", 0)
		forwardRows(t, s, a, b)
		if _, err := s.pool.Exec(ctx, "UPDATE "+s.table.ident("_forwards")+" SET expires_at = now() - interval '1 second'"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(ctx, b); err != nil {
			t.Errorf("Delete followed an expired forward: Load of its target: %v", err)
		}
	})
}

// TestUserChangeBehindDeleteUser checks the commits whose row belongs to
// another user than the commit (a renewal that logs out or changes user, a
// plain commit that changes user), which run again under both users'
// locks: behind a held DeleteUser of the row's user they find the session
// gone, and alone they succeed.
func TestUserChangeBehindDeleteUser(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		c    func(a driver.Hash) *driver.Commit
	}{
		{"renewal to anonymous", func(a driver.Hash) *driver.Commit {
			return &driver.Commit{ID: randomHash(t), From: a, Create: true, Meta: liveMeta("")}
		}},
		{"renewal to another user", func(a driver.Hash) *driver.Commit {
			return &driver.Commit{ID: randomHash(t), From: a, Create: true, Meta: liveMeta("v")}
		}},
		{"update to another user", func(a driver.Hash) *driver.Commit {
			return &driver.Commit{ID: a, Meta: liveMeta("v")}
		}},
		{"update to another user, limited", func(a driver.Hash) *driver.Commit {
			return &driver.Commit{ID: a, Meta: liveMeta("v"), MaxPerUser: 3}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, Options{})
			a := sessionOf(t, s, "u", 0)
			c := tc.c(a)
			var n int
			delErr, commitErr := race(t, s,
				func(held *Store) (err error) { n, err = held.DeleteUser(ctx, "u", driver.Hash{}); return err },
				func(s *Store) error { return s.Commit(ctx, c) })
			if delErr != nil || n != 1 {
				t.Errorf("DeleteUser: %d, %v; want 1, nil", n, delErr)
			}
			if !errors.Is(commitErr, driver.ErrNotFound) || errors.Is(commitErr, driver.ErrRenewed) {
				t.Errorf("commit behind DeleteUser: got %v, want plain ErrNotFound", commitErr)
			}
			wantSessions(t, s, "v")
			wantGone(t, s, c.ID, "after DeleteUser")
		})
	}
	// Without a race, the same commits succeed.
	for _, tc := range tests {
		t.Run(tc.name+" alone", func(t *testing.T) {
			s := newTestStore(t, Options{})
			a := sessionOf(t, s, "u", 0)
			c := tc.c(a)
			if err := s.Commit(ctx, c); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			wantSessions(t, s, "u")
			if c.Meta.UserID != "" {
				wantSessions(t, s, c.Meta.UserID, c.ID)
			}
		})
	}
}

// TestAnonymousUser checks that the anonymous user "" has no sessions to
// list or delete, as in the other stores, although anonymous sessions
// exist.
func TestAnonymousUser(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	a := sessionOf(t, s, "", 0)
	if list, err := s.ListUser(ctx, ""); err != nil || len(list) != 0 {
		t.Errorf("ListUser(\"\"): got %d, %v; want none", len(list), err)
	}
	if n, err := s.DeleteUser(ctx, "", driver.Hash{}); err != nil || n != 0 {
		t.Errorf("DeleteUser(\"\"): got %d, %v; want 0, nil", n, err)
	}
	if _, err := s.Load(ctx, a); err != nil {
		t.Errorf("anonymous session after DeleteUser(\"\"): %v", err)
	}
}

// TestMigrateFromVersion1 upgrades a database that a pgstore of schema
// version 1 created and filled: its sessions keep working, and renewals
// leave forwards.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	table := uniqueTable(t)
	dropTables(t, pool, table)
	s, err := New(pool, Options{Table: table, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := s.table.replacer()
	v1 := r.Replace(versionTable) + r.Replace(migrations[0]) + r.Replace(`INSERT INTO $V (id, version) VALUES (1, 1);`)
	if _, err := pool.Exec(ctx, v1); err != nil {
		t.Fatalf("version 1 schema: %v", err)
	}
	id := randomHash(t)
	_, err = pool.Exec(ctx, r.Replace(`INSERT INTO $T (id, user_id, created, last_seen, idle_timeout_ns, absolute_timeout_ns, expires_at, data)
		VALUES ($1, 'u', now(), now(), 3600000000000, 3600000000000, now() + interval '1 hour', '{"k": "\"v\""}')`), id[:])
	if err != nil {
		t.Fatal(err)
	}
	// Before Migrate, a lookup that needs the forwards table fails
	// closed.
	if _, err := s.Load(ctx, randomHash(t)); !errors.Is(err, ErrNoTable) {
		t.Errorf("Load of a missing hash before Migrate: got %v, want ErrNoTable", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate from version 1: %v", err)
	}
	var version int
	if err := pool.QueryRow(ctx, r.Replace(`SELECT version FROM $V`)).Scan(&version); err != nil || version != SchemaVersion {
		t.Errorf("schema version after Migrate: %d, %v; want %d", version, err, SchemaVersion)
	}
	rec, err := s.Load(ctx, id)
	if err != nil || rec.Values["k"] != "v" {
		t.Fatalf("Load of a version 1 session: %v, %v", rec, err)
	}
	c := renewal(t, s, id, "u")
	if err := s.Commit(ctx, c); err != nil {
		t.Fatalf("renewal after Migrate: %v", err)
	}
	_, err = s.Load(ctx, id)
	wantRenewed(t, "Load of the renewed version 1 session", err, c.ID)
}
