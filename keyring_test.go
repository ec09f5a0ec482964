package latch

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestCheckKeyRefusesWeakKeys(t *testing.T) {
	random16 := make([]byte, 16)
	rand.Read(random16)
	tests := []struct {
		name string
		key  []byte
		rule string
	}{
		{"changeme", []byte("changeme"), "known-key"},
		{"known key of full length", []byte("your-256-bit-secret"), "known-key"},
		// Made by Django's get_random_secret_key, as startproject does.
		{"Django startproject key", []byte("django-insecure-1$-(3z*#-fhk)&p2-l2zeww(a$3g5petfr$==(j*nireqc8h2e"), "known-key"},
		{"16 random bytes", random16, "too-short"},
		{"31 bytes", bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3)[:31], "too-short"},
		{"32 copies of one byte", bytes.Repeat([]byte{0x07}, 32), "few-distinct-bytes"},
		{"32 zero bytes", make([]byte, 32), "few-distinct-bytes"},
		{"repeated 10-byte block", bytes.Repeat([]byte("k3y!Q9z#Lm"), 4), "repeating-pattern"},
		{"counting bytes", func() []byte {
			b := make([]byte, 40)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}(), "repeating-pattern"},
		{"alphabet", []byte("abcdefghijklmnopqrstuvwxyzABCDEFGH"), "repeating-pattern"},
		{"passphrase", []byte("correct horse battery staple extra"), "low-entropy-text"},
		{"sentence key", []byte("this is my super secret key for production!"), "low-entropy-text"},
		{"lower-case words", []byte("mysecretkeyforthisapplicationthatnobodyknows"), "low-entropy-text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckKey(tt.key)
			var we *WeakKeyError
			if !errors.As(err, &we) {
				t.Fatalf("CheckKey = %v; want a *WeakKeyError with rule %q", err, tt.rule)
			}
			if we.Rule != tt.rule {
				t.Errorf("rule = %q; want %q (%v)", we.Rule, tt.rule, err)
			}
			if !errors.Is(err, ErrWeakKey) {
				t.Errorf("errors.Is(err, ErrWeakKey) = false")
			}
			if len(tt.key) >= 4 && strings.Contains(err.Error(), string(tt.key)) {
				t.Errorf("error message contains the key: %v", err)
			}
		})
	}
}

