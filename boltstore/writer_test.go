package boltstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// TestRunBatch drives the group-commit path directly with batches of
// several requests, as the writer forms them under load.
func TestRunBatch(t *testing.T) {
	errBoom := errors.New("boom")
	a, b, c := hashOf("a"), hashOf("b"), hashOf("c")
	create := func(h driver.Hash, v string) func(buckets) error {
		return func(bk buckets) error {
			return commitTx(bk, &driver.Commit{ID: h, Create: true, Meta: meta("alice", t0)},
				map[string][]byte{"v": []byte(`"` + v + `"`)}, t0)
		}
	}
	update := func(h driver.Hash, k string) func(buckets) error {
		return func(bk buckets) error {
			return commitTx(bk, &driver.Commit{ID: h, Meta: meta("alice", t0)},
				map[string][]byte{k: []byte("1")}, t0)
		}
	}
	renew := func(from, to driver.Hash) func(buckets) error {
		return func(bk buckets) error {
			return commitTx(bk, &driver.Commit{ID: to, From: from, Create: true, Meta: meta("alice", t0)}, nil, t0)
		}
	}
	// refuseAfterWrite writes a record, then fails with an error that is
	// otherwise a clean refusal: its write must not reach the disk, nor
	// spoil the others' results.
	refuseAfterWrite := func(bk buckets) error {
		if err := create(c, "bad")(bk); err != nil {
			return err
		}
		return driver.ErrNotFound
	}
	// failAfterWrite writes a record, then fails with an error that is not
	// clean: the whole batch must be retried without its write.
	failAfterWrite := func(bk buckets) error {
		if err := create(c, "bad")(bk); err != nil {
			return err
		}
		return errBoom
	}
	tests := []struct {
		name    string
		fns     []func(buckets) error
		want    []error
		present map[driver.Hash]map[string]string
		absent  []driver.Hash
	}{
		{
			name: "all succeed",
			fns:  []func(buckets) error{create(a, "1"), create(b, "2")},
			want: []error{nil, nil},
			present: map[driver.Hash]map[string]string{
				a: {"v": `"1"`}, b: {"v": `"2"`},
			},
		},
		{
			name: "later requests see earlier ones",
			fns:  []func(buckets) error{create(a, "1"), update(a, "x"), update(a, "y")},
			want: []error{nil, nil, nil},
			present: map[driver.Hash]map[string]string{
				a: {"v": `"1"`, "x": "1", "y": "1"},
			},
		},
		{
			name: "clean failure does not spoil the batch",
			fns:  []func(buckets) error{create(a, "1"), create(a, "again"), update(b, "x"), create(b, "2")},
			want: []error{nil, driver.ErrExists, driver.ErrNotFound, nil},
			present: map[driver.Hash]map[string]string{
				a: {"v": `"1"`}, b: {"v": `"2"`},
			},
		},
		{
			name: "renewal then commits to both hashes",
			fns:  []func(buckets) error{create(a, "1"), renew(a, b), update(a, "x"), update(b, "y")},
			want: []error{nil, nil, driver.ErrRenewed, nil},
			present: map[driver.Hash]map[string]string{
				b: {"v": `"1"`, "y": "1"},
			},
			absent: []driver.Hash{a},
		},
		{
			name:    "refusal after a change is rolled back alone",
			fns:     []func(buckets) error{create(a, "1"), refuseAfterWrite, create(b, "2")},
			want:    []error{nil, driver.ErrNotFound, nil},
			present: map[driver.Hash]map[string]string{a: {"v": `"1"`}, b: {"v": `"2"`}},
			absent:  []driver.Hash{c},
		},
		{
			name:    "other failure reruns each request alone",
			fns:     []func(buckets) error{create(a, "1"), failAfterWrite, create(b, "2")},
			want:    []error{nil, errBoom, nil},
			present: map[driver.Hash]map[string]string{a: {"v": `"1"`}, b: {"v": `"2"`}},
			absent:  []driver.Hash{c},
		},
		{
			name:    "single request",
			fns:     []func(buckets) error{failAfterWrite},
			want:    []error{errBoom},
			absent:  []driver.Hash{c},
			present: map[driver.Hash]map[string]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, newClock(), Options{})
			batch := make([]*request, len(tc.fns))
			for i, fn := range tc.fns {
				batch[i] = &request{fn: fn, done: make(chan error, 1)}
			}
			s.runBatch(batch)
			for i, r := range batch {
				if err := <-r.done; !errors.Is(err, tc.want[i]) || (err == nil) != (tc.want[i] == nil) {
					t.Errorf("request %d: %v; want %v", i, err, tc.want[i])
				}
			}
			for h, vals := range tc.present {
				wantValues(t, mustLoad(t, s, h), vals)
			}
			for _, h := range tc.absent {
				if _, err := s.Load(context.Background(), h); !errors.Is(err, driver.ErrNotFound) {
					t.Errorf("Load(%s): %v; want ErrNotFound", h.Handle(), err)
				}
			}
		})
	}
}

// TestCloseDuringCommits closes the store while goroutines commit: every
// Commit returns, those that succeeded are on disk, and the rest report
// that the store is closed.
func TestCloseDuringCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	clk := newClock()
	s, err := Open(path, Options{Now: clk.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 20
	var mu sync.Mutex
	var acked []driver.Hash
	var wg sync.WaitGroup
	started := make(chan struct{}, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := hashOf(fmt.Sprintf("%d/%d", w, i))
				err := s.Commit(context.Background(), &driver.Commit{ID: id, Create: true, Meta: meta("", t0)})
				if i == 0 {
					started <- struct{}{}
				}
				if err != nil {
					if !errors.Is(err, errClosed) {
						t.Errorf("Commit: %v", err)
					}
					return
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	for range workers {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := s.Commit(context.Background(), &driver.Commit{ID: hashOf("late"), Create: true, Meta: meta("", t0)}); !errors.Is(err, errClosed) {
		t.Errorf("Commit after Close: %v; want %v", err, errClosed)
	}

	s, err = Open(path, Options{Now: clk.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range acked {
		mustLoad(t, s, id)
	}
	if n := rawCount(t, s, bucketSessions); n != len(acked) {
		t.Errorf("%d records on disk; %d Commits succeeded", n, len(acked))
	}
}

// TestCloseStopsGoroutines checks that Close leaves no goroutine behind.
func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{SweepInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		mustCommit(t, s, &driver.Commit{ID: hashOf("a"), Create: true, Meta: meta("", time.Now())})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
