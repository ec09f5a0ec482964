package latch_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
)

// TestReloadTakesWhatCanSign: a keyring that can sign now is taken on a
// reload even when its signing key retires before a session signed now
// could end (which New refuses at start): refusing it would keep the
// keyring in use, and with it a key that was just removed. The cases are
// what "latch rotate" writes: the emergency revocation of the new key
// after a rotation (the old key, retiring within the longest session,
// signs again), and a staged rotation with a --retire-after shorter than
// the longest session, which instances whose clocks run ahead would
// otherwise take (and sign with) while the others still refuse it. An
// error event and log say what will go wrong, without a key.
func TestReloadTakesWhatCanSign(t *testing.T) {
	day := 24 * time.Hour
	t.Run("revocation of the signing key", func(t *testing.T) {
		clock := newClock()
		old := latch.Key{ID: "old", Secret: latch.GenerateKey(), Retire: clock.Now().Add(10 * day)}.SecretEntry()
		path := filepath.Join(t.TempDir(), "latch.keys")
		if err := os.WriteFile(path, []byte(keyEntry("leaked")+"\n"+old+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		rl := newReloader(t, newMemstore(t, clock.Now), latch.FileKeys(path), clock.Now)
		cookie := rl.login(t, "alice")
		if keyID(cookie) != "leaked" {
			t.Fatalf("login signed by %q, want leaked", keyID(cookie))
		}
		if err := os.WriteFile(path, []byte(old+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		rl.reload(t)
		if w := rl.do("GET", "/me", cookie); w.Code == http.StatusOK {
			t.Fatal("a cookie signed with the revoked key is still accepted after the reload")
		}
		if got := keyID(rl.login(t, "bob")); got != "old" {
			t.Errorf("login after the revocation signed by %q, want old", got)
		}
		ev, ok := rl.events.Find(latch.EventKeysReloaded)
		if !ok || ev.Err == nil || !strings.Contains(ev.Err.Error(), `signing key "old" retires at`) {
			t.Errorf("keys-reloaded event %+v: want its error to say the signing key retires too soon", ev)
		}
		if logs := rl.logs.String(); !strings.Contains(logs, "level=ERROR") || strings.Contains(logs, old[4:40]) {
			t.Errorf("want an error log without the key:\n%s", logs)
		}
	})
	t.Run("staged rotation with a short retirement, clocks apart", func(t *testing.T) {
		clock := newClock()
		const skew = 20 * time.Second
		nowB := func() time.Time { return clock.Now().Add(-skew) } // B runs behind A
		activate := clock.Now().Add(time.Hour)
		cur := latch.Key{ID: "cur", Secret: latch.GenerateKey()}
		st := newMemstore(t, clock.Now)
		pathA := filepath.Join(t.TempDir(), "latch.keys")
		pathB := filepath.Join(t.TempDir(), "latch.keys")
		for _, p := range []string{pathA, pathB} {
			if err := os.WriteFile(p, []byte(cur.SecretEntry()+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		a := newReloader(t, st, latch.FileKeys(pathA), clock.Now)
		b := newReloader(t, st, latch.FileKeys(pathB), nowB)
		cur.Retire = activate.Add(time.Hour) // --retire-after 1h
		staged := latch.Key{ID: "next", Secret: latch.GenerateKey(), Activate: activate}.SecretEntry() + "\n" + cur.SecretEntry() + "\n"
		for _, p := range []string{pathA, pathB} {
			if err := os.WriteFile(p, []byte(staged), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// Both instances poll every second from the rotation until a
		// moment between A's activation and B's.
		for clock.Now().Before(activate.Add(skew / 2)) {
			a.m.ReloadKeys(context.Background())
			b.m.ReloadKeys(context.Background())
			clock.Advance(time.Second)
		}
		cookie := a.login(t, "alice")
		if keyID(cookie) != "next" {
			t.Fatalf("A signs with %q after its activation, want next", keyID(cookie))
		}
		if w := b.do("GET", "/me", cookie); w.Code != http.StatusOK {
			t.Fatalf("B, not yet at the activation, answers %d to A's cookie signed with the staged key; want 200", w.Code)
		}
	})
}
