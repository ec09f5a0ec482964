package cookiestore_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/driver"
)

// The tests in this file drive a Manager on a cookie store through HTTP,
// and check the same promises the server-side stores keep.

func TestTimeouts(t *testing.T) {
	cfg := latch.Config{
		IdleTimeout:             30 * time.Minute,
		AbsoluteTimeout:         2 * time.Hour,
		RememberIdleTimeout:     7 * 24 * time.Hour,
		RememberAbsoluteTimeout: 30 * 24 * time.Hour,
	}
	const alive = "user=alice ended="
	type step struct {
		advance time.Duration
		want    string
	}
	tests := []struct {
		name     string
		remember bool
		steps    []step
	}{
		{"idle: activity keeps the session", false, []step{
			{29 * time.Minute, alive}, {29 * time.Minute, alive}, {29 * time.Minute, alive},
		}},
		{"idle: ends after the idle timeout", false, []step{
			{10 * time.Minute, alive}, {30 * time.Minute, "user= ended=idle"},
		}},
		{"absolute: ends whatever the activity", false, []step{
			{25 * time.Minute, alive}, {25 * time.Minute, alive}, {25 * time.Minute, alive},
			{25 * time.Minute, alive}, {19 * time.Minute, alive}, {time.Minute, "user= ended=absolute"},
		}},
		{"long after the deadline the cookie is simply refused", false, []step{
			{31*time.Minute + 5*time.Minute, "user= ended=not-found"},
		}},
		{"remember-me: outlives the normal idle timeout", true, []step{
			{6 * 24 * time.Hour, alive}, {6 * 24 * time.Hour, alive},
		}},
		{"remember-me: ends after its own idle timeout", true, []step{
			{7*24*time.Hour + time.Second, "user= ended=idle"},
		}},
		{"remember-me: ends at its absolute timeout", true, []step{
			{6 * 24 * time.Hour, alive}, {6 * 24 * time.Hour, alive}, {6 * 24 * time.Hour, alive},
			{6 * 24 * time.Hour, alive}, {6*24*time.Hour - time.Second, alive}, {time.Second, "user= ended=absolute"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, harnessOptions{cfg: cfg})
			b := hs.mustLogin("alice", tt.remember)
			for i, st := range tt.steps {
				hs.clock.Advance(st.advance)
				if got := b.whoami(); got != st.want {
					t.Fatalf("step %d (+%v): %q; want %q", i, st.advance, got, st.want)
				}
			}
		})
	}
}

func TestRememberMeCookieIsPersistent(t *testing.T) {
	hs := newHarness(t, harnessOptions{})
	for _, remember := range []bool{false, true} {
		b := &browser{hs: hs}
		target := "/login?user=alice"
		if remember {
			target += "&remember=1"
		}
		res := b.do("POST", target)
		if len(res.setCookie) != 1 {
			t.Fatalf("remember=%v: Set-Cookie %q", remember, res.setCookie)
		}
		persistent := strings.Contains(res.setCookie[0], "Max-Age=")
		if persistent != remember {
			t.Errorf("remember=%v: Set-Cookie %q", remember, res.setCookie[0])
		}
	}
}

