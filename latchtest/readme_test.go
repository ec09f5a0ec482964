package latchtest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchtest"
)

// newApp is an application under test: POST /theme keeps the signed-in
// user's choice of theme.
func newApp(m *latch.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /theme", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Set("theme", r.FormValue("theme")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	return m.Handler(m.RequireLogin(nil)(mux))
}

// TestThemeHandler is the README's handler test, copied from here.
//
// snippet: handler test
func TestThemeHandler(t *testing.T) {
	tm := latchtest.New(t, latch.Config{})
	app := newApp(tm.Manager) // the application's handler, behind tm.Manager.Handler

	c := tm.Login("alice")
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, tm.Request("POST", "/theme?theme=dark", nil, c))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("POST /theme: %d; want 303", rec.Code)
	}
	if got := tm.Stored(c).GetString("theme"); got != "dark" {
		t.Errorf("stored theme %q; want dark", got)
	}

	tm.PastIdle(c) // 30 minutes later, without a request
	rec = httptest.NewRecorder()
	app.ServeHTTP(rec, tm.Request("POST", "/theme?theme=light", nil, c))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("POST /theme after the idle timeout: %d; want 401", rec.Code)
	}
}

// end snippet
