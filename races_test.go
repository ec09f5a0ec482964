package latch_test

import (
	"testing"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/memstore"
	"github.com/latchsec/latch/storetest"
)

// TestSessionRaces runs the conformance suite's concurrent-request cases on
// memstore: logout and revocations racing a renewal, and a write racing a
// renewal (issue 12). Every store runs them through storetest.Run.
func TestSessionRaces(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) latch.Store {
		st, err := memstore.New(memstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}
