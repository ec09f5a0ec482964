package memstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchsec/latch/storetest"
)

// The model of the Store contract lives in storetest (RunModel), which
// checks every store against it. Here it runs against memstore with a fake
// clock that the run moves, sweeps drawn among the operations, memstore's
// own tie order and its handling of reused hashes, and each run ends with
// memstore's internal consistency checks.

// runModel runs ops random operations, choices from data then from the
// seed, against a fresh Store and the model.
func runModel(t *testing.T, seed uint64, data []byte, ops int) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now, SweepInterval: time.Hour, SweepBatch: 2})
	storetest.RunModel(t, s, storetest.ModelConfig{
		Ops:     ops,
		Seed:    seed,
		Data:    data,
		Now:     clk.Now,
		Advance: clk.Advance,
		Step: func() string {
			s.Sweep()
			return "Sweep"
		},
		Order:       compareHash,
		ReuseHashes: true,
	})
	checkInternal(t, s)
}

func TestModel(t *testing.T) {
	ops := 10_000
	if testing.Short() || raceEnabled {
		ops = 1_500
	}
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			runModel(t, seed, nil, ops)
		})
	}
}

func FuzzModel(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 3, 1, 0, 2, 1, 1, 0, 0})
	f.Add([]byte{4, 1, 0, 1, 2, 0, 3, 1, 9, 3, 6, 1, 7, 8, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		// The data drives the first choices, a fixed PRNG the rest.
		runModel(t, 1, data, len(data)/4+1)
	})
}
