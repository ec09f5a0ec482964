package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

func testLoadCommitDelete(t *testing.T, s driver.Store) {
	user := newUser(t)
	id := newHash(t)
	loadMissing(t, s, id, "before any commit")

	m := liveMeta(user, time.Hour)
	m.Remember = true
	m.Grace = 5 * time.Minute
	vals := map[string]any{"cart": "3 items", "n": 1}
	create(t, s, id, m, vals)
	checkRecord(t, "Load after Create", load(t, s, id), m, vals)

	// A commit that only replaces the metadata keeps the values.
	m2 := m
	m2.LastSeen = m.LastSeen.Add(time.Minute)
	m2.Remember = false
	m2.AuthTime = time.Time{}
	m2.UserAgent = "other agent"
	m2.IP = "2001:db8::1"
	m2.IdleTimeout = 20 * time.Minute
	m2.AbsoluteTimeout = 2 * time.Hour
	m2.Grace = 0
	commit(t, s, &driver.Commit{ID: id, Meta: m2})
	got := load(t, s, id)
	checkRecord(t, "Load after metadata-only Commit", got, m2, vals)
	if !got.AuthTime.IsZero() {
		t.Errorf("Load after Commit with zero AuthTime: got AuthTime %v, want the zero time", got.AuthTime)
	}

	if err := s.Delete(bg, id); err != nil {
		t.Fatalf("Delete(%s): got error %v, want nil", id.Handle(), err)
	}
	loadMissing(t, s, id, "after Delete")
	if err := s.Delete(bg, id); err != nil {
		t.Errorf("Delete(%s) a second time: got error %v, want nil", id.Handle(), err)
	}
	other := newHash(t)
	if err := s.Delete(bg, other); err != nil {
		t.Errorf("Delete(%s) never stored: got error %v, want nil", other.Handle(), err)
	}
	commitErr(t, s, &driver.Commit{ID: id, Meta: m}, driver.ErrNotFound)
	loadMissing(t, s, id, "after Commit to a deleted record")

	// A session without values reads back with no values.
	empty, anon := newHash(t), liveMeta("", 0)
	create(t, s, empty, anon, nil)
	checkRecord(t, "Load of a session created without values", load(t, s, empty), anon, nil)
}

func testCreateExisting(t *testing.T, s driver.Store) {
	user, intruder := newUser(t), newUser(t)
	id := newHash(t)
	m := liveMeta(user, time.Hour)
	vals := map[string]any{"role": "admin"}
	create(t, s, id, m, vals)

	tests := []struct {
		name string
		c    func(from driver.Hash) *driver.Commit
	}{
		{"create", func(driver.Hash) *driver.Commit {
			return &driver.Commit{ID: id, Create: true, Meta: liveMeta(intruder, 0), Set: map[string]any{"role": "guest"}}
		}},
		{"create with clear", func(driver.Hash) *driver.Commit {
			return &driver.Commit{ID: id, Create: true, Meta: liveMeta(intruder, 0), Clear: true}
		}},
		{"renew into a live hash", func(from driver.Hash) *driver.Commit {
			return &driver.Commit{ID: id, From: from, Create: true, Meta: liveMeta(intruder, 0), Set: map[string]any{"x": 1}}
		}},
		{"create with limit", func(driver.Hash) *driver.Commit {
			return &driver.Commit{ID: id, Create: true, Meta: liveMeta(intruder, 0), MaxPerUser: 1, EvictOldest: true}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from := newHash(t)
			fromMeta := liveMeta(intruder, 2*time.Hour)
			create(t, s, from, fromMeta, map[string]any{"from": true})
			commitErr(t, s, tc.c(from), driver.ErrExists)
			checkRecord(t, "Load of the existing record", load(t, s, id), m, vals)
			checkRecord(t, "Load of the renewal's From", load(t, s, from), fromMeta, map[string]any{"from": true})
			checkList(t, s, user, id)
			checkList(t, s, intruder, from)
			if err := s.Delete(bg, from); err != nil {
				t.Fatalf("Delete(%s): %v", from.Handle(), err)
			}
		})
	}
}

