package latch

import (
	"hash/maphash"
	"sync"
	"time"
)

// guard counts refused tokens per client over a fixed window.
type guard struct {
	limit  int
	window time.Duration
	seed   maphash.Seed
	shards [32]guardShard
}

type guardShard struct {
	mu      sync.Mutex
	clients map[string]*guardCount
}

type guardCount struct {
	start time.Time
	n     int
}

// maxClientsPerShard bounds the guard's memory: a shard that fills up drops
// the clients whose window has passed, and if that frees nothing, starts
// over (an attacker with that many addresses gains a fresh window, never
// memory).
const maxClientsPerShard = 4096

func newGuard(limit int, window time.Duration) *guard {
	g := &guard{limit: limit, window: window, seed: maphash.MakeSeed()}
	for i := range g.shards {
		g.shards[i].clients = make(map[string]*guardCount)
	}
	return g
}

func (g *guard) shard(client string) *guardShard {
	return &g.shards[maphash.String(g.seed, client)%uint64(len(g.shards))]
}

// refuse records one refused token and returns the count in the window.
func (g *guard) refuse(client string, now time.Time) int {
	s := g.shard(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[client]
	if c == nil || now.Sub(c.start) >= g.window {
		if c == nil && len(s.clients) >= maxClientsPerShard {
			for k, v := range s.clients {
				if now.Sub(v.start) >= g.window {
					delete(s.clients, k)
				}
			}
			if len(s.clients) >= maxClientsPerShard {
				clear(s.clients)
			}
		}
		c = &guardCount{start: now}
		s.clients[client] = c
	}
	c.n++
	return c.n
}
