package bench

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	"github.com/labstack/echo/v4"
	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchecho"
	"github.com/latchsec/latch/latchgin"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

// The framework benchmarks measure what latch adds to a request in each
// framework: the same GET / served by the framework alone (bare: the
// handler writes the theme it knows) and with latch (latch-read: a
// signed-in session whose theme the handler reads; latch-anon: a request
// without a cookie, whose handler finds no theme). Each group's ratio to
// its bare is the adapter's overhead in that framework; net/http's
// (latch's own Handler on a ServeMux) is the one to compare them with.

// framework builds a router whose GET / answers with theme(r); with a
// Manager, the router has latch's middleware.
type framework struct {
	name string
	new  func(m *latch.Manager, theme func(*http.Request) string) http.Handler
}

var frameworks = []framework{
	{"NetHTTP", func(m *latch.Manager, theme func(*http.Request) string) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, theme(r)) })
		if m == nil {
			return mux
		}
		return m.Handler(mux)
	}},
	{"Chi", func(m *latch.Manager, theme func(*http.Request) string) http.Handler {
		r := chi.NewRouter()
		if m != nil {
			r.Use(m.Handler)
		}
		r.Get("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, theme(r)) })
		return r
	}},
	{"Gin", func(m *latch.Manager, theme func(*http.Request) string) http.Handler {
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		if m != nil {
			r.Use(latchgin.Middleware(m))
		}
		r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, theme(c.Request)) })
		return r
	}},
	{"Echo", func(m *latch.Manager, theme func(*http.Request) string) http.Handler {
		e := echo.New()
		if m != nil {
			e.Use(latchecho.Middleware(m))
		}
		e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, theme(c.Request())) })
		return e
	}},
}

// knownTheme is the bare handler's answer: no session to read it from.
func knownTheme(*http.Request) string { return ThemeValue }

// sessionTheme reads the theme from the request's session.
func sessionTheme(r *http.Request) string {
	s, err := latch.FromContext(r.Context())
	if err != nil {
		return err.Error()
	}
	if v := s.GetString("theme"); v != "" {
		return v
	}
	return "none"
}

// newSignedIn returns a Manager on a memory store (the default
// configuration, the real clock) and the cookie of a signed-in session
// whose theme is ThemeValue.
func newSignedIn(tb testing.TB) (*latch.Manager, string) {
	tb.Helper()
	store, err := memstore.New(memstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	m, err := latch.New(latch.Config{Store: store, Keys: latchtest.Keys(tb), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Login("alice"); err != nil {
			tb.Fatal(err)
		}
		s.Set("theme", ThemeValue)
	})).ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == m.CookieName() {
			return m, c.Name + "=" + c.Value
		}
	}
	tb.Fatal("login set no session cookie")
	return nil, ""
}

// frameworkCases are the three ways each framework is measured.
func frameworkCases(tb testing.TB, f framework) []struct {
	lib, cookie, want string
	h                 http.Handler
} {
	m, cookie := newSignedIn(tb)
	return []struct {
		lib, cookie, want string
		h                 http.Handler
	}{
		{Bare, "", ThemeValue, f.new(nil, knownTheme)},
		{"latch-read", cookie, ThemeValue, f.new(m, sessionTheme)},
		{"latch-anon", "", "none", f.new(m, sessionTheme)},
	}
}

// BenchmarkNetHTTP, BenchmarkChi, BenchmarkGin and BenchmarkEcho are one
// group each for cmd/ratios, each with the three cases of frameworkCases.
func BenchmarkNetHTTP(b *testing.B) { benchFramework(b, frameworks[0]) }
func BenchmarkChi(b *testing.B)     { benchFramework(b, frameworks[1]) }
func BenchmarkGin(b *testing.B)     { benchFramework(b, frameworks[2]) }
func BenchmarkEcho(b *testing.B)    { benchFramework(b, frameworks[3]) }

func benchFramework(b *testing.B, f framework) {
	for _, c := range frameworkCases(b, f) {
		b.Run(c.lib, func(b *testing.B) { serveLoop(b, f.name+" "+c.lib, c.h, c.cookie, c.want) })
	}
}

// TestFrameworks checks that each framework's handlers answer what the
// benchmarks expect: latch's session read through every adapter.
func TestFrameworks(t *testing.T) {
	for _, f := range frameworks {
		for _, c := range frameworkCases(t, f) {
			t.Run(f.name+"/"+c.lib, func(t *testing.T) {
				r := httptest.NewRequest("GET", "/", nil)
				if c.cookie != "" {
					r.Header.Set("Cookie", c.cookie)
				}
				rec := httptest.NewRecorder()
				c.h.ServeHTTP(rec, r)
				if rec.Code != 200 || rec.Body.String() != c.want {
					t.Errorf("got %d %q; want 200 %q", rec.Code, rec.Body.String(), c.want)
				}
			})
		}
	}
}