func TestCheckKeyAcceptsStrongKeys(t *testing.T) {
	hexText := []byte("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	b64Text := []byte("q3Z-Hk8wR2vY_pL0mN5tXa9cB7dE1fG4hJ6kS0uV2wQ")
	for i := 0; i < 200; i++ {
		if err := CheckKey(GenerateKey()); err != nil {
			t.Fatalf("generated key refused: %v", err)
		}
	}
	for name, k := range map[string][]byte{"hex text": hexText, "base64 text": b64Text} {
		if err := CheckKey(k); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
}

// at is a fixed "now" for keyring tests, so that dates in them never age.
var at = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func TestParseKeys(t *testing.T) {
	k1, k2 := GenerateKey(), GenerateKey()
	e1, e2 := "k1:"+b64(k1), "k2:"+b64(k2)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	type want struct {
		id               string
		activate, retire time.Time
	}
	tests := []struct {
		name    string
		in      string
		keys    []want // in the order given
		signer  string // the signing key at "at"
		wantErr string
	}{
		// Entries of every earlier version keep their meaning.
		{name: "one key", in: e1, keys: []want{{id: "k1"}}, signer: "k1"},
		{name: "legacy: comma separated, first signs", in: e2 + ", " + e1 + ":2027-01-31",
			keys: []want{{id: "k2"}, {id: "k1", retire: day(2027, 2, 1)}}, signer: "k2"},
		{name: "legacy: lines and comments", in: "# keys\n" + e2 + "\n\n" + e1 + ":2026-12-01\n",
			keys: []want{{id: "k2"}, {id: "k1", retire: day(2026, 12, 2)}}, signer: "k2"},
		{name: "legacy: retirement date is the last day accepted", in: e1 + ":2026-12-04",
			keys: []want{{id: "k1", retire: day(2026, 12, 5)}}, signer: "k1"},

		// Attributes.
		{name: "retire as a date, same as the legacy field", in: e1 + " retire=2026-12-04",
			keys: []want{{id: "k1", retire: day(2026, 12, 5)}}, signer: "k1"},
		{name: "retire to the second", in: e1 + " retire=2026-12-04T12:00:01Z",
			keys: []want{{id: "k1", retire: at.Add(time.Second)}}, signer: "k1"},
		{name: "offset is kept as the instant, in UTC", in: e1 + " retire=2026-12-04T14:00:01+02:00",
			keys: []want{{id: "k1", retire: at.Add(time.Second)}}, signer: "k1"},
		{name: "staged key verifies but does not sign yet", in: e2 + " activate=2026-12-04T13:00:00Z\n" + e1,
			keys: []want{{id: "k2", activate: at.Add(time.Hour)}, {id: "k1"}}, signer: "k1"},
		{name: "activated key signs wherever it is listed", in: e1 + "\n" + e2 + " activate=2026-12-04T11:00:00Z",
			keys: []want{{id: "k1"}, {id: "k2", activate: at.Add(-time.Hour)}}, signer: "k2"},
		{name: "activate as a date is the start of that day", in: e1 + "," + e2 + " activate=2026-12-04",
			keys: []want{{id: "k1"}, {id: "k2", activate: day(2026, 12, 4)}}, signer: "k2"},
		{name: "activation at this very second", in: e1 + "," + e2 + " activate=2026-12-04T12:00:00Z",
			keys: []want{{id: "k1"}, {id: "k2", activate: at}}, signer: "k2"},
		{name: "both attributes, any order, tabs", in: e1 + "\tretire=2027-01-01T00:00:00Z \t activate=2026-12-01T00:00:00Z",
			keys: []want{{id: "k1", activate: day(2026, 12, 1), retire: day(2027, 1, 1)}}, signer: "k1"},
		{name: "legacy date with activate", in: e1 + ":2026-12-31 activate=2026-12-01",
			keys: []want{{id: "k1", activate: day(2026, 12, 1), retire: day(2027, 1, 1)}}, signer: "k1"},
		{name: "byte order mark and CRLF, as Windows editors save", in: "\ufeff# keys\r\n" + e2 + "\r\n" + e1 + " retire=2027-01-01\r\n",
			keys: []want{{id: "k2"}, {id: "k1", retire: day(2027, 1, 2)}}, signer: "k2"},
		{name: "byte order mark before the first entry", in: "\ufeff" + e1, keys: []want{{id: "k1"}}, signer: "k1"},
		{name: "retired key is skipped for signing", in: e1 + " retire=2026-12-04T12:00:00Z," + e2,
			keys: []want{{id: "k1", retire: at}, {id: "k2"}}, signer: "k2"},

		// Refusals.
		{name: "empty", in: "", wantErr: "no keys"},
		{name: "no id", in: b64(k1), wantErr: "want ID:KEY"},
		{name: "space in the id", in: "k 1:" + b64(k1), wantErr: "want ID:KEY"},
		{name: "bad id", in: "k!1:" + b64(k1), wantErr: "key id"},
		{name: "padded base64", in: "k1:" + base64.URLEncoding.EncodeToString(k1), wantErr: "base64url"},
		{name: "std alphabet", in: "k1:" + strings.NewReplacer("-", "+", "_", "/").Replace(b64(k1)) + "+/", wantErr: "base64url"},
		{name: "duplicate id", in: e1 + ",k1:" + b64(k2), wantErr: "twice"},
		{name: "bad date", in: e1 + ":2026-13-40", wantErr: "YYYY-MM-DD"},
		{name: "RFC 3339 in the legacy field", in: e1 + ":2026-12-31T00:00:00Z", wantErr: "want ID:KEY"},
		{name: "unknown attribute", in: e1 + " expire=2027-01-01", wantErr: "attribute 1: want activate=TIME or retire=TIME"},
		{name: "secret pasted as an attribute", in: e1 + " " + b64(k2), wantErr: "attribute 1"},
		{name: "attribute twice", in: e1 + " retire=2027-01-01 retire=2027-02-01", wantErr: "retire given twice"},
		{name: "legacy date and retire=", in: e1 + ":2027-01-01 retire=2027-02-01", wantErr: "retire given twice"},
		{name: "empty value", in: e1 + " retire=", wantErr: "retire: want YYYY-MM-DD or an RFC 3339 time"},
		{name: "fraction of a second", in: e1 + " retire=2027-01-01T00:00:00.5Z", wantErr: "to the second"},
		{name: "no zone", in: e1 + " retire=2027-01-01T00:00:00", wantErr: "RFC 3339"},
		{name: "activation after retirement", in: e1 + " activate=2027-02-01 retire=2027-01-01", wantErr: "is not before retirement"},
		// The zero instant is how a Key says "not set": written as a time it
		// would turn a retirement into none, and hide a second activate=.
		{name: "retirement at the zero instant", in: e1 + " retire=0001-01-01T00:00:00Z," + e2, wantErr: "retire: the time must fall after 0001-01-01T00:00:00Z"},
		{name: "retirement at the zero instant, with an offset", in: e1 + " retire=0001-01-01T00:30:00+00:30," + e2, wantErr: "retire: the time must fall after"},
		{name: "activation at the zero instant, then another", in: e1 + " activate=0001-01-01T00:00:00Z activate=2026-12-01", wantErr: "activate: the time must fall after"},
		{name: "retirement before year 1", in: e1 + " retire=0001-01-01T00:00:00+01:00," + e2, wantErr: "the time must fall after"},
		{name: "retirement after year 9999", in: e1 + " retire=9999-12-31T23:00:00-05:00," + e2, wantErr: "before the year 10000"},
		{name: "leap second", in: e1 + " retire=2026-12-31T23:59:60Z", wantErr: "RFC 3339"},
		{name: "retired single key", in: e1 + ":2026-12-03", wantErr: "every key is retired"},
		{name: "only a staged key", in: e1 + " activate=2026-12-05T00:00:00Z", wantErr: `key "k1" activates only at 2026-12-05T00:00:00Z`},
		{name: "weak key", in: "k1:" + b64([]byte("changeme")), wantErr: "known-key"},
		{name: "known key text", in: "k1:changeme", wantErr: "known-key"},
		// A Django startproject key that happens to be base64url is refused
		// as Django's, not judged as the bytes it decodes to.
		{name: "Django startproject key text", in: "k1:django-insecure-wg-fYCYQJBx-QTn0-NZO-ccBd9pQPgmB9cYCuoY9oKNA", wantErr: "(known-key): the key text is a published default: Django's development key"},
		// Text that happens to be base64url decodes to bytes that look
		// random; the text itself is what was chosen, and is judged too.
		{name: "passphrase written as base64url", in: "k1:thisismysupersecretkeythatnoonewilleverguess", wantErr: `secret key "k1" refused (low-entropy-text): read as text`},
		{name: "passphrase with dashes as base64url", in: "k1:correct-horse-battery-staple-and-some-more-words", wantErr: "read as text"},
		{name: "short key", in: "k1:" + b64(k1[:16]), wantErr: "too-short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseKeysAt(at, tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKeys error = %v; want one containing %q", err, tt.wantErr)
				}
				for _, k := range [][]byte{k1, k2} {
					if strings.Contains(err.Error(), b64(k)) {
						t.Fatalf("error message contains a key")
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeys: %v", err)
			}
			var got []want
			for _, k := range r.Keys() {
				got = append(got, want{k.ID, k.Activate, k.Retire})
			}
			if len(got) != len(tt.keys) {
				t.Fatalf("keys = %v; want %v", got, tt.keys)
			}
			for i := range got {
				if got[i].id != tt.keys[i].id || !got[i].activate.Equal(tt.keys[i].activate) || !got[i].retire.Equal(tt.keys[i].retire) {
					t.Errorf("key %d = %+v; want %+v", i, got[i], tt.keys[i])
				}
			}
			if s, err := r.SigningKey(at); err != nil || s.ID != tt.signer {
				t.Errorf("SigningKey = %q, %v; want %q", s.ID, err, tt.signer)
			}
			if strings.Contains(r.String(), b64(k1)) || strings.Contains(r.String(), b64(k2)) {
				t.Errorf("Keyring.String leaks a key: %s", r)
			}
		})
	}
}

