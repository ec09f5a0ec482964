package latchtest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchtest"
)

// A handler test: log alice in, serve a request that stores a value, read
// it back, and let the session time out. (An example has no *testing.T;
// a test passes its own.)
func Example() {
	t := &testing.T{}
	tm := latchtest.New(t, latch.Config{})
	app := tm.Manager.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Set("theme", r.FormValue("theme"))
		fmt.Fprintln(w, "hello", s.UserID())
	}))

	c := tm.Login("alice")
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, tm.Request("GET", "/?theme=dark", nil, c))
	fmt.Print(rec.Body.String())
	fmt.Println("stored theme:", tm.Stored(c).GetString("theme"))

	tm.PastIdle(c)
	fmt.Println("after the idle timeout:", tm.Stored(c).Ended())
	// Output:
	// hello alice
	// stored theme: dark
	// after the idle timeout: idle
}