func TestLoginRenews(t *testing.T) {
	hs := newHarness(t, harnessOptions{})
	b := &browser{hs: hs}
	b.do("POST", "/setn?k=cart&n=3")
	anon := b.cookie
	o0, err := hs.open(anon)
	if o0.Refused != "" || err != nil || o0.Record.UserID != "" {
		t.Fatalf("anonymous cookie: %+v %v", o0, err)
	}

	hs.clock.Advance(time.Second)
	wantBody(t, "login", b.do("POST", "/login?user=alice"), "ok")
	o1, err := hs.open(b.cookie)
	if o1.Refused != "" || err != nil {
		t.Fatalf("login cookie: %q %v", o1.Refused, err)
	}
	if o1.ID == o0.ID {
		t.Error("login kept the session hash")
	}
	if rec := o1.Record; rec.UserID != "alice" || !rec.AuthTime.Equal(hs.clock.Now()) {
		t.Errorf("login cookie: user %q auth %v", rec.UserID, rec.AuthTime)
	}
	if !o1.Record.Created.Equal(o0.Record.Created) {
		t.Errorf("login changed Created from %v to %v", o0.Record.Created, o1.Record.Created)
	}
	wantBody(t, "value carried over", b.do("GET", "/get?k=cart"), "json.Number 3")

	// The pre-login cookie is refused: whoever planted or kept it gets
	// neither the login nor the anonymous session's values.
	wantBody(t, "pre-login cookie", hs.do("GET", "/whoami", anon), "user= ended=renewed")

	// Renew gives yet another hash and keeps the user.
	wantBody(t, "renew", b.do("POST", "/renew"), "ok")
	o2, _ := hs.open(b.cookie)
	if o2.ID == o1.ID || o2.ID.IsZero() {
		t.Error("renew kept the session hash")
	}
	if got := b.whoami(); got != "user=alice ended=" {
		t.Errorf("after renew: %q", got)
	}
	if n := hs.events.Count(latch.EventRenewed, ""); n != 2 {
		t.Errorf("%d renewed events; want 2 (login and renew)", n)
	}
}

// TestRenewalRefusesPreviousCookie: the cookie that a renewal replaced is
// refused from then on, so a copy captured before a demotion does not keep
// the old privileges (issue 12, item 4). Every copy of the old session is
// refused, also one sealed again after it was captured.
func TestRenewalRefusesPreviousCookie(t *testing.T) {
	tests := []struct {
		name    string
		user    string // logged in before the renewal, "" for anonymous
		renewal string
		after   string // whoami with the new cookie
	}{
		{"login from anonymous", "", "/login?user=alice", "user=alice ended="},
		{"login as another user", "alice", "/login?user=bob", "user=bob ended="},
		{"login again as the same user", "alice", "/login?user=alice", "user=alice ended="},
		{"renew", "alice", "/renew", "user=alice ended="},
		{"reauthenticate", "alice", "/reauth", "user=alice ended="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, harnessOptions{})
			b := &browser{hs: hs}
			if tt.user != "" {
				b = hs.mustLogin(tt.user, false)
			}
			wantBody(t, "grant", b.do("POST", "/set?k=role&v=admin"), "ok")
			captured := b.cookie
			hs.clock.Advance(time.Minute)
			// Demote, then renew: the demotion is sealed under the old ID
			// first, so that two copies of the old session exist.
			wantBody(t, "demote", b.do("POST", "/set?k=role&v=user"), "ok")
			demoted := b.cookie
			wantBody(t, "renewal", b.do("POST", tt.renewal), "ok")
			if b.cookie == demoted {
				t.Fatal("the renewal sent no new cookie")
			}
			// Refused as renewed, and left alone: the browser most likely
			// holds the new cookie already.
			for what, v := range map[string]string{"copy captured before the demotion": captured, "copy sealed at the demotion": demoted} {
				if res := hs.do("GET", "/get?k=role", v); res.code != http.StatusNotFound || res.expired || res.cookie != "" {
					t.Errorf("%s: %d %q, Set-Cookie %q; want refused and left alone", what, res.code, res.body, res.setCookie)
				}
				wantBody(t, what, hs.do("GET", "/whoami", v), "user= ended=renewed")
			}
			if got := b.whoami(); got != tt.after {
				t.Errorf("new cookie: %q; want %q", got, tt.after)
			}
			if tt.renewal != "/login?user=bob" {
				wantBody(t, "the demotion with the new cookie", b.do("GET", "/get?k=role"), "string user")
			}
		})
	}
}