// Judging a key's text as well as its bytes refuses no random key: 100,000
// entries per size (1,000 with -short) of keys as latch keygen writes them
// (base64url of random bytes) all parse.
func TestParseKeysAcceptsRandomKeys(t *testing.T) {
	count := 100_000
	if testing.Short() {
		count = 1_000
	}
	for _, size := range []int{32, 33, 48, 64} {
		t.Run(fmt.Sprintf("%d bytes", size), func(t *testing.T) {
			t.Parallel()
			b := make([]byte, size)
			refused := 0
			for range count {
				rand.Read(b)
				if _, err := ParseKeysAt(at, "k1:"+b64(b)); err != nil {
					if refused++; refused <= 3 {
						t.Errorf("refused: %v", err)
					}
				}
			}
			if refused > 0 {
				t.Errorf("%d of %d random keys refused", refused, count)
			}
		})
	}
}

// An error about an entry's id never quotes the text before the first
// colon when it is not an id: it may be a secret pasted where a keyring
// entry belongs (a Flask SECRET_KEY, a password).
func TestParseKeysQuotesNoText(t *testing.T) {
	for _, in := range []string{
		"s3cr3t!pass:" + b64(GenerateKey()),
		"my secret phrase:" + b64(GenerateKey()),
		"\ufeffpässwörd:" + b64(GenerateKey()),
		"0123456789abcdef0123456789abcdef0123:" + b64(GenerateKey()),
		// A password with a colon: the part before it has an id's shape,
		// the rest is no base64url (or the list's known text).
		"Sup3rS3cretPassw0rdOfMine:and-the-rest-of-it!",
		"Sup3rS3cretPassw0rdOfMine:and=the=rest",
		"Sup3rS3cretPassw0rdOfMine:changeme",
	} {
		_, err := ParseKeysAt(at, in)
		if err == nil {
			t.Fatalf("ParseKeys accepted %q", in)
		}
		id, _, _ := strings.Cut(in, ":")
		for _, f := range strings.Fields(id) {
			q := fmt.Sprintf("%q", f)
			if strings.Contains(err.Error(), f) || strings.Contains(err.Error(), q[1:len(q)-1]) {
				t.Errorf("error %q quotes the text %q", err, f)
			}
		}
		if strings.Count(err.Error(), "latch:") != 1 {
			t.Errorf("error %q: want one latch: prefix", err)
		}
	}
}

