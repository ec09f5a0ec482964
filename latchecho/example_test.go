package latchecho_test

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchecho"
	"github.com/latchsec/latch/memstore"
)

// An echo application with a JSON login and a page for signed-in users;
// a request without a session gets echo's 401.
func Example() {
	store, err := memstore.New(memstore.Options{}) // boltstore, redisstore, pgstore for more
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	keys, _ := latch.NewKeyring(latch.Key{ID: "k1", Secret: latch.GenerateKey()}) // a real program: latch.LoadKeys()
	m, err := latch.New(latch.Config{Store: store, Keys: keys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}

	e := echo.New()
	e.Use(latchecho.Middleware(m))
	e.POST("/login", func(c echo.Context) error {
		var in struct{ User, Password string }
		if err := c.Bind(&in); err != nil || in.Password != "wonderland" { // check a real password hash here
			return echo.ErrUnauthorized
		}
		s, _ := latchecho.Session(c)
		if err := s.Login(in.User); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"user": in.User})
	})
	e.GET("/me", func(c echo.Context) error {
		s, _ := latchecho.Session(c)
		return c.String(http.StatusOK, "signed in as "+s.UserID())
	}, latchecho.RequireLogin(m, nil))
	srv := httptest.NewServer(e)
	defer srv.Close()

	res, err := http.Post(srv.URL+"/login", "application/json", strings.NewReader(`{"user":"alice","password":"wonderland"}`))
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	cookie := res.Cookies()[0]
	fmt.Print(res.StatusCode, " ", string(body))
	fmt.Println(cookie.Name, cookie.HttpOnly, cookie.Secure)

	for _, c := range []*http.Cookie{cookie, nil} {
		req, _ := http.NewRequest("GET", srv.URL+"/me", nil)
		if c != nil {
			req.AddCookie(c)
		}
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Print(res.StatusCode, " ", string(body), "\n")
	}
	// Output:
	// 200 {"user":"alice"}
	// __Host-session true true
	// 200 signed in as alice
	// 401 {"message":"Unauthorized"}
}
