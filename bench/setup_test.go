package bench

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchtest"
)

// passwordOK stands in for the application's user store.
func passwordOK(user, password string) bool { return user == "alice" && password == "wonderland" }

// newChiRouter is the README's chi set-up, copied from here.
func newChiRouter(m *latch.Manager) http.Handler {
	// snippet: chi
	r := chi.NewRouter()
	r.Use(m.Handler) // latch's middleware is net/http's shape, which chi takes as it is
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		user := r.PostFormValue("username")
		if !passwordOK(user, r.PostFormValue("password")) {
			http.Error(w, "wrong user or password", http.StatusUnauthorized)
			return
		}
		if err := s.Login(user); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/me", http.StatusSeeOther)
	})
	r.With(m.RequireLogin(nil)).Get("/me", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		json.NewEncoder(w).Encode(map[string]string{"user": s.UserID()})
	})
	r.Method("GET", "/session/status", m.StatusHandler())
	// end snippet
	return r
}

// TestChiSetup runs the README's chi set-up: a form login, a page behind
// RequireLogin, the status handler.
func TestChiSetup(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	app := newChiRouter(tm.Manager)
	serve := func(r *http.Request) *http.Response {
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, r)
		return rec.Result()
	}
	login := func(password string) *http.Response {
		r := tm.Request("POST", "/login", strings.NewReader(url.Values{"username": {"alice"}, "password": {password}}.Encode()), nil)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return serve(r)
	}
	if res := serve(tm.Request("GET", "/me", nil, nil)); res.StatusCode != 401 {
		t.Errorf("GET /me signed out: %d; want 401", res.StatusCode)
	}
	if res := login("wrong"); res.StatusCode != 401 || tm.Cookie(res) != nil {
		t.Errorf("wrong password: %d, cookie %v; want 401 and none", res.StatusCode, tm.Cookie(res))
	}
	res := login("wonderland")
	c := tm.Cookie(res)
	if res.StatusCode != 303 || c == nil {
		t.Fatalf("login: %d, cookie %v; want 303 and a cookie", res.StatusCode, c)
	}
	if res := serve(tm.Request("GET", "/me", nil, c)); res.StatusCode != 200 || body(res) != "{\"user\":\"alice\"}\n" {
		t.Errorf("GET /me: %d", res.StatusCode)
	}
	if res := serve(tm.Request("GET", "/session/status", nil, c)); res.StatusCode != 200 || !strings.Contains(body(res), `"user":"alice"`) {
		t.Errorf("GET /session/status: %d", res.StatusCode)
	}
}

func body(res *http.Response) string {
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