// The signing key is the newest valid key: latest activation, ties to the
// key listed first; never a retired key, never one not yet activated.
func TestSigningKey(t *testing.T) {
	h := time.Hour
	key := func(id string, activate, retire time.Duration) Key {
		k := Key{ID: id, Secret: GenerateKey()}
		if activate != 0 {
			k.Activate = at.Add(activate)
		}
		if retire != 0 {
			k.Retire = at.Add(retire)
		}
		return k
	}
	tests := []struct {
		name string
		keys []Key
		when time.Duration // after at
		want string        // "" for ErrNoSigningKey
	}{
		{"first of plain keys", []Key{key("a", 0, 0), key("b", 0, 0)}, 0, "a"},
		{"staged key waits", []Key{key("a", 0, 0), key("b", h, 0)}, 0, "a"},
		{"staged key signs from its activation", []Key{key("a", 0, 0), key("b", h, 0)}, h, "b"},
		{"newest activation wins over position", []Key{key("a", -2*h, 0), key("b", -h, 0)}, 0, "b"},
		{"tie goes to the first listed", []Key{key("a", -h, 0), key("b", -h, 0)}, 0, "a"},
		{"a retired newest key hands back", []Key{key("a", 0, 0), key("b", -h, h)}, h, "a"},
		{"retired at its retirement instant", []Key{key("a", 0, h), key("b", 0, 0)}, h, "b"},
		{"still signs a second before", []Key{key("a", 0, h), key("b", 0, 0)}, h - time.Second, "a"},
		{"every key retired", []Key{key("a", 0, h)}, 2 * h, ""},
		{"gap before the next activation", []Key{key("a", 0, h), key("b", 3*h, 0)}, 2 * h, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewKeyringAt(at, tt.keys...)
			if err != nil {
				t.Fatal(err)
			}
			k, err := r.SigningKey(at.Add(tt.when))
			if tt.want == "" {
				if !errors.Is(err, ErrNoSigningKey) {
					t.Fatalf("SigningKey = %q, %v; want ErrNoSigningKey", k.ID, err)
				}
				return
			}
			if err != nil || k.ID != tt.want {
				t.Fatalf("SigningKey = %q, %v; want %q", k.ID, err, tt.want)
			}
		})
	}
}

