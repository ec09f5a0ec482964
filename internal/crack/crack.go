// Package crack runs a dictionary search for a secret key on many
// goroutines. It is what the Flask key cracker (package flask) and the
// audit's Express and Django crackers share, so that all three answer
// alike: the first candidate in list order that verifies, whatever the
// number of workers.
package crack

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// chunk is how many candidates a worker claims at once: enough to make the
// shared counter cheap, few enough to spread a short list.
const chunk = 256

// Search calls try(w, i) for the indices 0 to n-1 on workers goroutines
// (GOMAXPROCS when workers <= 0), each with its own state w from
// newWorker, until ctx is done. try returns whether candidate i verifies,
// and whether it was tried at all (false for a candidate it skips).
//
// Search returns the lowest index that verifies, or -1, and how many
// candidates were tried. It finds the lowest even when several verify:
// after a hit, workers claim no new candidates and finish only those below
// it. err is ctx's error when the search was cut short without a hit.
func Search[W any](ctx context.Context, n, workers int, newWorker func() W, try func(w W, i int) (hit, tried bool)) (found, tried int, err error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, (n+chunk-1)/chunk))
	var (
		next  atomic.Int64 // start of the next chunk to claim
		count atomic.Int64
		best  atomic.Int64 // lowest hit + 1, 0 while none
		wg    sync.WaitGroup
	)
	below := func(i int) bool { b := best.Load(); return b == 0 || int64(i) < b-1 }
	for range workers {
		wg.Go(func() {
			w := newWorker()
			for best.Load() == 0 && ctx.Err() == nil {
				start := int(next.Add(chunk)) - chunk
				if start >= n {
					return
				}
				counted := 0
				for i := start; i < min(start+chunk, n) && below(i); i++ {
					hit, ok := try(w, i)
					if ok {
						counted++
					}
					if hit {
						for b := best.Load(); (b == 0 || int64(i+1) < b) && !best.CompareAndSwap(b, int64(i+1)); b = best.Load() {
						}
						break
					}
				}
				count.Add(int64(counted))
			}
		})
	}
	wg.Wait()
	if b := best.Load(); b != 0 {
		return int(b - 1), int(count.Load()), nil
	}
	return -1, int(count.Load()), ctx.Err()
}
