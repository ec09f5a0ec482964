package latch_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchtest"
)

// passwordOK stands in for the application's user store.
func passwordOK(user, password string) bool { return user == "alice" && password == "wonderland" }

// newMux is the README's net/http set-up, copied from here.
func newMux(m *latch.Manager) http.Handler {
	// snippet: net/http
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
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
	mux.Handle("GET /me", m.RequireLogin(nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		json.NewEncoder(w).Encode(map[string]string{"user": s.UserID()})
	})))
	mux.Handle("GET /session/status", m.StatusHandler())
	handler := m.Handler(mux) // every route gets its session
	// end snippet
	return handler
}

// TestNetHTTPSetup runs the README's net/http set-up: a form login, a
// page behind RequireLogin, the status handler.
func TestNetHTTPSetup(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	app := newMux(tm.Manager)
	serve := func(r *http.Request) (*http.Response, string) {
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, r)
		return rec.Result(), rec.Body.String()
	}
	login := func(password string) *http.Response {
		r := tm.Request("POST", "/login", strings.NewReader(url.Values{"username": {"alice"}, "password": {password}}.Encode()), nil)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, _ := serve(r)
		return res
	}
	if res, _ := serve(tm.Request("GET", "/me", nil, nil)); res.StatusCode != 401 {
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
	if res, body := serve(tm.Request("GET", "/me", nil, c)); res.StatusCode != 200 || body != "{\"user\":\"alice\"}\n" {
		t.Errorf("GET /me: %d %q", res.StatusCode, body)
	}
	if res, body := serve(tm.Request("GET", "/session/status", nil, c)); res.StatusCode != 200 || !strings.Contains(body, `"user":"alice"`) {
		t.Errorf("GET /session/status: %d %q", res.StatusCode, body)
	}
}
