package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// The cases below check the forwards that renewals leave and the ordering
// of deletions against renewals (see "Ordering against renewals" in the
// documentation of driver.Store). The concurrent ones run many rounds, each
// releasing its goroutines together, and check the outcome after every
// round: whichever operation the store ran first, the contract must hold.

// orderingRounds is how many times each race is run.
const orderingRounds = 200

// turns returns fns rotated by round, for race: a goroutine started last
// tends to run first, so without turns a race would mostly go one way.
func turns(round int, fns ...func()) []func() {
	k := round % len(fns)
	return append(fns[k:len(fns):len(fns)], fns[:k]...)
}

// renewedTo returns the hash a *driver.RenewedError in err's chain names,
// and whether there is one.
func renewedTo(err error) (driver.Hash, bool) {
	var re *driver.RenewedError
	if errors.As(err, &re) {
		return re.To, true
	}
	return driver.Hash{}, false
}

// showErr renders an error for a failure message, naming the target of a
// *driver.RenewedError by its handle.
func showErr(err error) string {
	if to, ok := renewedTo(err); ok {
		return fmt.Sprintf("RenewedError{To: %s} (%v)", to.Handle(), err)
	}
	return fmt.Sprint(err)
}

// checkRenewed checks that err is a *driver.RenewedError naming to, and
// that it matches both driver.ErrRenewed and driver.ErrNotFound.
func checkRenewed(t testing.TB, op string, err error, to driver.Hash) {
	t.Helper()
	got, ok := renewedTo(err)
	switch {
	case !ok:
		t.Fatalf("%s: got error %v, want a *driver.RenewedError naming %s", op, err, to.Handle())
	case got != to:
		t.Fatalf("%s: got a RenewedError naming %s, want %s", op, got.Handle(), to.Handle())
	case !errors.Is(err, driver.ErrRenewed) || !errors.Is(err, driver.ErrNotFound):
		t.Fatalf("%s: error %v does not match both ErrRenewed and ErrNotFound", op, err)
	}
}

// loadRenewed checks that id holds a forward to to.
func loadRenewed(t testing.TB, s driver.Store, id, to driver.Hash, why string) {
	t.Helper()
	_, err := s.Load(bg, id)
	checkRenewed(t, fmt.Sprintf("Load(%s) %s", id.Handle(), why), err, to)
}

// loadGone checks that id holds neither a record nor a forward.
func loadGone(t testing.TB, s driver.Store, id driver.Hash, why string) {
	t.Helper()
	r, err := s.Load(bg, id)
	if !errors.Is(err, driver.ErrNotFound) || errors.Is(err, driver.ErrRenewed) {
		t.Fatalf("Load(%s) %s: got record %v, error %s; want plain ErrNotFound", id.Handle(), why, r != nil, showErr(err))
	}
}

// goneErr returns why id, which a deletion ended, is not gone: it holds
// a record, or it can be committed to. "" when it is gone.
func goneErr(s driver.Store, id driver.Hash, m driver.Meta) string {
	if r, err := s.Load(bg, id); err == nil || !errors.Is(err, driver.ErrNotFound) {
		return fmt.Sprintf("Load(%s): got record %v, error %s; want ErrNotFound", id.Handle(), r != nil, showErr(err))
	}
	if err := s.Commit(bg, &driver.Commit{ID: id, Meta: m, Set: map[string]any{"after": true}}); !errors.Is(err, driver.ErrNotFound) {
		return fmt.Sprintf("Commit(%s) after it was ended: got error %s, want ErrNotFound", id.Handle(), showErr(err))
	}
	return ""
}

// renewErrOK reports whether a renewal that raced a deletion of its
// session ended as the contract allows: done, or refused because the
// session was already gone.
func renewErrOK(err error) bool {
	return err == nil || (errors.Is(err, driver.ErrNotFound) && !errors.Is(err, driver.ErrRenewed))
}

// later returns m seen again d later.
func later(m driver.Meta, d time.Duration) driver.Meta {
	m.LastSeen = m.LastSeen.Add(d)
	return m
}