// CheckSigning refuses a keyring whose signing key retires before a session
// it signs could end.
func TestCheckSigning(t *testing.T) {
	d := 24 * time.Hour
	longest := 30 * d
	key := func(id string, activate, retire time.Duration) Key {
		k := Key{ID: id, Secret: GenerateKey()}
		if activate != 0 {
			k.Activate = at.Add(activate)
		}
		if retire != 0 {
			k.Retire = at.Add(retire)
		}
		return k
	}
	tests := []struct {
		name    string
		keys    []Key
		wantErr string
	}{
		{"no retirement", []Key{key("a", 0, 0)}, ""},
		{"retires after the longest session", []Key{key("a", 0, 30*d)}, ""},
		{"retires a second too soon", []Key{key("a", 0, 30*d-time.Second)}, `signing key "a" retires at 2027-01-03T11:59:59Z, before a session signed now could end`},
		{"successor staged, old key outlives its last session", []Key{key("a", 0, 31*d), key("b", d, 0)}, ""},
		{"successor staged, old key retires too soon after handover", []Key{key("a", 0, 30*d), key("b", d, 0)}, `it signs until 2026-12-05T12:00:00Z`},
		{"the next signer is a plain fallback once a retires", []Key{key("a", 0, 10*d), key("b", 0, 0)}, "before a session signed now could end"},
		{"successor activates only after the old key retires", []Key{key("a", 0, d), key("b", 2*d, 0)}, "before a session signed now could end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewKeyringAt(at, tt.keys...)
			if err != nil {
				t.Fatal(err)
			}
			err = r.CheckSigning(at, longest)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckSigning: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckSigning = %v; want %q", err, tt.wantErr)
			}
		})
	}
	t.Run("no signing key now", func(t *testing.T) {
		r, _ := NewKeyringAt(at, key("a", 0, d))
		if err := r.CheckSigning(at.Add(2*d), longest); !errors.Is(err, ErrNoSigningKey) {
			t.Fatalf("CheckSigning = %v; want ErrNoSigningKey", err)
		}
	})
}

