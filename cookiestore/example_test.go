package cookiestore_test

import (
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/memstore"
)

// A Manager on a cookie store: the whole session travels in the cookie,
// and a logout ends the cookies handed out before it.
func Example() {
	keys, err := latch.NewKeyring(latch.Key{ID: "k1", Secret: latch.GenerateKey()}) // latch.LoadKeys() in a real program
	if err != nil {
		log.Fatal(err)
	}
	revs, err := memstore.New(memstore.Options{}) // a durable store in a real program: see the package doc
	if err != nil {
		log.Fatal(err)
	}
	defer revs.Close()
	store, err := cookiestore.New(keys, cookiestore.Options{Revocations: cookiestore.StoreRevocations(revs)})
	if err != nil {
		log.Fatal(err)
	}
	m, err := latch.New(latch.Config{Stateless: store, Keys: keys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Login("alice"); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s.Set("theme", "dark")
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		fmt.Fprintf(w, "user=%q theme=%q ended=%q", s.UserID(), s.GetString("theme"), s.Ended())
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Logout(); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}
	})
	h := m.Handler(mux)

	// send makes one request with the session cookie value (if any) and
	// returns the body and the new cookie value.
	send := func(method, path, cookie string) (string, string) {
		req := httptest.NewRequest(method, path, nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: m.CookieName(), Value: cookie})
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			if c.Name == m.CookieName() {
				cookie = c.Value
			}
		}
		return rec.Body.String(), cookie
	}

	_, cookie := send("POST", "/login", "")
	me, _ := send("GET", "/me", cookie)
	fmt.Println(me)
	send("POST", "/logout", cookie)
	me, _ = send("GET", "/me", cookie) // the old cookie, replayed
	fmt.Println(me)
	// Output:
	// user="alice" theme="dark" ended=""
	// user="" theme="" ended="not-found"
}
