package cookiestore_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
)

// holder runs held requests on a cookie-session harness: a request to
// /hold/{op}?id=N opens its session, signals, and waits to be released
// before doing op; every other path goes to testApp.
type holder struct {
	hs   *harness
	mu   sync.Mutex
	held map[string]*held
	n    int
}

type held struct {
	loaded, release chan struct{}
	done            chan response
}

func newHolder(hs *harness) *holder {
	h := &holder{hs: hs, held: map[string]*held{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/hold/{op}", h.serve)
	mux.Handle("/", testApp())
	hs.h = hs.m.Handler(mux)
	return h
}

// start sends a held request for op carrying cookie and returns once its
// session is open.
func (h *holder) start(op, query, cookie string) *held {
	h.mu.Lock()
	h.n++
	id := fmt.Sprint(h.n)
	x := &held{loaded: make(chan struct{}), release: make(chan struct{}), done: make(chan response, 1)}
	h.held[id] = x
	h.mu.Unlock()
	go func() { x.done <- h.hs.do("POST", "/hold/"+op+"?id="+id+"&"+query, cookie) }()
	select {
	case <-x.loaded:
	case r := <-x.done:
		x.done <- r
	}
	return x
}

func (x *held) finish() response {
	close(x.release)
	return <-x.done
}

func (h *holder) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	x := h.held[r.FormValue("id")]
	h.mu.Unlock()
	s, err := latch.FromContext(r.Context())
	if err != nil || x == nil {
		http.Error(w, "no session or no such held request", http.StatusInternalServerError)
		return
	}
	close(x.loaded)
	<-x.release
	switch r.PathValue("op") {
	case "reauth":
		err = s.Reauthenticate()
	case "promote":
		s.Set("role", "admin")
		err = s.Renew()
	case "renew":
		err = s.Renew()
	case "set":
		s.Set(r.FormValue("k"), r.FormValue("v"))
	case "revoke-others":
		_, err = s.RevokeOthers()
	case "touch":
	}
	switch {
	case errors.Is(err, driver.ErrNotFound):
		http.Error(w, err.Error(), http.StatusConflict)
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		fmt.Fprintf(w, "user=%s", s.UserID())
	}
}

// TestAttackCookieStepUpNotCredited: an attacker holding a copy of
// alice's cookie renews it while alice's own request re-authenticates, or
// grants a privilege and renews. In cookie mode the second renewal of one
// session fails (the revocation store lets one win), so the attacker's
// renewed cookie keeps the old authentication time and no privilege, and
// alice's request answers an error instead of a success it did not get.
func TestAttackCookieStepUpNotCredited(t *testing.T) {
	for _, op := range []string{"reauth", "promote"} {
		t.Run(op, func(t *testing.T) {
			hs := newHarness(t, harnessOptions{})
			h := newHolder(hs)
			alice := hs.mustLogin("alice", false)
			authAt := hs.clock.Now()
			hs.clock.Advance(10 * time.Minute)
			victim := h.start(op, "", alice.cookie)
			stolen := hs.do("POST", "/renew", alice.cookie)
			if stolen.cookie == "" {
				t.Fatalf("the attacker's renewal: %d %q", stolen.code, stolen.body)
			}
			v := victim.finish()
			if v.code == http.StatusOK {
				t.Errorf("alice's %s racing the attacker's renewal: %d %q; want it refused", op, v.code, v.body)
			}
			if v.cookie != "" {
				// The failed request still commits its touch (and the
				// role it set) under the replaced ID: a dead cookie, as
				// the package doc says of late commits.
				wantBody(t, "the cookie alice's failed request sealed", hs.do("GET", "/whoami", v.cookie), "user= ended=renewed")
			}
			o, err := hs.open(stolen.cookie)
			if err != nil || o.Record == nil {
				t.Fatalf("the attacker's cookie: %+v, %v", o, err)
			}
			if !o.Record.AuthTime.Equal(authAt) {
				t.Errorf("the attacker's cookie carries AuthTime %v; want alice's login time %v", o.Record.AuthTime, authAt)
			}
			if _, ok := o.Record.Values["role"]; ok {
				t.Errorf("the attacker's cookie holds the role granted on alice's request")
			}
		})
	}
}
