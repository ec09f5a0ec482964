package latch_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
)

// endedSite is a site whose private page is behind RequireLogin, which
// redirects to a sign-in page that prints Session.Ended, served over TLS
// to a browser-like client with a cookie jar.
type endedSite struct {
	t   *testing.T
	hs  *harness
	srv *httptest.Server
	c   *http.Client
	ua  string
}

func newEndedSite(t *testing.T, cfg latch.Config) *endedSite {
	hs := newHarness(t, cfg)
	mux := http.NewServeMux()
	mux.Handle("/", testApp(hs.m))
	toSignIn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
	})
	mux.Handle("GET /private", hs.m.RequireLogin(toSignIn)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "private")
	})))
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		fmt.Fprintf(w, "ended=%s", s.Ended())
	})
	srv := httptest.NewTLSServer(hs.m.Handler(mux))
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	return &endedSite{t: t, hs: hs, srv: srv, c: c, ua: "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0"}
}

// get follows redirects, as a browser does, and returns the final path
// and body.
func (e *endedSite) get(method, path string) (string, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("User-Agent", e.ua)
	e.c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		r.Header.Set("User-Agent", e.ua)
		return nil
	}
	res, err := e.c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.Request.URL.Path, string(b)
}

func (e *endedSite) cookie(name string) string {
	u, _ := url.Parse(e.srv.URL)
	for _, c := range e.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// TestEndedCarriedToSignInPage: after a timeout, a revocation or the
// binding policy ended the session, RequireLogin's redirect drops the
// session cookie, and the sign-in page it leads to still learns why from
// Session.Ended. A logout, which the user asked for, carries nothing. A
// login clears the reason.
func TestEndedCarriedToSignInPage(t *testing.T) {
	tests := []struct {
		name string
		cfg  latch.Config
		end  func(e *endedSite)
		want latch.Reason
	}{
		{"idle timeout", latch.Config{}, func(e *endedSite) { e.hs.clock.Advance(31 * time.Minute) }, latch.ReasonIdle},
		{"absolute timeout", latch.Config{AbsoluteTimeout: 40 * time.Minute}, func(e *endedSite) {
			e.hs.clock.Advance(20 * time.Minute)
			e.get("GET", "/private") // activity: the idle deadline moves
			e.hs.clock.Advance(21 * time.Minute)
		}, latch.ReasonAbsolute},
		{"revoked", latch.Config{}, func(e *endedSite) {
			if _, err := e.hs.m.RevokeUser(context.Background(), "alice"); err != nil {
				e.t.Fatal(err)
			}
		}, latch.ReasonNotFound},
		{"binding policy", latch.Config{Binding: latch.BindingEnd}, func(e *endedSite) {
			e.ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
		}, latch.ReasonBinding},
		{"logout", latch.Config{}, func(e *endedSite) { e.get("POST", "/logout") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEndedSite(t, tt.cfg)
			e.get("POST", "/login?u=alice")
			if path, body := e.get("GET", "/private"); path != "/private" || body != "private" {
				t.Fatalf("signed in: %s %q", path, body)
			}
			tt.end(e)
			path, body := e.get("GET", "/private")
			if path != "/signin" || body != "ended="+string(tt.want) {
				t.Fatalf("after the session ended: %s %q; want /signin %q", path, body, "ended="+tt.want)
			}
			if e.cookie("__Host-session") != "" {
				t.Fatal("the session cookie is still there")
			}
			if _, body := e.get("GET", "/signin"); body != "ended="+string(tt.want) {
				t.Fatalf("sign-in page reloaded: %q; want the reason again", body)
			}
			e.get("POST", "/login?u=alice")
			if got := e.cookie("__Host-session-ended"); got != "" {
				t.Fatalf("after a new login the reason %q is still kept", got)
			}
			if _, body := e.get("GET", "/signin"); body != "ended=" {
				t.Fatalf("sign-in page after a new login: %q; want no reason", body)
			}
		})
	}
}

// TestEndedCookie pins the cookie that carries the reason: the session
// cookie's attributes, a short life, and only latch's own reasons taken
// from it; anything else is ignored and cleared.
func TestEndedCookie(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	tok := hs.login("alice")
	hs.clock.Advance(31 * time.Minute)
	r := hs.do("GET", "/me", tok)
	var sc string
	for _, c := range r.cookies {
		if strings.HasPrefix(c, "__Host-session-ended=") {
			sc = c
		}
	}
	if want := "__Host-session-ended=idle; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax"; sc != want {
		t.Fatalf("ended cookie %q; want %q", sc, want)
	}

	tests := []struct {
		name    string
		cookie  string
		want    string // Session.Ended
		expires bool   // the response expires the ended cookie
	}{
		{"idle", "__Host-session-ended=idle", "idle", false},
		{"absolute", "__Host-session-ended=absolute", "absolute", false},
		{"not-found", "__Host-session-ended=not-found", "not-found", false},
		{"binding", "__Host-session-ended=binding", "binding", false},
		{"not a reason", "__Host-session-ended=admin", "", true},
		{"a refusal, not an ending", "__Host-session-ended=bad-mac", "", true},
		{"quoted", `__Host-session-ended="idle"`, "", true},
		{"empty", "__Host-session-ended=", "", true},
		{"twice", "__Host-session-ended=idle; __Host-session-ended=absolute", "", true},
		{"a live session wins and clears it", "__Host-session-ended=idle; __Host-session=" + hs.login("bob"), "", true},
		// A request sent beside the one that found the session idle finds
		// it deleted (not-found); the reason that one carried is better.
		{"after a parallel request found the end", "__Host-session-ended=idle; __Host-session=" + tok, "idle", false},
		{"a refusal of its own wins", "__Host-session-ended=idle; __Host-session=k1.junk", "malformed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/me", nil)
			req.Header.Set("Cookie", tt.cookie)
			r := hs.doReq(req, "")
			got := strings.TrimPrefix(r.body, "not logged in: ")
			if r.code == http.StatusOK {
				got = ""
			}
			if strings.TrimSpace(got) != tt.want {
				t.Fatalf("Ended %q; want %q", got, tt.want)
			}
			if _, expires := r.ended(); expires != tt.expires {
				t.Fatalf("Set-Cookie %q: ended cookie expired = %v; want %v", r.cookies, expires, tt.expires)
			}
		})
	}
}