// TestPoppedValueCannotBeReplayed: a one-time value popped in the request
// that renews the session cannot be had again by sending the cookie from
// before (issue 12, item 4).
func TestPoppedValueCannotBeReplayed(t *testing.T) {
	hs := newHarness(t, harnessOptions{})
	b := hs.mustLogin("alice", false)
	wantBody(t, "set", b.do("POST", "/set?k=otp&v=123456"), "ok")
	before := b.cookie
	wantBody(t, "pop and renew", b.do("POST", "/renew?pop=otp"), "ok")
	wantBody(t, "pop with the old cookie", hs.do("POST", "/pop?k=otp", before), "<nil> <nil>")
	wantBody(t, "old cookie", hs.do("GET", "/whoami", before), "user= ended=renewed")
	if res := b.do("GET", "/get?k=otp"); res.code != http.StatusNotFound {
		t.Errorf("new cookie: %d %q; want the value gone", res.code, res.body)
	}
}

// TestPopWithoutRenewalCanBeReplayed documents what stateless mode cannot
// do: a value removed without a renewal is still in every older copy of
// the cookie, which the server cannot tell from the newest.
func TestPopWithoutRenewalCanBeReplayed(t *testing.T) {
	hs := newHarness(t, harnessOptions{})
	b := hs.mustLogin("alice", false)
	wantBody(t, "set", b.do("POST", "/set?k=otp&v=123456"), "ok")
	before := b.cookie
	wantBody(t, "pop", b.do("POST", "/pop?k=otp"), "string 123456")
	wantBody(t, "pop again with the older copy", hs.do("POST", "/pop?k=otp", before), "string 123456")
}

func TestLogout(t *testing.T) {
	tests := []struct {
		name string
		wait time.Duration // between login and logout
	}{
		{"a minute after login", time.Minute},
		{"at the same instant as login", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, harnessOptions{})
			b := hs.mustLogin("alice", false)
			stolen := b.cookie
			phone := hs.mustLogin("alice", false)
			bob := hs.mustLogin("bob", false)
			hs.clock.Advance(tt.wait)
			wantBody(t, "set", b.do("POST", "/set?k=theme&v=dark"), "ok") // sealed again, same session

			res := b.do("POST", "/logout")
			wantBody(t, "logout", res, "ok")
			if !res.expired {
				t.Errorf("logout did not clear the cookie: %q", res.setCookie)
			}
			if hs.events.Count(latch.EventLogout, "") != 1 {
				t.Error("no logout event")
			}
			wantBody(t, "replay of the logged-out cookie", hs.do("GET", "/whoami", stolen), "user= ended=not-found")
			if hs.events.Count(latch.EventInvalidToken, driver.ReasonNotFound) == 0 {
				t.Error("no invalid-token event for the replay")
			}
			// Logout ends this session only.
			if got := phone.whoami(); got != "user=alice ended=" {
				t.Errorf("alice's other device: %q", got)
			}
			if got := bob.whoami(); got != "user=bob ended=" {
				t.Errorf("another user: %q", got)
			}
			// A new login after the logout works, even at the same instant.
			if got := hs.mustLogin("alice", false).whoami(); got != "user=alice ended=" {
				t.Errorf("login after logout: %q", got)
			}
		})
	}
}

