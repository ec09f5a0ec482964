package latch_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/latchsec/latch"
)

// TestRotationAcrossFleet is issue 15's end-to-end case: two instances on
// one store, each with its own copy of the keyring file and its own
// watcher, and clients whose requests alternate between them. A new key is
// staged, activated and the old one revoked, and each instance reloads at
// its own moment. Through staging and activation no request is answered
// as signed out and no token is refused; once the new key signs, every
// session is re-issued under it (a cookie under a key that is no longer
// the signing key is re-issued on its next request); after the old key is
// revoked, a cookie still signed with it is refused on each instance by
// its next two reads of the file.
func TestRotationAcrossFleet(t *testing.T) {
	for _, kf := range keyFiles {
		t.Run(kf.name, func(t *testing.T) {
			clock := newClock()
			st := newMemstore(t, clock.Now)
			old, next := keyEntry("old"), keyEntry("new")
			pathA, updateA := kf.layout(t, t.TempDir(), old+"\n")
			pathB, updateB := kf.layout(t, t.TempDir(), old+"\n")
			a := newReloader(t, st, latch.FileKeys(pathA), clock.Now)
			b := newReloader(t, st, latch.FileKeys(pathB), clock.Now)
			fleet := &fleet{t: t, instances: []*reloader{a, b}}
			for i := range 20 {
				fleet.login(fmt.Sprintf("user%02d", i))
			}
			fleet.round()

			phases := []struct {
				name string
				text string
			}{
				{"stage", old + "\n" + next + "\n"},    // new verifies, old signs
				{"activate", next + "\n" + old + "\n"}, // new signs, old verifies
			}
			for _, p := range phases {
				// A reloads first while traffic runs, then B: for a while
				// the two disagree.
				updateA(p.text)
				fleet.roundWhile(func() { a.reloadTwice(t) })
				fleet.round()
				updateB(p.text)
				fleet.roundWhile(func() { b.reloadTwice(t) })
				fleet.round()
				fleet.noInvalidTokens(p.name)
			}
			fleet.round()
			for _, c := range fleet.clients {
				if got := keyID(c.cookie); got != "new" {
					t.Errorf("%s's cookie is signed by %q after the new key activated, want new", c.user, got)
				}
			}
			reissued := a.events.Count(latch.EventFallbackKey, "") + b.events.Count(latch.EventFallbackKey, "")
			if reissued < len(fleet.clients) {
				t.Errorf("%d re-issues under the new key for %d sessions", reissued, len(fleet.clients))
			}

			// Revoke old: a copy of a cookie from before the activation
			// is refused by each instance once it has read the file.
			stale := fleet.clients[0].first
			if keyID(stale) != "old" {
				t.Fatalf("first cookie signed by %q, want old", keyID(stale))
			}
			revoked := next + "\n"
			updateA(revoked)
			a.reloadTwice(t)
			fleet.expectRefused(a, stale)
			updateB(revoked)
			b.reloadTwice(t)
			fleet.expectRefused(b, stale)
			fleet.round() // the current cookies live on
		})
	}
}

// fleet is clients spreading their requests over instances.
type fleet struct {
	t         *testing.T
	instances []*reloader
	clients   []*client
	turn      int
}

type client struct {
	user   string
	cookie string // the current cookie
	first  string // the cookie login gave
}

func (f *fleet) login(user string) {
	in := f.instances[len(f.clients)%len(f.instances)]
	c := in.login(f.t, user)
	f.clients = append(f.clients, &client{user: user, cookie: c, first: c})
}

// round sends one request for every client, all at once, each to the
// instance after the one it used last, and checks that each is answered
// as the signed-in user.
func (f *fleet) round() {
	f.t.Helper()
	f.turn++
	var wg sync.WaitGroup
	for i, c := range f.clients {
		in := f.instances[(i+f.turn)%len(f.instances)]
		wg.Go(func() {
			w := in.do("GET", "/me", c.cookie)
			if w.Code != http.StatusOK || w.Body.String() != c.user {
				f.t.Errorf("%s: GET /me = %d %q, want 200 %s", c.user, w.Code, w.Body, c.user)
				return
			}
			if nc := setCookie(w); nc != "" {
				c.cookie = nc
			}
		})
	}
	wg.Wait()
}

// roundWhile runs a round while reload runs.
func (f *fleet) roundWhile(reload func()) {
	f.t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); reload() }()
	f.round()
	<-done
}

func (f *fleet) noInvalidTokens(phase string) {
	f.t.Helper()
	for i, in := range f.instances {
		if n := in.events.Count(latch.EventInvalidToken, ""); n != 0 {
			f.t.Errorf("%s: instance %d emitted %d invalid-token events, want 0", phase, i, n)
		}
	}
}

// expectRefused checks that in refuses cookie as signed by an unknown key.
func (f *fleet) expectRefused(in *reloader, cookie string) {
	f.t.Helper()
	w := in.do("GET", "/me", cookie)
	if w.Code != http.StatusUnauthorized {
		f.t.Errorf("revoked key's cookie: GET /me = %d, want 401", w.Code)
	}
	if n := in.events.Count(latch.EventInvalidToken, latch.ReasonUnknownKey); n != 1 {
		f.t.Errorf("%d unknown-key refusals, want 1", n)
	}
}