func testCommitMissing(t *testing.T, s driver.Store) {
	user := newUser(t)
	deleted := newHash(t)
	create(t, s, deleted, liveMeta(user, time.Hour), map[string]any{"a": 1})
	if err := s.Delete(bg, deleted); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	tests := []struct {
		name string
		id   driver.Hash
		c    driver.Commit
	}{
		{"never stored", newHash(t), driver.Commit{Meta: liveMeta(user, 0), Set: map[string]any{"a": 2}}},
		{"deleted", deleted, driver.Commit{Meta: liveMeta(user, 0), Set: map[string]any{"a": 2}}},
		{"clear", newHash(t), driver.Commit{Meta: liveMeta(user, 0), Clear: true}},
		{"anonymous", newHash(t), driver.Commit{Meta: liveMeta("", 0)}},
		{"with limit", newHash(t), driver.Commit{Meta: liveMeta(user, 0), MaxPerUser: 3, EvictOldest: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.ID = tc.id
			commitErr(t, s, &c, driver.ErrNotFound)
			loadMissing(t, s, tc.id, "after a failed Commit")
			checkList(t, s, user)
		})
	}
}

func testExpiredOnCommit(t *testing.T, s driver.Store) {
	tests := []struct {
		name string
		// run writes the records; it returns the hashes that must be gone.
		run func(t *testing.T, user string) []driver.Hash
	}{
		{"create", func(t *testing.T, user string) []driver.Hash {
			id := newHash(t)
			create(t, s, id, expiredMeta(user), map[string]any{"a": 1})
			return []driver.Hash{id}
		}},
		{"absolute deadline", func(t *testing.T, user string) []driver.Hash {
			id := newHash(t)
			m := liveMeta(user, 13*time.Hour)
			m.AuthTime = time.Time{} // absolute deadline counts from Created
			create(t, s, id, m, nil)
			return []driver.Hash{id}
		}},
		{"commit to a live record", func(t *testing.T, user string) []driver.Hash {
			id := newHash(t)
			create(t, s, id, liveMeta(user, time.Hour), map[string]any{"a": 1})
			commit(t, s, &driver.Commit{ID: id, Meta: expiredMeta(user), Set: map[string]any{"b": 2}})
			return []driver.Hash{id}
		}},
		{"grace passed", func(t *testing.T, user string) []driver.Hash {
			id := newHash(t)
			m := expiredMeta(user) // deadline an hour ago
			m.Grace = 30 * time.Minute
			create(t, s, id, m, nil)
			return []driver.Hash{id}
		}},
		{"renewal", func(t *testing.T, user string) []driver.Hash {
			from, id := newHash(t), newHash(t)
			create(t, s, from, liveMeta(user, time.Hour), map[string]any{"a": 1})
			commit(t, s, &driver.Commit{ID: id, From: from, Create: true, Meta: expiredMeta(user)})
			return []driver.Hash{from, id}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user := newUser(t)
			keep := newHash(t)
			create(t, s, keep, liveMeta(user, 5*time.Hour), nil)
			for _, id := range tc.run(t, user) {
				loadMissing(t, s, id, "of an expired commit")
			}
			checkList(t, s, user, keep)
			n, err := s.DeleteUser(bg, user, keep)
			if err != nil || n != 0 {
				t.Errorf("DeleteUser(%q, keep): got %d, %v; want 0, nil (expired sessions are not counted)", user, n, err)
			}
		})
	}
}

func testGrace(t *testing.T, s driver.Store) {
	id := newHash(t)
	m := expiredMeta("") // deadline an hour ago
	m.Grace = 2 * time.Hour
	create(t, s, id, m, map[string]any{"a": 1})
	checkRecord(t, "Load of a record past its deadline but within its grace", load(t, s, id), m, map[string]any{"a": 1})
	m.LastSeen = m.LastSeen.Add(time.Second)
	commit(t, s, &driver.Commit{ID: id, Meta: m, Set: map[string]any{"b": 2}})
	checkRecord(t, "Load after a Commit within the grace", load(t, s, id), m, map[string]any{"a": 1, "b": 2})
}

