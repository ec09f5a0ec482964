package latch

import (
	"hash/maphash"
	"sync"
	"time"
)

// guard counts refused tokens per client over a fixed window. A client is
// an IPv4 address, or an IPv6 network of v6bits bits (see group), since
// one IPv6 host can send every request from another address of its /64.
type guard struct {
	limit  int
	window time.Duration
	v6bits int
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

func newGuard(limit int, window time.Duration, v6bits int) *guard {
	g := &guard{limit: limit, window: window, v6bits: v6bits, seed: maphash.MakeSeed()}
	for i := range g.shards {
		g.shards[i].clients = make(map[string]*guardCount)
	}
	return g
}

func (g *guard) shard(client string) *guardShard {
	return &g.shards[maphash.String(g.seed, client)%uint64(len(g.shards))]
}

// group returns the name the counter counts client under: an IPv4
// address by itself (an IPv4-mapped IPv6 address as the IPv4 address), an
// IPv6 address by its network of v6bits bits ("2001:db8:1:2::/64"), and
// anything else (what a custom Config.ClientIP may return) as it is.
func (g *guard) group(client string) string {
	p, ok := network(client, 32, g.v6bits)
	switch {
	case !ok:
		return client
	case p.IsSingleIP():
		return p.Addr().String()
	}
	return p.String()
}

// refuse records one refused token from client and returns the count in
// the window of the client's group, and the group.
func (g *guard) refuse(client string, now time.Time) (int, string) {
	client = g.group(client)
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
	return c.n, client
}