func TestSecretEntryRoundTrip(t *testing.T) {
	keys := []Key{
		{ID: "plain", Secret: GenerateKey()},
		{ID: "2026-11", Secret: GenerateKey(), Retire: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)},
		{ID: "staged", Secret: GenerateKey(), Activate: at.Add(time.Hour), Retire: time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))},
	}
	var lines []string
	for _, k := range keys {
		lines = append(lines, k.SecretEntry())
	}
	r, err := ParseKeysAt(at, strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		got, ok := r.Lookup(k.ID)
		if !ok || !bytes.Equal(got.Secret, k.Secret) || !got.Retire.Equal(k.Retire) || !got.Activate.Equal(k.Activate) {
			t.Fatalf("round trip of %v lost something: %v", k, got)
		}
	}
}

func TestKeyTimes(t *testing.T) {
	k := Key{Activate: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Retire: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}
	for _, tt := range []struct {
		at                 time.Time
		activated, retired bool
	}{
		{time.Date(2026, 2, 28, 23, 59, 59, 0, time.UTC), false, false},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), true, false},
		{time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC), true, false},
		{time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), true, true},
	} {
		if got := k.Activated(tt.at); got != tt.activated {
			t.Errorf("Activated(%v) = %v; want %v", tt.at, got, tt.activated)
		}
		if got := k.Retired(tt.at); got != tt.retired {
			t.Errorf("Retired(%v) = %v; want %v", tt.at, got, tt.retired)
		}
	}
}

func TestLoadKeysEnv(t *testing.T) {
	entry := "k1:" + b64(GenerateKey())
	dir := t.TempDir()
	good := filepath.Join(dir, "keys")
	os.WriteFile(good, []byte(entry+"\n"), 0o600)
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte(entry+"\n"), 0o644)
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"from variable", map[string]string{EnvKeys: entry}, ""},
		{"from file", map[string]string{EnvKeysFile: good}, ""},
		{"variable wins", map[string]string{EnvKeys: entry, EnvKeysFile: "/nonexistent"}, ""},
		{"none", nil, "no secret keys"},
		{"file readable by others", map[string]string{EnvKeysFile: open}, "chmod 600"},
		{"missing file", map[string]string{EnvKeysFile: filepath.Join(dir, "nope")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadKeysEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr == "" && err != nil {
				t.Fatalf("LoadKeysEnv: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("LoadKeysEnv error = %v; want %q", err, tt.wantErr)
			}
		})
	}
}

