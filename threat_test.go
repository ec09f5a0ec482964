package latch_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch"
)

// Threat: session fixation.
func TestFixation(t *testing.T) {
	t.Run("pre-login id is refused after login", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		pre := hs.do("POST", "/set?k=cart&v=3", "").token()
		if pre == "" {
			t.Fatal("no anonymous session")
		}
		post := hs.do("POST", "/login?u=alice", pre).token()
		if post == "" || post == pre {
			t.Fatalf("login did not issue a new token")
		}
		if r := hs.do("GET", "/me", pre); r.code != http.StatusUnauthorized {
			t.Fatalf("pre-login token after login: %d %q; want 401", r.code, r.body)
		}
		if r := hs.do("GET", "/get?k=cart", post); r.body != "3" {
			t.Errorf("data not carried over the login: %q", r.body)
		}
	})
	t.Run("planted id is never adopted", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		planted := "k1." + strings.Repeat("A", 64)
		r := hs.do("POST", "/login?u=alice", planted)
		if got := r.token(); got == "" || got == planted {
			t.Fatalf("login with a planted token kept it: %q", got)
		}
		if hs.store.loads.Load() != 0 {
			t.Errorf("a made-up token reached the store")
		}
	})
	t.Run("reauthenticate and renew change the id", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		tok := hs.login("alice")
		renewed := hs.do("POST", "/renew", tok).token()
		if renewed == "" || renewed == tok {
			t.Fatal("renew kept the token")
		}
		if r := hs.do("GET", "/me", tok); r.code != http.StatusUnauthorized {
			t.Fatalf("old token after renew: %d", r.code)
		}
		if r := hs.do("GET", "/me", renewed); r.body != "alice" {
			t.Fatalf("renewed token: %d %q", r.code, r.body)
		}
	})
	t.Run("another user's login drops the values", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		tok := hs.login("alice")
		hs.do("POST", "/set?k=secret&v=alice-data", tok)
		tok = hs.do("POST", "/login?u=bob", tok).token()
		if r := hs.do("GET", "/get?k=secret", tok); r.body != "" {
			t.Fatalf("bob sees alice's value %q", r.body)
		}
	})
}