// renewChain creates a session of user with values vals and renews it n
// times; it returns the hashes from the first to the last (the live one)
// and the metadata of the last commit.
func renewChain(t *testing.T, s driver.Store, user string, n int, vals map[string]any) ([]driver.Hash, driver.Meta) {
	t.Helper()
	ids := []driver.Hash{newHash(t)}
	m := liveMeta(user, time.Hour)
	create(t, s, ids[0], m, vals)
	for i := 1; i <= n; i++ {
		ids = append(ids, newHash(t))
		m = later(m, time.Second)
		commit(t, s, &driver.Commit{ID: ids[i], From: ids[i-1], Create: true, Meta: m})
	}
	return ids, m
}

func testForward(t *testing.T, s driver.Store) {
	vals := map[string]any{"a": 1}
	t.Run("Load", func(t *testing.T) {
		user := newUser(t)
		ids, m := renewChain(t, s, user, 2, vals)
		loadRenewed(t, s, ids[0], ids[1], "after two renewals (the forward names the next hash)")
		loadRenewed(t, s, ids[1], ids[2], "after a renewal from it")
		checkRecord(t, "Load of the renewed session", load(t, s, ids[2]), m, vals)
	})
	t.Run("Commit", func(t *testing.T) {
		tests := []struct {
			name string
			// c returns the commit on from, the forward; other is a
			// second user.
			c    func(from driver.Hash, m driver.Meta, other string) *driver.Commit
			want string // "renewed" or "exists"
		}{
			{"update", func(from driver.Hash, m driver.Meta, other string) *driver.Commit {
				return &driver.Commit{ID: from, Meta: m, Set: map[string]any{"late": 1}}
			}, "renewed"},
			{"update with clear", func(from driver.Hash, m driver.Meta, other string) *driver.Commit {
				return &driver.Commit{ID: from, Meta: m, Clear: true}
			}, "renewed"},
			{"update to another user", func(from driver.Hash, m driver.Meta, other string) *driver.Commit {
				return &driver.Commit{ID: from, Meta: liveMeta(other, 0), MaxPerUser: 1, EvictOldest: true}
			}, "renewed"},
			{"renewal from it", func(from driver.Hash, m driver.Meta, other string) *driver.Commit {
				return &driver.Commit{ID: newHash(t), From: from, Create: true, Meta: m, Set: map[string]any{"late": 1}}
			}, "renewed"},
			{"create over it", func(from driver.Hash, m driver.Meta, other string) *driver.Commit {
				return &driver.Commit{ID: from, Create: true, Meta: liveMeta(other, 0), Set: map[string]any{"late": 1}}
			}, "exists"},
			{"create with limit over it", func(from driver.Hash, m driver.Meta, other string) *driver.Commit {
				return &driver.Commit{ID: from, Create: true, Meta: liveMeta(other, 0), MaxPerUser: 1, EvictOldest: true}
			}, "exists"},
			{"renewal into it", func(from driver.Hash, m driver.Meta, other string) *driver.Commit {
				src := newHash(t)
				create(t, s, src, liveMeta(other, 2*time.Hour), map[string]any{"src": true})
				return &driver.Commit{ID: from, From: src, Create: true, Meta: liveMeta(other, 0)}
			}, "exists"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				user, other := newUser(t), newUser(t)
				ids, m := renewChain(t, s, user, 1, vals)
				from, to := ids[0], ids[1]
				c := tc.c(from, later(m, time.Minute), other)
				err := s.Commit(bg, c)
				if tc.want == "exists" {
					if !errors.Is(err, driver.ErrExists) {
						t.Fatalf("Commit(%s) on a forward: got error %s, want ErrExists", describe(c), showErr(err))
					}
				} else {
					checkRenewed(t, "Commit("+describe(c)+") on a forward", err, to)
				}
				// Nothing was written.
				loadRenewed(t, s, from, to, "after a refused Commit on it")
				checkRecord(t, "Load of the renewed session", load(t, s, to), m, vals)
				if c.ID != from {
					loadMissing(t, s, c.ID, "after a refused renewal into it")
				}
				checkList(t, s, user, to)
				if !c.From.IsZero() && c.From != from {
					if diff := valuesDiff(load(t, s, c.From).Values, map[string]any{"src": true}); diff != "" {
						t.Errorf("Load of a refused renewal's From: %s", diff)
					}
					checkList(t, s, other, c.From)
				} else {
					checkList(t, s, other)
				}
			})
		}
	})
	t.Run("NotASession", func(t *testing.T) {
		user := newUser(t)
		ids, _ := renewChain(t, s, user, 2, vals)
		checkList(t, s, user, ids[2])
		// The limit counts the live session only, not the forwards.
		fresh := newHash(t)
		commit(t, s, &driver.Commit{ID: fresh, Create: true, Meta: liveMeta(user, 0), MaxPerUser: 2})
		checkList(t, s, user, ids[2], fresh)
		n, err := s.DeleteUser(bg, user, driver.Hash{})
		if err != nil || n != 2 {
			t.Errorf("DeleteUser(%q) with 2 sessions and 2 forwards: got %d, %v; want 2, nil", user, n, err)
		}
		for _, id := range append(ids, fresh) {
			loadMissing(t, s, id, "after DeleteUser")
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		// The forward lives as long as the record it replaced: about a
		// second and a half here. Two sessions are renewed: the forward
		// of the first is loaded, the second is logged out through its
		// forward, late in the replaced records' life.
		const life = 1500 * time.Millisecond
		user := newUser(t)
		from, to := newHash(t), newHash(t)
		from2, to2 := newHash(t), newHash(t)
		fm := shortMeta(user, life)
		create(t, s, from, fm, vals)
		create(t, s, from2, fm, vals)
		tm := liveMeta(user, 0)
		commit(t, s, &driver.Commit{ID: to, From: from, Create: true, Meta: tm})
		commit(t, s, &driver.Commit{ID: to2, From: from2, Create: true, Meta: tm})
		deadline := fm.ExpiresAt()
		at := time.Now()
		if _, err := s.Load(bg, from); at.Before(deadline.Add(-life / 4)) {
			checkRenewed(t, fmt.Sprintf("Load(%s) %v before the replaced record's expiry", from.Handle(), deadline.Sub(at)), err, to)
		}
		// Load the forward until it is gone. A store with its own clock
		// may expire it up to ExpiryTolerance early by ours: before that
		// it must answer, and once, late in its life, a Delete through it
		// must end the renewed session. Every answer is judged by the
		// time taken before the call, so a slow machine makes the test
		// check less, never fail a correct store.
		early := deadline.Add(-ExpiryTolerance)
		deleted := false
		for {
			at := time.Now()
			_, err := s.Load(bg, from)
			if _, ok := renewedTo(err); !ok {
				if !errors.Is(err, driver.ErrNotFound) {
					t.Fatalf("Load(%s) while waiting for the forward to expire: got error %v, want RenewedError or ErrNotFound", from.Handle(), err)
				}
				if at.Before(early) {
					t.Fatalf("Load(%s) %v before the replaced record's expiry: got %v, want RenewedError", from.Handle(), deadline.Sub(at), err)
				}
				break
			}
			if late := at.Sub(deadline); late > ExpiryTolerance {
				t.Fatalf("Load(%s): forward answered %v after the replaced record's ExpiresAt (tolerance %v)", from.Handle(), late, ExpiryTolerance)
			}
			if !deleted && at.After(deadline.Add(-life/2)) && at.Before(early) {
				deleted = true
				if err := s.Delete(bg, from2); err != nil {
					t.Fatalf("Delete(%s) %v before the replaced record's expiry: %v", from2.Handle(), deadline.Sub(at), err)
				}
				for _, id := range []driver.Hash{from2, to2} {
					if why := goneErr(s, id, tm); why != "" {
						t.Fatalf("after Delete(%s) of a forward %v before the replaced record's expiry: %s", from2.Handle(), deadline.Sub(at), why)
					}
				}
				checkList(t, s, user, to)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !deleted {
			t.Logf("too late to check a Delete through a forward late in its life")
			if err := s.Delete(bg, from2); err != nil {
				t.Fatalf("Delete(%s): %v", from2.Handle(), err)
			}
		}
		if wait := time.Until(deadline); wait > 0 {
			time.Sleep(wait)
		}
		loadGone(t, s, from, "after the forward expired")
		commitErr(t, s, &driver.Commit{ID: from, Meta: tm, Set: map[string]any{"late": 1}}, driver.ErrNotFound)
		loadGone(t, s, from, "after a Commit to an expired forward")
		checkRecord(t, "Load of the renewed session after its forward expired", load(t, s, to), tm, vals)
		// Its hash is free again, and a Delete of it no longer reaches the
		// renewed session.
		create(t, s, from, liveMeta("", 0), map[string]any{"new": 1})
		if err := s.Delete(bg, from); err != nil {
			t.Fatalf("Delete(%s): %v", from.Handle(), err)
		}
		checkRecord(t, "Load of the renewed session after a Delete of its expired forward's hash", load(t, s, to), tm, vals)
		checkList(t, s, user, to)
	})
}

func testDeleteFollowsForward(t *testing.T, s driver.Store) {
	// owners gives the user of each record of the chain A -> B -> C:
	// "u" the user, "o" another user, "" anonymous. A renewal that changes
	// the user is a login; Delete follows its forward all the same.
	tests := []struct {
		name   string
		owners [3]string
		del    int // index in the chain A -> B -> C of the hash deleted
	}{
		{"from the first hash", [3]string{"u", "u", "u"}, 0},
		{"from the first hash, anonymous", [3]string{"", "", ""}, 0},
		{"from the middle", [3]string{"u", "u", "u"}, 1},
		{"the live hash", [3]string{"u", "u", "u"}, 2},
		{"from the first hash, across a login", [3]string{"", "u", "u"}, 0},
		{"from the first hash, across a later login", [3]string{"", "", "u"}, 0},
		{"from the first hash, across a change of user", [3]string{"o", "u", "u"}, 0},
		{"from the middle, across a change of user", [3]string{"u", "u", "o"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, other := newUser(t), newUser(t)
			bystander := newHash(t)
			create(t, s, bystander, liveMeta(user, 5*time.Hour), map[string]any{"other": true})
			var ids []driver.Hash
			var m driver.Meta
			for i, o := range tc.owners {
				owner := map[string]string{"u": user, "o": other, "": ""}[o]
				id := newHash(t)
				if i == 0 {
					m = liveMeta(owner, time.Hour)
					create(t, s, id, m, map[string]any{"a": 1})
				} else {
					m = later(m, time.Second)
					if m.UserID != owner {
						m.UserID, m.AuthTime = owner, m.LastSeen
						if owner == "" {
							m.AuthTime = time.Time{}
						}
					}
					commit(t, s, &driver.Commit{ID: id, From: ids[i-1], Create: true, Meta: m})
				}
				ids = append(ids, id)
			}
			if err := s.Delete(bg, ids[tc.del]); err != nil {
				t.Fatalf("Delete(%s): got error %v, want nil", ids[tc.del].Handle(), err)
			}
			// The hashes from the deleted one to the live one are gone,
			// forwards and record; the ones before may still forward.
			for i, id := range ids {
				if i >= tc.del {
					loadGone(t, s, id, fmt.Sprintf("after Delete(%s)", ids[tc.del].Handle()))
				}
				if why := goneErr(s, id, m); why != "" {
					t.Errorf("%s", why)
				}
			}
			live := ids[len(ids)-1]
			commitErr(t, s, &driver.Commit{ID: newHash(t), From: live, Create: true, Meta: m}, driver.ErrNotFound)
			checkList(t, s, user, bystander)
			checkList(t, s, other)
			load(t, s, bystander)
			if err := s.Delete(bg, ids[0]); err != nil {
				t.Errorf("Delete(%s) again: got error %v, want nil", ids[0].Handle(), err)
			}
			load(t, s, bystander)
		})
	}
	t.Run("to a deleted session", func(t *testing.T) {
		user := newUser(t)
		ids, _ := renewChain(t, s, user, 1, nil)
		if err := s.Delete(bg, ids[1]); err != nil {
			t.Fatalf("Delete(%s): %v", ids[1].Handle(), err)
		}
		if err := s.Delete(bg, ids[0]); err != nil {
			t.Fatalf("Delete(%s) of a forward to a deleted session: got error %v, want nil", ids[0].Handle(), err)
		}
		loadGone(t, s, ids[0], "after Delete")
		checkList(t, s, user)
	})
}

func testLogoutRacesRenewal(t *testing.T, s driver.Store) {
	var errs collector
	user := newUser(t)
	bystander := newHash(t)
	create(t, s, bystander, liveMeta(user, 5*time.Hour), nil)
	var renewedFirst, deletedFirst int
	for round := range orderingRounds {
		a, b, c := newHash(t), newHash(t), newHash(t)
		m := liveMeta(user, time.Hour)
		create(t, s, a, m, map[string]any{"round": round})
		var renew1, renew2, delErr error
		race(turns(round, func() {
			// Two renewals in a row: the second one renews the result
			// of the first, so Delete may have to follow two forwards.
			renew1 = s.Commit(bg, &driver.Commit{ID: b, From: a, Create: true, Meta: later(m, time.Second)})
			if renew1 == nil {
				renew2 = s.Commit(bg, &driver.Commit{ID: c, From: b, Create: true, Meta: later(m, 2*time.Second)})
			}
		}, func() {
			delErr = s.Delete(bg, a)
		})...)
		fail := func(format string, args ...any) { errs.add("round %d: "+format, append([]any{round}, args...)...) }
		if delErr != nil {
			fail("Delete(%s) racing a renewal: got error %v, want nil", a.Handle(), delErr)
		}
		if !renewErrOK(renew1) || !renewErrOK(renew2) {
			fail("renewals racing Delete: got errors %s, %s; want nil or ErrNotFound", showErr(renew1), showErr(renew2))
		}
		if renew1 == nil {
			renewedFirst++
		} else {
			deletedFirst++
		}
		if r, err := s.Load(bg, a); err == nil || errors.Is(err, driver.ErrRenewed) {
			fail("Load(%s) of the deleted hash: got record %v, error %s; want plain ErrNotFound", a.Handle(), r != nil, showErr(err))
		}
		for _, id := range []driver.Hash{a, b, c} {
			if why := goneErr(s, id, m); why != "" {
				fail("after Delete(%s) raced renewals %s -> %s -> %s (errors %s, %s): %s",
					a.Handle(), a.Handle(), b.Handle(), c.Handle(), showErr(renew1), showErr(renew2), why)
			}
		}
		if err := s.Commit(bg, &driver.Commit{ID: newHash(t), From: c, Create: true, Meta: m}); !errors.Is(err, driver.ErrNotFound) {
			fail("renewal from %s after the logout: got error %s, want ErrNotFound", c.Handle(), showErr(err))
		}
	}
	errs.report(t)
	checkList(t, s, user, bystander)
	t.Logf("%d rounds: the renewal ran first %d times, Delete %d times", orderingRounds, renewedFirst, deletedFirst)
}

func testRevokeUserRacesRenewal(t *testing.T, s driver.Store) {
	var errs collector
	other := newUser(t)
	bystanders := []driver.Hash{newHash(t), newHash(t)}
	create(t, s, bystanders[0], liveMeta(other, 5*time.Hour), nil)
	create(t, s, bystanders[1], liveMeta("", 5*time.Hour), nil)
	var renewedFirst, deletedFirst int
	for round := range orderingRounds {
		user := newUser(t)
		moving, still := newHash(t), newHash(t)
		n1, n2 := newHash(t), newHash(t)
		m := liveMeta(user, time.Hour)
		create(t, s, moving, m, map[string]any{"round": round})
		create(t, s, still, liveMeta(user, 2*time.Hour), nil)
		var renew1, renew2, delErr error
		var n int
		race(turns(round, func() {
			renew1 = s.Commit(bg, &driver.Commit{ID: n1, From: moving, Create: true, Meta: later(m, time.Second)})
			if renew1 == nil {
				renew2 = s.Commit(bg, &driver.Commit{ID: n2, From: n1, Create: true, Meta: later(m, 2*time.Second)})
			}
		}, func() {
			n, delErr = s.DeleteUser(bg, user, driver.Hash{})
		})...)
		fail := func(format string, args ...any) { errs.add("round %d: "+format, append([]any{round}, args...)...) }
		if delErr != nil || n != 2 {
			fail("DeleteUser racing a renewal of one of 2 sessions: got %d, %v; want 2, nil", n, delErr)
		}
		if !renewErrOK(renew1) || !renewErrOK(renew2) {
			fail("renewals racing DeleteUser: got errors %s, %s; want nil or ErrNotFound", showErr(renew1), showErr(renew2))
		}
		if renew1 == nil {
			renewedFirst++
		} else {
			deletedFirst++
		}
		for _, id := range []driver.Hash{moving, n1, n2, still} {
			if why := goneErr(s, id, m); why != "" {
				fail("after DeleteUser raced renewals %s -> %s -> %s (errors %s, %s): %s",
					moving.Handle(), n1.Handle(), n2.Handle(), showErr(renew1), showErr(renew2), why)
			}
		}
		if infos, err := s.ListUser(bg, user); err != nil || len(infos) != 0 {
			fail("ListUser after DeleteUser: got %s, %v; want none", infoHandles(infos), err)
		}
	}
	errs.report(t)
	checkList(t, s, other, bystanders[0])
	load(t, s, bystanders[1])
	t.Logf("%d rounds: the renewal ran first %d times, DeleteUser %d times", orderingRounds, renewedFirst, deletedFirst)
}

func testRevokeOthersKeepsRenewed(t *testing.T, s driver.Store) {
	t.Run("renewed before", func(t *testing.T) {
		user := newUser(t)
		others := userSessions(t, s, user, 2)
		ids, m := renewChain(t, s, user, 2, map[string]any{"kept": true})
		n, err := s.DeleteUser(bg, user, ids[0])
		if err != nil || n != 2 {
			t.Fatalf("DeleteUser(%q, keep %s renewed twice): got %d, %v; want 2, nil", user, ids[0].Handle(), n, err)
		}
		checkRecord(t, "Load of the kept session", load(t, s, ids[2]), m, map[string]any{"kept": true})
		checkList(t, s, user, ids[2])
		for _, id := range others {
			loadMissing(t, s, id, "after DeleteUser")
		}
	})
	t.Run("race", func(t *testing.T) {
		var errs collector
		for round := range orderingRounds {
			user := newUser(t)
			others := userSessions(t, s, user, 2)
			keep, k1, k2 := newHash(t), newHash(t), newHash(t)
			m := liveMeta(user, 30*time.Minute)
			create(t, s, keep, m, map[string]any{"round": round})
			var renew1, renew2, delErr error
			var n int
			race(turns(round, func() {
				renew1 = s.Commit(bg, &driver.Commit{ID: k1, From: keep, Create: true, Meta: later(m, time.Second)})
				if renew1 == nil {
					renew2 = s.Commit(bg, &driver.Commit{ID: k2, From: k1, Create: true, Meta: later(m, 2*time.Second)})
				}
			}, func() {
				n, delErr = s.DeleteUser(bg, user, keep)
			})...)
			fail := func(format string, args ...any) { errs.add("round %d: "+format, append([]any{round}, args...)...) }
			if delErr != nil || n != 2 {
				fail("DeleteUser(keep %s) racing its renewal: got %d, %v; want 2, nil", keep.Handle(), n, delErr)
			}
			if renew1 != nil || renew2 != nil {
				fail("renewals of the kept session racing DeleteUser: got errors %s, %s; want nil", showErr(renew1), showErr(renew2))
				continue
			}
			if r, err := s.Load(bg, k2); err != nil {
				fail("Load(%s) of the kept session after DeleteUser raced its renewals %s -> %s -> %s: got error %s, want the record",
					k2.Handle(), keep.Handle(), k1.Handle(), k2.Handle(), showErr(err))
			} else if diff := valuesDiff(r.Values, map[string]any{"round": round}); diff != "" {
				fail("kept session: %s", diff)
			}
			if infos, err := s.ListUser(bg, user); err != nil || !sameIDs(infos, []driver.Hash{k2}) {
				fail("ListUser after DeleteUser(keep %s): got %s, %v; want [%s]", keep.Handle(), infoHandles(infos), err, k2.Handle())
			}
			for _, id := range others {
				if why := goneErr(s, id, m); why != "" {
					fail("other session after DeleteUser: %s", why)
				}
			}
		}
		errs.report(t)
	})
}

func testEvictionRacesRenewal(t *testing.T, s driver.Store) {
	const max = 2
	var errs collector
	var renewedFirst, evictedFirst int
	for round := range orderingRounds {
		user := newUser(t)
		ids := userSessions(t, s, user, max) // ids[0] the oldest
		oldest, young := ids[0], ids[1]
		renewed, fresh := newHash(t), newHash(t)
		// The renewal keeps Created: the session is still the oldest.
		rm := liveMeta(user, time.Duration(max)*time.Hour)
		var renewErr, createErr error
		race(turns(round, func() {
			renewErr = s.Commit(bg, &driver.Commit{ID: renewed, From: oldest, Create: true, Meta: rm, MaxPerUser: max, EvictOldest: true})
		}, func() {
			createErr = s.Commit(bg, &driver.Commit{ID: fresh, Create: true, Meta: liveMeta(user, 0), MaxPerUser: max, EvictOldest: true})
		})...)
		fail := func(format string, args ...any) { errs.add("round %d: "+format, append([]any{round}, args...)...) }
		if createErr != nil {
			fail("Commit(create with MaxPerUser %d, EvictOldest) racing a renewal: got error %v, want nil", max, createErr)
		}
		if !renewErrOK(renewErr) {
			fail("renewal of the oldest session racing an eviction: got error %s, want nil or ErrNotFound", showErr(renewErr))
		}
		if renewErr == nil {
			renewedFirst++
		} else {
			evictedFirst++
		}
		if infos, err := s.ListUser(bg, user); err != nil || !sameIDs(infos, []driver.Hash{young, fresh}) {
			fail("ListUser after an eviction raced the renewal %s -> %s of the oldest session (renewal error %s): got %s, %v; want [%s %s]",
				oldest.Handle(), renewed.Handle(), showErr(renewErr), infoHandles(infos), err, young.Handle(), fresh.Handle())
		}
		for _, id := range []driver.Hash{oldest, renewed} {
			if why := goneErr(s, id, rm); why != "" {
				fail("evicted session: %s", why)
			}
		}
	}
	errs.report(t)
	t.Logf("%d rounds: the renewal ran first %d times, the eviction %d times", orderingRounds, renewedFirst, evictedFirst)
}

func testUpdateRacesRenewal(t *testing.T, s driver.Store) {
	const updaters, maxHops = 2, 16
	var errs collector
	var followed int
	for round := range orderingRounds {
		a, b, c := newHash(t), newHash(t), newHash(t)
		next := map[driver.Hash]driver.Hash{a: b, b: c}
		m := liveMeta("", 0)
		create(t, s, a, m, map[string]any{"base": round})
		var renew1, renew2 error
		fns := []func(){func() {
			renew1 = s.Commit(bg, &driver.Commit{ID: b, From: a, Create: true, Meta: later(m, time.Second), Set: map[string]any{"renewed": 1}})
			renew2 = s.Commit(bg, &driver.Commit{ID: c, From: b, Create: true, Meta: later(m, 2*time.Second), Set: map[string]any{"renewed": 2}})
		}}
		hops := make([]int, updaters)
		for u := range updaters {
			// Each updater commits to the hash it loaded, a, and follows
			// the forwards it is told of, as latch does.
			fns = append(fns, func() {
				key := fmt.Sprintf("u%d", u)
				id := a
				for hop := 0; ; hop++ {
					err := s.Commit(bg, &driver.Commit{ID: id, Meta: m, Set: map[string]any{key: round}})
					if err == nil {
						hops[u] = hop
						return
					}
					to, ok := renewedTo(err)
					switch {
					case !ok:
						errs.add("round %d: updater %d: Commit(%s) racing its renewal: got error %v, want nil or a RenewedError", round, u, id.Handle(), err)
						return
					case to != next[id]:
						errs.add("round %d: updater %d: Commit(%s): got a RenewedError naming %s, want %s", round, u, id.Handle(), to.Handle(), next[id].Handle())
						return
					case hop == maxHops:
						errs.add("round %d: updater %d: still forwarded after %d hops", round, u, hop)
						return
					}
					id = to
				}
			})
		}
		race(turns(round, fns...)...)
		if renew1 != nil || renew2 != nil {
			errs.add("round %d: renewals racing updates: got errors %s, %s; want nil", round, showErr(renew1), showErr(renew2))
			continue
		}
		for _, h := range hops {
			followed += h
		}
		for _, id := range []driver.Hash{a, b} {
			_, err := s.Load(bg, id)
			if to, ok := renewedTo(err); !ok || to != next[id] {
				errs.add("round %d: Load(%s) after its renewal raced updates: got error %s, want RenewedError{To: %s}", round, id.Handle(), showErr(err), next[id].Handle())
			}
		}
		r, err := s.Load(bg, c)
		if err != nil {
			errs.add("round %d: Load(%s) of the renewed session: %v", round, c.Handle(), err)
			continue
		}
		want := map[string]any{"base": round, "renewed": 2}
		for u := range updaters {
			want[fmt.Sprintf("u%d", u)] = round
		}
		if diff := valuesDiff(r.Values, want); diff != "" {
			errs.add("round %d: an update racing the renewals %s -> %s -> %s was lost (hops %v): %s", round, a.Handle(), b.Handle(), c.Handle(), hops, diff)
		}
	}
	errs.report(t)
	t.Logf("%d rounds of %d updates: %d forwards followed", orderingRounds, updaters, followed)
}
