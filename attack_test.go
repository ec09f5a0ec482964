package latch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
)

// The attacks below drive the Manager with requests whose order is forced:
// a "held" request loads its session, then waits in its handler until the
// test releases it, so that another request (an attacker holding a copy of
// the cookie, or another tab) runs entirely in between. Each checks what a
// request that started before a renewal, a login or a logout can still do.

// holder routes /hold/{op}?id=N to a handler that signals when the session
// is loaded and waits to be released before doing op; everything else
// goes to testApp.
type holder struct {
	hs   *harness
	mu   sync.Mutex
	held map[string]*held
	n    int
}

// held is one held request.
type held struct {
	loaded, release chan struct{}
	done            chan resp
}

func newHolder(hs *harness) *holder {
	h := &holder{hs: hs, held: map[string]*held{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/hold/{op}", h.serve)
	mux.Handle("/", testApp(hs.m))
	hs.h = hs.m.Handler(mux)
	return h
}

// start sends a held request for op (with query, "" or "k=v&...") carrying
// token from remote ("" for the default address), and returns once its
// session is loaded.
func (h *holder) start(op, query, token, remote string) *held {
	h.mu.Lock()
	h.n++
	id := fmt.Sprint(h.n)
	x := &held{loaded: make(chan struct{}), release: make(chan struct{}), done: make(chan resp, 1)}
	h.held[id] = x
	h.mu.Unlock()
	req := httptest.NewRequest("POST", "/hold/"+op+"?id="+id+"&"+query, nil)
	if remote != "" {
		req.RemoteAddr = remote
	}
	go func() { x.done <- h.hs.doReq(req, token) }()
	select {
	case <-x.loaded:
	case r := <-x.done:
		x.done <- r // the request never reached the handler
	}
	return x
}

// finish releases the held request and returns its response.
func (x *held) finish() resp {
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
	case "promote": // a privilege change, renewed as Mitigation 4 says
		s.Set("role", "admin")
		err = s.Renew()
	case "login":
		err = s.Login(r.FormValue("u"), latch.Remember(r.FormValue("remember") == "on"))
	case "renew":
		err = s.Renew()
	case "set":
		s.Set(r.FormValue("k"), r.FormValue("v"))
	case "clear":
		s.Clear()
	case "logout":
		err = s.Logout()
	case "revoke-others":
		_, err = s.RevokeOthers()
	case "touch":
	}
	switch {
	case errors.Is(err, latch.ErrNotFound):
		http.Error(w, err.Error(), http.StatusConflict)
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		fmt.Fprintf(w, "user=%s", s.UserID())
	}
}

// me returns the user a token is logged in as, or "".
func (hs *harness) me(tok string) string {
	if tok == "" {
		return ""
	}
	r := hs.do("GET", "/me", tok)
	if r.code != http.StatusOK {
		return ""
	}
	return r.body
}

// TestAttackFixationThroughForward: an attacker plants an anonymous
// session in the victim's browser and keeps a copy of its cookie. Requests
// the attacker started before the victim's login (so they loaded the
// anonymous session while it was live) commit after it: a write, a touch,
// a Clear, a Renew and a login as the attacker. None of them may reach the
// victim's logged-in session (values, user, deadlines), none may hand the
// attacker a cookie for it, and the planted cookie stays logged out.
func TestAttackFixationThroughForward(t *testing.T) {
	for _, op := range []struct{ op, query string }{
		{"set", "k=role&v=admin"},
		{"set", "k=next&v=https://evil.example/"},
		{"clear", ""},
		{"touch", ""},
		{"renew", ""},
		{"login", "u=mallory"},
		{"login", "u=mallory&remember=on"},
	} {
		t.Run(op.op+" "+op.query, func(t *testing.T) {
			hs := newHarness(t, latch.Config{})
			h := newHolder(hs)
			planted := hs.do("POST", "/set?k=cart&v=3", "").token()
			if planted == "" {
				t.Fatal("no anonymous session")
			}
			hs.clock.Advance(4 * time.Minute) // past the touch interval: a touch writes
			attack := h.start(op.op, op.query, planted, "203.0.113.9:4444")
			victim := hs.do("POST", "/login?u=alice", planted).token()
			if victim == "" {
				t.Fatal("the victim's login issued no cookie")
			}
			before := statusOf(t, hs, victim)
			got := attack.finish()
			if tok := got.token(); tok != "" {
				if u := hs.me(tok); u == "alice" {
					t.Fatalf("the attacker's request got a cookie for the victim's session")
				}
				if r := hs.do("GET", "/get?k=cart", tok); r.body == "3" && op.op == "login" {
					// The attacker's login starts from the attacker's own
					// view of the anonymous values: that is a login, not a
					// leak (the values were the attacker's).
					t.Logf("the attacker's fresh session carries its own pre-login values")
				}
			}
			if got.code == http.StatusOK && len(got.cookies) == 1 && strings.Contains(got.cookies[0], "Max-Age=0") {
				t.Logf("the attacker's request cleared its own cookie: %q", got.cookies[0])
			}
			if u := hs.me(victim); u != "alice" {
				t.Fatalf("the victim's session after the attacker's %s: user %q; want alice", op.op, u)
			}
			for _, k := range []string{"role", "next"} {
				if r := hs.do("GET", "/get?k="+k, victim); r.body != "" {
					t.Errorf("the attacker's %s wrote %s=%q into the victim's session", op.op, k, r.body)
				}
			}
			if r := hs.do("GET", "/get?k=cart", victim); r.body != "3" {
				t.Errorf("the victim's session lost its pre-login value cart: %q", r.body)
			}
			if after := statusOf(t, hs, victim); after.IdleExpiresAt.After(before.IdleExpiresAt) || after.IdleTimeout != before.IdleTimeout {
				t.Errorf("the attacker's %s changed the victim's session: %+v -> %+v", op.op, before, after)
			}
			if u := hs.me(planted); u != "" {
				t.Errorf("the planted cookie is logged in as %q", u)
			}
		})
	}
}

// statusOf reads the session's status through the status handler without
// touching it (the status handler does not extend the session).
func statusOf(t *testing.T, hs *harness, tok string) latch.Status {
	t.Helper()
	r := hs.do("GET", "/status", tok)
	var st latch.Status
	if err := json.Unmarshal([]byte(r.body), &st); err != nil {
		t.Fatalf("status: %d %q: %v", r.code, r.body, err)
	}
	return st
}

// TestAttackFixationLogoutIsDoSOnly: the attacker who planted the
// anonymous cookie sends a logout with it after the victim logged in. By
// design (Session.Logout) that ends the victim's renewed session: the
// attacker can sign the victim out, and nothing more. The attacker gets no
// cookie for the victim's session, and the power lasts only as long as the
// planted session could have lived (its forward's lifetime): after that,
// the planted cookie reaches nothing.
func TestAttackFixationLogoutIsDoSOnly(t *testing.T) {
	t.Run("within the planted session's lifetime", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		planted := hs.do("POST", "/set?k=cart&v=3", "").token()
		victim := hs.do("POST", "/login?u=alice&remember=on", planted).token()
		r := hs.do("POST", "/logout", planted)
		if r.token() != "" {
			t.Fatalf("the attacker's logout handed out a cookie")
		}
		if u := hs.me(victim); u != "" {
			t.Fatalf("a logout with the planted cookie left the victim logged in as %q (Session.Logout says it ends the renewed session)", u)
		}
		if hs.events.Count(latch.EventLogout, "") != 1 {
			t.Errorf("no logout event for the ended session")
		}
	})
	t.Run("after the planted session's lifetime", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		planted := hs.do("POST", "/set?k=cart&v=3", "").token()
		victim := hs.do("POST", "/login?u=alice&remember=on", planted).token()
		// The planted session would have ended 30 minutes (idle) and 5
		// (grace) after its last use; the victim stays active meanwhile.
		for range 8 {
			hs.clock.Advance(5 * time.Minute)
			if u := hs.me(victim); u != "alice" {
				t.Fatalf("the victim's session ended: %q", u)
			}
		}
		if r := hs.do("POST", "/logout", planted); r.token() != "" {
			t.Fatalf("the attacker's logout handed out a cookie")
		}
		if u := hs.me(victim); u != "alice" {
			t.Fatalf("the planted cookie ended the victim's session %v after the login; its forward should have expired", 40*time.Minute)
		}
	})
}

