package storetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
	"github.com/latchsec/latch/storetest"
)

// A suite that passes every store proves nothing. These tests break a
// correct store (memstore) in one way at a time and check that the subtest
// responsible for that part of the contract fails, while the unbroken store
// passes the same subtest.

const mutantEnv = "STORETEST_MUTANT"

// mutant wraps a correct store and breaks one rule of the contract.
type mutant struct {
	*memstore.Store
	kind string
	fwds sync.Map // for forward-forever: the forwards ever left, From to ID

	// For forward-short, delete-stops-at-login and delete-one-hop: for each From a renewal
	// succeeded on, when it did and whether it changed the session's user;
	// and the hashes the broken store would have removed without following
	// them (Load and commits find nothing there, Delete does nothing).
	mu       sync.Mutex
	renewals map[driver.Hash]renewal
	hidden   map[driver.Hash]bool
}

type renewal struct {
	at        time.Time
	crossUser bool
}

// shortForward is how long the forward-short mutant keeps a forward,
// instead of until the replaced record's ExpiresAt().
const shortForward = 300 * time.Millisecond

func (m *mutant) renewalOf(id driver.Hash) (renewal, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.renewals[id]
	return r, ok
}

// gone reports whether the mutant has removed id without following it, or
// (forward-short) forgotten the forward under it.
func (m *mutant) gone(id driver.Hash) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.renewals[id]
	return m.hidden[id] || (m.kind == "forward-short" && ok && time.Since(r.at) > shortForward)
}

func (m *mutant) hide(ids ...driver.Hash) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hidden == nil {
		m.hidden = map[driver.Hash]bool{}
	}
	for _, id := range ids {
		m.hidden[id] = true
	}
}

// tracksRenewals reports whether the mutant is one that hides hashes.
func (m *mutant) tracksRenewals() bool {
	return m.kind == "forward-short" || m.kind == "delete-stops-at-login" || m.kind == "delete-one-hop"
}

// roundTrip is how long a mutant that reads, then writes waits between the
// two, as a store that talks to a server would.
const roundTrip = 50 * time.Microsecond

func (m *mutant) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	if m.kind == "ignores-context" {
		ctx = context.Background()
	}
	if m.tracksRenewals() && m.gone(id) {
		return nil, driver.ErrNotFound
	}
	r, err := m.Store.Load(ctx, id)
	switch {
	case m.kind == "forward-not-found" && errors.Is(err, driver.ErrRenewed):
		return nil, driver.ErrNotFound
	case m.kind == "forward-forever" && errors.Is(err, driver.ErrNotFound) && !errors.Is(err, driver.ErrRenewed):
		if to, ok := m.fwds.Load(id); ok {
			return nil, &driver.RenewedError{To: to.(driver.Hash)}
		}
	}
	if err != nil || m.kind != "float-numbers" {
		return r, err
	}
	// Decode values without UseNumber, as a careless store would.
	out := &driver.Record{Meta: r.Meta, Values: map[string]any{}}
	for k, v := range r.Values {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		var d any
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, err
		}
		out.Values[k] = d
	}
	return out, nil
}

func (m *mutant) Commit(ctx context.Context, c *driver.Commit) error {
	if m.tracksRenewals() {
		return m.trackedCommit(ctx, c)
	}
	cc := *c
	switch m.kind {
	case "ignores-context":
		ctx = context.Background()
	case "no-limit":
		cc.MaxPerUser = 0
	case "expired-visible":
		if cc.Meta.ExpiresAt().Before(time.Now()) {
			cc.Meta.LastSeen = time.Now()
			cc.Meta.IdleTimeout = time.Hour
			cc.Meta.AbsoluteTimeout = 24 * time.Hour
		}
	case "lost-update":
		if !cc.Create && cc.From.IsZero() {
			// Read, modify, write the whole record: not atomic.
			r, err := m.Store.Load(ctx, cc.ID)
			if err != nil {
				return err
			}
			runtime.Gosched()
			vals := map[string]any{}
			for k, v := range r.Values {
				vals[k] = v
			}
			for k, v := range cc.Set {
				vals[k] = v
			}
			cc.Clear, cc.Set, cc.Create = true, vals, true
			if err := m.Store.Delete(ctx, cc.ID); err != nil {
				return err
			}
		}
	case "create-race":
		if cc.Create && cc.From.IsZero() {
			if _, err := m.Store.Load(ctx, cc.ID); err == nil {
				return driver.ErrExists
			}
			runtime.Gosched()
			if err := m.Store.Delete(ctx, cc.ID); err != nil {
				return err
			}
		}
	case "renew-keeps-from", "renew-no-forward":
		if !cc.From.IsZero() {
			return m.copyRenew(ctx, &cc)
		}
	case "evict-by-list":
		if err := m.evictByList(ctx, &cc); err != nil {
			return err
		}
	}
	err := m.Store.Commit(ctx, &cc)
	switch {
	case m.kind == "forward-not-found" && errors.Is(err, driver.ErrRenewed):
		return driver.ErrNotFound
	case m.kind == "forward-forever" && err == nil && !cc.From.IsZero():
		m.fwds.Store(cc.From, cc.ID)
	case m.kind == "create-overwrites" && errors.Is(err, driver.ErrExists):
		if err := m.Store.Delete(ctx, cc.ID); err != nil {
			return err
		}
		return m.Store.Commit(ctx, &cc)
	case m.kind == "commit-creates" && errors.Is(err, driver.ErrNotFound) && cc.From.IsZero():
		cc.Create = true
		return m.Store.Commit(ctx, &cc)
	case m.kind == "renew-resurrects" && errors.Is(err, driver.ErrNotFound) && !cc.From.IsZero():
		cc.From, cc.Create = driver.Hash{}, true
		return m.Store.Commit(ctx, &cc)
	}
	return err
}

