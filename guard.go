package latch

import (
	"hash/maphash"
	"net/netip"
	"strings"
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

// uaFamily reduces a User-Agent to its browser family and platform, so
// that browser updates do not look like a change of client. Both results
// are constants: the check allocates nothing.
func uaFamily(ua string) (browser, platform string) {
	browser, platform = "other", "other"
	for _, b := range [...]struct{ token, name string }{
		{"Edg/", "edge"}, {"OPR/", "opera"}, {"Firefox/", "firefox"}, {"Chrome/", "chrome"},
		{"Chromium/", "chrome"}, {"Safari/", "safari"}, {"curl/", "curl"}, {"Go-http-client", "go"},
		{"python-requests", "python"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, p := range [...]struct{ token, name string }{
		{"Android", "android"}, {"iPhone", "ios"}, {"iPad", "ios"}, {"Windows", "windows"},
		{"Mac OS X", "mac"}, {"Macintosh", "mac"}, {"CrOS", "chromeos"}, {"Linux", "linux"},
	} {
		if strings.Contains(ua, p.token) {
			platform = p.name
			break
		}
	}
	return browser, platform
}

func sameUAFamily(a, b string) bool {
	if a == b {
		return true // the usual case, without parsing
	}
	ab, ap := uaFamily(a)
	bb, bp := uaFamily(b)
	return ab == bb && ap == bp
}

// sameNetwork reports whether two addresses share their /24 (IPv4) or /48
// (IPv6) network, so that a client moving within its provider's range does
// not look like a new client. Unparsable addresses must be equal.
func sameNetwork(a, b string) bool {
	if a == b {
		return true
	}
	pa, oka := network(a)
	pb, okb := network(b)
	if !oka || !okb {
		return a == b
	}
	return pa == pb
}

func network(addr string) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}
