package latch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
)

// exampleKeys stands for the keyring that a real program loads with
// latch.LoadKeys() from LATCH_KEYS or LATCH_KEYS_FILE.
func exampleKeys() *latch.Keyring {
	k, err := latch.NewKeyring(latch.Key{ID: "2026-11", Secret: latch.GenerateKey()})
	if err != nil {
		log.Fatal(err)
	}
	return k
}

// A login handler: Login gives the session a new ID, so an ID planted
// before login is worthless afterwards.
func Example() {
	store, _ := memstore.New(memstore.Options{})
	defer store.Close()
	m, err := latch.New(latch.Config{Store: store, Keys: exampleKeys(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if r.FormValue("password") != "wonderland" { // check a real password hash here
			http.Error(w, "wrong user or password", http.StatusUnauthorized)
			return
		}
		if err := s.Login(r.FormValue("user")); err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()

	res, err := http.PostForm(srv.URL+"/login", map[string][]string{"user": {"alice"}, "password": {"wonderland"}})
	if err != nil {
		log.Fatal(err)
	}
	cookie := res.Request.Response.Header.Get("Set-Cookie")
	fmt.Println(strings.Join(strings.Split(cookie, "; ")[1:], "; "))
	// Output: Path=/; Secure; HttpOnly; SameSite=Lax
}

// Keys are generated from crypto/rand and kept outside the code; weak keys
// stop the program at start with the rule they failed.
func ExampleCheckKey() {
	fmt.Println(latch.CheckKey(latch.GenerateKey()))
	fmt.Println(latch.CheckKey([]byte("changeme")))
	fmt.Println(latch.CheckKey(make([]byte, 32))) // 32 zero bytes
	// Output:
	// <nil>
	// latch: secret key refused (known-key): the key is a published default or example key
	// latch: secret key refused (few-distinct-bytes): only 1 distinct byte values
}

// A session's deadlines, for a page that warns before expiry. The status
// handler reports them as JSON without extending the session.
func ExampleSession_Deadlines() {
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store, _ := memstore.New(memstore.Options{Now: clock})
	defer store.Close()
	m, _ := latch.New(latch.Config{Store: store, Keys: exampleKeys(), Now: clock, Logger: slog.New(slog.DiscardHandler)})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Login("alice")
		idle, absolute := s.Deadlines()
		fmt.Println("idle until", idle.Format(time.Kitchen))
		fmt.Println("at most until", absolute.Format(time.Kitchen))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil))
	// Output:
	// idle until 9:30AM
	// at most until 9:00PM
}

// FromContext never panics: outside the middleware it says so.
func ExampleFromContext() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		s, err := latch.FromContext(r.Context())
		if errors.Is(err, latch.ErrNoSession) {
			fmt.Println("no session: wrap the handler with Manager.Handler")
			return
		}
		io.WriteString(w, s.UserID())
	}
	handler(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	// Output: no session: wrap the handler with Manager.Handler
}