// trackedCommit commits as memstore does, except to a hash the mutant
// hid, and notes the renewals.
func (m *mutant) trackedCommit(ctx context.Context, c *driver.Commit) error {
	if (!c.From.IsZero() && m.gone(c.From)) || (c.From.IsZero() && !c.Create && m.gone(c.ID)) {
		return driver.ErrNotFound
	}
	var fromUser string
	if !c.From.IsZero() {
		if r, err := m.Store.Load(ctx, c.From); err == nil {
			fromUser = r.UserID
		}
	}
	err := m.Store.Commit(ctx, c)
	if err == nil && !c.From.IsZero() {
		m.mu.Lock()
		if m.renewals == nil {
			m.renewals = map[driver.Hash]renewal{}
		}
		m.renewals[c.From] = renewal{at: time.Now(), crossUser: fromUser != c.Meta.UserID}
		m.mu.Unlock()
	}
	return err
}

// copyRenew renews as a store without forwards: it copies From's record
// under ID, then deletes From (renew-no-forward) or leaves it
// (renew-keeps-from).
func (m *mutant) copyRenew(ctx context.Context, c *driver.Commit) error {
	r, err := m.Store.Load(ctx, c.From)
	if err != nil {
		return err
	}
	vals := map[string]any{}
	if !c.Clear {
		maps.Copy(vals, r.Values)
	}
	for _, k := range c.Delete {
		delete(vals, k)
	}
	maps.Copy(vals, c.Set)
	cc := driver.Commit{ID: c.ID, Create: true, Meta: c.Meta, Set: vals, MaxPerUser: c.MaxPerUser, EvictOldest: c.EvictOldest}
	if err := m.Store.Commit(ctx, &cc); err != nil || m.kind == "renew-keeps-from" {
		return err
	}
	return m.Store.Delete(ctx, c.From)
}

// evictByList evicts as a store that lists the user's sessions, then
// deletes the oldest by the hashes it listed, without following a forward
// a renewal left in between; the commit itself then goes unlimited.
func (m *mutant) evictByList(ctx context.Context, c *driver.Commit) error {
	if c.MaxPerUser == 0 || !c.EvictOldest || c.Meta.UserID == "" || (!c.Create && c.From.IsZero()) {
		return nil
	}
	infos, err := m.Store.ListUser(ctx, c.Meta.UserID)
	if err != nil {
		return err
	}
	infos = slices.DeleteFunc(infos, func(in driver.Info) bool { return in.ID == c.ID || in.ID == c.From })
	time.Sleep(roundTrip)
	for i := 0; i < len(infos)+1-c.MaxPerUser; i++ {
		if err := m.deleteListed(ctx, infos[i].ID); err != nil {
			return err
		}
	}
	c.MaxPerUser = 0
	return nil
}

// deleteListed deletes the session listed under id, unless it has moved
// away since: then it misses it, as a store whose deletion does not follow
// forwards would.
func (m *mutant) deleteListed(ctx context.Context, id driver.Hash) error {
	if _, err := m.Store.Load(ctx, id); errors.Is(err, driver.ErrRenewed) {
		return nil
	}
	return m.Store.Delete(ctx, id)
}

func (m *mutant) Delete(ctx context.Context, id driver.Hash) error {
	switch m.kind {
	case "ignores-context":
		ctx = context.Background()
	case "delete-no-follow":
		if _, err := m.Store.Load(ctx, id); errors.Is(err, driver.ErrRenewed) {
			return nil // deletes the hash it is given only, which holds no record
		}
	case "forward-short":
		if m.gone(id) {
			return nil // nothing under id
		}
	case "delete-one-hop":
		if m.gone(id) {
			return nil
		}
		// Removes the forward under id and the hash it names, and stops
		// there: a chain of two forwards keeps its live end.
		var moved *driver.RenewedError
		if _, err := m.Store.Load(ctx, id); errors.As(err, &moved) {
			next := moved.To
			if _, err := m.Store.Load(ctx, next); errors.As(err, &moved) {
				m.hide(id, next)
				return nil
			}
		}
	case "delete-stops-at-login":
		if m.gone(id) {
			return nil
		}
		// Follows forwards, except one that a login (a change of user)
		// left: "the session became another user's". It removes the
		// forwards it passed.
		var moved *driver.RenewedError
		var passed []driver.Hash
		for cur := id; ; {
			if _, err := m.Store.Load(ctx, cur); !errors.As(err, &moved) {
				break
			}
			passed = append(passed, cur)
			if r, _ := m.renewalOf(cur); r.crossUser {
				m.hide(passed...)
				return nil
			}
			cur = moved.To
		}
	}
	return m.Store.Delete(ctx, id)
}

