package latchgin_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/latchgin"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

// TestDeviceBoundEndpoints: latch's Handler answers the device-bound
// session endpoints itself (no route of the application matches them);
// behind latchgin, gin must not go on to its own handlers afterwards (its
// 404 would be added to latch's answer).
func TestDeviceBoundEndpoints(t *testing.T) {
	tm := latchtest.New(t, latch.Config{DeviceBound: latch.DeviceBound{Mode: latch.DeviceBoundEnforce}})
	r := gin.New()
	r.Use(latchgin.Middleware(tm.Manager))
	r.POST("/login", func(c *gin.Context) {
		if err := session(t, c).Login("alice"); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.Status(http.StatusNoContent)
	})
	srv := newServer(t, r)
	res, _ := srv.do("POST", "/login", "", nil)
	cookie := tm.Cookie(res)
	reg := res.Header.Get("Secure-Session-Registration")
	_, challenge, ok := strings.Cut(reg, `challenge="`)
	if cookie == nil || !ok {
		t.Fatalf("login: %d, cookie %v, registration %q", res.StatusCode, cookie, reg)
	}
	challenge = strings.TrimSuffix(challenge, `"`)

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pt, _ := key.PublicKey.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	hdr := `{"alg":"ES256","jwk":{"crv":"P-256","kty":"EC","x":"` + b64(pt[1:33]) + `","y":"` + b64(pt[33:]) + `"},"typ":"dbsc+jwt"}`
	input := b64([]byte(hdr)) + "." + b64([]byte(`{"jti":"`+challenge+`"}`))
	d := sha256.Sum256([]byte(input))
	rr, ss, _ := ecdsa.Sign(rand.Reader, key, d[:])
	sig := make([]byte, 64)
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])

	req, _ := http.NewRequest("POST", srv.url+"/.latch/dbsc/register", nil)
	req.AddCookie(cookie)
	req.Header.Set("Secure-Session-Response", input+"."+b64(sig))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var ins struct {
		SessionIdentifier string `json:"session_identifier"`
	}
	if err := json.Unmarshal(raw, &ins); resp.StatusCode != 200 || err != nil || ins.SessionIdentifier == "" {
		t.Fatalf("registration behind latchgin: %d, %v, %q", resp.StatusCode, err, raw)
	}

	res, body := srv.do("POST", "/.latch/dbsc/refresh", "", cookie)
	if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusForbidden || strings.Contains(body, "404") {
		t.Errorf("refresh without a session id behind latchgin: %d %q", res.StatusCode, body)
	}
}

// loadFails is a store whose Load fails.
type loadFails struct{ driver.Store }

func (loadFails) Load(context.Context, driver.Hash) (*driver.Record, error) {
	return nil, errors.New("store down")
}

// TestAnsweredByLatch: when latch answers a request itself without
// running the rest of the chain (here the store cannot load the session:
// 503), gin does not run the route's handler afterwards, without a
// session and behind the answer.
func TestAnsweredByLatch(t *testing.T) {
	mem, _ := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	keys := latchtest.Keys(t)
	up, err := latch.New(latch.Config{Store: mem, Keys: keys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	down, err := latch.New(latch.Config{Store: loadFails{mem}, Keys: keys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	login := gin.New()
	login.Use(latchgin.Middleware(up))
	login.POST("/login", func(c *gin.Context) { session(t, c).Login("alice"); c.Status(http.StatusNoContent) })
	res, _ := newServer(t, login).do("POST", "/login", "", nil)
	var ck *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == up.CookieName() {
			ck = c
		}
	}
	if ck == nil {
		t.Fatal("no session cookie")
	}
	var ran atomic.Bool
	r := gin.New()
	r.Use(latchgin.Middleware(down))
	r.POST("/transfer", func(c *gin.Context) {
		ran.Store(true)
		c.String(http.StatusOK, "done")
	})
	res, body := newServer(t, r).do("POST", "/transfer", "", ck)
	if res.StatusCode != http.StatusServiceUnavailable || ran.Load() || strings.Contains(body, "done") {
		t.Errorf("with the store down: %d %q, handler ran %v; want 503 and the handler not run", res.StatusCode, body, ran.Load())
	}
}
