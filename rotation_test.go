package latch_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/memstore"
)

// TestRotationAcrossFleet is issue 15's end-to-end case: two instances on
// one store (with cookie sessions, one store of revocations), each with
// its own copy of the keyring file and its own watcher, and clients whose requests alternate between them. A new key
// is staged as latch rotate stages it (activation ahead, the old
// key retiring after the longest session could end), each instance reads
// the file at its own moment, and B's clock runs 20 seconds ahead of A's,
// so that B starts signing with the new key before A does. Through
// staging and activation no request is answered as signed out and no
// token is refused; once the new key signs on both, every session is
// re-issued under it on its next request (a cookie signed by a key that is
// no longer the signing key is accepted and re-issued: fallback-key);
// after the old key is revoked (removed from the file), a cookie still
// signed with it is refused on each instance once that instance has read
// the file (ReloadKeys here; the background reload within two polls), and
// accepted until then.
func TestRotationAcrossFleet(t *testing.T) {
	modes := []struct {
		name string
		new  func(*testing.T, *memstore.Store, latch.KeySource, func() time.Time) *reloader
	}{
		{"sessions in a store", newReloader},
		{"sessions in cookies (cookiestore)", newCookieReloader},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			for _, kf := range keyFiles {
				t.Run(kf.name, func(t *testing.T) { rotateFleet(t, kf.layout, mode.new) })
			}
		})
	}
}

// rotateFleet runs TestRotationAcrossFleet for one file layout and one
// kind of instance.
func rotateFleet(t *testing.T, lay layout, newInstance func(*testing.T, *memstore.Store, latch.KeySource, func() time.Time) *reloader) {
	clock := newClock()
	const skew = 20 * time.Second
	nowB := func() time.Time { return clock.Now().Add(skew) }
	st := newMemstore(t, clock.Now)
	oldKey := latch.Key{ID: "old", Secret: latch.GenerateKey()}
	old := oldKey.SecretEntry()
	pathA, updateA := lay(t, t.TempDir(), old+"\n")
	pathB, updateB := lay(t, t.TempDir(), old+"\n")
	a := newInstance(t, st, latch.FileKeys(pathA), clock.Now)
	b := newInstance(t, st, latch.FileKeys(pathB), nowB)
	fleet := &fleet{t: t, instances: []*reloader{a, b}}
	for i := range 20 {
		fleet.login(fmt.Sprintf("user%02d", i))
	}
	fleet.round()

	// Stage: new verifies from now on and signs in ten minutes
	// (within the idle timeout, so that the sessions live); old
	// retires once every session it signs until then has ended.
	activate := clock.Now().Add(10 * time.Minute)
	newKey := latch.Key{ID: "new", Secret: latch.GenerateKey(), Activate: activate}
	oldKey.Retire = activate.Add(latch.DefaultRememberAbsoluteTimeout + 24*time.Hour)
	staged := newKey.SecretEntry() + "\n" + oldKey.SecretEntry() + "\n"
	updateA(staged)
	fleet.roundWhile(func() { a.reload(t) }) // A knows new, B does not
	fleet.round()
	updateB(staged)
	fleet.roundWhile(func() { b.reload(t) })
	fleet.round()
	fleet.signedBy("old", "staged, before the activation")

	// Activation: B's clock passes it first.
	clock.Advance(10*time.Minute - skew/2)
	fleet.round() // B signs with new, A with old: each accepts the other's
	fleet.round()
	if n := fleet.count("new"); n == 0 || n == len(fleet.clients) {
		t.Errorf("%d of %d cookies signed by new while only B's clock has passed the activation; want some, not all", n, len(fleet.clients))
	}
	clock.Advance(skew)
	fleet.round() // both sign with new
	fleet.noInvalidTokens("staging and activation")
	fleet.signedBy("new", "after the activation on both instances")
	reissued := a.events.Count(latch.EventFallbackKey, "") + b.events.Count(latch.EventFallbackKey, "")
	if reissued < len(fleet.clients) {
		t.Errorf("%d re-issues for %d sessions", reissued, len(fleet.clients))
	}

	// Revoke old: a copy of a cookie from before the activation
	// is refused by each instance once it has read the file.
	stale := fleet.clients[0].first
	if keyID(stale) != "old" {
		t.Fatalf("first cookie signed by %q, want old", keyID(stale))
	}
	revoked := newKey.SecretEntry() + "\n"
	updateA(revoked)
	a.reload(t)
	fleet.expectRefused(a, stale)
	if w := b.do("GET", "/me", stale); w.Code != http.StatusOK {
		t.Errorf("B, before reading the revocation: old cookie = %d, want 200", w.Code)
	}
	updateB(revoked)
	b.reload(t)
	fleet.expectRefused(b, stale)
	fleet.round() // the current cookies live on
}

// count returns how many clients' cookies the key id signed.
func (f *fleet) count(id string) int {
	n := 0
	for _, c := range f.clients {
		if keyID(c.cookie) == id {
			n++
		}
	}
	return n
}

// signedBy checks that every client's cookie is signed by the key id.
func (f *fleet) signedBy(id, when string) {
	f.t.Helper()
	for _, c := range f.clients {
		if got := keyID(c.cookie); got != id {
			f.t.Errorf("%s: %s's cookie is signed by %q, want %q", when, c.user, got, id)
		}
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
