package latch

import (
	"bufio"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/latchsec/latch/internal/weakkeys"
)

// Key sizes.
const (
	// MinKeySize is the shortest secret key latch accepts, in bytes.
	MinKeySize = 32
	// KeySize is the size of a key made by GenerateKey.
	KeySize = 32
)

// Environment variables that LoadKeys reads.
const (
	EnvKeys     = "LATCH_KEYS"
	EnvKeysFile = "LATCH_KEYS_FILE"
)

// ErrNoKeys means neither LATCH_KEYS nor LATCH_KEYS_FILE is set.
var ErrNoKeys = errors.New("latch: no secret keys: set " + EnvKeys + " or " + EnvKeysFile + " (make one with \"latch keygen\")")

// Key is one secret key of a Keyring.
type Key struct {
	// ID names the key in tokens and cookies: 1 to 32 characters from
	// A-Z a-z 0-9 - and _. It is not secret.
	ID string
	// Secret is the raw key, at least MinKeySize bytes.
	Secret []byte
	// Retire, when not zero, is the last day (UTC) on which the key is
	// accepted; from the next day on, tokens under it are refused and a
	// keyring whose primary key is retired cannot be built.
	Retire time.Time
}

// Retired reports whether k is past its retirement date at now.
func (k *Key) Retired(now time.Time) bool {
	return !k.Retire.IsZero() && !now.Before(k.Retire.AddDate(0, 0, 1))
}

// String returns the key in the keyring format "ID:KEY" or
// "ID:KEY:YYYY-MM-DD". It contains the secret: never log it.
func (k Key) String() string {
	s := k.ID + ":" + base64.RawURLEncoding.EncodeToString(k.Secret)
	if !k.Retire.IsZero() {
		s += ":" + k.Retire.UTC().Format(time.DateOnly)
	}
	return s
}

// GenerateKey returns KeySize bytes from crypto/rand.
func GenerateKey() []byte {
	b := make([]byte, KeySize)
	rand.Read(b) // never fails (crypto/rand.Read panics on failure since Go 1.24)
	return b
}

// Keyring holds the secret keys: the first is the primary, which signs and
// encrypts; the others are fallbacks that only verify, so keys can be
// rotated without logging everyone out. A Keyring is immutable and safe for
// concurrent use.
type Keyring struct {
	keys []Key
	byID map[string]int
}

// NewKeyring builds a keyring, primary first. It refuses weak keys (see
// CheckKey), malformed or duplicate ids, and a retired primary key.
func NewKeyring(keys ...Key) (*Keyring, error) {
	return newKeyring(time.Now(), keys)
}

func newKeyring(now time.Time, keys []Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("latch: keyring has no keys")
	}
	r := &Keyring{byID: make(map[string]int, len(keys))}
	for i, k := range keys {
		if err := checkKeyID(k.ID); err != nil {
			return nil, err
		}
		if _, dup := r.byID[k.ID]; dup {
			return nil, fmt.Errorf("latch: key id %q appears twice", k.ID)
		}
		if err := CheckKey(k.Secret); err != nil {
			var we *WeakKeyError
			if errors.As(err, &we) {
				we.KeyID = k.ID
			}
			return nil, err
		}
		if i == 0 && k.Retired(now) {
			return nil, fmt.Errorf("latch: primary key %q retired on %s: add a new primary key (latch rotate)", k.ID, k.Retire.Format(time.DateOnly))
		}
		k.Secret = append([]byte(nil), k.Secret...)
		r.byID[k.ID] = len(r.keys)
		r.keys = append(r.keys, k)
	}
	return r, nil
}

// Primary returns the key that signs new tokens.
func (r *Keyring) Primary() Key { return r.keys[0] }

// Keys returns a copy of the keys, primary first.
func (r *Keyring) Keys() []Key {
	out := make([]Key, len(r.keys))
	copy(out, r.keys)
	return out
}

// Lookup returns the key with the given id.
func (r *Keyring) Lookup(id string) (Key, bool) {
	i, ok := r.byID[id]
	if !ok {
		return Key{}, false
	}
	return r.keys[i], true
}

