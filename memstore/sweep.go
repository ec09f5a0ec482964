package memstore

import (
	"runtime"
	"slices"
	"time"
)

// The shard heap is a 4-ary min-heap of entries by expiry. Each item keeps
// the expiry next to the pointer, so that sifting compares items in one
// contiguous slice instead of chasing pointers (four children share one
// cache line), and each entry knows its position so that an update or a
// removal is O(log n). Every method requires the shard's write lock.

// heapItem is one slot of a shard heap.
type heapItem struct {
	exp int64
	e   *entry
}

const arity = 4

func (sh *shard) set(i int, it heapItem) {
	sh.heap[i] = it
	it.e.hidx = int32(i)
}

// up moves the item at i towards the root while it expires sooner than its
// parent.
func (sh *shard) up(i int) {
	it := sh.heap[i]
	for i > 0 {
		parent := (i - 1) / arity
		if sh.heap[parent].exp <= it.exp {
			break
		}
		sh.set(i, sh.heap[parent])
		i = parent
	}
	sh.set(i, it)
}

// down moves the item at i towards the leaves while a child expires sooner,
// and reports whether it moved.
func (sh *shard) down(i int) bool {
	start, n := i, len(sh.heap)
	it := sh.heap[i]
	for {
		first := arity*i + 1
		if first >= n {
			break
		}
		least := first
		for c := first + 1; c < first+arity && c < n; c++ {
			if sh.heap[c].exp < sh.heap[least].exp {
				least = c
			}
		}
		if sh.heap[least].exp >= it.exp {
			break
		}
		sh.set(i, sh.heap[least])
		i = least
	}
	sh.set(i, it)
	return i > start
}

// insert adds a new entry to the map and the heap.
func (sh *shard) insert(e *entry) {
	if k := prefix(e.hash); sh.m[k] == nil {
		sh.m[k] = e
	} else {
		sh.overflow[e.hash] = e
	}
	sh.heap = append(sh.heap, heapItem{exp: e.exp, e: e})
	sh.up(len(sh.heap) - 1)
}

// fix restores the heap after e's expiry changed.
func (sh *shard) fix(e *entry) {
	i := int(e.hidx)
	sh.heap[i].exp = e.exp
	if !sh.down(i) {
		sh.up(i)
	}
}

// remove takes e out of the map and the heap and marks it dead. Removing an
// entry twice does nothing.
func (sh *shard) remove(e *entry) {
	if e.hidx < 0 {
		return
	}
	if k := prefix(e.hash); sh.m[k] == e {
		delete(sh.m, k)
	} else {
		delete(sh.overflow, e.hash)
	}
	i, last := int(e.hidx), len(sh.heap)-1
	moved := sh.heap[last]
	sh.heap[last] = heapItem{}
	sh.heap = sh.heap[:last]
	if i != last {
		sh.set(i, moved)
		if !sh.down(i) {
			sh.up(i)
		}
	}
	e.hidx = -1
	sh.forget(e)
	// Give back the memory of a heap that shrank to a quarter of its size.
	if c := cap(sh.heap); c > 1024 && len(sh.heap) < c/4 {
		sh.heap = slices.Clip(slices.Clone(sh.heap))
	}
}

// sweeper runs Sweep every interval until Close.
func (s *Store) sweeper(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweep(s.stop)
		}
	}
}

// Sweep removes every expired session, and every forward past the expiry
// of the record it replaced, from memory now, shard by shard in batches of
// at most Options.SweepBatch, and returns how many it removed.
// The background sweeper calls it every Options.SweepInterval; an
// application need not, unless SweepInterval is negative. Expired sessions
// are never returned, swept or not.
func (s *Store) Sweep() int { return s.sweep(nil) }

// sweep is Sweep that gives up early once stop is closed.
func (s *Store) sweep(stop <-chan struct{}) int {
	total := 0
	batch := make([]*entry, 0, s.batch)
	for i := range s.shards {
		sh := &s.shards[i]
		for {
			select {
			case <-stop:
				return total
			default:
			}
			var full bool
			batch, full = s.sweepBatch(sh, batch[:0])
			total += len(batch)
			for j, e := range batch {
				s.unindex(e)
				batch[j] = nil
			}
			if !full {
				break
			}
			// Let the readers that waited for this batch run before the
			// next one takes the lock again, on however few cores.
			runtime.Gosched()
		}
	}
	return total
}

// maxHold bounds how long one batch holds a shard lock, whatever the batch
// size, on a slow or busy machine.
const maxHold = 200 * time.Microsecond

// sweepBatch removes up to s.batch expired entries from sh under one hold of
// its lock, for at most about maxHold, and appends them to out. It returns
// full=true when it stopped for the batch size or the time limit rather than
// because no expired entry was left.
func (s *Store) sweepBatch(sh *shard, out []*entry) (_ []*entry, full bool) {
	now := s.nowNano()
	sh.mu.Lock()
	start := time.Now() // real time, whatever clock the store was given
	defer func() {
		sh.mu.Unlock()
		s.noteHold(time.Since(start), len(out))
	}()
	for len(sh.heap) > 0 && sh.heap[0].exp <= now {
		if len(out) >= s.batch || (len(out)%32 == 31 && time.Since(start) > maxHold) {
			return out, true
		}
		e := sh.heap[0].e
		sh.remove(e)
		out = append(out, e)
	}
	return out, false
}

// noteHold records one batch in the store's statistics.
func (s *Store) noteHold(d time.Duration, swept int) {
	if swept == 0 {
		return
	}
	s.swept.Add(uint64(swept))
	for {
		old := s.longestHold.Load()
		if int64(d) <= old || s.longestHold.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// Stats are figures about a Store, for monitoring.
type Stats struct {
	// Sessions is the number of sessions held in memory, expired ones that
	// no sweep has removed yet included, and of forwards that renewals
	// left (Len).
	Sessions int
	// Swept is the number of expired sessions and forwards that sweeps
	// removed since New.
	Swept uint64
	// LongestHold is the longest time one sweep batch held a shard's lock
	// (real time, including any time the operating system took the core
	// away): the longest a Load or a Commit of that shard could have waited
	// for the sweeper.
	LongestHold time.Duration
}

// Stats returns the store's figures. It takes every shard's read lock in
// turn, as Len does.
func (s *Store) Stats() Stats {
	return Stats{Sessions: s.Len(), Swept: s.swept.Load(), LongestHold: time.Duration(s.longestHold.Load())}
}
