package bench_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"
	"github.com/gorilla/sessions"
	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
)

// The README's migration recipes are the two functions below, copied
// verbatim (TestMigrationRecipesInREADME checks it). Each runs inside
// latch's Handler, on the routes of the application: a request that has no
// latch login but still carries the old library's cookie is logged in to
// latch as the user the old session names, with its values, and the old
// cookie is dropped. A request whose login fails (the store is down) keeps
// the old cookie, so the next one tries again: nobody is signed out.

// fromGorilla moves a gorilla/sessions session (a CookieStore or any
// sessions.Store) named name, whose user ID is under "user", to latch.
func fromGorilla(old sessions.Store, name string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := latch.FromContext(r.Context())
			if _, err := r.Cookie(name); err != nil || s.IsAuthenticated() {
				next.ServeHTTP(w, r)
				return
			}
			sess, err := old.Get(r, name) // err: forged, expired or unreadable
			user, _ := sess.Values["user"].(string)
			if err == nil && user != "" {
				for k, v := range sess.Values {
					if k, ok := k.(string); ok && k != "user" {
						s.Set(k, v) // a value JSON cannot keep is left behind
					}
				}
				if err := s.Login(user); err != nil {
					next.ServeHTTP(w, r) // keep the old cookie: try again next time
					return
				}
			}
			http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1}) // the old cookie's Path
			next.ServeHTTP(w, r)
		})
	}
}

// fromSCS moves an scs session, whose user ID is under "user", to latch,
// and deletes it from scs's store.
func fromSCS(sm *scs.SessionManager) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := latch.FromContext(r.Context())
			c, err := r.Cookie(sm.Cookie.Name)
			if err != nil || s.IsAuthenticated() {
				next.ServeHTTP(w, r)
				return
			}
			ctx, err := sm.Load(r.Context(), c.Value)
			if err != nil {
				next.ServeHTTP(w, r) // scs's store is down: try again next time
				return
			}
			if user := sm.GetString(ctx, "user"); user != "" {
				for _, k := range sm.Keys(ctx) {
					if k != "user" {
						s.Set(k, sm.Get(ctx, k))
					}
				}
				if err := s.Login(user); err != nil {
					next.ServeHTTP(w, r)
					return
				}
				sm.Destroy(ctx)
			}
			http.SetCookie(w, &http.Cookie{Name: sm.Cookie.Name, Path: sm.Cookie.Path, MaxAge: -1})
			next.ServeHTTP(w, r)
		})
	}
}

// flakyStore is a latch store whose commits fail while down is set.
type flakyStore struct {
	driver.Store
	down bool
}

func (f *flakyStore) Commit(ctx context.Context, c *driver.Commit) error {
	if f.down {
		return errors.New("store down")
	}
	return f.Store.Commit(ctx, c)
}

// migrationApp is an application's new set-up: latch, with the recipe
// for the old library in front of its routes. "/" says who is signed in
// and the theme; "/logout" logs out of latch.
func migrationApp(t *testing.T, recipe func(http.Handler) http.Handler) (*httptest.Server, *flakyStore) {
	t.Helper()
	ms, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	store := &flakyStore{Store: ms}
	keys, err := latch.NewKeyring(latch.Key{ID: "k1", Secret: latch.GenerateKey()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := latch.New(latch.Config{Store: store, Keys: keys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if !s.IsAuthenticated() {
			io.WriteString(w, "signed out")
			return
		}
		io.WriteString(w, s.UserID()+" "+s.GetString("theme"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Logout()
	})
	srv := httptest.NewServer(m.Handler(recipe(mux)))
	t.Cleanup(srv.Close)
	return srv, store
}

// oldLibrary is one library an application migrates from: its login
// handler (which signs in alice with theme "dark") and the name of its
// cookie, and the recipe that moves its sessions to latch.
type oldLibrary struct {
	login  http.Handler
	cookie string
	recipe func(http.Handler) http.Handler
}

func gorillaLibrary(t *testing.T) oldLibrary {
	store := sessions.NewCookieStore(latch.GenerateKey(), latch.GenerateKey())
	store.Options.Path = "/"
	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, _ := store.Get(r, "app")
		sess.Values["user"] = "alice"
		sess.Values["theme"] = "dark"
		if err := sess.Save(r, w); err != nil {
			t.Error(err)
		}
	})
	return oldLibrary{login: login, cookie: "app", recipe: fromGorilla(store, "app")}
}

func scsLibrary(t *testing.T) oldLibrary {
	sm := scs.New()
	sm.Store = scsmem.NewWithCleanupInterval(0)
	login := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			t.Error(err)
		}
		sm.Put(r.Context(), "user", "alice")
		sm.Put(r.Context(), "theme", "dark")
	}))
	return oldLibrary{login: login, cookie: sm.Cookie.Name, recipe: fromSCS(sm)}
}

