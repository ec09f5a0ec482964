package latch_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

// BenchmarkReadOnly measures a request that reads one value of a logged-in
// session on memstore: the path every page view takes. The side-by-side
// comparison with other libraries lives in bench/.
func BenchmarkReadOnly(b *testing.B) {
	store, _ := memstore.New(memstore.Options{})
	defer store.Close()
	m, err := latch.New(latch.Config{Store: store, Keys: latchtest.Keys(b), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	var cookie string
	login := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Set("theme", "dark")
		s.Login("alice")
	}))
	rec := httptest.NewRecorder()
	login.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	cookie = rec.Result().Cookies()[0].Value
	read := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if s.GetString("theme") != "dark" {
			b.Fatal("lost the value")
		}
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", m.CookieName()+"="+cookie)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		read.ServeHTTP(w, req)
	}
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
