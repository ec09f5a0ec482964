package latchtest

import (
	"sync"

	"github.com/latchsec/latch"
)

// Events records events; its Add method is a latch.Config.OnEvent. The
// zero value is ready to use.
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

// All returns a copy of the events recorded so far, oldest first.
func (e *Events) All() []latch.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]latch.Event(nil), e.list...)
}