// TestMigrateLiveSessions signs alice in with the real gorilla/sessions or
// scs, then serves her next requests with latch and the recipe: she is
// still signed in, with her values, under a latch cookie, and the old cookie
// is gone. While latch's store is down the old cookie stays, and the move
// happens on the first request after it is back. A forged old cookie is
// dropped without a login, and a latch logout is not undone by an old
// cookie that a browser kept.
func TestMigrateLiveSessions(t *testing.T) {
	libs := map[string]func(*testing.T) oldLibrary{"gorilla": gorillaLibrary, "scs": scsLibrary}
	for name, newLib := range libs {
		t.Run(name, func(t *testing.T) {
			lib := newLib(t)
			oldSrv := httptest.NewServer(lib.login)
			defer oldSrv.Close()
			res, err := http.Post(oldSrv.URL, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			var oldCookie *http.Cookie
			for _, c := range res.Cookies() {
				if c.Name == lib.cookie {
					oldCookie = c
				}
			}
			if oldCookie == nil {
				t.Fatalf("the old library set no %s cookie", lib.cookie)
			}

			srv, store := migrationApp(t, lib.recipe)
			jar, _ := cookiejar.New(nil)
			u, _ := url.Parse(srv.URL)
			jar.SetCookies(u, []*http.Cookie{{Name: oldCookie.Name, Value: oldCookie.Value, Path: "/"}})
			client := &http.Client{Jar: jar}
			get := func() string {
				t.Helper()
				res, err := client.Get(srv.URL + "/")
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return string(b)
			}
			has := func(cookie string) bool {
				for _, c := range jar.Cookies(u) {
					if c.Name == cookie {
						return true
					}
				}
				return false
			}

			store.down = true
			get() // latch answers 503: its store is down
			if !has(lib.cookie) {
				t.Fatal("store down: the old cookie was dropped, so alice is signed out for good")
			}
			store.down = false
			if got := get(); got != "alice dark" {
				t.Errorf("first latch request: %q; want alice dark", got)
			}
			if has(lib.cookie) {
				t.Error("the old cookie is still there after the move")
			}
			if !has("__Host-session") {
				t.Errorf("no latch cookie: %v", jar.Cookies(u))
			}
			if got := get(); got != "alice dark" {
				t.Errorf("second latch request: %q; want alice dark", got)
			}

			// A logout stays a logout, even if the browser sends the old
			// cookie again (a copy kept elsewhere).
			if _, err := client.Post(srv.URL+"/logout", "", nil); err != nil {
				t.Fatal(err)
			}
			jar.SetCookies(u, []*http.Cookie{{Name: oldCookie.Name, Value: oldCookie.Value, Path: "/"}})
			got := get()
			if name == "scs" && got != "signed out" {
				t.Errorf("after logout with the old scs cookie: %q; want signed out (scs's session was deleted)", got)
			}
			if name == "gorilla" && got != "alice dark" {
				// A cookie store cannot delete a cookie it issued: until
				// its keys are retired, a kept copy signs in again.
				t.Errorf("after logout with a kept gorilla cookie: %q", got)
			}

			// A forged old cookie: no login, and the cookie is dropped.
			jar2, _ := cookiejar.New(nil)
			jar2.SetCookies(u, []*http.Cookie{{Name: oldCookie.Name, Value: "forged" + oldCookie.Value[6:], Path: "/"}})
			client.Jar, jar = jar2, jar2
			if got := get(); got != "signed out" {
				t.Errorf("forged old cookie: %q; want signed out", got)
			}
			if has(lib.cookie) {
				t.Error("the forged old cookie was kept")
			}
		})
	}
}

// TestMigrationRecipesInREADME checks that the README shows the recipes
// exactly as this file has them.
func TestMigrationRecipesInREADME(t *testing.T) {
	src, err := os.ReadFile("migrate_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{"fromGorilla", "fromSCS"} {
		re := regexp.MustCompile(`(?ms)^// ` + fn + ` .*?^}\n`)
		code := re.Find(src)
		if code == nil {
			t.Fatalf("no %s in migrate_test.go", fn)
		}
		if !strings.Contains(string(readme), string(code)) {
			t.Errorf("README.md does not show %s as migrate_test.go has it:\n%s", fn, code)
		}
	}
}
