package memstore

import (
	"slices"
	"time"
)

// The shard heap: a binary min-heap of entries by expiry, each entry knowing
// its position so that an update or a removal is O(log n). Every method
// requires the shard's write lock.

func (sh *shard) less(i, j int) bool { return sh.heap[i].exp.Load() < sh.heap[j].exp.Load() }

func (sh *shard) swap(i, j int) {
	h := sh.heap
	h[i], h[j] = h[j], h[i]
	h[i].hidx = int32(i)
	h[j].hidx = int32(j)
}

func (sh *shard) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !sh.less(i, parent) {
			return
		}
		sh.swap(i, parent)
		i = parent
	}
}

func (sh *shard) down(i int) bool {
	start, n := i, len(sh.heap)
	for {
		left := 2*i + 1
		if left >= n {
			break
		}
		least := left
		if right := left + 1; right < n && sh.less(right, left) {
			least = right
		}
		if !sh.less(least, i) {
			break
		}
		sh.swap(i, least)
		i = least
	}
	return i > start
}

// insert adds a new entry to the map and the heap.
func (sh *shard) insert(e *entry) {
	sh.m[e.hash] = e
	e.hidx = int32(len(sh.heap))
	sh.heap = append(sh.heap, e)
	sh.up(int(e.hidx))
}

// fix restores the heap after e's expiry changed.
func (sh *shard) fix(e *entry) {
	if i := int(e.hidx); !sh.down(i) {
		sh.up(i)
	}
}

// remove takes e out of the map and the heap and marks it dead.
func (sh *shard) remove(e *entry) {
	delete(sh.m, e.hash)
	i, last := int(e.hidx), len(sh.heap)-1
	if i != last {
		sh.swap(i, last)
	}
	sh.heap[last] = nil
	sh.heap = sh.heap[:last]
	if i != last {
		sh.fix(sh.heap[i])
	}
	e.hidx = -1
	e.exp.Store(dead)
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

// Sweep removes every expired session from memory now, shard by shard in
// batches of at most Options.SweepBatch, and returns how many it removed.
// The background sweeper calls it every Options.SweepInterval; an
// application need not. Expired sessions are never returned, swept or not.
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
			batch = s.sweepBatch(sh, batch[:0])
			total += len(batch)
			for j, e := range batch {
				s.unindex(e)
				batch[j] = nil
			}
			if len(batch) < s.batch {
				break
			}
		}
	}
	return total
}

// sweepBatch removes up to s.batch expired entries from sh under one hold of
// its lock and appends them to out.
func (s *Store) sweepBatch(sh *shard, out []*entry) []*entry {
	now := s.nowNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for len(out) < s.batch && len(sh.heap) > 0 && sh.heap[0].exp.Load() <= now {
		e := sh.heap[0]
		sh.remove(e)
		out = append(out, e)
	}
	return out
}
