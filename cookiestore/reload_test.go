package cookiestore_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
)

// keyText is a keyring's text that the test changes, read by the
// Manager through a KeySourceFunc.
type keyText struct {
	mu   sync.Mutex
	text string
}

func (k *keyText) set(entries ...string) {
	k.mu.Lock()
	k.text = strings.Join(entries, "\n")
	k.mu.Unlock()
}

func (k *keyText) source() latch.KeySource {
	return latch.KeySourceFunc(func(context.Context) ([]byte, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		return []byte(k.text), nil
	})
}

func entry(id string) string { return latch.Key{ID: id, Secret: latch.GenerateKey()}.SecretEntry() }

// TestReloadReachesCookies: a Manager with a KeySource gives every
// keyring it takes to its cookie store. After a reload that adds a
// primary key, cookies are sealed under it and a cookie under the old key
// is opened and sealed again under the new one; after a reload that drops
// the old key, a cookie still sealed under it is refused.
func TestReloadReachesCookies(t *testing.T) {
	k1, k2 := entry("k1"), entry("k2")
	keys := &keyText{}
	keys.set(k1)
	// The store starts with another keyring than the source's: the
	// Manager gives it the source's at New.
	hs := newHarness(t, harnessOptions{keys: testKeys(t, "other"), src: keys.source()})
	b := hs.mustLogin("alice", false)
	if got := keyIDOf(b.cookie); got != "k1" {
		t.Fatalf("cookie sealed under %q, want k1 (the source's keyring)", got)
	}
	stale := b.cookie

	keys.set(k2, k1)
	if err := hs.m.ReloadKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "k1 cookie after k2 became primary", b.do("GET", "/whoami"), "user=alice ended=")
	if got := keyIDOf(b.cookie); got != "k2" {
		t.Errorf("k1 cookie sealed again under %q, want k2", got)
	}

	keys.set(k2)
	if err := hs.m.ReloadKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "k2 cookie after k1 was dropped", b.do("GET", "/whoami"), "user=alice ended=")
	o, err := hs.open(stale)
	if err != nil || o.Refused != driver.ReasonUnknownKey {
		t.Errorf("k1 cookie after k1 was dropped: Open = %+v, %v; want refused as %s", o, err, driver.ReasonUnknownKey)
	}
	wantBody(t, "k1 cookie through the Manager", hs.do("GET", "/whoami", stale), "user= ended="+string(driver.ReasonUnknownKey))
}

// TestSetKeysRefusesNil: SetKeys(nil) fails and the keyring in use stays.
func TestSetKeysRefusesNil(t *testing.T) {
	hs := newHarness(t, harnessOptions{})
	b := hs.mustLogin("alice", false)
	if err := hs.store.SetKeys(nil); err == nil {
		t.Fatal("SetKeys(nil) = nil, want an error")
	}
	wantBody(t, "after SetKeys(nil)", b.do("GET", "/whoami"), "user=alice ended=")
}

// keyIDOf is the key id a cookie value names.
func keyIDOf(cookie string) string { id, _, _ := strings.Cut(cookie, "."); return id }
