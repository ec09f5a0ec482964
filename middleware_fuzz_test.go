package latch_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
)

// hashLog wraps a store and remembers every hash committed and every hash
// looked up, so a fuzz target can tell whether a lookup was for a session
// latch itself issued.
type hashLog struct {
	driver.Store
	mu        sync.Mutex
	committed map[driver.Hash]bool
	foreign   []driver.Hash // loads of hashes never committed
}

func (s *hashLog) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	s.mu.Lock()
	if !s.committed[id] {
		s.foreign = append(s.foreign, id)
	}
	s.mu.Unlock()
	return s.Store.Load(ctx, id)
}

func (s *hashLog) Commit(ctx context.Context, c *driver.Commit) error {
	s.mu.Lock()
	s.committed[c.ID] = true
	s.mu.Unlock()
	return s.Store.Commit(ctx, c)
}

// FuzzCookieHeader sends arbitrary Cookie headers (one header line per "\n"
// of the input) through Manager.Handler, which finds the session cookie
// and verifies its token. Whatever the header, the request must be served
// (no panic, no 5xx, no 429 with the guessing limit off), the store must
// never be asked for a hash latch did not issue (nothing that fails the MAC
// reaches it), and a Set-Cookie in the answer must carry either the one
// live token or an empty, expiring value: never bytes from the request.
func FuzzCookieHeader(f *testing.F) {
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ms, err := memstore.New(memstore.Options{Now: clock})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ms.Close() })
	store := &hashLog{Store: ms, committed: map[driver.Hash]bool{}}
	m, err := latch.New(latch.Config{
		Store:      store,
		Keys:       testKeys(f, "k1"),
		GuessLimit: -1,
		Now:        clock,
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := latch.FromContext(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if r.Method == http.MethodPost {
			if err := s.Login("alice"); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		io.WriteString(w, s.UserID())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	var live string
	for _, c := range rec.Result().Cookies() {
		if c.Name == m.CookieName() {
			live = c.Value
		}
	}
	if live == "" {
		f.Fatal("login gave no session cookie")
	}
	name := m.CookieName()
	f.Add(name + "=" + live)
	f.Add("a=b; " + name + "=" + live + "; c=d")
	f.Add(name + "=" + live + "\n" + name + "=" + live) // cookie tossing
	f.Add(name + "=" + live[:len(live)-3])
	f.Add(name + "=\"" + live + "\"")
	f.Add(name + "=")
	f.Add(name)
	f.Add(";;;; ;=;" + name + "==")
	f.Add(name + "=" + strings.Repeat("A", 8<<10))
	f.Add(name + "=k1.\xff\xfe\x00")
	f.Add("session=" + live)
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header["Cookie"] = strings.Split(header, "\n")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d for Cookie %q; want 200", rec.Code, header)
		}
		store.mu.Lock()
		foreign := len(store.foreign)
		store.mu.Unlock()
		if foreign != 0 {
			t.Fatalf("a hash latch never issued reached the store (Cookie %q)", header)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Name != name {
				t.Fatalf("Set-Cookie for another name %q", c.Name)
			}
			if c.Value != "" && c.Value != live {
				t.Fatalf("Set-Cookie value %q is neither empty nor the live token", c.Value)
			}
			if c.Value == "" && c.MaxAge >= 0 {
				t.Fatalf("empty Set-Cookie that does not expire the cookie: %+v", c)
			}
		}
		if user := rec.Body.String(); user != "" && user != "alice" {
			t.Fatalf("session user %q", user)
		}
	})
}