// Printing a Key or Keyring, by any route, shows ids and times and never a
// secret.
func TestKeyPrintingShowsNoSecret(t *testing.T) {
	k := Key{ID: "k-print", Secret: GenerateKey(), Activate: at, Retire: at.AddDate(1, 0, 0)}
	r, err := NewKeyringAt(at, k, Key{ID: "k-other", Secret: GenerateKey()})
	if err != nil {
		t.Fatal(err)
	}
	// Every way the secret's bytes could show.
	var renderings []string
	for _, sk := range r.Keys() {
		s := sk.Secret
		// The start of %v, %d, %o and %b of the bytes: "[12 34 ...".
		inner := func(verb string) string { return strings.Trim(fmt.Sprintf(verb, s[:6]), "[]") }
		renderings = append(renderings, string(s), b64(s), base64.StdEncoding.EncodeToString(s)[:20],
			hex.EncodeToString(s)[:20], strings.ToUpper(hex.EncodeToString(s)[:20]),
			inner("%d"), inner("%o"), inner("%b"))
	}
	values := map[string]any{
		"Key":                        k,
		"*Key":                       &k,
		"Keyring":                    *r,
		"*Keyring":                   r,
		"struct with a Key field":    struct{ Signing Key }{k},
		"struct with a *Keyring":     struct{ Keys *Keyring }{r},
		"struct with a Keyring":      struct{ Keys Keyring }{*r},
		"slice of keys":              r.Keys(),
		"map of keys":                map[string]Key{"k": k},
		"struct with unexported ptr": struct{ keys *Keyring }{r},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b", "%20v", "%-8s", "%.3s"}
	check := func(t *testing.T, what, out string) {
		t.Helper()
		for _, s := range renderings {
			if strings.Contains(out, s) {
				t.Fatalf("%s shows a secret: %q", what, out)
			}
		}
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			for _, verb := range verbs {
				out := fmt.Sprintf(verb, v)
				check(t, verb, out)
				if verb == "%v" && name != "struct with unexported ptr" && !strings.Contains(out, "k-") {
					t.Errorf("%s shows no key id: %q", verb, out)
				}
			}
			check(t, "Sprint", fmt.Sprint(v))
			check(t, "Sprintln", fmt.Sprintln(v))
			b, err := json.Marshal(v)
			if err != nil && name != "struct with unexported ptr" {
				t.Fatalf("json.Marshal: %v", err)
			}
			check(t, "json.Marshal", string(b))
			for _, h := range []func(io.Writer) slog.Handler{
				func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
				func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
			} {
				var buf bytes.Buffer
				slog.New(h(&buf)).Info("keys", "v", v)
				check(t, "slog", buf.String())
			}
		})
	}
	t.Run("methods", func(t *testing.T) {
		for what, out := range map[string]string{
			"Key.String": k.String(), "Key.GoString": k.GoString(),
			"Keyring.String": r.String(), "Keyring.GoString": r.GoString(),
		} {
			check(t, what, out)
		}
		if got, want := k.String(), "latch.Key[k-print activate=2026-12-04T12:00:00Z retire=2027-12-04T12:00:00Z]"; got != want {
			t.Errorf("Key.String = %q; want %q", got, want)
		}
		if got, want := r.String(), "latch.Keyring[k-print activate=2026-12-04T12:00:00Z retire=2027-12-04T12:00:00Z, k-other]"; got != want {
			t.Errorf("Keyring.String = %q; want %q", got, want)
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "key", k)
		if !strings.Contains(buf.String(), `"key":{"id":"k-print","activate":"2026-12-04T12:00:00Z","retire":"2027-12-04T12:00:00Z"}`) {
			t.Errorf("slog JSON: %s", buf.String())
		}
		b, _ := json.Marshal(r)
		if string(b) != `[{"id":"k-print","activate":"2026-12-04T12:00:00Z","retire":"2027-12-04T12:00:00Z"},{"id":"k-other"}]` {
			t.Errorf("json.Marshal(keyring) = %s", b)
		}
		if !strings.HasPrefix(k.SecretEntry(), "k-print:"+b64(k.Secret)+" ") {
			t.Errorf("SecretEntry does not start with ID:KEY")
		}
	})
}

// TestREADMEKeyringExample parses the README's keyring example, with real
// keys for its placeholders, and checks what the README says of it.
func TestREADMEKeyringExample(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "```\n# ID:KEY[:YYYY-MM-DD]")
	_, block, _ = strings.Cut(block, "\n") // the rest of the comment line
	block, _, _ = strings.Cut(block, "```")
	if !ok || block == "" {
		t.Fatal("README has no keyring example")
	}
	block = strings.NewReplacer("KEY1", b64(GenerateKey()), "KEY2", b64(GenerateKey()), "KEY3", b64(GenerateKey())).Replace(block)
	when := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	r, err := ParseKeysAt(when, block)
	if err != nil {
		t.Fatalf("the README's example does not parse: %v", err)
	}
	activate := time.Date(2026, 12, 4, 22, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at   time.Time
		want string
	}{{activate.Add(-time.Second), "20261101"}, {activate, "20261204"}} {
		if k, _ := r.SigningKey(c.at); k.ID != c.want {
			t.Errorf("at %v %q signs; the README says %q", c.at, k.ID, c.want)
		}
	}
	if k, _ := r.Lookup("20261101"); !k.Retire.Equal(time.Date(2027, 1, 4, 22, 0, 0, 0, time.UTC)) {
		t.Errorf("20261101 retires at %v", k.Retire)
	}
	if k, _ := r.Lookup("20250101"); !k.Retire.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("20250101 retires at %v; the README says it verifies through 31 December 2026", k.Retire)
	}
}