// HTTPS redirects plain HTTP and sets HSTS on every HTTPS response.
func ExampleHTTPS() {
	h := latch.HTTPS(latch.HTTPSConfig{})(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://example.com/account", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output: 308 https://example.com/account
}

// Behind a TLS-terminating proxy, HTTPS trusts the one header the proxy
// sets, and only the element the proxy wrote (the last): a client's own
// "https" in front of it does not count.
func ExampleHTTPS_behindProxy() {
	h := latch.HTTPS(latch.HTTPSConfig{ProxyHeader: latch.XForwardedProto})(http.NotFoundHandler())
	for _, proto := range []string{"https", "https, http"} {
		req := httptest.NewRequest("GET", "http://example.com/account", nil)
		req.Header.Set("X-Forwarded-Proto", proto) // the proxy appended its value
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if loc := rec.Header().Get("Location"); loc != "" {
			fmt.Printf("%q: redirected to %s\n", proto, loc)
		} else {
			fmt.Printf("%q: served as HTTPS (%d)\n", proto, rec.Code)
		}
	}
	// Output:
	// "https": served as HTTPS (404)
	// "https, http": redirected to https://example.com/account
}

// An admin tool (such as "latch sessions") holds the store but no keyring,
// so it has no Manager: ListSessions and RevokeSession work on the store
// alone, with the rules Manager.Sessions and Manager.Revoke apply.
func ExampleListSessions() {
	store, err := memstore.New(memstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// The web application: alice signs in from two browsers.
	m, err := latch.New(latch.Config{Store: store, Keys: exampleKeys(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	login := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Login("alice"); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	}))
	for _, browser := range []string{"Firefox/145.0", "Chrome/142.0"} {
		req := httptest.NewRequest("POST", "/login", nil)
		req.Header.Set("User-Agent", browser)
		login.ServeHTTP(httptest.NewRecorder(), req)
	}

	// The admin tool: list alice's sessions, then end the Firefox one.
	ctx := context.Background()
	list, err := latch.ListSessions(ctx, store, "alice", driver.Hash{}, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	var firefox string
	for _, s := range list {
		fmt.Println(s.UserAgent, "ends in", s.Deadline().Sub(s.LastSeen))
		if strings.HasPrefix(s.UserAgent, "Firefox/") {
			firefox = s.Handle
		}
	}
	fmt.Println("bob revokes it:", latch.RevokeSession(ctx, store, "bob", firefox))
	fmt.Println("alice revokes it:", latch.RevokeSession(ctx, store, "alice", firefox))
	list, _ = latch.ListSessions(ctx, store, "alice", driver.Hash{}, time.Now())
	fmt.Println(len(list), "session left:", list[0].UserAgent)
	// Unordered output:
	// Firefox/145.0 ends in 30m0s
	// Chrome/142.0 ends in 30m0s
	// bob revokes it: latch: session not found
	// alice revokes it: <nil>
	// 1 session left: Chrome/142.0
}

// Set says at once when a value cannot be kept: every store keeps values
// as JSON, and JSON cannot encode a channel, nor see a struct's unexported
// fields. The typed getters and Get read back what was set, in the same
// request and in later ones, whatever the store did to it.
func ExampleSession_Set() {
	store, _ := memstore.New(memstore.Options{})
	defer store.Close()
	m, _ := latch.New(latch.Config{Store: store, Keys: exampleKeys(), Logger: slog.New(slog.DiscardHandler)})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Set("nonce", []byte{0x00, 0xfe, 0xff}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		err := s.Set("updates", make(chan int))
		fmt.Println(errors.Is(err, latch.ErrBadValue), err)
		type point struct{ x, y int }
		fmt.Println(s.Set("where", point{1, 2}))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))

	// The next request: the bytes went to the store as base64 text.
	next := httptest.NewRequest("GET", "/", nil)
	next.Header.Set("Cookie", strings.Split(rec.Header().Get("Set-Cookie"), ";")[0])
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		fmt.Printf("%q %q\n", s.Get("nonce"), s.GetBytes("nonce"))
		nonce, err := latch.Get[[]byte](s, "nonce")
		fmt.Printf("%q %v\n", nonce, err)
		_, err = latch.Get[string](s, "updates")
		fmt.Println(err)
	})).ServeHTTP(httptest.NewRecorder(), next)
	// Output:
	// true latch: cannot encode session value "updates": json: unsupported type: chan int
	// latch: cannot encode session value "where": latch_test.point has no field that JSON encodes and no MarshalJSON or MarshalText method, so it would be stored as {}
	// "AP7/" "\x00\xfe\xff"
	// "\x00\xfe\xff" <nil>
	// latch: no session value under this key
}

// A form handler leaves a one-time message for the page it redirects to,
// which shows it once: Flashes removes what it returns.
func ExampleSession_AddFlash() {
	store, _ := memstore.New(memstore.Options{})
	defer store.Close()
	m, _ := latch.New(latch.Config{Store: store, Keys: exampleKeys(), Logger: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /profile", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.AddFlash("Profile saved.")
		s.AddFlash("Check your mail to confirm the new address.")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		fmt.Println(s.Flashes())
	})
	h := m.Handler(mux)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/profile", nil))
	cookie := strings.Split(rec.Header().Get("Set-Cookie"), ";")[0]
	for range 2 {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", cookie)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Output:
	// [Profile saved. Check your mail to confirm the new address.]
	// []
}
