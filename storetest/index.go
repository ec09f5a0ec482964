package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// userSessions creates n live sessions for user, the first one the oldest
// (created n hours ago, the next n-1 hours ago, ...), and returns their
// hashes oldest first. They are committed newest first so that a store that
// lists in commit order fails.
func userSessions(t *testing.T, s driver.Store, user string, n int) []driver.Hash {
	t.Helper()
	ids := make([]driver.Hash, n)
	for i := range ids {
		ids[i] = newHash(t)
	}
	for i := n - 1; i >= 0; i-- {
		create(t, s, ids[i], liveMeta(user, time.Duration(n-i)*time.Hour), map[string]any{"i": i})
	}
	return ids
}

func testListUser(t *testing.T, s driver.Store) {
	user, other := newUser(t), newUser(t)
	checkList(t, s, user)
	ids := userSessions(t, s, user, 4)
	otherIDs := userSessions(t, s, other, 2)
	create(t, s, newHash(t), liveMeta("", 0), nil) // anonymous
	create(t, s, newHash(t), expiredMeta(user), nil)
	deleted := newHash(t)
	create(t, s, deleted, liveMeta(user, 30*time.Hour), nil)
	if err := s.Delete(bg, deleted); err != nil {
		t.Fatalf("Delete: %v", err)
	}

	got := list(t, s, user)
	if !sameIDs(got, ids) {
		t.Fatalf("ListUser(%q): got %s, want %s (oldest first, live only)", user, infoHandles(got), handles(ids))
	}
	for i, in := range got {
		want := liveMeta(user, time.Duration(len(ids)-i)*time.Hour)
		// liveMeta reads the clock again: copy the times the store was given.
		r := load(t, s, in.ID)
		if diff := metaDiff(in.Meta, r.Meta); diff != "" {
			t.Errorf("ListUser(%q)[%d] %s: Meta differs from Load: %s", user, i, in.ID.Handle(), diff)
		}
		if in.UserID != user || in.UserAgent != want.UserAgent || in.IP != want.IP || in.IdleTimeout != want.IdleTimeout {
			t.Errorf("ListUser(%q)[%d]: got user %q, agent %q, IP %q, idle %v; want %q, %q, %q, %v",
				user, i, in.UserID, in.UserAgent, in.IP, in.IdleTimeout, user, want.UserAgent, want.IP, want.IdleTimeout)
		}
	}
	checkList(t, s, other, otherIDs...)
	checkList(t, s, newUser(t))

	// Listing does not change what it lists.
	checkList(t, s, user, ids...)
	for _, id := range ids {
		load(t, s, id)
	}
}

func testDeleteUser(t *testing.T, s driver.Store) {
	tests := []struct {
		name      string
		n         int
		keep      int // index of the session to keep, -1 for none
		keepOther bool
		want      int
	}{
		{"all", 3, -1, false, 3},
		{"keep one", 3, 1, false, 2},
		{"keep the only one", 1, 0, false, 0},
		{"keep another user's session", 2, -1, true, 2},
		{"no sessions", 0, -1, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, other := newUser(t), newUser(t)
			ids := userSessions(t, s, user, tc.n)
			otherIDs := userSessions(t, s, other, 2)
			anon := newHash(t)
			create(t, s, anon, liveMeta("", 0), nil)
			create(t, s, newHash(t), expiredMeta(user), nil)
			var keep driver.Hash
			switch {
			case tc.keep >= 0:
				keep = ids[tc.keep]
			case tc.keepOther:
				keep = otherIDs[0]
			}
			n, err := s.DeleteUser(bg, user, keep)
			if err != nil {
				t.Fatalf("DeleteUser(%q, %s): got error %v, want nil", user, keep.Handle(), err)
			}
			if n != tc.want {
				t.Errorf("DeleteUser(%q, %s): got %d removed, want %d", user, keep.Handle(), n, tc.want)
			}
			var left []driver.Hash
			for i, id := range ids {
				if i == tc.keep {
					load(t, s, id)
					left = append(left, id)
				} else {
					loadMissing(t, s, id, "after DeleteUser")
				}
			}
			checkList(t, s, user, left...)
			checkList(t, s, other, otherIDs...)
			load(t, s, anon)
			for _, id := range otherIDs {
				load(t, s, id)
			}
			n, err = s.DeleteUser(bg, user, keep)
			if err != nil || n != 0 {
				t.Errorf("DeleteUser(%q) again: got %d, %v; want 0, nil", user, n, err)
			}
		})
	}
}

