// Package storetest checks that a driver.Store implements the contract written
// in the documentation of driver.Store and driver.Commit.
//
// A store package calls Run from one of its tests, in the manner of
// testing/fstest.TestFS:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) driver.Store {
//			return newEmptyStore(t) // closed with t.Cleanup
//		})
//	}
//
// Run calls newStore once for every subtest, and every subtest expects the
// store it gets to be empty. Every subtest also uses fresh random hashes and
// user IDs, so a store that shares a database between subtests still passes
// as long as it does not hold sessions under those names.
//
// The suite checks, one named subtest each:
//
//   - LoadCommitDelete: a created record reads back with its metadata and
//     values; Load of a missing hash and of a deleted record gives
//     driver.ErrNotFound; deleting a missing record is not an error.
//   - MetaRoundTrip: every field of driver.Meta, each set by reflection to a
//     value of its own, reads back equal after a creation, an update and a
//     renewal, and from ListUser; a field added to Meta is covered the day
//     it is added.
//   - SessionDeviceBound: a Manager with device-bound sessions over the
//     store: the registered key is kept in the record and through a
//     renewal, a refresh's challenge is marked used in the store (a
//     replayed proof is refused), and a request without the bound cookie
//     is refused.
//   - DeviceKey: the key of a device-bound session (Meta.DeviceKey, a
//     long base64url string, with DeviceBoundAt) survives the renewal that sets it, updates
//     and renewals that carry it, a renewal that drops it, and ListUser.
//   - CreateExisting: Commit with Create on a live hash gives driver.ErrExists
//     and changes neither the record nor any user's index, also for a
//     renewal into a live hash.
//   - CommitMissing: Commit without Create or From on a missing or deleted
//     hash gives driver.ErrNotFound and writes nothing.
//   - ExpiredOnCommit: a commit whose Meta.ExpiresAt() is already past
//     succeeds but its result is never returned by Load or ListUser, and a
//     renewal into such a result still deletes From.
//   - Grace: a record past its Deadline() but before ExpiresAt() (within
//     Meta.Grace) is still returned by Load and can still be committed to.
//   - Expiry: a record that expires about one second ahead is returned before
//     its deadline and never after it (real time, polled, with a tolerance of
//     ExpiryTolerance for a store with its own clock); once expired it cannot
//     be committed to, renewed from, or listed, and Create may reuse its hash
//     starting from empty values.
//   - Renew: the record under From becomes the base, From no longer holds
//     a record and ID is present after one Commit; renewal from a missing
//     From gives driver.ErrNotFound and writes nothing; the user index
//     follows the session to its new hash and, on login, to its new user.
//   - Patch: Clear, then Delete, then Set apply to the base values; values
//     the commit does not name are kept; Meta replaces the metadata.
//   - ConcurrentPatches: 1,000 trials of two concurrent commits that set
//     different keys of one session; no change may be lost.
//   - RenewRacesCommit: a commit racing a renewal of its session either lands
//     in the renewed record or gets a *driver.RenewedError naming the new
//     hash (never a plain driver.ErrNotFound); it never brings the old hash
//     back.
//   - ConcurrentCreate: of several concurrent creations of one hash exactly
//     one succeeds and the others get driver.ErrExists.
//   - Values: strings, numbers, bools, nil, nested maps, slices and structs
//     read back with the same meaning (a store may return json.Number for a
//     number, []any for a slice and map[string]any for a map or struct, as
//     driver.DecodeValue does; big integers must keep their precision).
//   - Snapshots: the store keeps no reference to the caller's Commit, and a
//     record returned by Load does not change when the session is committed
//     to afterwards.
//   - ListUser: a user's live sessions, oldest first by Created, with their
//     metadata; never another user's, an expired or a deleted session.
//   - DeleteUser: removes every live session of the user except keep, and
//     returns how many; other users' sessions are untouched.
//   - DeleteRemovesIndex: Delete also removes the session from its user's
//     index.
//   - UserChange: a commit that changes Meta.UserID moves the index entry.
//   - MaxPerUser: at the limit, EvictOldest deletes the oldest sessions by
//     Created until one place is free; without it the commit gets
//     driver.ErrSessionLimit and writes nothing; expired sessions do not
//     count; a renewal of one of the user's own sessions does not count it
//     twice; a commit that adds no session to the user is not limited.
//   - ConcurrentLimit: concurrent creations for one user never leave more
//     live sessions than the limit.
//   - OpaqueHashes: any 32 bytes work as a hash, including bytes that are
//     not printable, and hashes that differ in one byte are distinct.
//   - ContextCanceled: every method called with a cancelled context, or one
//     whose deadline has passed, returns an error that wraps
//     context.Canceled or context.DeadlineExceeded and changes nothing.
//   - ConcurrentSessions: many goroutines creating, reading, committing,
//     renewing, listing and deleting many sessions at once end in exactly
//     the state expected (run with -race to check for data races).
//   - Forward: a renewal leaves a forward under From: Load, an update and a
//     renewal from it give a *driver.RenewedError naming the next hash
//     (matching driver.ErrRenewed and driver.ErrNotFound) and write nothing,
//     Create on it gives driver.ErrExists; it is no session (ListUser,
//     DeleteUser and MaxPerUser do not count it); it answers until the
//     replaced record's ExpiresAt() (checked, Load and Delete through it,
//     ExpiryTolerance before), never later than ExpiryTolerance after,
//     and its hash is then free and no longer leads anywhere.
//   - DeleteFollowsForward: in a chain A -> B -> C of renewals, some of
//     them logins or changes of user, Delete of any of the hashes ends the
//     session: from that hash on, no forward or record is left, and C can
//     neither be committed to nor renewed.
//   - Model: 300 random operations from a fixed seed (creations, updates,
//     renewals, deletions, DeleteUser with and without keep, Load and
//     ListUser, over several users and hashes, with values that change and
//     records already expired, within their grace or live for minutes)
//     give the same answers as a plain model of the contract, compared
//     after every operation (see RunModel). Time does not move during the
//     run.
//
// The cases below race a deletion or an update against renewals of the
// same session, 200 rounds each with the goroutines released together,
// and check the outcome of every round, whichever ran first:
//
//   - LogoutRacesRenewal: Delete(A) racing renewals A -> B -> C returns
//     nil, and afterwards none of A, B and C can be loaded or committed
//     to; a renewal either ran first or failed with driver.ErrNotFound.
//   - RevokeUserRacesRenewal: DeleteUser racing renewals of one of the
//     user's two sessions removes both, under whatever hash, and counts 2.
//   - RevokeOthersKeepsRenewed: DeleteUser(user, keep) follows keep
//     through forwards, after its renewals or racing them: the renewed
//     session is kept, its renewals succeed, the others are removed.
//   - EvictionRacesRenewal: a creation with MaxPerUser and EvictOldest
//     racing a renewal of the user's oldest session evicts that session
//     under whatever hash; the user is left with exactly the limit.
//   - UpdateRacesRenewal: updates racing renewals A -> B -> C, each
//     following the forwards it is told of (the next hash, never a plain
//     driver.ErrNotFound), all land in C; A and B keep forwarding.
//
// The Session cases drive a latch.Manager over the store with concurrent
// requests on one session, as a browser with several tabs sends them (see
// manager.go). On half of their rounds a wrapper around the store forces
// the worst interleaving: the renewal waits until the racing request has
// read the session, and the racing write or deletion waits until the
// renewal is done.
//
//   - SessionLogoutRacesRenew: once a logout racing a renewal (or sent with
//     the cookie from before one, or the anonymous cookie from before a
//     login) has succeeded, neither cookie is logged in.
//   - SessionRevokeRacesRenew: once Manager.Revoke by handle has succeeded,
//     neither cookie of the session is logged in.
//   - SessionRevokeUserRacesRenew: once Manager.RevokeUser has succeeded, no
//     cookie of the user is logged in, renewed or not.
//   - SessionRevokeOthersRacesRenew: RevokeOthers signs out another device
//     under its old and renewed cookie, and keeps the device that asked.
//   - SessionWriteRacesRenew: a value set by a request that loaded the
//     session before a concurrent renewal is kept in the renewed session,
//     and that request neither clears the cookie nor sends a dead one.
//   - SessionWriteRacesLogin: a write racing a login from an anonymous
//     session never clears the login's cookie.
//
// Timestamps in the records the suite writes are whole milliseconds in UTC
// and timeouts whole milliseconds, so a store may keep them at millisecond
// precision; they must read back equal (time.Time.Equal).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// ExpiryTolerance is how long after Meta.ExpiresAt() the suite still accepts
// that a store returns a record. It covers stores that keep their own clock
// (a database server on the same host) and the time a round trip takes; a
// store must never return a record later than this.
const ExpiryTolerance = 500 * time.Millisecond

