package storetest_test

import (
	"testing"

	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
	"github.com/latchsec/latch/storetest"
)

// A store package runs the suite from one of its tests. newStore returns an
// empty store for every subtest and releases it when the subtest ends; a
// store backed by a server reads the server's address from the environment
// and empties its database (or uses a fresh prefix) for each call.
func ExampleRun() {
	// In mystore/mystore_test.go:
	testConformance := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) driver.Store {
			s, err := memstore.New(memstore.Options{})
			if err != nil {
				t.Fatalf("memstore.New: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	}
	_ = testConformance
}