// TestLateCommit: a request that opened the session before another ended
// it, and commits after.
//
//   - A change after a logout or a renewal is sealed under the ended
//     session, and that cookie is refused (as not found after a logout,
//     as renewed after a renewal).
//   - A change after RevokeUser is sealed after the not-before time, and
//     that cookie is accepted (documented).
//   - A renewal after a logout fails with driver.ErrNotFound: the logout
//     recorded the session as revoked first, so Renewed refuses it, and
//     the request sends no cookie. A login after a logout starts a fresh
//     session instead (the user has just proved who they are).
//   - A logout after a renewal ends the renewed session: Revoke finds
//     where the renewal took the session and revokes it there too.
func TestLateCommit(t *testing.T) {
	const (
		alive    = "user=alice ended="
		notFound = "user= ended=not-found"
		renewed  = "user= ended=renewed"
	)
	tests := []struct {
		name     string
		late     string // what the late request does: "set", "renew", "login" or "logout"
		end      string // the request that ends the session
		other    bool   // end it from another session of the user
		lateCode int    // the late request's answer
		// whoami with each cookie afterwards: "late" is the late
		// request's new cookie, "ender" the one the ending request left,
		// "original" the one both requests were sent with.
		want map[string]string
	}{
		{"change after logout", "set", "/logout", false, http.StatusOK, map[string]string{"late": notFound, "original": notFound}},
		{"change after renew", "set", "/renew", false, http.StatusOK, map[string]string{"late": renewed, "original": renewed, "ender": alive}},
		{"change after revoke others from another device", "set", "/revoke-others", true, http.StatusOK, map[string]string{"late": alive, "ender": alive}},
		{"renewal after logout", "renew", "/logout", false, http.StatusGone, map[string]string{"original": notFound}},
		{"login after logout", "login", "/logout", false, http.StatusOK, map[string]string{"late": alive, "original": notFound}},
		{"logout after renewal", "logout", "/renew", false, http.StatusOK, map[string]string{"ender": notFound, "original": renewed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, harnessOptions{})
			started, release := make(chan struct{}), make(chan struct{})
			mux := http.NewServeMux()
			mux.HandleFunc("POST /slow", func(w http.ResponseWriter, r *http.Request) {
				s, _ := latch.FromContext(r.Context())
				close(started)
				<-release
				var err error
				switch tt.late {
				case "renew":
					err = s.Renew()
				case "login":
					err = s.Login("alice")
				case "logout":
					err = s.Logout()
				default:
					s.Set("late", "yes")
				}
				switch {
				case errors.Is(err, driver.ErrNotFound):
					http.Error(w, err.Error(), http.StatusGone)
				case err != nil:
					http.Error(w, err.Error(), http.StatusServiceUnavailable)
				}
			})
			mux.Handle("/", testApp())
			hs.h = hs.m.Handler(mux)
			b := hs.mustLogin("alice", false)
			original := b.cookie
			ender := b
			if tt.other {
				ender = hs.mustLogin("alice", false)
			}
			done := make(chan response)
			go func() { done <- hs.do("POST", "/slow", original) }()
			<-started
			if res := ender.do("POST", tt.end); res.code != http.StatusOK {
				t.Fatalf("%s: %d %q", tt.end, res.code, res.body)
			}
			close(release)
			late := <-done
			if late.code != tt.lateCode {
				t.Errorf("the late request: %d %q; want %d", late.code, late.body, tt.lateCode)
			}
			if _, ok := tt.want["late"]; ok != (late.cookie != "") {
				t.Errorf("the late request: Set-Cookie %q; want a new cookie: %v", late.setCookie, ok)
			}
			cookies := map[string]string{"late": late.cookie, "ender": ender.cookie, "original": original}
			for _, role := range []string{"late", "ender", "original"} {
				if want, ok := tt.want[role]; ok {
					wantBody(t, role+" cookie", hs.do("GET", "/whoami", cookies[role]), want)
				}
			}
		})
	}
}

func TestRevokeOthers(t *testing.T) {
	tests := []struct {
		name string
		wait time.Duration
	}{
		{"clock moving", time.Minute},
		{"clock standing still", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, harnessOptions{})
			laptop := hs.mustLogin("alice", false)
			phone := hs.mustLogin("alice", true)
			bob := hs.mustLogin("bob", false)
			copyOfLaptop := laptop.cookie
			hs.clock.Advance(tt.wait)

			res := laptop.do("POST", "/revoke-others")
			wantBody(t, "revoke others", res, "-1")
			if res.cookie == "" {
				t.Fatal("the current session was not sealed again")
			}
			if got := laptop.whoami(); got != "user=alice ended=" {
				t.Errorf("current session: %q", got)
			}
			if got := phone.whoami(); got != "user= ended=not-found" {
				t.Errorf("other session: %q", got)
			}
			// A copy of the current session taken before the revocation
			// is ended too: only the freshly sealed cookie survives.
			wantBody(t, "old copy of the current session", hs.do("GET", "/whoami", copyOfLaptop), "user= ended=not-found")
			if got := bob.whoami(); got != "user=bob ended=" {
				t.Errorf("another user: %q", got)
			}
			hs.clock.Advance(tt.wait)
			if got := laptop.whoami(); got != "user=alice ended=" {
				t.Errorf("current session later: %q", got)
			}
		})
	}
}