// Run runs the conformance suite against the stores that newStore returns.
// newStore is called once per subtest and must return an empty store, or
// fail the test it is given; it should release the store with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) driver.Store) {
	t.Helper()
	RunExcept(t, newStore)
}

// RunExcept is Run without the named cases: for a store with a known
// defect that a case shows, until it is fixed. The skipped cases are
// reported as skipped, so the gap stays visible in every run.
func RunExcept(t *testing.T, newStore func(t *testing.T) driver.Store, skip ...string) {
	t.Helper()
	if newStore == nil {
		t.Fatal("storetest: newStore is nil")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s driver.Store)
	}{
		{"LoadCommitDelete", testLoadCommitDelete},
		{"MetaRoundTrip", testMetaRoundTrip},
		{"DeviceKey", testDeviceKey},
		{"CreateExisting", testCreateExisting},
		{"CommitMissing", testCommitMissing},
		{"ExpiredOnCommit", testExpiredOnCommit},
		{"Grace", testGrace},
		{"Expiry", testExpiry},
		{"Renew", testRenew},
		{"Patch", testPatch},
		{"ConcurrentPatches", testConcurrentPatches},
		{"RenewRacesCommit", testRenewRacesCommit},
		{"ConcurrentCreate", testConcurrentCreate},
		{"Values", testValues},
		{"Snapshots", testSnapshots},
		{"ListUser", testListUser},
		{"DeleteUser", testDeleteUser},
		{"DeleteRemovesIndex", testDeleteRemovesIndex},
		{"UserChange", testUserChange},
		{"MaxPerUser", testMaxPerUser},
		{"ConcurrentLimit", testConcurrentLimit},
		{"OpaqueHashes", testOpaqueHashes},
		{"ContextCanceled", testContextCanceled},
		{"ConcurrentSessions", testConcurrentSessions},
		{"Forward", testForward},
		{"DeleteFollowsForward", testDeleteFollowsForward},
		{"LogoutRacesRenewal", testLogoutRacesRenewal},
		{"RevokeUserRacesRenewal", testRevokeUserRacesRenewal},
		{"RevokeOthersKeepsRenewed", testRevokeOthersKeepsRenewed},
		{"EvictionRacesRenewal", testEvictionRacesRenewal},
		{"UpdateRacesRenewal", testUpdateRacesRenewal},
		{"Model", testModel},
	}
	tests = append(tests, sessionTests...)
	for _, tc := range tests {
		if slices.Contains(skip, tc.name) {
			t.Run(tc.name, func(t *testing.T) { t.Skip("storetest: the store declares it does not pass this case yet") })
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("storetest: newStore returned nil")
			}
			tc.fn(t, s)
		})
	}
}

