package crack

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

func TestSearch(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		hits      []int
		skip      []int
		workers   int
		wantFound int
		wantTried int // -1: any
	}{
		{"empty list", 0, nil, nil, 4, -1, 0},
		{"no hit", 1000, nil, nil, 4, -1, 1000},
		{"skipped candidates are not counted", 10, nil, []int{2, 5}, 2, -1, 8},
		{"one hit", 1000, []int{777}, nil, 4, 777, -1},
		{"lowest of several hits, one worker", 5000, []int{4000, 300, 2600}, nil, 1, 300, 301},
		{"lowest of several hits, many workers", 5000, []int{4999, 4000, 300, 2600}, nil, 8, 300, -1},
		{"hits in every chunk", 3000, []int{2999, 2000, 1000, 257, 256, 1}, nil, 16, 1, -1},
		{"first candidate", 100, []int{0}, nil, 0, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hit := make(map[int]bool)
			for _, h := range tt.hits {
				hit[h] = true
			}
			skip := make(map[int]bool)
			for _, s := range tt.skip {
				skip[s] = true
			}
			for range 50 { // the answer must not depend on scheduling
				found, tried, err := Search(context.Background(), tt.n, tt.workers, func() int { return 0 }, func(_ int, i int) (bool, bool) {
					return hit[i], !skip[i]
				})
				if err != nil || found != tt.wantFound {
					t.Fatalf("Search: found %d, err %v; want %d, nil", found, err, tt.wantFound)
				}
				if tt.wantTried >= 0 && tried != tt.wantTried {
					t.Fatalf("Search: tried %d; want %d", tried, tt.wantTried)
				}
			}
		})
	}
}

// TestSearchWorkerState checks that each worker has its own state: under
// -race, a state shared between goroutines would be reported.
func TestSearchWorkerState(t *testing.T) {
	type state struct{ calls int }
	var made atomic.Int32
	found, tried, err := Search(context.Background(), 10_000, 4, func() *state {
		made.Add(1)
		return &state{}
	}, func(s *state, i int) (bool, bool) {
		s.calls++
		return false, true
	})
	if err != nil || found != -1 || tried != 10_000 {
		t.Fatalf("found %d, tried %d, err %v; want -1, 10000, nil", found, tried, err)
	}
	if n := made.Load(); n != 4 {
		t.Errorf("newWorker called %d times; want 4", n)
	}
}

func TestSearchCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	found, _, err := Search(ctx, 1_000_000, 4, func() struct{} { return struct{}{} }, func(struct{}, int) (bool, bool) { return false, true })
	if found != -1 || !errors.Is(err, context.Canceled) {
		t.Fatalf("found %d, err %v; want -1, context.Canceled", found, err)
	}
}

func ExampleSearch() {
	words := []string{"password", "secret", "changeme", "secret"}
	found, tried, _ := Search(context.Background(), len(words), 2, func() struct{} { return struct{}{} }, func(_ struct{}, i int) (bool, bool) {
		return words[i] == "secret", true
	})
	fmt.Println(found, tried <= len(words))
	// Output: 1 true
}