// DeriveKey derives a size-byte subkey of the key with id keyID for one
// purpose, with HKDF-SHA256. Each use of a secret key in latch (token MACs,
// cookie encryption, ...) has its own purpose string, so a key never serves
// two algorithms.
func (r *Keyring) DeriveKey(keyID, purpose string, size int) ([]byte, error) {
	k, ok := r.Lookup(keyID)
	if !ok {
		return nil, fmt.Errorf("latch: no key with id %q", keyID)
	}
	return hkdf.Key(sha256.New, k.Secret, nil, "latch/v1/"+purpose, size)
}

// String lists the key ids, never the secrets.
func (r *Keyring) String() string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.ID
	}
	return "latch.Keyring[" + strings.Join(ids, ",") + "]"
}

// ParseKeys parses keys in the keyring format: entries "ID:KEY" or
// "ID:KEY:RETIRE" separated by commas or newlines, where KEY is the raw key
// in base64url without padding and RETIRE a date YYYY-MM-DD. Blank lines and
// lines starting with # are ignored. The first entry is the primary key.
func ParseKeys(s string) (*Keyring, error) {
	return parseKeys(time.Now(), s)
}

func parseKeys(now time.Time, s string) (*Keyring, error) {
	var keys []Key
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for entry := range strings.SplitSeq(line, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			n++
			k, err := parseKeyEntry(n, entry)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("latch: reading keys: %w", err)
	}
	return newKeyring(now, keys)
}

// parseKeyEntry parses entry number n. Errors name the entry by number and
// id, never by its text, which holds the secret.
func parseKeyEntry(n int, entry string) (Key, error) {
	parts := strings.Split(entry, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Key{}, fmt.Errorf("latch: key entry %d: want ID:KEY or ID:KEY:YYYY-MM-DD", n)
	}
	k := Key{ID: parts[0]}
	if err := checkKeyID(k.ID); err != nil {
		return Key{}, fmt.Errorf("latch: key entry %d: %w", n, err)
	}
	if weakkeys.Contains(parts[1]) {
		return Key{}, &WeakKeyError{KeyID: k.ID, Rule: "known-key", Detail: "the key text is a published default or example key"}
	}
	secret, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return Key{}, fmt.Errorf("latch: key %q: KEY must be base64url without padding (make one with \"latch keygen\")", k.ID)
	}
	k.Secret = secret
	if len(parts) == 3 {
		t, err := time.Parse(time.DateOnly, parts[2])
		if err != nil {
			return Key{}, fmt.Errorf("latch: key %q: retirement date must be YYYY-MM-DD", k.ID)
		}
		k.Retire = t
	}
	return k, nil
}

func checkKeyID(id string) error {
	if id == "" || len(id) > 32 {
		return fmt.Errorf("latch: key id must be 1 to 32 characters")
	}
	for i := 0; i < len(id); i++ {
		if !isIDByte(id[i]) {
			return fmt.Errorf("latch: key id %q: only A-Z a-z 0-9 - _ are allowed", id)
		}
	}
	return nil
}

func isIDByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// LoadKeys reads the keyring from the environment: LATCH_KEYS, or else the
// file named by LATCH_KEYS_FILE (which must not be readable by group or
// others). It returns ErrNoKeys when neither is set.
func LoadKeys() (*Keyring, error) { return LoadKeysEnv(os.Getenv) }

// LoadKeysEnv is LoadKeys with the environment read through getenv.
func LoadKeysEnv(getenv func(string) string) (*Keyring, error) {
	if v := getenv(EnvKeys); strings.TrimSpace(v) != "" {
		r, err := ParseKeys(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKeys, err)
		}
		return r, nil
	}
	if path := getenv(EnvKeysFile); path != "" {
		return LoadKeysFile(path)
	}
	return nil, ErrNoKeys
}

// LoadKeysFile reads a keyring file: one entry a line, in the LATCH_KEYS
// format. The file must not be readable or writable by group or others.
func LoadKeysFile(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("latch: key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("latch: key file %s has mode %v: it must not be accessible to group or others (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("latch: key file: %w", err)
	}
	r, err := ParseKeys(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