// Threat: hijacking. A token that has been logged out, revoked or expired
// is worthless.
func TestHijack(t *testing.T) {
	t.Run("replay after logout", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		tok := hs.login("alice")
		r := hs.do("POST", "/logout", tok)
		if c := r.setCookie(t); !strings.Contains(c, "Max-Age=0") {
			t.Errorf("logout did not expire the cookie: %q", c)
		}
		if r := hs.do("GET", "/me", tok); r.code != http.StatusUnauthorized {
			t.Fatalf("replay after logout: %d %q", r.code, r.body)
		}
		if hs.events.Count(latch.EventLogout, "") != 1 {
			t.Error("no logout event")
		}
	})
	t.Run("list, revoke one, revoke others, revoke user", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		a := hs.login("alice")
		hs.clock.Advance(time.Second)
		b := hs.login("alice")
		hs.clock.Advance(time.Second)
		c := hs.login("alice")
		hs.login("bob")
		list, err := hs.m.Sessions(t.Context(), "alice", nil)
		if err != nil || len(list) != 3 {
			t.Fatalf("Sessions = %d, %v; want 3", len(list), err)
		}
		if err := hs.m.Revoke(t.Context(), "alice", list[0].Handle); err != nil {
			t.Fatal(err)
		}
		if r := hs.do("GET", "/me", a); r.code != http.StatusUnauthorized {
			t.Fatalf("revoked session still works: %d", r.code)
		}
		if err := hs.m.Revoke(t.Context(), "bob", list[1].Handle); err == nil {
			t.Fatal("bob revoked alice's session")
		}
		if r := hs.do("POST", "/revoke-others", c); r.body != "1" {
			t.Fatalf("revoke-others ended %q sessions; want 1", r.body)
		}
		if r := hs.do("GET", "/me", b); r.code != http.StatusUnauthorized {
			t.Fatal("other session survived RevokeOthers")
		}
		if r := hs.do("GET", "/me", c); r.code != 200 {
			t.Fatal("RevokeOthers ended the current session")
		}
		if n, err := hs.m.RevokeUser(t.Context(), "alice"); err != nil || n != 1 {
			t.Fatalf("RevokeUser = %d, %v; want 1", n, err)
		}
		if r := hs.do("GET", "/me", c); r.code != http.StatusUnauthorized {
			t.Fatal("session survived RevokeUser")
		}
	})
	t.Run("binding reports a new browser family", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		req := httptest.NewRequest("POST", "/login?u=alice", nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36")
		tok := hs.doReq(req, "").token()
		req = httptest.NewRequest("GET", "/me", nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36")
		hs.doReq(req, tok)
		if n := hs.events.Count(latch.EventBindingMismatch, ""); n != 0 {
			t.Fatalf("a browser update raised %d binding events", n)
		}
		req = httptest.NewRequest("GET", "/me", nil)
		req.Header.Set("User-Agent", "curl/8.0")
		if r := hs.doReq(req, tok); r.code != 200 {
			t.Fatalf("report-only binding ended the session: %d", r.code)
		}
		if n := hs.events.Count(latch.EventBindingMismatch, ""); n != 1 {
			t.Fatalf("binding events = %d; want 1", n)
		}
	})
	t.Run("binding policy ends the session", func(t *testing.T) {
		hs := newHarness(t, latch.Config{Binding: latch.BindingEnd})
		tok := hs.login("alice")
		req := httptest.NewRequest("GET", "/me", nil)
		req.RemoteAddr = "203.0.113.9:4444"
		if r := hs.doReq(req, tok); r.code != http.StatusUnauthorized || !strings.Contains(r.body, "binding") {
			t.Fatalf("from another network: %d %q; want 401 binding", r.code, r.body)
		}
		if r := hs.do("GET", "/me", tok); r.code != http.StatusUnauthorized {
			t.Fatal("ended session still works from the first network")
		}
	})
}

// Threat: brute-force guessing. Forged tokens never reach the store, each
// one raises an event, and a client that keeps trying gets 429.
func TestGuessing(t *testing.T) {
	hs := newHarness(t, latch.Config{GuessLimit: 5})
	valid := hs.login("alice")
	for i := 0; i < 5; i++ {
		forged := fmt.Sprintf("k1.%063d%d", 0, i)
		if r := hs.do("GET", "/me", forged); r.code != http.StatusUnauthorized {
			t.Fatalf("forged token %d: %d", i, r.code)
		}
	}
	if n := hs.store.loads.Load(); n != 0 {
		t.Fatalf("%d forged tokens reached the store", n)
	}
	if n := hs.events.Count(latch.EventInvalidToken, latch.ReasonBadMAC); n != 5 {
		t.Fatalf("bad-mac events = %d; want 5", n)
	}
	r := hs.do("GET", "/me", "k1."+strings.Repeat("B", 64))
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("sixth forgery: %d; want 429 with Retry-After", r.code)
	}
	if hs.events.Count(latch.EventGuessing, "") != 1 {
		t.Fatal("no guessing event")
	}
	if r := hs.do("GET", "/me", valid); r.code != 200 {
		t.Fatalf("a valid token from the same client was blocked: %d", r.code)
	}
	hs.clock.Advance(2 * time.Minute)
	if r := hs.do("GET", "/me", "k1."+strings.Repeat("C", 64)); r.code != http.StatusUnauthorized {
		t.Fatalf("after the window: %d; want 401", r.code)
	}
}