// TestAttackLoginAsOtherUserRacesWrite: on a browser where alice is
// logged in, a request of alice's is in flight (it loaded her session)
// while bob logs in on the same browser. Whichever commits first, alice's
// write never lands in bob's session, bob's login is not undone, and the
// browser's cookie is not cleared.
func TestAttackLoginAsOtherUserRacesWrite(t *testing.T) {
	t.Run("alice's write commits after bob's login", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		h := newHolder(hs)
		alice := hs.login("alice")
		hs.do("POST", "/set?k=secret&v=alice-data", alice)
		w := h.start("set", "k=secret2&v=alice-more", alice, "")
		bob := hs.do("POST", "/login?u=bob", alice).token()
		got := w.finish()
		if got.token() != "" || len(got.cookies) != 0 {
			t.Errorf("alice's late write sent Set-Cookie %q; want none", got.cookies)
		}
		if u := hs.me(bob); u != "bob" {
			t.Fatalf("bob's session: %q", u)
		}
		for _, k := range []string{"secret", "secret2"} {
			if r := hs.do("GET", "/get?k="+k, bob); r.body != "" {
				t.Errorf("bob's session holds alice's %s=%q", k, r.body)
			}
		}
		if hs.events.Count(latch.EventRevoked, "") == 0 {
			t.Errorf("the dropped write emitted no event")
		}
	})
	t.Run("bob's login commits after alice's session was renewed", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		h := newHolder(hs)
		alice := hs.login("alice")
		hs.do("POST", "/set?k=secret&v=alice-data", alice)
		l := h.start("login", "u=bob", alice, "")
		renewed := hs.do("POST", "/renew", alice).token()
		got := l.finish()
		bob := got.token()
		if got.code != http.StatusOK || bob == "" {
			t.Fatalf("bob's login racing alice's renewal: %d %q cookies %q", got.code, got.body, got.cookies)
		}
		if u := hs.me(bob); u != "bob" {
			t.Fatalf("bob's cookie: %q", u)
		}
		if r := hs.do("GET", "/get?k=secret", bob); r.body != "" {
			t.Errorf("bob's fresh session holds alice's secret %q", r.body)
		}
		if u := hs.me(renewed); u != "alice" {
			t.Errorf("alice's renewed session: %q", u)
		}
	})
}

