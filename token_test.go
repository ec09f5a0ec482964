package latch

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

func testKeyring(t testing.TB, ids ...string) *Keyring {
	t.Helper()
	var keys []Key
	for _, id := range ids {
		keys = append(keys, Key{ID: id, Secret: GenerateKey()})
	}
	r, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTokenVerify(t *testing.T) {
	r := testKeyring(t, "a", "b")
	tk, _ := newTokens(r, "__Host-session")
	now := time.Now()
	id := newID()
	tok := signNow(t, tk, &id)
	if !strings.HasPrefix(tok, "a.") || len(tok) != 2+tokenB64Len {
		t.Fatalf("token %q has the wrong shape", tok)
	}
	h, fallback, reason := tk.verify(tok, now)
	if reason != "" || fallback || h != sha256.Sum256(id[:]) {
		t.Fatalf("verify(valid) = %v, %v, %q", h.Handle(), fallback, reason)
	}

	other, _ := newTokens(r, "other")
	fromFallback, _ := newTokens(mustKeyring(t, *r.keys[1], *r.keys[0]), "__Host-session")
	flip := func(i int) string { // another base64url character at i
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name   string
		tok    string
		reason Reason
	}{
		{"empty", "", ReasonMalformed},
		{"truncated MAC", tok[:len(tok)-2], ReasonMalformed},
		{"too long", tok + "AAAA", ReasonMalformed},
		{"1 KB", strings.Repeat("A", 1024), ReasonMalformed},
		{"no dot", "a" + "x" + tok[2:], ReasonMalformed},
		{"std base64 alphabet", tok[:10] + "+" + tok[11:], ReasonMalformed},
		{"NUL byte", tok[:10] + "\x00" + tok[11:], ReasonMalformed},
		{"invalid UTF-8", tok[:10] + "\xff" + tok[11:], ReasonMalformed},
		{"bad key id characters", "a b" + tok[1:], ReasonMalformed},
		{"unknown key", "zz" + tok[1:], ReasonUnknownKey},
		{"flipped ID bit", flip(5), ReasonBadMAC},
		{"flipped MAC bit", flip(len(tok) - 3), ReasonBadMAC},
		{"token of another cookie name", signNow(t, other, &id), ReasonBadMAC},
		{"key id swapped", "b" + tok[1:], ReasonBadMAC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, reason := tk.verify(tt.tok, now); reason != tt.reason {
				t.Fatalf("reason = %q; want %q", reason, tt.reason)
			}
		})
	}
	t.Run("fallback key", func(t *testing.T) {
		old := signNow(t, fromFallback, &id) // signed by "b", a fallback of tk
		h, fallback, reason := tk.verify(old, now)
		if reason != "" || !fallback || h != sha256.Sum256(id[:]) {
			t.Fatalf("verify(fallback) = %v, %q", fallback, reason)
		}
		re := tk.reissue(old, now)
		if !strings.HasPrefix(re, "a.") {
			t.Fatalf("reissued token not under the primary: %q", re[:2])
		}
		if h2, fb, reason := tk.verify(re, now); reason != "" || fb || h2 != h {
			t.Fatalf("reissued token does not verify to the same session")
		}
	})
}

func TestTokenRetiredKey(t *testing.T) {
	old := Key{ID: "old", Secret: GenerateKey(), Retire: time.Now().AddDate(0, 0, 5)}
	r := mustKeyring(t, Key{ID: "new", Secret: GenerateKey()}, old)
	signer, _ := newTokens(mustKeyring(t, old), "c")
	tk, _ := newTokens(r, "c")
	id := newID()
	tok := signNow(t, signer, &id)
	if _, _, reason := tk.verify(tok, time.Now()); reason != "" {
		t.Fatalf("before retirement: %q", reason)
	}
	if _, _, reason := tk.verify(tok, time.Now().AddDate(0, 0, 7)); reason != ReasonRetiredKey {
		t.Fatalf("after retirement: reason %q; want %q", reason, ReasonRetiredKey)
	}
}

// signNow signs id under the key that signs now.
func signNow(t testing.TB, tk *tokens, id *[IDSize]byte) string {
	t.Helper()
	k, err := tk.signer(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k.sign(id)
}

func mustKeyring(t testing.TB, keys ...Key) *Keyring {
	t.Helper()
	r, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func FuzzTokenVerify(f *testing.F) {
	r := testKeyring(f, "a", "b")
	tk, _ := newTokens(r, "__Host-session")
	id := newID()
	f.Add(signNow(f, tk, &id))
	f.Add("")
	f.Add("a.")
	f.Add("a." + strings.Repeat("A", tokenB64Len))
	f.Add(strings.Repeat("\xff", 70))
	now := time.Now()
	f.Fuzz(func(t *testing.T, tok string) {
		h, _, reason := tk.verify(tok, now)
		if reason == "" {
			// Only tokens we signed can pass: re-signing must give the input.
			if tok != tk.reissue(tok, now) {
				t.Fatalf("accepted a token we did not sign: %q", tok)
			}
			if h.IsZero() {
				t.Fatal("accepted token with zero hash")
			}
		}
	})
}