// TestEndedParallelRequests: requests sent together once the session has
// ended (a page's parallel fetches after a night's sleep) all learn the
// same reason. The first to arrive must not hide it from the others, which
// would answer "not found", the reason of a session ended elsewhere, and
// whichever response the browser took last would decide what the sign-in
// page says.
func TestEndedParallelRequests(t *testing.T) {
	tests := []struct {
		name string
		cfg  latch.Config
		end  func(hs *harness, tok string)
		want string
	}{
		{"idle", latch.Config{}, func(hs *harness, tok string) { hs.clock.Advance(31 * time.Minute) }, "idle"},
		{"absolute", latch.Config{AbsoluteTimeout: 40 * time.Minute}, func(hs *harness, tok string) {
			hs.clock.Advance(20 * time.Minute)
			hs.do("GET", "/me", tok)
			hs.clock.Advance(21 * time.Minute)
		}, "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, tt.cfg)
			tok := hs.login("alice")
			tt.end(hs, tok)
			for i := range 3 { // all sent before the first answer came back
				r := hs.do("GET", "/me", tok)
				reason, _ := r.ended()
				if r.code != http.StatusUnauthorized || r.body != "not logged in: "+tt.want+"\n" || reason != tt.want {
					t.Fatalf("request %d: %d %q, ended cookie %q; want 401 %q and the cookie %q", i, r.code, r.body, reason, "not logged in: "+tt.want, tt.want)
				}
			}
		})
	}
}

// TestEndedByTighterPolicyIsDeleted: a session ended only because the
// configuration's limits became tighter than its record's is deleted when
// a request finds it so, since the store would keep it until the record's
// own, later, deadline (and count it toward the user's sessions).
func TestEndedByTighterPolicyIsDeleted(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	tok := hs.login("alice")
	hs.clock.Advance(10 * time.Minute)
	tight, err := latch.New(latch.Config{Store: hs.store, Keys: hs.keys, Now: hs.clock.Now, IdleTimeout: 5 * time.Minute, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/me", nil)
	req.Header.Set("Cookie", "__Host-session="+tok)
	rec := httptest.NewRecorder()
	tight.Handler(testApp(tight)).ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "idle") {
		t.Fatalf("under the tighter policy: %d %q; want 401, ended idle", rec.Code, rec.Body)
	}
	if list, err := hs.store.ListUser(context.Background(), "alice"); err != nil || len(list) != 0 {
		t.Fatalf("the store still lists %d sessions of alice (%v); want none", len(list), err)
	}
}
