package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/latchsec/latch"
)

// serve sends one request with the given Cookie header to h.
func serve(h http.Handler, method, cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// sessionCookie returns the Cookie header for the session cookie w set,
// or fallback when it set none.
func sessionCookie(l *Lib, w *httptest.ResponseRecorder, fallback string) string {
	for _, c := range w.Result().Cookies() {
		if c.Name == l.CookieName && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	return fallback
}

// userOf returns the logged-in user of the session cookie names, read the
// way each library records it.
func userOf(t *testing.T, l *Lib, cookie string) string {
	t.Helper()
	if l.Latch != nil {
		var user string
		h := l.Latch.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := latch.FromContext(r.Context())
			if err != nil {
				t.Error(err)
				return
			}
			user = s.UserID()
		}))
		serve(h, http.MethodGet, cookie)
		return user
	}
	return serve(l.Peek("user"), http.MethodGet, cookie).Body.String()
}

// TestHandlers checks that every benchmarked handler does its work in
// every library, so that the benchmarks compare the same thing: the read
// handler sees the value Login stored, a write is read back, and Login
// logs the user in on a new session.
func TestHandlers(t *testing.T) {
	names := append([]string(nil), Names...)
	url := os.Getenv("LATCH_TEST_REDIS_URL")
	if url != "" {
		names = append(names, LatchRedis, SCSRedis)
	} else if os.Getenv("CI") == "true" {
		t.Fatal("LATCH_TEST_REDIS_URL not set: scripts/test must start a redis-server")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			l := newLib(t, name, Options{Dir: t.TempDir(), RedisURL: url})

			t.Run("read", func(t *testing.T) {
				w := serve(l.Read, http.MethodGet, l.Cookie)
				if w.Code != http.StatusOK || w.Body.String() != ThemeValue {
					t.Fatalf("read: got %d %q; want 200 %q", w.Code, w.Body.String(), ThemeValue)
				}
			})
			t.Run("write", func(t *testing.T) {
				w := serve(l.Write, http.MethodPost, l.Cookie)
				if w.Code != http.StatusOK {
					t.Fatalf("write: got %d %q", w.Code, w.Body.String())
				}
				n := w.Body.String()
				if _, err := strconv.Atoi(n); err != nil {
					t.Fatalf("write: body %q, want a number", n)
				}
				if name == Bare {
					return
				}
				cookie := sessionCookie(l, w, l.Cookie)
				if got := serve(l.Peek(WriteKey), http.MethodGet, cookie).Body.String(); got != n {
					t.Errorf("after write: %s = %q; want %q", WriteKey, got, n)
				}
				if got := serve(l.Read, http.MethodGet, cookie).Body.String(); got != ThemeValue {
					t.Errorf("after write: %s = %q; want %q", ThemeKey, got, ThemeValue)
				}
			})
			t.Run("login", func(t *testing.T) {
				w := serve(l.Login, http.MethodPost, "")
				if w.Code != http.StatusOK || w.Body.String() != "ok" {
					t.Fatalf("login: got %d %q", w.Code, w.Body.String())
				}
				if name == Bare {
					return
				}
				cookie := sessionCookie(l, w, "")
				if cookie == "" {
					t.Fatal("login set no session cookie")
				}
				if cookie == l.Cookie {
					t.Error("login reused the session of an earlier login")
				}
				if got := userOf(t, l, cookie); got != User {
					t.Errorf("after login: user %q; want %q", got, User)
				}
				if got := serve(l.Read, http.MethodGet, cookie).Body.String(); got != ThemeValue {
					t.Errorf("after login: %s = %q; want %q", ThemeKey, got, ThemeValue)
				}
			})
			t.Run("no-session", func(t *testing.T) {
				if name == Bare {
					t.Skip("bare has no session")
				}
				w := serve(l.Read, http.MethodGet, "")
				if w.Code != http.StatusOK || w.Body.String() != "" {
					t.Errorf("read without a session: got %d %q; want 200 and no value", w.Code, w.Body.String())
				}
			})
		})
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		lib  string
		opts Options
		want string
	}{
		{"unknown library", "nosuch", Options{}, "unknown library"},
		{"bolt without dir", LatchBolt, Options{}, "Options.Dir"},
		{"latch redis without URL", LatchRedis, Options{}, "Options.RedisURL"},
		{"scs redis without URL", SCSRedis, Options{}, "Options.RedisURL"},
		{"scs redis bad URL", SCSRedis, Options{RedisURL: "http://u:hunter2@x"}, "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(context.Background(), tc.lib, tc.opts)
			if err == nil {
				l.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "bench: ") {
				t.Errorf("error %q; want it to start with \"bench: \" and mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q repeats a password", err)
			}
			if tc.lib == "nosuch" && !errors.Is(err, ErrUnknownLib) {
				t.Errorf("error %q does not match ErrUnknownLib", err)
			}
		})
	}
}