// Hostile input through HTTP: every request gets a clean anonymous session
// or a clear error, nothing panics, and nothing that fails the MAC reaches
// the store.
func TestHostileCookies(t *testing.T) {
	hs := newHarness(t, latch.Config{GuessLimit: -1})
	valid := hs.login("alice")
	hs.store.loads.Store(0)
	other, _ := latch.New(latch.Config{Store: hs.store, Keys: hs.keys, CookieName: "__Host-other", Now: hs.clock.Now})
	var otherTok string
	otherReq := httptest.NewRequest("POST", "/login?u=alice", nil)
	rec := httptest.NewRecorder()
	other.Handler(testApp(other)).ServeHTTP(rec, otherReq)
	otherTok = resp{cookies: rec.Result().Header.Values("Set-Cookie")}.token()
	hs.store.loads.Store(0)
	tests := []struct {
		name   string
		cookie string
	}{
		{"empty value", "__Host-session="},
		{"8 KB cookie", "__Host-session=" + strings.Repeat("x", 8<<10)},
		{"1 MB cookie", "__Host-session=" + strings.Repeat("y", 1<<20)},
		{"invalid UTF-8", "__Host-session=k1.\xff\xfe" + strings.Repeat("A", 62)},
		{"NUL bytes", "__Host-session=k1." + strings.Repeat("\x00", 64)},
		{"wrong base64 alphabet", "__Host-session=" + strings.NewReplacer("-", "+", "_", "/").Replace(valid[:3]) + strings.Repeat("+/", 32)},
		{"truncated MAC", "__Host-session=" + valid[:len(valid)-4]},
		{"valid MAC for another cookie name", "__Host-session=" + otherTok},
		{"unknown key id", "__Host-session=zz" + valid[2:]},
		{"quoted", `__Host-session="` + valid + `"`},
		{"no equals sign", "__Host-session"},
		{"many separators", strings.Repeat(";", 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/me", nil)
			req.Header.Set("Cookie", tt.cookie)
			rec := httptest.NewRecorder()
			hs.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d; want 401", rec.Code)
			}
			if n := hs.store.loads.Load(); n != 0 {
				t.Fatalf("%d store lookups for a token that fails the MAC", n)
			}
		})
	}
	t.Run("cookie tossing: two cookies of the session's name", func(t *testing.T) {
		req := httptest.NewRequest("GET", "/me", nil)
		req.Header.Add("Cookie", "__Host-session="+valid)
		req.Header.Add("Cookie", "__Host-session="+valid)
		rec := httptest.NewRecorder()
		hs.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized || hs.events.Count(latch.EventInvalidToken, latch.ReasonDuplicate) != 1 {
			t.Fatalf("duplicate cookies: %d", rec.Code)
		}
	})
	t.Run("retired key", func(t *testing.T) {
		hs2 := newHarness(t, latch.Config{})
		old := hs2.login("alice")
		k := hs2.keys.Primary()
		k.Retire = hs2.clock.Now().AddDate(0, 0, 1)
		rotated, err := latch.NewKeyring(latch.Key{ID: "k2", Secret: latch.GenerateKey()}, k)
		if err != nil {
			t.Fatal(err)
		}
		m2, _ := latch.New(latch.Config{Store: hs2.store, Keys: rotated, Now: hs2.clock.Now, OnEvent: hs2.events.Add})
		hs2.m, hs2.h = m2, m2.Handler(testApp(m2))
		r := hs2.do("GET", "/me", old)
		if r.code != 200 || !strings.HasPrefix(r.token(), "k2.") {
			t.Fatalf("fallback-key token: %d, reissued %q; want 200 and a k2 token", r.code, r.token())
		}
		if hs2.events.Count(latch.EventFallbackKey, "") != 1 {
			t.Error("no fallback-key event")
		}
		hs2.clock.Advance(72 * time.Hour)
		hs2.do("POST", "/set?k=x&v=y", old) // keep nothing alive by the old token
		if r := hs2.do("GET", "/me", old); r.code != http.StatusUnauthorized {
			t.Fatalf("token under a retired key: %d; want 401", r.code)
		}
	})
}

