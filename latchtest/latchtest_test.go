package latchtest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

// app answers GET /me with the signed-in user and POST /set?k=v by
// setting k, so the tests can see what the Manager sees.
func app(m *latch.Manager) http.Handler {
	return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		for k, v := range r.URL.Query() {
			s.Set(k, v[0])
		}
		w.Write([]byte(s.UserID()))
	}))
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestLogin(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	c := tm.Login("alice")
	if c.Name != tm.Manager.CookieName() || c.Value == "" {
		t.Fatalf("Login returned cookie %q; want a %s cookie", c.Name, tm.Manager.CookieName())
	}
	if got := serve(app(tm.Manager), tm.Request("GET", "/", nil, c)).Body.String(); got != "alice" {
		t.Errorf("a request with Login's cookie is served as %q; want alice", got)
	}
	if got := serve(app(tm.Manager), tm.RequestAs("bob", "GET", "/", nil)).Body.String(); got != "bob" {
		t.Errorf("RequestAs(bob) is served as %q; want bob", got)
	}
	if n := tm.Events.Count(latch.EventLogin, ""); n != 2 {
		t.Errorf("%d login events; want 2", n)
	}
}

func TestStored(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	c := tm.Login("alice")
	rec := serve(app(tm.Manager), tm.Request("POST", "/?theme=dark", nil, c))
	if rec.Code != 200 {
		t.Fatalf("POST: %d", rec.Code)
	}
	s := tm.Stored(c)
	if s.UserID() != "alice" || s.GetString("theme") != "dark" {
		t.Errorf("Stored: user %q theme %q; want alice, dark", s.UserID(), s.GetString("theme"))
	}
	if s := tm.Stored(nil); s.UserID() != "" || !s.IsNew() {
		t.Errorf("Stored(nil): user %q, new %v; want an empty new session", s.UserID(), s.IsNew())
	}
}

// TestStoredDoesNotExtend: reading a session with Stored is no activity,
// so the session still ends at the idle deadline it had.
func TestStoredDoesNotExtend(t *testing.T) {
	tm := latchtest.New(t, latch.Config{IdleTimeout: 10 * time.Minute})
	c := tm.Login("alice")
	for range 2 {
		tm.Clock.Advance(4 * time.Minute) // past the touch interval each time
		if s := tm.Stored(c); s.UserID() != "alice" {
			t.Fatalf("Stored after %v: ended %q", tm.Clock.Now().Sub(latchtest.Start), s.Ended())
		}
	}
	tm.Clock.Advance(2 * time.Minute)
	if s := tm.Stored(c); s.Ended() != latch.ReasonIdle {
		t.Fatalf("10 minutes after login with only Stored reads: ended %q, user %q; want ended idle", s.Ended(), s.UserID())
	}
}

func TestPast(t *testing.T) {
	tests := []struct {
		name     string
		remember bool
		past     func(*latchtest.Harness, *http.Cookie)
		active   bool // a request every few minutes until then
		want     latch.Reason
	}{
		{"idle", false, (*latchtest.Harness).PastIdle, false, latch.ReasonIdle},
		{"idle of a remember-me session", true, (*latchtest.Harness).PastIdle, false, latch.ReasonIdle},
		{"absolute of an active session", false, (*latchtest.Harness).PastAbsolute, true, latch.ReasonAbsolute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := latchtest.New(t, latch.Config{IdleTimeout: time.Hour, AbsoluteTimeout: 3 * time.Hour})
			h := app(tm.Manager)
			c := tm.Login("alice", latch.Remember(tt.remember))
			if tt.active {
				for range 10 {
					tm.Clock.Advance(15 * time.Minute)
					serve(h, tm.Request("GET", "/", nil, c))
				}
			}
			tm.Clock.Advance(-time.Nanosecond) // no effect: the clock never goes back
			before := tm.Clock.Now()
			tt.past(tm, c)
			if !tm.Clock.Now().After(before) {
				t.Fatalf("the clock did not move")
			}
			tm.Clock.Advance(-time.Nanosecond)
			if s := tm.Stored(c); s.UserID() != "alice" {
				t.Fatalf("a nanosecond before the deadline the session has ended (%q)", s.Ended())
			}
			tm.Clock.Advance(time.Nanosecond)
			if got := serve(h, tm.Request("GET", "/", nil, c)).Body.String(); got != "" {
				t.Errorf("served as %q at the deadline; want no user", got)
			}
			if n := tm.Events.Count(latch.EventExpired, tt.want); n != 1 {
				t.Errorf("%d expired events with reason %q; want 1", n, tt.want)
			}
		})
	}
}

func TestCookieOfLogout(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	h := tm.Manager.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Logout()
	}))
	rec := serve(h, tm.Request("POST", "/logout", nil, tm.Login("alice")))
	if c := tm.Cookie(rec.Result()); c == nil || c.MaxAge != -1 {
		t.Fatalf("Cookie after a logout: %+v; want the session cookie with MaxAge -1", c)
	}
	if c := tm.Cookie(serve(app(tm.Manager), tm.Request("GET", "/", nil, nil)).Result()); c != nil {
		t.Errorf("Cookie of a response that sets none: %+v; want nil", c)
	}
}

func TestOnEventStillCalled(t *testing.T) {
	var mine latchtest.Events
	tm := latchtest.New(t, latch.Config{OnEvent: mine.Add})
	tm.Login("alice")
	if mine.Count(latch.EventLogin, "") != 1 || tm.Events.Count(latch.EventLogin, "") != 1 {
		t.Errorf("login events: %d in Config.OnEvent, %d in Harness.Events; want 1 and 1",
			mine.Count(latch.EventLogin, ""), tm.Events.Count(latch.EventLogin, ""))
	}
}

// fatalTB records the message of the Fatal that ends a helper.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// failing runs f on a fatalTB and returns what it failed with.
func failing(t *testing.T, f func(testing.TB)) string {
	ft := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(ft)
	}()
	<-done
	return ft.msg
}

func TestBadUse(t *testing.T) {
	store, _ := memstore.New(memstore.Options{})
	defer store.Close()
	tests := []struct {
		name string
		f    func(testing.TB)
		want string
	}{
		{"Config.Store set", func(t testing.TB) { latchtest.New(t, latch.Config{Store: store}) }, "leave Config.Store"},
		{"Config.Now set", func(t testing.TB) { latchtest.New(t, latch.Config{Now: time.Now}) }, "leave Config.Store"},
		{"a Config latch.New refuses", func(t testing.TB) { latchtest.New(t, latch.Config{IdleTimeout: -time.Second}) }, "latchtest.New: latch:"},
		{"PastIdle of a cookie naming no session", func(t testing.TB) {
			tm := latchtest.New(t, latch.Config{})
			tm.PastIdle(&http.Cookie{Name: tm.Manager.CookieName(), Value: "forged"})
		}, "names no live session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := failing(t, tt.f); !strings.Contains(got, tt.want) {
				t.Errorf("failed with %q; want it to contain %q", got, tt.want)
			}
		})
	}
}
