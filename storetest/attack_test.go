package storetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
	"github.com/latchsec/latch/storetest"
)

// More broken stores, each wrong in a way the Manager relies on, for
// checking that the suite is a gate: TestAttackSuiteCatchesMoreBrokenStores
// runs the subtests that must catch them in child processes, as
// TestSuiteCatchesBrokenStores does.

const attackMutantEnv = "STORETEST_ATTACK_MUTANT"

// attackMutant wraps memstore and breaks one rule of the forward contract.
// What the broken store would have removed without following is hidden:
// Load and commits then find nothing there, and Delete does nothing.
type attackMutant struct {
	*memstore.Store
	kind   string
	mu     sync.Mutex
	hidden map[driver.Hash]bool
}

// gone reports whether the mutant has removed id.
func (m *attackMutant) gone(id driver.Hash) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hidden[id]
}

func (m *attackMutant) hide(ids ...driver.Hash) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		m.hidden[id] = true
	}
}

func (m *attackMutant) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	if m.gone(id) {
		return nil, driver.ErrNotFound
	}
	return m.Store.Load(ctx, id)
}

func (m *attackMutant) Commit(ctx context.Context, c *driver.Commit) error {
	if (!c.From.IsZero() && m.gone(c.From)) || (c.From.IsZero() && !c.Create && m.gone(c.ID)) {
		return driver.ErrNotFound
	}
	return m.Store.Commit(ctx, c)
}

func (m *attackMutant) Delete(ctx context.Context, id driver.Hash) error {
	if m.gone(id) {
		return nil // nothing under id
	}
	var moved *driver.RenewedError
	switch m.kind {
	case "delete-one-hop":
		// Removes the forward under id and the hash it names, and stops
		// there: a chain of two forwards keeps its live end.
		if _, err := m.Store.Load(ctx, id); errors.As(err, &moved) {
			next := moved.To
			if _, err := m.Store.Load(ctx, next); errors.As(err, &moved) {
				m.hide(id, next)
				return nil
			}
		}
	}
	return m.Store.Delete(ctx, id)
}

func (m *attackMutant) DeleteUser(ctx context.Context, user string, keep driver.Hash) (int, error) {
	if !keep.IsZero() && m.gone(keep) {
		keep = driver.Hash{0xff, 0xfe} // the forward is gone: keep names nothing
	}
	return m.Store.DeleteUser(ctx, user, keep)
}

// TestAttackMutantHelper runs the suite against the mutant named in the
// environment; the tests below run it in a child process.
func TestAttackMutantHelper(t *testing.T) {
	kind := os.Getenv(attackMutantEnv)
	if kind == "" {
		t.Skip("run by TestAttackSuiteCatchesMoreBrokenStores")
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
		return &attackMutant{Store: s, kind: kind, hidden: map[driver.Hash]bool{}}
	})
}

// runAttackMutant runs the subtests matching pattern against a mutant in
// a child process.
func runAttackMutant(kind, pattern string) (string, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestAttackMutantHelper$/"+pattern, "-test.count=1")
	cmd.Env = append(os.Environ(), attackMutantEnv+"="+kind)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// caughtBy reports whether the suite fails the mutant in one of the
// subtests matching pattern.
func caughtBy(t *testing.T, kind, pattern string) (bool, string) {
	t.Helper()
	out, err := runAttackMutant(kind, pattern)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running the suite: %v\n%s", err, out)
	}
	return err != nil && strings.Contains(out, "--- FAIL: TestAttackMutantHelper/"), out
}

// TestAttackSuiteCatchesMoreBrokenStores: a Delete that follows one
// forward and stops is caught.
func TestAttackSuiteCatchesMoreBrokenStores(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	tests := []struct{ mutant, subtests string }{
		{"delete-one-hop", "^(DeleteFollowsForward|LogoutRacesRenewal)$"},
	}
	for _, tc := range tests {
		t.Run(tc.mutant, func(t *testing.T) {
			t.Parallel()
			if ok, out := caughtBy(t, "none", tc.subtests); ok {
				t.Fatalf("the correct store fails %s:\n%s", tc.subtests, out)
			}
			if ok, out := caughtBy(t, tc.mutant, tc.subtests); !ok {
				t.Errorf("the suite's %s pass a store that is %s:\n%s", tc.subtests, tc.mutant, out)
			}
		})
	}
}