func testDeleteRemovesIndex(t *testing.T, s driver.Store) {
	user := newUser(t)
	ids := userSessions(t, s, user, 3)
	if err := s.Delete(bg, ids[1]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkList(t, s, user, ids[0], ids[2])
	n, err := s.DeleteUser(bg, user, driver.Hash{})
	if err != nil || n != 2 {
		t.Errorf("DeleteUser(%q) after Delete of one of 3: got %d, %v; want 2, nil", user, n, err)
	}
	checkList(t, s, user)
}

func testUserChange(t *testing.T, s driver.Store) {
	u1, u2 := newUser(t), newUser(t)
	id := newHash(t)
	create(t, s, id, liveMeta("", time.Hour), map[string]any{"a": 1})
	checkList(t, s, u1)

	commit(t, s, &driver.Commit{ID: id, Meta: liveMeta(u1, time.Hour)})
	checkList(t, s, u1, id)

	commit(t, s, &driver.Commit{ID: id, Meta: liveMeta(u2, time.Hour)})
	checkList(t, s, u1)
	checkList(t, s, u2, id)
	if n, err := s.DeleteUser(bg, u1, driver.Hash{}); err != nil || n != 0 {
		t.Errorf("DeleteUser(%q) after the session moved away: got %d, %v; want 0, nil", u1, n, err)
	}
	load(t, s, id)

	anon := liveMeta("", time.Hour)
	commit(t, s, &driver.Commit{ID: id, Meta: anon})
	checkList(t, s, u2)
	checkRecord(t, "Load after the user changed three times", load(t, s, id), anon, map[string]any{"a": 1})
}

func testMaxPerUser(t *testing.T, s driver.Store) {
	type result struct {
		err     error
		gone    []int // indexes of existing sessions that must be gone
		written bool  // whether the new session must exist
	}
	tests := []struct {
		name     string
		existing int // live sessions of the user, index 0 the oldest
		expired  int // expired sessions of the user
		max      int
		evict    bool
		// kind: "create", "renew-own" (renew existing[last]), "login"
		// (renew an anonymous session), "switch" (commit an existing
		// session of another user to this one), "update" (commit to
		// existing[last] without a change of user).
		kind string
		want result
	}{
		{"under the limit", 2, 0, 3, false, "create", result{written: true}},
		{"evict the oldest", 3, 0, 3, true, "create", result{gone: []int{0}, written: true}},
		{"refuse at the limit", 3, 0, 3, false, "create", result{err: driver.ErrSessionLimit}},
		{"evict down to the limit", 5, 0, 3, true, "create", result{gone: []int{0, 1, 2}, written: true}},
		{"limit of one evicts", 1, 0, 1, true, "create", result{gone: []int{0}, written: true}},
		{"limit of one refuses", 1, 0, 1, false, "create", result{err: driver.ErrSessionLimit}},
		{"expired sessions do not count", 2, 3, 3, false, "create", result{written: true}},
		{"no limit", 5, 0, 0, false, "create", result{written: true}},
		{"login evicts", 2, 0, 2, true, "login", result{gone: []int{0}, written: true}},
		{"login refused", 2, 0, 2, false, "login", result{err: driver.ErrSessionLimit}},
		{"change of user evicts", 2, 0, 2, true, "switch", result{gone: []int{0}, written: true}},
		{"change of user refused", 2, 0, 2, false, "switch", result{err: driver.ErrSessionLimit}},
		{"renewal of an own session at the limit", 3, 0, 3, false, "renew-own", result{gone: []int{2}, written: true}},
		{"update at the limit", 3, 0, 3, false, "update", result{written: true}},
		{"update over the limit", 4, 0, 2, false, "update", result{written: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, other := newUser(t), newUser(t)
			ids := userSessions(t, s, user, tc.existing)
			for range tc.expired {
				create(t, s, newHash(t), expiredMeta(user), nil)
			}
			otherIDs := userSessions(t, s, other, 2)

			m := liveMeta(user, 0)
			var c driver.Commit
			var source driver.Hash // a session that must be gone after success
			switch tc.kind {
			case "create":
				c = driver.Commit{ID: newHash(t), Create: true}
			case "login":
				source = newHash(t)
				create(t, s, source, liveMeta("", 0), map[string]any{"cart": 1})
				c = driver.Commit{ID: newHash(t), From: source, Create: true}
			case "switch":
				c = driver.Commit{ID: otherIDs[1]}
			case "renew-own":
				source = ids[len(ids)-1]
				c = driver.Commit{ID: newHash(t), From: source, Create: true}
			case "update":
				c = driver.Commit{ID: ids[len(ids)-1]}
				m = liveMeta(user, time.Hour) // keep it the newest
			default:
				t.Fatalf("unknown kind %q", tc.kind)
			}
			c.Meta, c.MaxPerUser, c.EvictOldest = m, tc.max, tc.evict
			c.Set = map[string]any{"new": true}

			err := s.Commit(bg, &c)
			if !errors.Is(err, tc.want.err) || (err != nil && tc.want.err == nil) {
				t.Fatalf("Commit(%s) with %d live sessions: got error %v, want %v", describe(&c), tc.existing, err, tc.want.err)
			}

			gone := map[int]bool{}
			for _, i := range tc.want.gone {
				gone[i] = true
			}
			var wantList []driver.Hash
			for i, id := range ids {
				if gone[i] {
					loadMissing(t, s, id, "after the commit that should have replaced or evicted it")
					continue
				}
				load(t, s, id)
				wantList = append(wantList, id)
			}
			wantOther := otherIDs
			switch {
			case tc.want.written:
				r := load(t, s, c.ID)
				if r.UserID != user || r.Values["new"] == nil {
					t.Errorf("Load(%s) after Commit: got user %q, values %v; want user %q with value new", c.ID.Handle(), r.UserID, r.Values, user)
				}
				if tc.kind == "update" {
					break // already in wantList
				}
				wantList = append(wantList, c.ID)
				if tc.kind == "switch" {
					wantOther = otherIDs[:1]
				}
				if !source.IsZero() {
					loadMissing(t, s, source, "after renewal from it")
				}
			case tc.kind == "switch":
				r := load(t, s, c.ID)
				if r.UserID != other || r.Values["new"] != nil {
					t.Errorf("Load(%s) after a refused change of user: got user %q, values %v; want it unchanged (user %q)", c.ID.Handle(), r.UserID, r.Values, other)
				}
			default:
				loadMissing(t, s, c.ID, "after a refused Commit")
				if !source.IsZero() {
					load(t, s, source)
				}
			}
			checkList(t, s, user, wantList...)
			checkList(t, s, other, wantOther...)
		})
	}
}