// TestAttackRememberRefreshAfterFollow: a remember-me session's idle
// refresh (which re-sends the persistent cookie) races a renewal. The
// refresh follows the forward and lands on the renewed session; it must
// send no cookie at all, neither an empty one nor the dead token.
func TestAttackRememberRefreshAfterFollow(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	h := newHolder(hs)
	tok := hs.do("POST", "/login?u=alice&remember=on", "").token()
	hs.clock.Advance(4 * time.Minute) // past the touch interval
	touch := h.start("touch", "", tok, "")
	renewed := hs.do("POST", "/renew", tok)
	got := touch.finish()
	if len(got.cookies) != 0 {
		t.Fatalf("the refresh that followed a renewal sent Set-Cookie %q; want none", got.cookies)
	}
	if u := hs.me(renewed.token()); u != "alice" {
		t.Fatalf("the renewed cookie: %q", u)
	}
	if st := statusOf(t, hs, renewed.token()); st.IdleTimeout != int64(latch.DefaultRememberIdleTimeout/time.Second) {
		t.Errorf("the renewed session lost remember-me: %+v", st)
	}
}

// TestAttackEvictionRacesRenew: with MaxSessionsPerUser, a login on a new
// device evicts the user's oldest session while that session's own request
// renews it. Whichever runs first, the oldest session is gone under its
// old and its new cookie, the renewal hands out no live cookie, and the
// user has exactly the limit.
func TestAttackEvictionRacesRenew(t *testing.T) {
	for _, order := range []string{"eviction first", "renewal first"} {
		t.Run(order, func(t *testing.T) {
			hs := newHarness(t, latch.Config{MaxSessionsPerUser: 2})
			h := newHolder(hs)
			oldest := hs.login("alice")
			hs.clock.Advance(time.Second)
			second := hs.login("alice")
			hs.clock.Advance(time.Second)
			var renewed resp
			var third string
			if order == "eviction first" {
				r := h.start("renew", "", oldest, "")
				third = hs.login("alice")
				renewed = r.finish()
			} else {
				renewed = hs.do("POST", "/renew", oldest)
				third = hs.login("alice")
			}
			if u := hs.me(renewed.token()); u != "" {
				t.Errorf("the evicted session's renewal left a live cookie (%q)", u)
			}
			if u := hs.me(oldest); u != "" {
				t.Errorf("the evicted session's old cookie: %q", u)
			}
			for name, tok := range map[string]string{"second": second, "third": third} {
				if u := hs.me(tok); u != "alice" {
					t.Errorf("the %s session: %q", name, u)
				}
			}
			list, err := hs.m.Sessions(context.Background(), "alice", nil)
			if err != nil || len(list) != 2 {
				t.Errorf("Sessions: %d, %v; want 2", len(list), err)
			}
		})
	}
}

