package latch_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
)

// FuzzParseKeys feeds arbitrary text to the keyring parser (the format of
// LATCH_KEYS and of a keyring file). It must never panic; an accepted
// keyring must hold only strong keys, sign with the newest valid key (the
// latest activation, ties to the first listed), and read back the same from
// its keys' SecretEntry lines; and no error or String form may quote a
// key's text or an attribute's.
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
	// Staged keys: attributes after the key.
	f.Add("k1:" + good + " activate=2026-12-05T10:00:00Z retire=2027-01-05T10:00:00Z\nk0:" + other)
	f.Add("k1:" + good + "\tretire=2026-12-04T12:00:00+01:00,k0:" + other + " activate=2026-12-04")
	f.Add("k1:" + good + " activate=2026-12-04T12:00:00Z,k0:" + other + " activate=2026-12-04T12:00:00Z") // tie
	f.Add("k1:" + good + ":2026-12-31 activate=2026-12-01")
	f.Add("k1:" + good + " retire=2026-12-31 retire=2027-01-01")                            // twice
	f.Add("k1:" + good + " activate=2027-01-01 retire=2026-01-01")                          // backwards
	f.Add("k1:" + good + " retire=2027-01-01T00:00:00.123Z")                                // fraction
	f.Add("k1:" + good + " " + other)                                                       // secret as attribute
	f.Add("k1:" + good + " activate=2099-01-01T00:00:00Z")                                  // nothing signs
	f.Add("k1:" + good + " retire=2026-12-04T11:59:59Z,k0:" + other + " retire=9999-12-31") // first retired
	f.Add("k1:" + good + " =")
	f.Add("0:" + good + " activate=x 2026-12-05T10:00:00Z") // a field that is the message's own example
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := latch.ParseKeysAt(now, s)
		if err != nil {
			if r != nil {
				t.Fatal("ParseKeys returned a keyring and an error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "latch: ") {
				t.Errorf("error without the package prefix: %q", msg)
			}
			for _, k := range secretFields(s) {
				if strings.Contains(msg, k) && quotes(now, s, k) {
					t.Fatalf("error quotes the text of a key or attribute: %q", msg)
				}
			}
			return
		}
		if r == nil {
			t.Fatal("ParseKeys returned neither a keyring nor an error")
		}
		keys := r.Keys()
		signing, err := r.SigningKey(now)
		if err != nil {
			t.Fatalf("accepted keyring %v has no signing key: %v", r, err)
		}
		if want := newestValid(keys, now); signing.ID != want {
			t.Fatalf("keyring %v signs with %q; want %q", r, signing.ID, want)
		}
		var lines []string
		str := r.String()
		for _, k := range keys {
			if err := latch.CheckKey(k.Secret); err != nil {
				t.Fatalf("accepted a key that CheckKey refuses: %v", err)
			}
			if !k.Activate.IsZero() && !k.Retire.IsZero() && !k.Activate.Before(k.Retire) {
				t.Fatalf("accepted %v: activation not before retirement", k)
			}
			if got, ok := r.Lookup(k.ID); !ok || string(got.Secret) != string(k.Secret) {
				t.Fatalf("Lookup(%q) does not return the key", k.ID)
			}
			if strings.Contains(str, base64.RawURLEncoding.EncodeToString(k.Secret)) {
				t.Fatalf("Keyring.String quotes a key: %q", str)
			}
			lines = append(lines, k.SecretEntry())
		}
		again, err := latch.ParseKeysAt(now, strings.Join(lines, "\n"))
		if err != nil {
			t.Fatalf("SecretEntry lines of an accepted keyring are refused: %v", err)
		}
		for i, k := range again.Keys() {
			o := keys[i]
			if k.ID != o.ID || string(k.Secret) != string(o.Secret) || !k.Activate.Equal(o.Activate) || !k.Retire.Equal(o.Retire) {
				t.Fatalf("round trip changed key %d: %v became %v", i, o, k)
			}
		}
	})
}

// newestValid is the signing rule written out plainly: of the keys valid at
// now, the latest activation, the first listed on a tie.
func newestValid(keys []latch.Key, now time.Time) string {
	id, found := "", false
	var act time.Time
	for _, k := range keys {
		if now.Before(k.Activate) || (!k.Retire.IsZero() && !now.Before(k.Retire)) {
			continue
		}
		if !found || k.Activate.After(act) {
			id, act, found = k.ID, k.Activate, true
		}
	}
	return id
}

// secretFields returns the KEY part of every entry of s, and every
// attribute after it, that is long enough to be recognised in a message and
// appears in s only once (so that a key id, which messages may quote,
// cannot be the same text).
func secretFields(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, entry := range strings.Split(line, ",") {
			fields := strings.Fields(entry)
			if len(fields) == 0 {
				continue
			}
			cand := fields[1:]
			if parts := strings.Split(fields[0], ":"); len(parts) >= 2 {
				cand = append(cand, parts[1])
			}
			for _, k := range cand {
				if len(k) >= 12 && strings.Count(s, k) == 1 {
					out = append(out, k)
				}
			}
		}
	}
	return out
}

// quotes reports whether parsing s gives an error that quotes its field k,
// as opposed to an error whose fixed text happens to contain k (the example
// time in "want YYYY-MM-DD or an RFC 3339 time such as ..."): s is parsed
// again with k's letters and digits shifted, and only an error that then no
// longer contains k quoted it.
func quotes(now time.Time, s, k string) bool {
	_, err := latch.ParseKeysAt(now, strings.Replace(s, k, shift(k), 1))
	return err == nil || !strings.Contains(err.Error(), k)
}

// shift replaces each letter and digit of s by the next one of its kind,
// wrapping around, and keeps every other byte.
func shift(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + (c-'a'+1)%26
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + (c-'A'+1)%26
		case c >= '0' && c <= '9':
			b[i] = '0' + (c-'0'+1)%10
		}
	}
	return string(b)
}