func (m *mutant) ListUser(ctx context.Context, user string) ([]driver.Info, error) {
	if m.kind == "ignores-context" {
		ctx = context.Background()
	}
	infos, err := m.Store.ListUser(ctx, user)
	if m.kind == "list-newest-first" {
		slices.Reverse(infos)
	}
	return infos, err
}

func (m *mutant) DeleteUser(ctx context.Context, user string, keep driver.Hash) (int, error) {
	switch m.kind {
	case "ignores-context":
		ctx = context.Background()
	case "deleteuser-ignores-keep":
		keep = driver.Hash{}
	case "forward-short", "delete-stops-at-login", "delete-one-hop":
		if !keep.IsZero() && m.gone(keep) {
			keep = driver.Hash{0xff, 0xfe} // the forward is gone: keep names nothing
		}
	case "keep-not-followed":
		if _, err := m.Store.Load(ctx, keep); errors.Is(err, driver.ErrRenewed) {
			keep = driver.Hash{} // keeps the hash it is given only, which holds no session
		}
	case "deleteuser-by-list":
		infos, err := m.Store.ListUser(ctx, user)
		if err != nil {
			return 0, err
		}
		time.Sleep(roundTrip)
		n := 0
		for _, in := range infos {
			if in.ID == keep {
				continue
			}
			if err := m.deleteListed(ctx, in.ID); err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	}
	return m.Store.DeleteUser(ctx, user, keep)
}

// TestMutantHelper runs the suite against the mutant named in the
// environment; TestSuiteCatchesBrokenStores runs it in a child process.
func TestMutantHelper(t *testing.T) {
	kind := os.Getenv(mutantEnv)
	if kind == "" {
		t.Skip("run by TestSuiteCatchesBrokenStores")
	}
	storetest.Run(t, func(t *testing.T) driver.Store {
		s, err := memstore.New(memstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if kind == "none" {
			return s
		}
		return &mutant{Store: s, kind: kind}
	})
}

func TestSuiteCatchesBrokenStores(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	tests := []struct {
		mutant   string
		subtests string // the subtests that must fail
	}{
		{"create-overwrites", "CreateExisting"},
		{"commit-creates", "CommitMissing"},
		{"renew-resurrects", "Renew"},
		{"renew-keeps-from", "Renew"},
		{"expired-visible", "ExpiredOnCommit"},
		{"lost-update", "ConcurrentPatches"},
		{"create-race", "ConcurrentCreate"},
		{"float-numbers", "Values"},
		{"list-newest-first", "ListUser"},
		{"deleteuser-ignores-keep", "DeleteUser"},
		{"no-limit", "MaxPerUser"},
		{"no-limit", "ConcurrentLimit"},
		{"ignores-context", "ContextCanceled"},
		{"renew-no-forward", "Forward"},
		{"renew-no-forward", "RenewRacesCommit"},
		{"renew-no-forward", "UpdateRacesRenewal"},
		{"forward-not-found", "Forward"},
		{"forward-not-found", "RenewRacesCommit"},
		{"forward-not-found", "UpdateRacesRenewal"},
		{"forward-forever", "Forward"},
		{"delete-no-follow", "DeleteFollowsForward"},
		{"delete-no-follow", "LogoutRacesRenewal"},
		{"forward-short", "Forward"},
		{"delete-stops-at-login", "DeleteFollowsForward"},
		{"delete-stops-at-login", "SessionLogoutRacesRenew"},
		{"delete-one-hop", "DeleteFollowsForward"},
		{"delete-one-hop", "LogoutRacesRenewal"},
		{"keep-not-followed", "RevokeOthersKeepsRenewed"},
		{"deleteuser-by-list", "RevokeUserRacesRenewal"},
		{"evict-by-list", "EvictionRacesRenewal"},
	}
	for _, tc := range tests {
		t.Run(tc.mutant+"/"+tc.subtests, func(t *testing.T) {
			t.Parallel()
			if out, err := runMutant("none", tc.subtests); err != nil {
				t.Fatalf("correct store fails %s: %v\n%s", tc.subtests, err, out)
			}
			out, err := runMutant(tc.mutant, tc.subtests)
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("suite did not catch mutant %q in %s: got error %v, want a failing exit\n%s", tc.mutant, tc.subtests, err, out)
			}
			if want := "--- FAIL: TestMutantHelper/" + tc.subtests; !strings.Contains(out, want) {
				t.Errorf("mutant %q: output lacks %q:\n%s", tc.mutant, want, out)
			}
		})
	}
}

// runMutant runs one subtest of the suite against a mutant in a child
// process.
func runMutant(kind, subtest string) (string, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestMutantHelper$/^"+subtest+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), mutantEnv+"="+kind)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