// faultStore wraps a store and makes one chosen call fail, in one of
// several ways, counting calls of every method.
type faultStore struct {
	driver.Store
	calls atomic.Int64
	at    int64 // the call that fails, 1-based; 0 for none
	kind  string
}

func (f *faultStore) fault() error {
	n := f.calls.Add(1)
	if n != f.at {
		return nil
	}
	switch f.kind {
	case "error":
		return errDown
	case "renewed-to-zero":
		return &driver.RenewedError{}
	case "renewed-to-garbage":
		return &driver.RenewedError{To: driver.Hash{0xde, 0xad}}
	case "not-found":
		return driver.ErrNotFound
	case "canceled":
		return context.Canceled
	}
	return nil
}

func (f *faultStore) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	if err := f.fault(); err != nil {
		return nil, err
	}
	return f.Store.Load(ctx, id)
}

func (f *faultStore) Commit(ctx context.Context, c *driver.Commit) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Store.Commit(ctx, c)
}

func (f *faultStore) Delete(ctx context.Context, id driver.Hash) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Store.Delete(ctx, id)
}

func (f *faultStore) ListUser(ctx context.Context, user string) ([]driver.Info, error) {
	if err := f.fault(); err != nil {
		return nil, err
	}
	return f.Store.ListUser(ctx, user)
}

func (f *faultStore) DeleteUser(ctx context.Context, user string, keep driver.Hash) (int, error) {
	if err := f.fault(); err != nil {
		return 0, err
	}
	return f.Store.DeleteUser(ctx, user, keep)
}

// loopStore answers every Load and update with a forward to the hash it
// was asked about, or to a second hash that forwards back: a store whose
// forwards loop.
type loopStore struct {
	driver.Store
	other driver.Hash
}

func (l *loopStore) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	if id == l.other {
		return nil, &driver.RenewedError{To: id}
	}
	return l.Store.Load(ctx, id)
}

func (l *loopStore) Commit(ctx context.Context, c *driver.Commit) error {
	if !c.Create && c.From.IsZero() {
		return &driver.RenewedError{To: l.other}
	}
	return l.Store.Commit(ctx, c)
}