// No needless writes, no lost updates.
func TestWrites(t *testing.T) {
	t.Run("read-only requests write nothing within the touch interval", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		tok := hs.login("alice")
		hs.store.commits.Store(0)
		setCookies := 0
		for i := 0; i < 1000; i++ {
			hs.clock.Advance(100 * time.Millisecond)
			r := hs.do("GET", "/me", tok)
			setCookies += len(r.cookies)
		}
		// 100 s of reads with a 3 minute touch interval: no write at all.
		if n := hs.store.commits.Load(); n != 0 || setCookies != 0 {
			t.Fatalf("1000 reads: %d commits, %d Set-Cookie; want 0, 0", n, setCookies)
		}
		hs.clock.Advance(3 * time.Minute)
		hs.do("GET", "/me", tok)
		if n := hs.store.commits.Load(); n != 1 {
			t.Fatalf("read after the touch interval: %d commits; want 1", n)
		}
	})
	t.Run("concurrent requests changing different keys both keep their change", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		tok := hs.login("alice")
		for trial := 0; trial < 100; trial++ {
			var wg sync.WaitGroup
			for _, k := range []string{"a", "b"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					hs.do("POST", fmt.Sprintf("/set?k=%s&v=%d", k, trial), tok)
				}()
			}
			wg.Wait()
			for _, k := range []string{"a", "b"} {
				if r := hs.do("GET", "/get?k="+k, tok); r.body != fmt.Sprint(trial) {
					t.Fatalf("trial %d: %s = %q; lost update", trial, k, r.body)
				}
			}
		}
	})
	t.Run("changes after the body started are saved", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		tok := hs.login("alice")
		hs.do("POST", "/late-set?k=late&v=kept", tok)
		if r := hs.do("GET", "/get?k=late", tok); r.body != "kept" {
			t.Fatalf("late change lost: %q", r.body)
		}
	})
	t.Run("login after the headers went out is an error and an event", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		tok := hs.login("alice")
		r := hs.do("POST", "/late-login", tok)
		if !strings.Contains(r.body, "true") || len(r.cookies) != 0 {
			t.Fatalf("late login: body %q cookies %q", r.body, r.cookies)
		}
		if hs.events.Count(latch.EventLateChange, "") != 1 {
			t.Fatal("no late-change event")
		}
		if r := hs.do("GET", "/me", tok); r.body != "alice" {
			t.Fatalf("late login changed the session: %q", r.body)
		}
	})
	t.Run("no session is created for a read", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		if r := hs.do("GET", "/get?k=x", ""); len(r.cookies) != 0 || hs.store.commits.Load() != 0 {
			t.Fatalf("anonymous read created a session: %q", r.cookies)
		}
	})
}

// Store failures fail closed: 503 and an event, never a fresh session.
func TestFailClosed(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	tok := hs.login("alice")
	hs.store.fail.Store(true)
	for _, tt := range []struct{ method, path, token string }{
		{"GET", "/me", tok},
		{"POST", "/set?k=a&v=b", ""},
		{"POST", "/login?u=bob", ""},
	} {
		r := hs.do(tt.method, tt.path, tt.token)
		if r.code != http.StatusServiceUnavailable || len(r.cookies) != 0 {
			t.Errorf("%s %s with the store down: %d cookies %q; want 503 and no cookie", tt.method, tt.path, r.code, r.cookies)
		}
	}
	if hs.events.Count(latch.EventStoreError, "") == 0 {
		t.Error("no store-error event")
	}
	hs.store.fail.Store(false)
	if r := hs.do("GET", "/me", tok); r.code != 200 {
		t.Fatalf("after recovery: %d", r.code)
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	tok := hs.login("alice")
	hs.do("POST", "/renew", tok)
	hs.do("GET", "/me", tok)
	hs.do("GET", "/me", tok[:10]+"x"+tok[11:])
	hs.do("POST", "/logout", tok)
	id := tok[strings.IndexByte(tok, '.')+1:]
	if strings.Contains(hs.logs.String(), id[:20]) {
		t.Fatal("a token appears in the logs")
	}
	key := hs.keys.Primary().SecretEntry()
	if strings.Contains(hs.logs.String(), key[3:20]) {
		t.Fatal("the key appears in the logs")
	}
}
