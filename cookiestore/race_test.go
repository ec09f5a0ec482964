package cookiestore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
)

// raceRounds is how many times each race runs; run the tests with -race.
const raceRounds = 200

// gatedStore is a driver.Store that holds the first Commit of each of
// the parties of a round until all of them have reached it, so that a
// renewal and a revocation try to create the session's record at the same
// moment: the widest window for one to miss the other.
type gatedStore struct {
	driver.Store
	mu      sync.Mutex
	waiting int
	release chan struct{}
	parties int
}

// arm makes the next n Commits wait for one another.
func (g *gatedStore) arm(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.parties, g.waiting, g.release = n, 0, make(chan struct{})
}

func (g *gatedStore) Commit(ctx context.Context, c *driver.Commit) error {
	g.mu.Lock()
	release := g.release
	if release != nil {
		g.waiting++
		if g.waiting == g.parties {
			close(release)
			g.release = nil
		}
	}
	g.mu.Unlock()
	if release != nil {
		<-release
	}
	return g.Store.Commit(ctx, c)
}

// newGatedStore returns a cookie store whose revocations are kept in a
// gated memstore, on a clock that stands still at t0.
func newGatedStore(t *testing.T) (*cookiestore.Store, *gatedStore) {
	t.Helper()
	now := func() time.Time { return t0 }
	ms, err := memstore.New(memstore.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	g := &gatedStore{Store: ms}
	return newStore(t, testKeys(t, "k1"), cookiestore.Options{Revocations: cookiestore.StoreRevocations(g), Now: now}), g
}

// TestRenewedRacesRevoke: a renewal (Renewed) and a logout (Revoke) of the
// same session at once, both reaching the revocation store together, many
// times. The logout always succeeds, and after it neither the old cookie
// nor, when the renewal succeeded, the new one opens; when the renewal
// failed it says the session was revoked. Both outcomes happen over the
// rounds, and each is also run in a fixed order.
func TestRenewedRacesRevoke(t *testing.T) {
	ctx := context.Background()
	orders := []string{"renewal first", "logout first", "at once"}
	for _, order := range orders {
		t.Run(order, func(t *testing.T) {
			s, g := newGatedStore(t)
			won := map[bool]int{}
			rounds := raceRounds
			if order != "at once" {
				rounds = 1
			}
			for i := range rounds {
				from, to := hashOf(fmt.Sprint(order, i, "from")), hashOf(fmt.Sprint(order, i, "to"))
				rec := sampleRecord()
				old := mustSeal(t, s, from, rec, t0)
				renewed := mustSeal(t, s, to, rec, t0)
				var renewErr, revokeErr error
				renew := func() { renewErr = s.Renewed(ctx, from, to, rec.ExpiresAt()) }
				revoke := func() { revokeErr = s.Revoke(ctx, from, rec.ExpiresAt()) }
				switch order {
				case "renewal first":
					renew()
					revoke()
				case "logout first":
					revoke()
					renew()
				default:
					g.arm(2)
					var wg sync.WaitGroup
					wg.Go(renew)
					wg.Go(revoke)
					wg.Wait()
				}
				if revokeErr != nil {
					t.Fatalf("round %d: the logout failed: %v", i, revokeErr)
				}
				var moved *driver.RenewedError
				if renewErr != nil && (!errors.Is(renewErr, driver.ErrNotFound) || errors.As(renewErr, &moved)) {
					t.Fatalf("round %d: the renewal failed with %v; want driver.ErrNotFound (revoked first)", i, renewErr)
				}
				won[renewErr == nil]++
				if renewErr == nil {
					wantRefused(t, s, fmt.Sprintf("round %d: the replaced cookie", i), old, t0, driver.ReasonRenewed)
					wantRefused(t, s, fmt.Sprintf("round %d: the renewed cookie", i), renewed, t0, driver.ReasonNotFound)
				} else {
					wantRefused(t, s, fmt.Sprintf("round %d: the logged-out cookie", i), old, t0, driver.ReasonNotFound)
				}
			}
			switch order {
			case "renewal first":
				if won[true] != 1 {
					t.Error("the renewal that came first failed")
				}
			case "logout first":
				if won[false] != 1 {
					t.Error("the renewal after the logout succeeded")
				}
			default:
				t.Logf("renewal recorded first in %d rounds, logout in %d", won[true], won[false])
			}
		})
	}
}

// TestRenewedRacesRenewed: two renewals of one session at once. One wins;
// the other gets a *driver.RenewedError naming the winner, so the session
// never forks into two live ones, and a logout afterwards ends the winner.
func TestRenewedRacesRenewed(t *testing.T) {
	ctx := context.Background()
	s, g := newGatedStore(t)
	for i := range raceRounds {
		from := hashOf(fmt.Sprint(i, "from"))
		to := [2]driver.Hash{hashOf(fmt.Sprint(i, "to0")), hashOf(fmt.Sprint(i, "to1"))}
		rec := sampleRecord()
		cookies := [2]string{mustSeal(t, s, to[0], rec, t0), mustSeal(t, s, to[1], rec, t0)}
		var errs [2]error
		g.arm(2)
		var wg sync.WaitGroup
		for j := range 2 {
			wg.Go(func() { errs[j] = s.Renewed(ctx, from, to[j], rec.ExpiresAt()) })
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: renewals gave %v and %v; want one to win", i, errs[0], errs[1])
		}
		win := 0
		if errs[0] != nil {
			win = 1
		}
		var moved *driver.RenewedError
		if !errors.As(errs[1-win], &moved) || moved.To != to[win] {
			t.Fatalf("round %d: the losing renewal: %v; want a *driver.RenewedError to %s", i, errs[1-win], to[win].Handle())
		}
		wantRefused(t, s, "the winner before the logout", cookies[win], t0, "")
		if err := s.Revoke(ctx, from, rec.ExpiresAt()); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, s, "the winner after a logout of the session it replaced", cookies[win], t0, driver.ReasonNotFound)
	}
}

