package latch_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/memstore"
)

// TestGuessingGroupsClients sends 500 forged tokens, each from the client
// address the case gives, and counts the 429 answers: a client that can
// change its address within its IPv6 network, or switch between the IPv4
// and IPv4-mapped IPv6 forms of one address, is still one client.
func TestGuessingGroupsClients(t *testing.T) {
	const sent, limit = 500, 20
	tests := []struct {
		name    string
		prefix  int                // Config.GuessIPv6Prefix
		addr    func(i int) string // the client address of request i
		blocked int                // 429 answers out of sent
		group   string             // named in the guessing event
	}{
		{"one IPv4 address", 0, func(int) string { return "192.0.2.7" }, sent - limit, "192.0.2.7"},
		{"IPv4 neighbours are counted apart", 0, func(i int) string { return fmt.Sprintf("10.0.%d.%d", i/250, i%250) }, 0, ""},
		{"every address of one IPv6 /64", 0, func(i int) string { return fmt.Sprintf("2001:db8:1:2:%x:%x::1", i, i*7) }, sent - limit, "2001:db8:1:2::/64"},
		{"one IPv6 address", 0, func(int) string { return "2001:db8::1" }, sent - limit, "2001:db8::/64"},
		{"IPv6 /64s are counted apart", 0, func(i int) string { return fmt.Sprintf("2001:db8:%x:%x::1", i/100, i%100) }, 0, ""},
		{"IPv4-mapped IPv6 is the IPv4 address", 0, func(i int) string {
			if i%2 == 0 {
				return "::ffff:192.0.2.8"
			}
			return "192.0.2.8"
		}, sent - limit, "192.0.2.8"},
		{"link-local addresses with zones", 0, func(i int) string { return fmt.Sprintf("fe80::%x%%eth%d", i+1, i%3) }, sent - limit, "fe80::/64"},
		{"a configured /56", 56, func(i int) string { return fmt.Sprintf("2001:db8:1:%x::%x", 0x200+i%256, i) }, sent - limit, "2001:db8:1:200::/56"},
		{"a configured /128 counts addresses apart", 128, func(i int) string { return fmt.Sprintf("2001:db8::%x", i+1) }, 0, ""},
		{"not an address: counted as given", 0, func(int) string { return "client-42" }, sent - limit, "client-42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, latch.Config{GuessLimit: limit, GuessIPv6Prefix: tt.prefix})
			blocked := 0
			for i := 0; i < sent; i++ {
				req := httptest.NewRequest("GET", "/me", nil)
				req.RemoteAddr = net.JoinHostPort(tt.addr(i), "4321")
				if r := hs.doReq(req, fmt.Sprintf("k1.%064d", i)); r.code == http.StatusTooManyRequests {
					blocked++
				}
			}
			if blocked != tt.blocked {
				t.Errorf("%d of %d forged tokens answered 429; want %d", blocked, sent, tt.blocked)
			}
			ev, ok := hs.events.Find(latch.EventGuessing)
			switch {
			case tt.group == "" && ok:
				t.Errorf("guessing event %q; want none", ev.Reason)
			case tt.group != "" && !ok:
				t.Error("no guessing event")
			case ok && !strings.HasSuffix(ev.Reason, " from "+tt.group):
				t.Errorf("guessing event reason %q; want it to name %s", ev.Reason, tt.group)
			}
		})
	}
}

func TestGuessIPv6PrefixRange(t *testing.T) {
	for _, bits := range []int{-1, 129, 1000} {
		t.Run(fmt.Sprint(bits), func(t *testing.T) {
			ms, err := memstore.New(memstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer ms.Close()
			_, err = latch.New(latch.Config{Store: ms, Keys: testKeys(t, "k1"), GuessIPv6Prefix: bits})
			if err == nil || !strings.Contains(err.Error(), "GuessIPv6Prefix") {
				t.Fatalf("New with GuessIPv6Prefix %d: %v; want an error naming it", bits, err)
			}
		})
	}
}