func TestRevokeUser(t *testing.T) {
	hs := newHarness(t, harnessOptions{})
	a1, a2 := hs.mustLogin("alice", false), hs.mustLogin("alice", true)
	bob := hs.mustLogin("bob", false)
	beforeRenew := a1.cookie
	hs.clock.Advance(time.Minute)
	wantBody(t, "renew", a1.do("POST", "/renew"), "ok")
	wantBody(t, "set", a2.do("POST", "/set?k=theme&v=dark"), "ok")
	n, err := hs.m.RevokeUser(context.Background(), "alice")
	if err != nil || n != -1 {
		t.Fatalf("RevokeUser = %d, %v; want -1, nil", n, err)
	}
	for i, b := range []*browser{a1, a2} {
		if got := b.whoami(); got != "user= ended=not-found" {
			t.Errorf("alice cookie %d: %q", i, got)
		}
	}
	if got := (&browser{hs: hs, cookie: beforeRenew}).whoami(); got != "user= ended=renewed" {
		t.Errorf("alice cookie before the renewal: %q", got)
	}
	if got := bob.whoami(); got != "user=bob ended=" {
		t.Errorf("bob: %q", got)
	}
	if got := hs.mustLogin("alice", false).whoami(); got != "user=alice ended=" {
		t.Errorf("new login: %q", got)
	}
}

func TestSessionListNotSupported(t *testing.T) {
	hs := newHarness(t, harnessOptions{})
	hs.mustLogin("alice", false)
	if _, err := hs.m.Sessions(context.Background(), "alice", nil); !errors.Is(err, driver.ErrNotSupported) {
		t.Errorf("Sessions: %v; want ErrNotSupported", err)
	}
	if err := hs.m.Revoke(context.Background(), "alice", "0011223344556677"); !errors.Is(err, driver.ErrNotSupported) {
		t.Errorf("Revoke: %v; want ErrNotSupported", err)
	}
}

func TestRevocationLookupFailsClosed(t *testing.T) {
	errDown := errors.New("revocation store down")
	var lookups int
	var down bool
	revs := cookiestore.FuncRevocations{
		RevokeFunc:  func(context.Context, driver.Hash, time.Time) error { return nil },
		RenewedFunc: func(context.Context, driver.Hash, driver.Hash, time.Time) error { return nil },
		RevokedFunc: func(context.Context, driver.Hash) (driver.Reason, error) {
			lookups++
			if down {
				return "", errDown
			}
			return "", nil
		},
		RevokeUserFunc: func(context.Context, string, time.Time) error { return nil },
		NotBeforeFunc: func(ctx context.Context, user string) (time.Time, error) {
			lookups++
			if down {
				return time.Time{}, errDown
			}
			return time.Time{}, nil
		},
	}
	hs := newHarness(t, harnessOptions{opts: cookiestore.Options{Revocations: revs}})
	anon := &browser{hs: hs}
	anon.do("POST", "/set?k=theme&v=dark")
	b := hs.mustLogin("alice", false)

	before := lookups
	wantBody(t, "anonymous session", anon.do("GET", "/get?k=theme"), "string dark")
	if lookups != before+1 {
		t.Errorf("an anonymous session cost %d revocation lookups; want 1", lookups-before)
	}
	before = lookups
	if got := b.whoami(); got != "user=alice ended=" || lookups != before+2 {
		t.Errorf("authenticated: %q after %d lookups; want 2", got, lookups-before)
	}

	down = true
	for what, br := range map[string]*browser{"authenticated": b, "anonymous": anon} {
		res := br.do("GET", "/whoami")
		if res.code != http.StatusServiceUnavailable {
			t.Errorf("%s: lookup failure: %d %q; want 503", what, res.code, res.body)
		}
		if len(res.setCookie) != 0 {
			t.Errorf("%s: lookup failure set cookies: %q", what, res.setCookie)
		}
	}
	ev, ok := hs.events.Find(latch.EventStoreError)
	if !ok || !errors.Is(ev.Err, errDown) {
		t.Errorf("store error event: %+v, %v", ev, ok)
	}
	down = false
	if got := b.whoami(); got != "user=alice ended=" {
		t.Errorf("after recovery: %q", got)
	}
}

