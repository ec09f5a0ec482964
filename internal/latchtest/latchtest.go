// Package latchtest holds what latch's own tests share: an injectable
// clock and a recorder of events.
package latchtest

import (
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch"
)

// Clock is a clock that moves only when told to. Its Now method is what
// latch.Config.Now and the stores' clock options take.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Events records events; its Add method is a latch.Config.OnEvent.
type Events struct {
	mu   sync.Mutex
	list []latch.Event
}

// Add records ev.
func (e *Events) Add(ev latch.Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
}

// Count returns how many events of kind were recorded, with the given
// reason unless reason is "".
func (e *Events) Count(kind latch.EventKind, reason latch.Reason) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.list {
		if ev.Kind == kind && (reason == "" || ev.Reason == string(reason)) {
			n++
		}
	}
	return n
}

// Find returns the first event of kind.
func (e *Events) Find(kind latch.EventKind) (latch.Event, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.list {
		if ev.Kind == kind {
			return ev, true
		}
	}
	return latch.Event{}, false
}

// Keys returns a keyring of fresh random keys with the given ids, the first
// the one that signs ("k1" when none is given).
func Keys(t testing.TB, ids ...string) *latch.Keyring {
	t.Helper()
	if len(ids) == 0 {
		ids = []string{"k1"}
	}
	keys := make([]latch.Key, len(ids))
	for i, id := range ids {
		keys[i] = latch.Key{ID: id, Secret: latch.GenerateKey()}
	}
	r, err := latch.NewKeyring(keys...)
	if err != nil {
		t.Fatalf("latchtest: keyring: %v", err)
	}
	return r
}
