package demo

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

// TestDemoShowsSigningKey: the home page and GET /me show which key
// signed the request's cookie, and after a reload of the keyring that
// makes another key sign, the page says that the cookie is re-issued
// under it; the next request carries the new key's cookie.
func TestDemoShowsSigningKey(t *testing.T) {
	clk := latchtest.NewClock(time.Now())
	st, err := memstore.New(memstore.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	old := latch.Key{ID: "old", Secret: latch.GenerateKey()}.SecretEntry()
	var mu sync.Mutex
	text := old
	src := latch.KeySourceFunc(func(context.Context) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		return []byte(text), nil
	})
	logger := slog.New(slog.DiscardHandler)
	m, err := latch.New(latch.Config{Store: st, KeySource: src, KeyReloadInterval: -1, Now: clk.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, h: New(Options{Manager: m, PasswordIterations: 1000, Logger: logger}).Handler()}
	c.login("alice", "wonderland")

	home := func() string {
		t.Helper()
		res := c.do("GET", "/", nil)
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if page := home(); !strings.Contains(page, `<dd id="cookie-key">old</dd>`) || !strings.Contains(page, `<dd id="signing-key">old</dd>`) {
		t.Fatalf("home page before the rotation lacks the key ids:\n%s", page)
	}

	mu.Lock()
	text = latch.Key{ID: "new", Secret: latch.GenerateKey()}.SecretEntry() + "\n" + old
	mu.Unlock()
	if err := m.ReloadKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	if page := home(); !strings.Contains(page, `<dd id="cookie-key">old (re-issued on this request under key new)</dd>`) {
		t.Fatalf("home page after the reload does not say the cookie is re-issued:\n%s", page)
	}
	res := c.do("GET", "/me", nil)
	var me struct {
		User      string `json:"user"`
		CookieKey string `json:"cookie_key"`
	}
	json.NewDecoder(res.Body).Decode(&me)
	if res.StatusCode != http.StatusOK || me.User != "alice" || me.CookieKey != "new" {
		t.Fatalf("GET /me after the re-issue: %d %+v, want alice with cookie_key new", res.StatusCode, me)
	}
}