func testExpiry(t *testing.T, s driver.Store) {
	const life = time.Second
	user := newUser(t)
	longID := newHash(t)
	create(t, s, longID, liveMeta(user, 2*time.Hour), nil)

	// Sessions that expire in about a second: one to watch, one to commit to
	// after expiry, one to renew from, one whose hash Create reuses.
	var ids [4]driver.Hash
	metas := make([]driver.Meta, len(ids))
	for i := range ids {
		ids[i] = newHash(t)
		metas[i] = shortMeta(user, life)
		metas[i].Created = metas[i].Created.Add(time.Duration(i) * time.Millisecond)
		create(t, s, ids[i], metas[i], map[string]any{"old": i})
	}
	watch, plain, renewFrom, reuse := ids[0], ids[1], ids[2], ids[3]
	deadline := metas[0].ExpiresAt()

	// Before the deadline.
	start := time.Now()
	_, err := s.Load(bg, watch)
	if err != nil && start.Before(deadline.Add(-life/4)) {
		t.Fatalf("Load(%s) %v before its deadline: got error %v, want the record", watch.Handle(), deadline.Sub(start), err)
	}
	infos := list(t, s, user)
	if len(infos) != 5 && time.Now().Before(deadline.Add(-life/4)) {
		t.Fatalf("ListUser before the deadline: got %s, want 5 sessions", infoHandles(infos))
	}

	// Poll until Load reports each record gone; none may be returned later
	// than ExpiryTolerance after its deadline.
	for i, id := range ids {
		deadline := metas[i].ExpiresAt()
		for {
			at := time.Now()
			_, err := s.Load(bg, id)
			if errors.Is(err, driver.ErrNotFound) {
				break
			}
			if err != nil {
				t.Fatalf("Load(%s) while waiting for expiry: %v", id.Handle(), err)
			}
			if late := at.Sub(deadline); late > ExpiryTolerance {
				t.Fatalf("Load(%s): record returned %v after its deadline (tolerance %v)", id.Handle(), late, ExpiryTolerance)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// A store may expire a record slightly early; from here on every
	// deadline has passed, so every answer must agree.
	for _, m := range metas {
		if wait := time.Until(m.ExpiresAt()); wait > 0 {
			time.Sleep(wait)
		}
	}

	t.Run("Load", func(t *testing.T) {
		for _, id := range ids {
			loadMissing(t, s, id, "after its deadline")
		}
	})
	t.Run("ListUser", func(t *testing.T) {
		checkList(t, s, user, longID)
	})
	t.Run("Commit", func(t *testing.T) {
		commitErr(t, s, &driver.Commit{ID: plain, Meta: liveMeta(user, 0), Set: map[string]any{"new": true}}, driver.ErrNotFound)
		loadMissing(t, s, plain, "after a Commit to an expired record")
		checkList(t, s, user, longID)
	})
	t.Run("Renew", func(t *testing.T) {
		to := newHash(t)
		commitErr(t, s, &driver.Commit{ID: to, From: renewFrom, Create: true, Meta: liveMeta(user, 0)}, driver.ErrNotFound)
		loadMissing(t, s, to, "after a renewal from an expired record")
		loadMissing(t, s, renewFrom, "after a renewal from it")
		checkList(t, s, user, longID)
	})
	t.Run("CreateReuses", func(t *testing.T) {
		m := liveMeta(user, 3*time.Hour)
		create(t, s, reuse, m, map[string]any{"new": 1})
		checkRecord(t, "Load after Create over an expired record", load(t, s, reuse), m, map[string]any{"new": 1})
		checkList(t, s, user, reuse, longID)
	})
	t.Run("DeleteUser", func(t *testing.T) {
		n, err := s.DeleteUser(bg, user, driver.Hash{})
		if err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if n != 2 {
			t.Errorf("DeleteUser(%q) with 2 live and 3 expired sessions: got %d, want 2", user, n)
		}
	})
}

func testRenew(t *testing.T, s driver.Store) {
	tests := []struct {
		name       string
		fromUser   string // "" for anonymous
		toUser     string
		create     bool
		patch      driver.Commit
		wantValues map[string]any
	}{
		{name: "same user", fromUser: "u1", toUser: "u1", create: true,
			wantValues: map[string]any{"a": 1, "b": "two"}},
		{name: "without Create", fromUser: "u1", toUser: "u1",
			wantValues: map[string]any{"a": 1, "b": "two"}},
		{name: "login", fromUser: "", toUser: "u1", create: true,
			patch:      driver.Commit{Set: map[string]any{"c": 3}},
			wantValues: map[string]any{"a": 1, "b": "two", "c": 3}},
		{name: "logout", fromUser: "u1", toUser: "", create: true,
			patch:      driver.Commit{Clear: true},
			wantValues: nil},
		{name: "other user", fromUser: "u1", toUser: "u2", create: true,
			patch:      driver.Commit{Delete: []string{"a"}, Set: map[string]any{"b": "new"}},
			wantValues: map[string]any{"b": "new"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users := map[string]string{"": "", "u1": newUser(t), "u2": newUser(t)}
			fromUser, toUser := users[tc.fromUser], users[tc.toUser]
			from, to := newHash(t), newHash(t)
			create(t, s, from, liveMeta(fromUser, time.Hour), map[string]any{"a": 1, "b": "two"})
			bystander := newHash(t)
			create(t, s, bystander, liveMeta(users["u1"], 2*time.Hour), nil)

			c := tc.patch
			c.ID, c.From, c.Create = to, from, tc.create
			c.Meta = liveMeta(toUser, time.Hour)
			c.Meta.LastSeen = c.Meta.LastSeen.Add(time.Second)
			commit(t, s, &c)
			loadMissing(t, s, from, "after renewal from it")
			checkRecord(t, "Load of the renewed record", load(t, s, to), c.Meta, tc.wantValues)
			for _, u := range []string{users["u1"], users["u2"]} {
				want := []driver.Hash{}
				if u == users["u1"] {
					want = append(want, bystander)
				}
				if u == toUser {
					want = append(want, to)
				}
				checkList(t, s, u, want...)
			}
		})
	}

	t.Run("missing From", func(t *testing.T) {
		user := newUser(t)
		deleted := newHash(t)
		create(t, s, deleted, liveMeta(user, time.Hour), map[string]any{"a": 1})
		if err := s.Delete(bg, deleted); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		for _, from := range []driver.Hash{newHash(t), deleted} {
			for _, create := range []bool{true, false} {
				to := newHash(t)
				commitErr(t, s, &driver.Commit{ID: to, From: from, Create: create, Meta: liveMeta(user, 0), Set: map[string]any{"b": 2}}, driver.ErrNotFound)
				loadMissing(t, s, to, "after a renewal from a missing record")
				loadMissing(t, s, from, "after a renewal from it failed")
				checkList(t, s, user)
			}
		}
	})
	t.Run("chain", func(t *testing.T) {
		user := newUser(t)
		id := newHash(t)
		m := liveMeta(user, time.Hour)
		create(t, s, id, m, map[string]any{"n": 0})
		for i := 1; i <= 5; i++ {
			next := newHash(t)
			m = liveMeta(user, time.Hour)
			commit(t, s, &driver.Commit{ID: next, From: id, Create: true, Meta: m, Set: map[string]any{"n": i}})
			loadMissing(t, s, id, "after renewal from it")
			id = next
		}
		checkRecord(t, "Load after five renewals", load(t, s, id), m, map[string]any{"n": 5})
		checkList(t, s, user, id)
	})
}

func testPatch(t *testing.T, s driver.Store) {
	base := map[string]any{"a": 1, "b": "bee", "c": true}
	tests := []struct {
		name string
		c    driver.Commit
		want map[string]any
	}{
		{"empty commit keeps values", driver.Commit{}, base},
		{"set adds", driver.Commit{Set: map[string]any{"d": 4}},
			map[string]any{"a": 1, "b": "bee", "c": true, "d": 4}},
		{"set replaces", driver.Commit{Set: map[string]any{"a": "one"}},
			map[string]any{"a": "one", "b": "bee", "c": true}},
		{"delete removes", driver.Commit{Delete: []string{"b", "c"}},
			map[string]any{"a": 1}},
		{"delete of a missing key", driver.Commit{Delete: []string{"zzz"}}, base},
		{"delete and set", driver.Commit{Delete: []string{"a"}, Set: map[string]any{"e": 5}},
			map[string]any{"b": "bee", "c": true, "e": 5}},
		{"set wins over delete", driver.Commit{Delete: []string{"a"}, Set: map[string]any{"a": 2}},
			map[string]any{"a": 2, "b": "bee", "c": true}},
		{"clear", driver.Commit{Clear: true}, nil},
		{"clear then set", driver.Commit{Clear: true, Set: map[string]any{"z": "zed"}},
			map[string]any{"z": "zed"}},
		{"clear, delete and set", driver.Commit{Clear: true, Delete: []string{"a"}, Set: map[string]any{"a": 9}},
			map[string]any{"a": 9}},
		{"set nil value", driver.Commit{Set: map[string]any{"b": nil}},
			map[string]any{"a": 1, "b": nil, "c": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user := newUser(t)
			id := newHash(t)
			create(t, s, id, liveMeta(user, time.Hour), base)
			c := tc.c
			c.ID = id
			c.Meta = liveMeta(user, time.Hour)
			c.Meta.LastSeen = c.Meta.LastSeen.Add(2 * time.Second)
			commit(t, s, &c)
			checkRecord(t, "Load after the patch", load(t, s, id), c.Meta, tc.want)
		})
	}
	t.Run("create applies the patch to empty values", func(t *testing.T) {
		id := newHash(t)
		m := liveMeta("", 0)
		commit(t, s, &driver.Commit{ID: id, Create: true, Meta: m, Clear: true, Delete: []string{"x"}, Set: map[string]any{"y": 1}})
		checkRecord(t, "Load after Create", load(t, s, id), m, map[string]any{"y": 1})
	})
	t.Run("renewal applies the patch to From's values", func(t *testing.T) {
		from, to := newHash(t), newHash(t)
		m := liveMeta("", 0)
		create(t, s, from, m, base)
		commit(t, s, &driver.Commit{ID: to, From: from, Create: true, Meta: m, Delete: []string{"a"}, Set: map[string]any{"b": "new"}})
		checkRecord(t, "Load after renewal", load(t, s, to), m, map[string]any{"b": "new", "c": true})
	})
}

// valueCase is one value for the round-trip test.
type valueCase struct {
	name string
	v    any
}

type point struct {
	X    int      `json:"x"`
	Y    float64  `json:"y"`
	Tags []string `json:"tags"`
}

func valueCases() []valueCase {
	return []valueCase{
		{"string", "hello"},
		{"empty string", ""},
		{"unicode string", "ключ 鍵 🔑 \u00e9"},
		{"string with NUL and newline", "a\x00b\nc\t\"q\"\\"},
		{"html", "<script>alert(1)</script>&amp;"},
		{"int", 42},
		{"negative int", -7},
		{"zero", 0},
		{"int64 beyond float64 precision", int64(9007199254740993)},
		{"max int64", int64(9223372036854775807)},
		{"uint64", uint64(18446744073709551615)},
		{"float", 3.25},
		{"small float", 1e-9},
		{"bool true", true},
		{"bool false", false},
		{"nil", nil},
		{"slice of strings", []string{"a", "b", "c"}},
		{"empty slice", []any{}},
		{"mixed slice", []any{"x", 1, true, nil, 2.5}},
		{"map", map[string]any{"k": "v", "n": 3}},
		{"empty map", map[string]any{}},
		{"nested", map[string]any{
			"user":  map[string]any{"name": "alice", "roles": []any{"admin", "dev"}, "age": 30},
			"flags": []any{map[string]any{"on": true}, map[string]any{"on": false}},
			"deep":  map[string]any{"a": map[string]any{"b": map[string]any{"c": []any{1, 2, 3}}}},
		}},
		{"struct", point{X: 1, Y: 2.5, Tags: []string{"t"}}},
		{"map of ints", map[string]int{"one": 1, "two": 2}},
	}
}

func testValues(t *testing.T, s driver.Store) {
	// Odd keys as well as odd values.
	keys := []string{"plain", "a.b", "x:y", "$where", "ключ", "with space", "{tag}", "*"}
	all := map[string]any{}
	for i, vc := range valueCases() {
		t.Run(vc.name, func(t *testing.T) {
			id := newHash(t)
			key := keys[i%len(keys)]
			create(t, s, id, liveMeta("", 0), map[string]any{key: vc.v})
			got := load(t, s, id).Values
			if diff := valuesDiff(got, map[string]any{key: vc.v}); diff != "" {
				t.Errorf("value round trip: %s", diff)
			}
		})
		all[vc.name] = vc.v
	}
	t.Run("all in one session", func(t *testing.T) {
		id := newHash(t)
		create(t, s, id, liveMeta("", 0), all)
		if diff := valuesDiff(load(t, s, id).Values, all); diff != "" {
			t.Errorf("value round trip: %s", diff)
		}
		// Values survive a commit that does not name them, and a renewal.
		commit(t, s, &driver.Commit{ID: id, Meta: liveMeta("", 0), Set: map[string]any{"extra": 1}})
		to := newHash(t)
		commit(t, s, &driver.Commit{ID: to, From: id, Create: true, Meta: liveMeta("", 0)})
		want := map[string]any{"extra": 1}
		for k, v := range all {
			want[k] = v
		}
		if diff := valuesDiff(load(t, s, to).Values, want); diff != "" {
			t.Errorf("values after commit and renewal: %s", diff)
		}
	})
	t.Run("large value", func(t *testing.T) {
		big := make([]byte, 64<<10)
		for i := range big {
			big[i] = 'a' + byte(i%26)
		}
		id := newHash(t)
		create(t, s, id, liveMeta("", 0), map[string]any{"big": string(big)})
		if diff := valuesDiff(load(t, s, id).Values, map[string]any{"big": string(big)}); diff != "" {
			t.Errorf("64 KiB value: %s", diff)
		}
	})
}

func testSnapshots(t *testing.T, s driver.Store) {
	t.Run("commit maps not retained", func(t *testing.T) {
		id, m := newHash(t), liveMeta("", 0)
		set := map[string]any{"a": "one"}
		create(t, s, id, m, set)
		set["a"] = "changed"
		set["b"] = "added"
		checkRecord(t, "Load after the caller changed its Set map", load(t, s, id), m, map[string]any{"a": "one"})
		del := []string{"a"}
		commit(t, s, &driver.Commit{ID: id, Meta: m, Delete: del})
		del[0] = "zzz"
		checkRecord(t, "Load after the caller changed its Delete slice", load(t, s, id), m, nil)
	})
	t.Run("loaded record unchanged by later commits", func(t *testing.T) {
		id := newHash(t)
		m := liveMeta("", 0)
		create(t, s, id, m, map[string]any{"a": 1, "b": 2})
		before := load(t, s, id)
		m2 := m
		m2.LastSeen = m.LastSeen.Add(time.Minute)
		commit(t, s, &driver.Commit{ID: id, Meta: m2, Delete: []string{"a"}, Set: map[string]any{"b": 3, "c": 4}})
		checkRecord(t, "record loaded before a Commit", before, m, map[string]any{"a": 1, "b": 2})
		to := newHash(t)
		commit(t, s, &driver.Commit{ID: to, From: id, Create: true, Meta: m2, Clear: true})
		checkRecord(t, "record loaded before a renewal", before, m, map[string]any{"a": 1, "b": 2})
		if err := s.Delete(bg, to); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		checkRecord(t, "record loaded before a Delete", before, m, map[string]any{"a": 1, "b": 2})
	})
}