// TestAttackStoreFaults makes each store call of a scenario fail in turn,
// in each way a broken or hostile store could: an error, a cancelled
// context, a RenewedError naming the zero hash or a hash that holds
// nothing, a plain ErrNotFound. Whatever fails, the Manager never panics;
// a request that fails answers 503 or the handler's own error with no
// session cookie; and every session cookie that a response hands out
// names a stored session (checked once the store is healed).
func TestAttackStoreFaults(t *testing.T) {
	scenarios := []struct {
		name string
		// run drives the scenario from a logged-in token and returns
		// the responses to check.
		run func(hs *harness, h *holder, tok string) []resp
	}{
		{"login", func(hs *harness, h *holder, tok string) []resp {
			return []resp{hs.do("POST", "/login?u=bob", tok)}
		}},
		{"set", func(hs *harness, h *holder, tok string) []resp {
			return []resp{hs.do("POST", "/set?k=a&v=b", tok)}
		}},
		{"renew", func(hs *harness, h *holder, tok string) []resp {
			return []resp{hs.do("POST", "/renew", tok)}
		}},
		{"logout", func(hs *harness, h *holder, tok string) []resp {
			return []resp{hs.do("POST", "/logout", tok)}
		}},
		{"revoke-others", func(hs *harness, h *holder, tok string) []resp {
			return []resp{hs.do("POST", "/revoke-others", tok)}
		}},
		{"write racing a renewal", func(hs *harness, h *holder, tok string) []resp {
			w := h.start("set", "k=a&v=b", tok, "")
			r := hs.do("POST", "/renew", tok)
			return []resp{r, w.finish()}
		}},
		{"reauthenticate racing a renewal", func(hs *harness, h *holder, tok string) []resp {
			w := h.start("reauth", "", tok, "")
			r := hs.do("POST", "/renew", tok)
			return []resp{r, w.finish()}
		}},
		{"login racing a renewal", func(hs *harness, h *holder, tok string) []resp {
			w := h.start("login", "u=bob", tok, "")
			r := hs.do("POST", "/renew", tok)
			return []resp{r, w.finish()}
		}},
		{"logout with a renewed cookie", func(hs *harness, h *holder, tok string) []resp {
			hs.do("POST", "/renew", tok) // its cookie is ended by the logout, by design
			return []resp{hs.do("POST", "/logout", tok)}
		}},
	}
	kinds := []string{"error", "canceled", "renewed-to-zero", "renewed-to-garbage", "not-found"}
	for _, sc := range scenarios {
		for _, kind := range kinds {
			t.Run(sc.name+"/"+kind, func(t *testing.T) {
				for at := int64(1); ; at++ {
					hs := newHarness(t, latch.Config{})
					f := &faultStore{Store: hs.store.Store, kind: kind}
					hs.store.Store = f
					h := newHolder(hs)
					tok := hs.login("alice")
					f.calls.Store(0)
					f.at = at
					var out []resp
					func() {
						defer func() {
							if p := recover(); p != nil {
								t.Fatalf("call %d fails (%s): panic %v", at, kind, p)
							}
						}()
						out = sc.run(hs, h, tok)
					}()
					total := f.calls.Load()
					f.at = 0
					for i, r := range out {
						tok := r.token()
						if tok == "" {
							continue
						}
						if r.code >= 500 {
							t.Errorf("call %d fails (%s): response %d answered %d with a session cookie", at, kind, i, r.code)
						}
						var st latch.Status
						sr := hs.do("GET", "/status", tok)
						if err := json.Unmarshal([]byte(sr.body), &st); err != nil || st.Ended != "" || st.IdleTimeout == 0 {
							t.Errorf("call %d fails (%s): response %d (%d) handed out a cookie that names no stored session: status %d %q", at, kind, i, r.code, sr.code, sr.body)
						}
					}
					if at > total {
						break
					}
				}
			})
		}
	}
	t.Run("forwards that loop", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		tok := hs.login("alice")
		hs.store.Store = &loopStore{Store: hs.store.Store, other: driver.Hash{1}}
		r := hs.do("POST", "/set?k=a&v=b", tok)
		if r.code != http.StatusServiceUnavailable || len(r.cookies) != 0 {
			t.Fatalf("a commit into looping forwards: %d %q; want 503 and no cookie", r.code, r.cookies)
		}
		if hs.events.Count(latch.EventStoreError, "") == 0 {
			t.Errorf("no store-error event")
		}
	})
}