// TestLogoutRacesRenewal: through the Manager, a renewal and a logout of
// the same session sent with the same cookie, many times, in both orders
// and at once. After the logout answered 200, neither the cookie both
// requests carried nor the cookie the renewal sent (if it sent one) is
// accepted.
//
//   - "at once": both requests opened the session before either commits.
//   - "renewal first": the logout is sent with the old cookie after the
//     renewal answered (a browser that sent it before the answer came).
//   - "logout first": the renewal is sent with the old cookie after the
//     logout answered.
func TestLogoutRacesRenewal(t *testing.T) {
	for _, order := range []string{"at once", "renewal first", "logout first"} {
		t.Run(order, func(t *testing.T) {
			hs := newHarness(t, harnessOptions{})
			var opened sync.WaitGroup
			var gate chan struct{}
			mux := http.NewServeMux()
			mux.HandleFunc("POST /gated", func(w http.ResponseWriter, r *http.Request) {
				s, err := latch.FromContext(r.Context())
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				opened.Done()
				<-gate
				if r.FormValue("do") == "logout" {
					err = s.Logout()
				} else {
					err = s.Renew()
				}
				if err != nil {
					http.Error(w, err.Error(), http.StatusServiceUnavailable)
				}
			})
			mux.Handle("/", testApp())
			hs.h = hs.m.Handler(mux)
			rounds := raceRounds
			if order != "at once" {
				rounds = 20
			}
			won := map[bool]int{}
			for i := range rounds {
				b := hs.mustLogin("alice", false)
				old := b.cookie
				var renewal, logout response
				send := func(do string, res *response) {
					*res = hs.do("POST", "/gated?do="+do, old)
				}
				gate = make(chan struct{})
				switch order {
				case "at once":
					opened.Add(2)
					var wg sync.WaitGroup
					wg.Go(func() { send("renew", &renewal) })
					wg.Go(func() { send("logout", &logout) })
					opened.Wait() // both have opened the session: let them commit
					close(gate)
					wg.Wait()
				case "renewal first":
					close(gate)
					opened.Add(2)
					send("renew", &renewal)
					send("logout", &logout)
				default:
					close(gate)
					opened.Add(2)
					send("logout", &logout)
					send("renew", &renewal)
				}
				if logout.code != http.StatusOK || !logout.expired {
					t.Fatalf("round %d: logout: %d %q, Set-Cookie %q", i, logout.code, logout.body, logout.setCookie)
				}
				won[renewal.cookie != ""]++
				if renewal.cookie != "" {
					wantBody(t, fmt.Sprintf("round %d: the renewal's cookie", i), hs.do("GET", "/whoami", renewal.cookie), "user= ended=not-found")
				}
				res := hs.do("GET", "/whoami", old)
				if b := res.body; res.code != http.StatusOK || (b != "user= ended=not-found" && b != "user= ended=renewed") {
					t.Errorf("round %d: the old cookie: %d %q; want it refused", i, res.code, b)
				}
			}
			switch {
			case order == "renewal first" && won[true] != rounds:
				t.Errorf("the renewal sent no cookie in %d rounds", won[false])
			case order == "logout first" && won[true] != 0:
				t.Errorf("a renewal of a logged-out session sent a cookie in %d rounds", won[true])
			}
			t.Logf("the renewal sent a cookie in %d rounds, none in %d", won[true], won[false])
		})
	}
}