// ---------------------------------------------------------------------------
// Fixtures

// newHash returns a random, non-zero hash.
func newHash(t testing.TB) driver.Hash {
	t.Helper()
	var h driver.Hash
	for h.IsZero() {
		if _, err := rand.Read(h[:]); err != nil {
			t.Fatalf("storetest: random hash: %v", err)
		}
	}
	return h
}

// newUser returns a user ID that no other run of the suite uses.
func newUser(t testing.TB) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("storetest: random user: %v", err)
	}
	return "storetest-" + hex.EncodeToString(b[:])
}

// now is the current time at the precision the suite promises stores.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// liveMeta returns metadata of a session that lives for 30 minutes, created
// age ago (age also orders sessions in ListUser).
func liveMeta(user string, age time.Duration) driver.Meta {
	n := now()
	m := driver.Meta{
		UserID:          user,
		Created:         n.Add(-age),
		LastSeen:        n,
		IdleTimeout:     30 * time.Minute,
		AbsoluteTimeout: 12 * time.Hour,
		UserAgent:       "storetest/1.0 (conformance)",
		IP:              "192.0.2.7",
	}
	if user != "" {
		m.AuthTime = n.Add(-age / 2)
	}
	return m
}

// expiredMeta returns metadata whose idle deadline passed an hour ago.
func expiredMeta(user string) driver.Meta {
	m := liveMeta(user, 3*time.Hour)
	m.LastSeen = m.LastSeen.Add(-90 * time.Minute)
	return m
}

