package boltstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// benchStore returns a store holding n sessions of 10 users, with real time.
func benchStore(b *testing.B, n int) *Store {
	b.Helper()
	s := openTest(b, nil, Options{})
	now := time.Now()
	// One transaction for the whole fixture: n fsyncs would dominate.
	err := s.update(func(bk buckets) error {
		for i := range n {
			c := &driver.Commit{ID: hashOf(fmt.Sprint(i)), Create: true, Meta: meta(fmt.Sprintf("user%d", i%10), now)}
			set := map[string][]byte{"cart": []byte("[1,2,3]"), "csrf": []byte(`"0123456789abcdef"`), "n": []byte(fmt.Sprint(i))}
			if err := commitTx(bk, c, set, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkLoad(b *testing.B) {
	s := benchStore(b, 1000)
	ctx := context.Background()
	ids := make([]driver.Hash, 1000)
	for i := range ids {
		ids[i] = hashOf(fmt.Sprint(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Load(ctx, ids[i%len(ids)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkCommit(b *testing.B) {
	cases := []struct {
		name        string
		parallelism int // goroutines per GOMAXPROCS; group commit shares fsyncs between them
		c           func(i int, now time.Time) *driver.Commit
	}{
		{"update", 1, func(i int, now time.Time) *driver.Commit {
			return &driver.Commit{ID: hashOf(fmt.Sprint(i % 1000)), Meta: meta(fmt.Sprintf("user%d", i%10), now),
				Set: map[string]any{"n": i}}
		}},
		{"update-x16", 16, func(i int, now time.Time) *driver.Commit {
			return &driver.Commit{ID: hashOf(fmt.Sprint(i % 1000)), Meta: meta(fmt.Sprintf("user%d", i%10), now),
				Set: map[string]any{"n": i}}
		}},
		{"create", 1, func(i int, now time.Time) *driver.Commit {
			return &driver.Commit{ID: hashOf(fmt.Sprintf("new%d", i)), Create: true, Meta: meta("", now),
				Set: map[string]any{"n": i}}
		}},
		{"renew", 1, func(i int, now time.Time) *driver.Commit {
			// Session i%1000 moves from its generation i/1000 to the next.
			return &driver.Commit{ID: renewedHash(i%1000, i/1000+1), From: renewedHash(i%1000, i/1000), Create: true,
				Meta: meta(fmt.Sprintf("user%d", i%10), now), Set: map[string]any{"n": i}}
		}},
		{"login-with-limit", 1, func(i int, now time.Time) *driver.Commit {
			return &driver.Commit{ID: hashOf(fmt.Sprintf("login%d", i)), Create: true,
				Meta: meta(fmt.Sprintf("user%d", i%10), now), MaxPerUser: 150, EvictOldest: true}
		}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			s := benchStore(b, 1000)
			ctx := context.Background()
			now := time.Now()
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(bc.parallelism)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.Commit(ctx, bc.c(int(n.Add(1)-1), now)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// renewedHash names session j of benchStore after gen renewals.
func renewedHash(j, gen int) driver.Hash {
	if gen == 0 {
		return hashOf(fmt.Sprint(j))
	}
	return hashOf(fmt.Sprintf("%d/renewed%d", j, gen))
}
