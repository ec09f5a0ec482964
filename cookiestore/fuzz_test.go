package cookiestore_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/driver"
)

// fixedKeys is a keyring with a constant key, so that fuzz seeds and
// corpus entries stay meaningful from run to run.
func fixedKeys(t testing.TB) *latch.Keyring {
	t.Helper()
	secret, err := base64.RawURLEncoding.DecodeString("q3Yv0kC7Zr1pX9sN2bLwE8hTf4uJmA6dGxR5yHcViOo")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := latch.NewKeyring(latch.Key{ID: "fz", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// wireAEAD builds, independently of the package, the AEAD and additional
// data that the documented format prescribes for key id kid.
func wireAEAD(t testing.TB, keys *latch.Keyring, kid, name string) (cipher.AEAD, []byte) {
	t.Helper()
	sub, err := keys.DeriveKey(kid, "cookie-aead", 32)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead, []byte("latch/cookiestore/v1\x00" + name + "\x00" + kid)
}

// unseal decrypts a value with wireAEAD.
func unseal(t testing.TB, keys *latch.Keyring, name, value string) []byte {
	t.Helper()
	kid, enc, _ := strings.Cut(value, ".")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	aead, aad := wireAEAD(t, keys, kid, name)
	plain, err := aead.Open(nil, raw[:cookiestore.NonceSize], raw[cookiestore.NonceSize:], aad)
	if err != nil {
		t.Fatalf("the documented format does not open the value: %v", err)
	}
	return plain
}

// seal encrypts any plaintext as the store would.
func seal(t testing.TB, keys *latch.Keyring, name, kid string, plain []byte) string {
	t.Helper()
	aead, aad := wireAEAD(t, keys, kid, name)
	nonce := make([]byte, cookiestore.NonceSize)
	raw := aead.Seal(nonce, nonce, plain, aad)
	return kid + "." + base64.RawURLEncoding.EncodeToString(raw)
}

// TestWireFormat pins the format: the key derivation, the additional data,
// and the envelope (formatV2): header, id, seal time, then the record in
// driver's record encoding. Changing any of them logs every user out,
// unless Open keeps reading the old form.
func TestWireFormat(t *testing.T) {
	keys := fixedKeys(t)
	for _, compress := range []bool{false, true} {
		s := newStore(t, keys, cookiestore.Options{Compress: compress})
		rec := sampleRecord()
		rec.Values = map[string]any{"cart": strings.Repeat("item,", 40)}
		id := hashOf("wire-format-session-id-32-bytes!")
		plain := unseal(t, keys, cookieName, mustSeal(t, s, id, rec, t0))
		switch {
		case !compress && plain[0] != 0x02, compress && plain[0] != 0x82:
			t.Fatalf("compress=%v: header 0x%02x", compress, plain[0])
		case compress:
			continue
		}
		if !bytes.Equal(plain[1:33], id[:]) {
			t.Errorf("id %x; want %x", plain[1:33], id[:])
		}
		if sealed := int64(binary.BigEndian.Uint64(plain[33:41])); sealed != t0.UnixNano() {
			t.Errorf("seal time %v; want %v", time.Unix(0, sealed).UTC(), t0)
		}
		want, err := driver.AppendRecord(nil, rec)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(plain[41:], want) {
			t.Errorf("the record is not driver's record encoding:\n %x\n %x", plain[41:], want)
		}
	}
}

// FuzzOpen feeds arbitrary cookie values to Open. It must never panic, and
// it must accept nothing but the values the store sealed.
func FuzzOpen(f *testing.F) {
	keys := fixedKeys(f)
	s := newStore(f, keys, cookiestore.Options{})
	// The seeds must be the same in every fuzzing process, so they are
	// sealed again with a fixed nonce: only these values may be accepted.
	sealed := map[string]bool{}
	for i, rec := range []*driver.Record{sampleRecord(), {Meta: driver.Meta{Created: t0, LastSeen: t0, IdleTimeout: time.Hour, AbsoluteTimeout: time.Hour}}} {
		plain := unseal(f, keys, cookieName, mustSeal(f, s, hashOf(string(rune('a'+i))), rec, t0))
		v := seal(f, keys, cookieName, "fz", plain)
		sealed[v] = true
		f.Add(v)
		f.Add(v[:len(v)-1])
		f.Add(v + "A")
		f.Add(strings.Replace(v, "fz.", "zz.", 1))
		f.Add(strings.ToUpper(v))
	}
	for _, seed := range []string{"", ".", "fz.", "fz..", "fz.AAAA", "fz." + strings.Repeat("A", 100), strings.Repeat("f", 40) + ".AAAA", "fz.====", "fz.\x00\xff", "fz.+/+/" + strings.Repeat("A", 80)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		o, err := s.Open(context.Background(), cookieName, value, t0)
		if err != nil {
			t.Fatalf("Open returned an error without revocations: %v", err)
		}
		if o.Refused == "" && !sealed[value] {
			t.Fatalf("accepted a value the store never sealed: %q", value)
		}
		if (o.Refused == "") != (o.Record != nil) {
			t.Fatalf("refused %q with record %v", o.Refused, o.Record)
		}
	})
}

// FuzzEnvelope seals arbitrary plaintexts with the right key, so that the
// envelope parser, which only ever sees authenticated data, is fuzzed too.
// It must never panic, and a plaintext it accepts must give a record that
// seals and opens again to the same record.
func FuzzEnvelope(f *testing.F) {
	keys := fixedKeys(f)
	s := newStore(f, keys, cookiestore.Options{})
	packed := newStore(f, keys, cookiestore.Options{Compress: true})
	big := sampleRecord()
	big.Values["list"] = strings.Repeat("abc", 200)
	for _, st := range []*cookiestore.Store{s, packed} {
		for _, rec := range []*driver.Record{sampleRecord(), big} {
			plain := unseal(f, keys, cookieName, mustSeal(f, st, hashOf("x"), rec, t0))
			f.Add(plain)
			f.Add(plain[:len(plain)-1])
			f.Add(plain[:42])
		}
	}
	for _, v := range legacyCookies {
		plain := unseal(f, keys, cookieName, v.value)
		f.Add(plain)
		f.Add(plain[:len(plain)-1])
	}
	f.Add([]byte{})
	f.Add([]byte{0x01})
	f.Add([]byte{0x02})
	f.Add([]byte{0x03})
	f.Add(append([]byte{0x81}, 0xff, 0xff))
	f.Add(append([]byte{0x82}, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, plain []byte) {
		v := seal(t, keys, cookieName, "fz", plain)
		o, err := s.Open(context.Background(), cookieName, v, t0)
		if err != nil {
			t.Fatalf("Open returned an error without revocations: %v", err)
		}
		if o.Refused != "" {
			if o.Refused != driver.ReasonMalformed && o.Refused != driver.ReasonNotFound {
				t.Fatalf("authentic value refused with %q", o.Refused)
			}
			return
		}
		rec, id := o.Record, o.ID
		again, err := s.Seal(context.Background(), cookieName, id, rec, t0)
		if err != nil {
			// A record may be too large once values are re-encoded, or
			// hold times too far from now to be expressed from it.
			if strings.Contains(err.Error(), "over the 4096-byte limit") || strings.Contains(err.Error(), "cookiestore: Meta.") {
				return
			}
			t.Fatalf("accepted record does not seal again: %v", err)
		}
		o2, err := s.Open(context.Background(), cookieName, again, t0)
		if o2.Refused != "" || err != nil || o2.ID != id {
			t.Fatalf("resealed record refused: %q, %v", o2.Refused, err)
		}
		if rec2 := o2.Record; !reflect.DeepEqual(rec2.Meta, rec.Meta) || !reflect.DeepEqual(jsonOf2(rec2.Values), jsonOf2(rec.Values)) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", rec, rec2)
		}
	})
}

func jsonOf2(v map[string]any) string {
	if len(v) == 0 {
		return "{}"
	}
	b, err := driver.EncodeValue(v)
	if err != nil {
		return "unencodable: " + err.Error()
	}
	return string(b)
}
