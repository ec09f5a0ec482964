package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

// These tests run each measurement of cmd/compare on a small scale. Where
// a library's behaviour is known and does not depend on timing (scs
// re-commits every read with an idle timeout, and its overlapping
// requests overwrite each other), they check that the instrument sees it,
// so that a figure of 0 elsewhere means the behaviour is absent rather
// than the instrument blind. They never check latch against its targets:
// those are shown in BENCHMARKS.md, not asserted.

func TestReadOnlyTouches(t *testing.T) {
	const requests = 20
	tests := []struct {
		name          string
		lib           string
		wantEveryTime bool
	}{
		{"latch memstore", LatchMem, false},
		{"scs memstore", SCSMem, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadOnlyTouches(context.Background(), tc.lib, Options{}, requests, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if got.Requests != requests || got.Writes < 0 || got.Writes > requests || got.SetCookies < 0 || got.SetCookies > requests {
				t.Fatalf("got %+v: counts out of range for %d requests", got, requests)
			}
			if tc.wantEveryTime && (got.Writes != requests || got.SetCookies != requests) {
				t.Errorf("got %+v; want a write and a Set-Cookie on each of %d requests", got, requests)
			}
		})
	}
}

func TestLostUpdates(t *testing.T) {
	const trials = 4
	tests := []struct {
		name     string
		lib      string
		readOnly bool
		wantAll  bool
	}{
		{"latch two writers", LatchMem, false, false},
		{"latch writer and reader", LatchMem, true, false},
		{"scs two writers", SCSMem, false, true},
		{"scs writer and reader", SCSMem, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lost, err := LostUpdates(context.Background(), tc.lib, Options{}, trials, tc.readOnly)
			if err != nil {
				t.Fatal(err)
			}
			if lost < 0 || lost > trials {
				t.Fatalf("lost %d of %d trials: out of range", lost, trials)
			}
			if tc.wantAll && lost != trials {
				t.Errorf("lost %d of %d trials; scs's whole-session commits lose one update in each", lost, trials)
			}
		})
	}
}

func TestMemory(t *testing.T) {
	// Enough sessions that the stores' fixed memory (latch's shard
	// tables and the records its probes' lookups decoded) is small beside
	// theirs.
	const n = 10_000
	tests := []struct {
		name    string
		measure func(context.Context, int, time.Duration) (Memory, error)
	}{
		{"latch memstore", LatchMemory},
		{"scs memstore", SCSMemory},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.measure(context.Background(), n, 100*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			// A session holds at least its 32-byte key and its user id.
			if m.Sessions != n || m.BytesPerSession < 40 || m.Lookups == 0 || m.Stall <= 0 || m.Baseline <= 0 {
				t.Errorf("got %+v", m)
			}
			// Maps do not shrink, but the sessions themselves (latch: the
			// entry and the packed record, 128 bytes) must be freed.
			if freed := m.BytesPerSession - m.After; freed < 100 {
				t.Errorf("after the sweep %.0f bytes per session remain of %.0f: the sweep freed only %.0f", m.After, m.BytesPerSession, freed)
			}
		})
	}
}

func TestRedisCommands(t *testing.T) {
	url := redisURL(t)
	const requests = 10
	for _, lib := range []string{LatchRedis, SCSRedis} {
		t.Run(lib, func(t *testing.T) {
			got, err := RedisCommands(context.Background(), lib, Options{RedisURL: url}, requests)
			if err != nil {
				t.Fatal(err)
			}
			// Every read loads the session: at least one command and one
			// round trip each, counted by the server and by the client.
			if got.ClientCommands < requests || got.RoundTrips < requests || got.Commands < requests {
				t.Errorf("got %+v for %d requests", got, requests)
			}
			if os.Getenv("LATCH_BENCH_OWN_REDIS") == "1" && got.Commands != got.ClientCommands {
				t.Errorf("server counted %d commands, client %d", got.Commands, got.ClientCommands)
			}
		})
	}
}
