package pgstore

import (
	"context"
	"testing"

	"github.com/latchsec/latch/driver"
)

// The benchmarks time one store call each against the test server, one
// goroutine at a time: what they show is the round trips and the work of
// the statements, not the server's throughput.

func benchSession(b *testing.B, s *Store, user string) driver.Hash {
	b.Helper()
	id := randomHash(b)
	err := s.Commit(context.Background(), &driver.Commit{ID: id, Create: true, Meta: liveMeta(user),
		Set: map[string]any{"csrf": "0123456789abcdef", "cart": []int{1, 2, 3}}})
	if err != nil {
		b.Fatal(err)
	}
	return id
}

func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	s := newTestStore(b, Options{})
	id := benchSession(b, s, "alice")
	for b.Loop() {
		if _, err := s.Load(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdate is the plain commit of a request that changed a value.
func BenchmarkUpdate(b *testing.B) {
	ctx := context.Background()
	s := newTestStore(b, Options{})
	id := benchSession(b, s, "alice")
	m := liveMeta("alice")
	c := &driver.Commit{ID: id, Meta: m, Set: map[string]any{"n": 1}}
	for b.Loop() {
		if err := s.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenew renews one session again and again (a chain of new IDs),
// as Renew and Login do.
func BenchmarkRenew(b *testing.B) {
	for _, bc := range []struct {
		name string
		user string
		max  int
	}{
		{"anonymous", "", 0},
		{"user", "alice", 0},
		{"user limited", "alice", 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			s := newTestStore(b, Options{})
			id := benchSession(b, s, bc.user)
			m := liveMeta(bc.user)
			ids := make([]driver.Hash, 0, 1024)
			for b.Loop() {
				b.StopTimer()
				if len(ids) == 0 {
					for range cap(ids) {
						ids = append(ids, randomHash(b))
					}
				}
				next := ids[len(ids)-1]
				ids = ids[:len(ids)-1]
				b.StartTimer()
				err := s.Commit(ctx, &driver.Commit{ID: next, From: id, Create: true, Meta: m, MaxPerUser: bc.max, EvictOldest: true})
				if err != nil {
					b.Fatal(err)
				}
				id = next
			}
		})
	}
}

// BenchmarkCreate is the commit of a new session of a user (a login
// without a previous session).
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	s := newTestStore(b, Options{})
	m := liveMeta("alice")
	ids := make([]driver.Hash, 0, 1024)
	for b.Loop() {
		b.StopTimer()
		if len(ids) == 0 {
			for range cap(ids) {
				ids = append(ids, randomHash(b))
			}
		}
		id := ids[len(ids)-1]
		ids = ids[:len(ids)-1]
		b.StartTimer()
		if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: m}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDelete is a logout.
func BenchmarkDelete(b *testing.B) {
	ctx := context.Background()
	s := newTestStore(b, Options{})
	for b.Loop() {
		b.StopTimer()
		id := benchSession(b, s, "alice")
		b.StartTimer()
		if err := s.Delete(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