func TestLogoutWithoutRevocations(t *testing.T) {
	hs := newHarness(t, harnessOptions{noRevoke: true})
	b := hs.mustLogin("alice", false)
	if _, err := hs.m.RevokeUser(context.Background(), "alice"); !errors.Is(err, driver.ErrNotSupported) {
		t.Errorf("RevokeUser without revocations: %v; want ErrNotSupported", err)
	}
	if res := b.do("POST", "/revoke-others"); res.code != http.StatusNotImplemented {
		t.Errorf("RevokeOthers without revocations: %d %q; want the ErrNotSupported answer", res.code, res.body)
	}
	stolen := b.cookie
	// Documented: a renewal works, and the cookie it replaced stays
	// valid until its timeouts.
	wantBody(t, "renew without revocations", b.do("POST", "/renew"), "ok")
	wantBody(t, "cookie from before the renewal", hs.do("GET", "/whoami", stolen), "user=alice ended=")
	res := b.do("POST", "/logout")
	if res.code != http.StatusOK || !res.expired {
		t.Fatalf("logout without revocations: %d %q, cleared %v; want 200 and the cookie cleared", res.code, res.body, res.expired)
	}
	// Documented: a stolen copy stays valid until its timeouts.
	wantBody(t, "stolen copy after logout", hs.do("GET", "/whoami", stolen), "user=alice ended=")
}

func TestOversizeSession(t *testing.T) {
	hs := newHarness(t, harnessOptions{})
	b := hs.mustLogin("alice", false)
	before := b.cookie
	big := strings.Repeat("x", cookiestore.MaxCookieSize)
	res := b.do("POST", "/set?k=doc&v="+big)
	if res.code != http.StatusInternalServerError || !strings.Contains(res.body, "too large") {
		t.Errorf("oversize session: %d %q; want 500 saying the session is too large", res.code, res.body)
	}
	if len(res.setCookie) != 0 {
		t.Errorf("oversize session set cookies: %q", res.setCookie)
	}
	if strings.Contains(res.body, "xxxx") {
		t.Error("the error response holds the session value")
	}
	if b.cookie != before {
		t.Error("the browser's cookie changed")
	}
	if strings.Contains(hs.logs.String(), "xxxx") {
		t.Error("the logs hold the session value")
	}
	// The session goes on as it was.
	if got := b.whoami(); got != "user=alice ended=" {
		t.Errorf("after the failed request: %q", got)
	}
	ev, ok := hs.events.Find(latch.EventStoreError)
	if !ok {
		t.Fatal("no store-error event for the oversize session")
	}
	if !errors.Is(ev.Err, cookiestore.ErrTooLarge) || !errors.Is(ev.Err, latch.ErrTooLarge) {
		t.Errorf("store-error event %v; want ErrTooLarge", ev.Err)
	}
}

