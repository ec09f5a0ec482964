package boltstore

import (
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/latchtest"
)

// t0 is the start of every fake clock.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is latch's shared test clock, which moves only when told.
type fakeClock = latchtest.Clock

func newClock() *fakeClock { return latchtest.NewClock(t0) }

// hashOf returns a distinct hash for a test name.
func hashOf(name string) driver.Hash { return sha256.Sum256([]byte(name)) }

// openTest opens a store in a fresh temp dir, closed at the end of the test.
// The sweeper is off unless opts says otherwise.
func openTest(t testing.TB, clk *fakeClock, o Options) *Store {
	t.Helper()
	if o.Now == nil && clk != nil {
		o.Now = clk.Now
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = -1
	}
	s, err := Open(filepath.Join(t.TempDir(), "sessions.db"), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// meta returns metadata for a session created at created by user, with a
// 30-minute idle and 12-hour absolute timeout.
func meta(user string, created time.Time) driver.Meta {
	m := driver.Meta{
		UserID:          user,
		Created:         created,
		LastSeen:        created,
		IdleTimeout:     30 * time.Minute,
		AbsoluteTimeout: 12 * time.Hour,
	}
	if user != "" {
		m.AuthTime = created
	}
	return m
}

// rawCount returns the number of keys in a bucket, for index checks.
func rawCount(t testing.TB, s *Store, bucket []byte) int {
	t.Helper()
	n := 0
	err := s.view(func(b buckets) error {
		bk := b.sessions
		switch string(bucket) {
		case string(bucketExpiry):
			bk = b.expiry
		case string(bucketUsers):
			bk = b.users
		}
		return bk.ForEach(func(k, v []byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatalf("count %s: %v", bucket, err)
	}
	return n
}
