package latchgin_test

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchgin"
	"github.com/latchsec/latch/memstore"
)

// A gin application with a JSON login and a page for signed-in users.
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

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(latchgin.Middleware(m))
	r.POST("/login", func(c *gin.Context) {
		var in struct{ User, Password string }
		if err := c.ShouldBindJSON(&in); err != nil || in.Password != "wonderland" { // check a real password hash here
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		s, _ := latchgin.Session(c)
		if err := s.Login(in.User); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": in.User})
	})
	r.GET("/me", latchgin.RequireLogin(m, nil), func(c *gin.Context) {
		s, _ := latchgin.Session(c)
		c.String(http.StatusOK, "signed in as %s", s.UserID())
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	res, err := http.Post(srv.URL+"/login", "application/json", strings.NewReader(`{"user":"alice","password":"wonderland"}`))
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	cookie := res.Cookies()[0]
	fmt.Println(res.StatusCode, string(body), cookie.Name, cookie.HttpOnly, cookie.Secure)

	req, _ := http.NewRequest("GET", srv.URL+"/me", nil)
	req.AddCookie(cookie)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))
	// Output:
	// 200 {"user":"alice"} __Host-session true true
	// 200 signed in as alice
}
