package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) driver.Store {
		s, err := Open(filepath.Join(t.TempDir(), "sessions.db"), Options{SweepInterval: -1})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}