// shortMeta returns metadata that expires d from now.
func shortMeta(user string, d time.Duration) driver.Meta {
	m := liveMeta(user, time.Minute)
	m.IdleTimeout = d
	return m
}

var bg = context.Background()

// ---------------------------------------------------------------------------
// Store calls that fail the test on an unexpected error

func create(t testing.TB, s driver.Store, id driver.Hash, m driver.Meta, set map[string]any) {
	t.Helper()
	if err := s.Commit(bg, &driver.Commit{ID: id, Create: true, Meta: m, Set: set}); err != nil {
		t.Fatalf("Commit(create %s): got error %v, want nil", id.Handle(), err)
	}
}

func commit(t testing.TB, s driver.Store, c *driver.Commit) {
	t.Helper()
	if err := s.Commit(bg, c); err != nil {
		t.Fatalf("Commit(%s): got error %v, want nil", describe(c), err)
	}
}

func commitErr(t testing.TB, s driver.Store, c *driver.Commit, want error) {
	t.Helper()
	err := s.Commit(bg, c)
	if !errors.Is(err, want) {
		t.Fatalf("Commit(%s): got error %v, want %v", describe(c), err, want)
	}
}

func describe(c *driver.Commit) string {
	s := "ID " + c.ID.Handle()
	if !c.From.IsZero() {
		s += " From " + c.From.Handle()
	}
	if c.Create {
		s += " Create"
	}
	if c.MaxPerUser > 0 {
		s += fmt.Sprintf(" MaxPerUser %d EvictOldest %v", c.MaxPerUser, c.EvictOldest)
	}
	return s
}

func load(t testing.TB, s driver.Store, id driver.Hash) *driver.Record {
	t.Helper()
	r, err := s.Load(bg, id)
	if err != nil {
		t.Fatalf("Load(%s): got error %v, want a record", id.Handle(), err)
	}
	if r == nil {
		t.Fatalf("Load(%s): got nil record and nil error", id.Handle())
	}
	return r
}

func loadMissing(t testing.TB, s driver.Store, id driver.Hash, why string) {
	t.Helper()
	r, err := s.Load(bg, id)
	switch {
	case errors.Is(err, driver.ErrNotFound):
	case err == nil && r != nil:
		t.Fatalf("Load(%s) %s: got a record (user %q, values %s), want ErrNotFound", id.Handle(), why, r.UserID, show(r.Values))
	default:
		t.Fatalf("Load(%s) %s: got record %v, error %v; want ErrNotFound", id.Handle(), why, r != nil, err)
	}
}

func list(t testing.TB, s driver.Store, user string) []driver.Info {
	t.Helper()
	infos, err := s.ListUser(bg, user)
	if err != nil {
		t.Fatalf("ListUser(%q): got error %v, want nil", user, err)
	}
	return infos
}

// checkList checks that ListUser(user) returns exactly want, in order.
func checkList(t testing.TB, s driver.Store, user string, want ...driver.Hash) {
	t.Helper()
	got := list(t, s, user)
	if !sameIDs(got, want) {
		t.Fatalf("ListUser(%q): got %s, want %s", user, infoHandles(got), handles(want))
	}
}

func sameIDs(got []driver.Info, want []driver.Hash) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].ID != want[i] {
			return false
		}
	}
	return true
}

func handles(hs []driver.Hash) string {
	out := "["
	for i, h := range hs {
		if i > 0 {
			out += " "
		}
		out += h.Handle()
	}
	return out + "]"
}

func infoHandles(infos []driver.Info) string {
	hs := make([]driver.Hash, len(infos))
	for i, in := range infos {
		hs[i] = in.ID
	}
	return handles(hs)
}

// checkRecord checks a record's metadata and values.
func checkRecord(t testing.TB, what string, got *driver.Record, wantMeta driver.Meta, wantValues map[string]any) {
	t.Helper()
	if diff := metaDiff(got.Meta, wantMeta); diff != "" {
		t.Errorf("%s: metadata differs: %s", what, diff)
	}
	if diff := valuesDiff(got.Values, wantValues); diff != "" {
		t.Errorf("%s: values differ: %s", what, diff)
	}
}