func TestFallbackKeyThroughManager(t *testing.T) {
	oldKey := latch.Key{ID: "old", Secret: latch.GenerateKey()}
	newKey := latch.Key{ID: "new", Secret: latch.GenerateKey()}
	before, err := latch.NewKeyring(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	after, err := latch.NewKeyring(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	// One process before the rotation, one after, sharing revocations.
	hs1 := newHarness(t, harnessOptions{keys: before})
	hs2 := newHarness(t, harnessOptions{keys: after, opts: cookiestore.Options{Revocations: cookiestore.StoreRevocations(hs1.revs)}})
	b := hs1.mustLogin("alice", false)
	if !strings.HasPrefix(b.cookie, "old.") {
		t.Fatalf("cookie %q not under the old key", b.cookie)
	}
	b.hs = hs2
	res := b.do("GET", "/whoami")
	wantBody(t, "after rotation", res, "user=alice ended=")
	if !strings.HasPrefix(res.cookie, "new.") {
		t.Errorf("not sealed again under the new primary: Set-Cookie %q", res.setCookie)
	}
	if hs2.events.Count(latch.EventFallbackKey, "") != 1 {
		t.Error("no fallback-key event")
	}
	if o, _ := hs2.open(b.cookie); o.Refused != "" || o.Fallback {
		t.Errorf("resealed cookie: refused %q fallback %v", o.Refused, o.Fallback)
	}
	if got := b.whoami(); got != "user=alice ended=" {
		t.Errorf("with the resealed cookie: %q", got)
	}
}

func TestRetiredKeyThroughManager(t *testing.T) {
	secret := latch.GenerateKey()
	sealing, err := latch.NewKeyring(latch.Key{ID: "old", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	opening, err := latch.NewKeyring(
		latch.Key{ID: "new", Secret: latch.GenerateKey()},
		latch.Key{ID: "old", Secret: secret, Retire: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
	)
	if err != nil {
		t.Fatal(err)
	}
	hs1 := newHarness(t, harnessOptions{keys: sealing})
	hs2 := newHarness(t, harnessOptions{keys: opening})
	b := hs1.mustLogin("alice", false)
	res := hs2.do("GET", "/whoami", b.cookie)
	wantBody(t, "cookie under a retired key", res, "user= ended=retired-key")
	if !res.expired {
		t.Error("the refused cookie was not cleared")
	}
	if hs2.events.Count(latch.EventInvalidToken, driver.ReasonRetiredKey) != 1 {
		t.Error("no invalid-token event for the retired key")
	}
}

func TestCookieOfAnotherName(t *testing.T) {
	hs := newHarness(t, harnessOptions{})
	other := newHarness(t, harnessOptions{keys: hs.keys, cfg: latch.Config{CookieName: "__Host-admin"}})
	b := other.mustLogin("alice", false)
	wantBody(t, "cookie sealed for another name", hs.do("GET", "/whoami", b.cookie), "user= ended=bad-mac")
}

func TestNoSecretInCookieOrLogs(t *testing.T) {
	hs := newHarness(t, harnessOptions{})
	const secret = "hunter2-correct-horse"
	b := hs.mustLogin("alice.liddell", false)
	wantBody(t, "set", b.do("POST", "/set?k=api_token&v="+secret), "ok")
	cookie := b.cookie
	_, enc, _ := strings.Cut(cookie, ".")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing of the session is readable in the cookie, as text or once
	// decoded from base64.
	for _, s := range []string{secret, "alice.liddell", "Firefox", "api_token", "192.0.2.10", `"created"`} {
		if strings.Contains(cookie, s) || bytes.Contains(raw, []byte(s)) {
			t.Errorf("%q is visible in the cookie", s)
		}
	}
	b.do("POST", "/logout")
	hs.do("GET", "/whoami", cookie) // refused: logs the refusal
	for _, s := range []string{secret, enc} {
		if strings.Contains(hs.logs.String(), s) {
			t.Errorf("the logs hold %.20q...", s)
		}
	}
}

func TestSessionLimitNeedsServerStore(t *testing.T) {
	keys, err := latch.NewKeyring(latch.Key{ID: "k", Secret: latch.GenerateKey()})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := cookiestore.New(keys, cookiestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := latch.New(latch.Config{Stateless: cs, Keys: keys, MaxSessionsPerUser: 3}); err == nil {
		t.Fatal("latch.New accepted a session limit it cannot enforce on cookie sessions")
	}
}
