package latch_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/latchsec/latch"
)

// FuzzParseKeys feeds arbitrary text to the keyring parser (the format of
// LATCH_KEYS and of a keyring file). It must never panic, an accepted
// keyring must hold only strong keys with the first entry as primary, and no
// error or String form may quote a key's text.
func FuzzParseKeys(f *testing.F) {
	good := base64.RawURLEncoding.EncodeToString(latch.GenerateKey())
	other := base64.RawURLEncoding.EncodeToString(latch.GenerateKey())
	f.Add("k1:" + good)
	f.Add("k1:" + good + ",k0:" + other + ":2020-01-01")
	f.Add("# comment\nk1:" + good + "\n\nk0:" + other + ":2099-12-31\n")
	f.Add("k1:" + good + ",k1:" + other)                     // duplicate id
	f.Add("k1:" + good + ":2020-01-01")                      // retired primary
	f.Add("k1:" + good + ":31-12-2099")                      // bad date
	f.Add("k1:" + strings.ReplaceAll(good, "-", "+") + "==") // std alphabet, padding
	f.Add("k1:" + base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	f.Add("k1:" + base64.RawURLEncoding.EncodeToString(make([]byte, 32))) // all zero
	f.Add("k1:c2VjcmV0")                                                  // "secret"
	f.Add("k1:changeme")
	f.Add("bad id!:" + good)
	f.Add(":" + good)
	f.Add("k1:" + good + ":2099-12-31:extra")
	f.Add(strings.Repeat(",", 1000))
	f.Add("k1:\x00\xff" + good)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := latch.ParseKeys(s)
		if err != nil {
			if r != nil {
				t.Fatal("ParseKeys returned a keyring and an error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "latch: ") {
				t.Errorf("error without the package prefix: %q", msg)
			}
			for _, k := range keyFields(s) {
				if strings.Contains(msg, k) {
					t.Fatalf("error quotes the text of a key: %q", msg)
				}
			}
			return
		}
		if r == nil {
			t.Fatal("ParseKeys returned neither a keyring nor an error")
		}
		keys := r.Keys()
		if len(keys) == 0 || keys[0].ID != r.Primary().ID {
			t.Fatalf("keyring %v: primary is not the first key", r)
		}
		str := r.String()
		for _, k := range keys {
			if err := latch.CheckKey(k.Secret); err != nil {
				t.Fatalf("accepted a key that CheckKey refuses: %v", err)
			}
			if got, ok := r.Lookup(k.ID); !ok || string(got.Secret) != string(k.Secret) {
				t.Fatalf("Lookup(%q) does not return the key", k.ID)
			}
			if strings.Contains(str, base64.RawURLEncoding.EncodeToString(k.Secret)) {
				t.Fatalf("Keyring.String quotes a key: %q", str)
			}
		}
	})
}

// keyFields returns the KEY part of every entry of s that is long enough to
// be recognised in a message and appears in s only once (so that a key id,
// which messages may quote, cannot be the same text).
func keyFields(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, entry := range strings.Split(line, ",") {
			parts := strings.Split(strings.TrimSpace(entry), ":")
			if len(parts) < 2 {
				continue
			}
			k := parts[1]
			if len(k) >= 12 && strings.Count(s, k) == 1 {
				out = append(out, k)
			}
		}
	}
	return out
}
