package latch

import (
	"bufio"
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// ErrNoSigningKey is matched (with errors.Is) by the error of a keyring
// that has no key to sign with at a given time: every key is retired or
// not yet active.
var ErrNoSigningKey = errors.New("latch: no signing key")

// Key is one secret key of a Keyring.
//
// Printing a Key, with any fmt verb, slog or encoding/json, shows its id
// and times only, never Secret. The one method that writes the secret is
// SecretEntry. (fmt cannot call methods on an unexported struct field, so
// a Key kept by value in one is printed field by field, secret included:
// keep a *Keyring there instead, which fmt prints by address.)
type Key struct {
	// ID names the key in tokens and cookies: 1 to 32 characters from
	// A-Z a-z 0-9 - and _. It is not secret.
	ID string
	// Secret is the raw key, at least MinKeySize bytes.
	Secret []byte
	// Activate, when not zero, is when the key may start signing. Before
	// then it already verifies, so a key can be published to every
	// instance before any of them signs with it.
	Activate time.Time
	// Retire, when not zero, is when the key stops being accepted: from
	// this instant on, tokens under it are refused and it never signs.
	// (Retire used to name the last day accepted; the keyring format's
	// dates keep that meaning, see ParseKeys.)
	Retire time.Time
}

// Retired reports whether k is past its retirement at now.
func (k Key) Retired(now time.Time) bool {
	return !k.Retire.IsZero() && !now.Before(k.Retire)
}

// Activated reports whether k may sign at now: its activation time, if
// any, has come. A key that is activated and not retired is valid for
// signing.
func (k Key) Activated(now time.Time) bool {
	return !now.Before(k.Activate)
}

// valid reports whether k may sign at now.
func (k Key) valid(now time.Time) bool { return k.Activated(now) && !k.Retired(now) }

// SecretEntry returns the key as one entry of the keyring format, secret
// included: "ID:KEY", then " activate=TIME" and " retire=TIME" when set,
// with times in RFC 3339 (UTC, seconds). It is what "latch keygen" prints
// and "latch rotate" writes; never log it.
func (k Key) SecretEntry() string {
	s := k.ID + ":" + base64.RawURLEncoding.EncodeToString(k.Secret)
	return s + k.attrs()
}

// attrs returns the non-secret attributes " activate=TIME retire=TIME" of
// the keyring format, each only when set.
func (k Key) attrs() string {
	var s string
	if !k.Activate.IsZero() {
		s += " activate=" + k.Activate.UTC().Format(time.RFC3339)
	}
	if !k.Retire.IsZero() {
		s += " retire=" + k.Retire.UTC().Format(time.RFC3339)
	}
	return s
}

// String returns "latch.Key[ID activate=TIME retire=TIME]": the id and the
// times that are set, never the secret.
func (k Key) String() string { return "latch.Key[" + k.ID + k.attrs() + "]" }

// GoString is String: %#v shows no secret either.
func (k Key) GoString() string { return k.String() }

// Format prints String for every verb (%v, %+v, %#v, %s, %q, and even %x
// or %d, which would otherwise print Secret's bytes).
func (k Key) Format(f fmt.State, verb rune) { formatRedacted(f, verb, k.String()) }

// LogValue makes slog log the id and times, never the secret.
func (k Key) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("id", k.ID)}
	if !k.Activate.IsZero() {
		attrs = append(attrs, slog.Time("activate", k.Activate.UTC()))
	}
	if !k.Retire.IsZero() {
		attrs = append(attrs, slog.Time("retire", k.Retire.UTC()))
	}
	return slog.GroupValue(attrs...)
}

// keyJSON is what encoding/json writes for a Key: no secret.
type keyJSON struct {
	ID       string     `json:"id"`
	Activate *time.Time `json:"activate,omitempty"`
	Retire   *time.Time `json:"retire,omitempty"`
}

// MarshalJSON writes {"id":..., "activate":..., "retire":...}, never the
// secret.
func (k Key) MarshalJSON() ([]byte, error) { return json.Marshal(k.public()) }

func (k Key) public() keyJSON {
	j := keyJSON{ID: k.ID}
	if !k.Activate.IsZero() {
		t := k.Activate.UTC()
		j.Activate = &t
	}
	if !k.Retire.IsZero() {
		t := k.Retire.UTC()
		j.Retire = &t
	}
	return j
}

// formatRedacted prints s, a redacted form, for any verb: %q and %v keep
// their meaning (with flags, so %#v quotes), every other verb prints s as %s
// would.
func formatRedacted(f fmt.State, verb rune, s string) {
	switch verb {
	case 'q', 'v', 's':
	default:
		verb = 's'
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s)
}

// GenerateKey returns KeySize bytes from crypto/rand.
func GenerateKey() []byte {
	b := make([]byte, KeySize)
	rand.Read(b) // never fails (crypto/rand.Read panics on failure since Go 1.24)
	return b
}

// Keyring holds the secret keys. At any moment one of them signs and
// encrypts (SigningKey): the newest valid key, that is, of the keys that
// are activated and not retired, the one with the latest activation time (a
// key without one counts as activated at the beginning of time), and of
// keys activated at the same time, the one listed first. Every key that is
// not retired verifies, so keys can be staged before they sign and rotated
// without logging anyone out. A keyring of plain "ID:KEY" entries therefore
// signs with its first entry, as latch always has. A Keyring is immutable
// and safe for concurrent use.
type Keyring struct {
	// keys are in the order given. They are held by pointer, so that fmt,
	// when it cannot call Format (a Keyring in an unexported field),
	// prints addresses rather than secrets.
	keys []*Key
	byID map[string]*Key
}

// NewKeyring builds a keyring. It refuses weak keys (see CheckKey),
// malformed or duplicate ids, a key whose activation is not before its
// retirement, and a keyring that has no valid signing key now.
func NewKeyring(keys ...Key) (*Keyring, error) {
	return newKeyring(time.Now(), keys)
}

// NewKeyringAt is NewKeyring with the keyring checked for a signing key at
// now rather than time.Now().
func NewKeyringAt(now time.Time, keys ...Key) (*Keyring, error) {
	return newKeyring(now, keys)
}

func newKeyring(now time.Time, keys []Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("latch: keyring has no keys")
	}
	r := &Keyring{byID: make(map[string]*Key, len(keys))}
	for i, k := range keys {
		if err := checkKeyID(k.ID); err != nil {
			return nil, atEntry(i+1, err)
		}
		if _, dup := r.byID[k.ID]; dup {
			return nil, atEntry(i+1, fmt.Errorf("latch: key id %q appears twice", k.ID))
		}
		if err := CheckKey(k.Secret); err != nil {
			var we *WeakKeyError
			if errors.As(err, &we) {
				we.KeyID = k.ID
			}
			return nil, atEntry(i+1, err)
		}
		if !k.Activate.IsZero() && !k.Retire.IsZero() && !k.Activate.Before(k.Retire) {
			return nil, atEntry(i+1, fmt.Errorf("latch: key %q: activation %s is not before retirement %s", k.ID, stamp(k.Activate), stamp(k.Retire)))
		}
		k.Secret = append([]byte(nil), k.Secret...)
		r.byID[k.ID] = &k
		r.keys = append(r.keys, &k)
	}
	if _, err := r.SigningKey(now); err != nil {
		return nil, err
	}
	return r, nil
}

// stamp formats t for messages: RFC 3339 in UTC.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// signer returns the index of the key that signs at now, or -1: of the
// keys valid at now, the one activated last, ties going to the one listed
// first.
func signer(keys []*Key, now time.Time) int {
	best := -1
	for i, k := range keys {
		if k.valid(now) && (best < 0 || k.Activate.After(keys[best].Activate)) {
			best = i
		}
	}
	return best
}

// SigningKey returns the key that signs at now: the newest valid key (see
// Keyring). It returns an error matching ErrNoSigningKey when every key is
// retired or not yet activated at now.
func (r *Keyring) SigningKey(now time.Time) (Key, error) {
	if i := signer(r.keys, now); i >= 0 {
		return *r.keys[i], nil
	}
	return Key{}, r.noSigner(now)
}

// noSigner explains why no key signs at now.
func (r *Keyring) noSigner(now time.Time) error {
	if next := r.nextStaged(now); next != nil {
		return fmt.Errorf("%w at %s: key %q activates only at %s, and no other key is valid until then", ErrNoSigningKey, stamp(now), next.ID, stamp(next.Activate))
	}
	return fmt.Errorf("%w at %s: every key is retired (the last at %s): add a new key (latch rotate)", ErrNoSigningKey, stamp(now), stamp(r.lastRetire()))
}

func (r *Keyring) lastRetire() time.Time {
	var t time.Time
	for _, k := range r.keys {
		if k.Retire.After(t) {
			t = k.Retire
		}
	}
	return t
}

// CheckSigning reports whether r can sign at now for sessions that may
// last up to longest, and returns an error saying what to change if not.
// It fails when no key signs at now (ErrNoSigningKey), and when the key
// that signs now retires before a session it signs could end: sessions it
// signs until it hands over to a staged successor (or, with none staged,
// from now on) may live for longest, so its retirement must come at least
// longest after that. New calls it with the longest of
// Config.AbsoluteTimeout and Config.RememberAbsoluteTimeout.
func (r *Keyring) CheckSigning(now time.Time, longest time.Duration) error {
	i := signer(r.keys, now)
	if i < 0 {
		return r.noSigner(now)
	}
	s := r.keys[i]
	if s.Retire.IsZero() {
		return nil
	}
	until, handover := now, false
	if t, ok := r.handover(s, now); ok {
		until, handover = t, true
	}
	if need := until.Add(longest); s.Retire.Before(need) {
		if handover {
			return fmt.Errorf("latch: signing key %q retires at %s, but it signs until %s, and a session it signs then may last %v more, to %s: give it a later retire= time", s.ID, stamp(s.Retire), stamp(until), longest, stamp(need))
		}
		return fmt.Errorf("latch: signing key %q retires at %s, before a session signed now could end (sessions may last %v, to %s): give it a later retire= time, or put a key that signs at once in its place (latch rotate --now)", s.ID, stamp(s.Retire), longest, stamp(need))
	}
	return nil
}

// handover returns when a key staged after s, the key that signs at now,
// takes over signing from it: the earliest activation after now of a key
// that is valid when it activates. Such a key was activated after s, so it
// is newer and signs from then on.
func (r *Keyring) handover(s *Key, now time.Time) (time.Time, bool) {
	if next := r.nextStaged(now); next != nil && !s.Retired(next.Activate) {
		return next.Activate, true
	}
	return time.Time{}, false
}

// nextStaged returns the key activated first after now, of those valid
// when they activate (ties going to the one listed first), or nil.
func (r *Keyring) nextStaged(now time.Time) *Key {
	var next *Key
	for _, k := range r.keys {
		if !k.Activated(now) && !k.Retired(k.Activate) && (next == nil || k.Activate.Before(next.Activate)) {
			next = k
		}
	}
	return next
}

// Primary returns the key that signs now, SigningKey at time.Now(), or
// the zero Key if none does. With staged keys the answer changes with
// time: code with its own clock (Config.Now) calls SigningKey.
func (r *Keyring) Primary() Key {
	k, _ := r.SigningKey(time.Now())
	return k
}

// Keys returns a copy of the keys, in the order given.
func (r *Keyring) Keys() []Key {
	out := make([]Key, len(r.keys))
	for i, k := range r.keys {
		out[i] = *k
	}
	return out
}

// Lookup returns the key with the given id.
func (r *Keyring) Lookup(id string) (Key, bool) {
	k, ok := r.byID[id]
	if !ok {
		return Key{}, false
	}
	return *k, true
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

// String lists the keys' ids and times, never the secrets:
// "latch.Keyring[k2 activate=TIME, k1 retire=TIME]".
func (r Keyring) String() string {
	parts := make([]string, len(r.keys))
	for i, k := range r.keys {
		parts[i] = k.ID + k.attrs()
	}
	return "latch.Keyring[" + strings.Join(parts, ", ") + "]"
}

// GoString is String.
func (r Keyring) GoString() string { return r.String() }

// Format prints String for every verb, as Key.Format does.
func (r Keyring) Format(f fmt.State, verb rune) { formatRedacted(f, verb, r.String()) }

// LogValue makes slog log each key's id and times, grouped by id.
func (r Keyring) LogValue() slog.Value {
	attrs := make([]slog.Attr, len(r.keys))
	for i, k := range r.keys {
		attrs[i] = slog.Any(k.ID, *k)
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON writes the keys' ids and times as a JSON array, never the
// secrets.
func (r Keyring) MarshalJSON() ([]byte, error) {
	out := make([]keyJSON, len(r.keys))
	for i, k := range r.keys {
		out[i] = k.public()
	}
	return json.Marshal(out)
}

// ParseKeys parses keys in the keyring format. Entries are separated by
// commas or newlines (LF or CRLF); blank lines and lines starting with #
// are ignored, and so is a UTF-8 byte order mark at the start.
// An entry is
//
//	ID:KEY[:YYYY-MM-DD] [activate=TIME] [retire=TIME]
//
// ID is the key id, KEY the raw key in base64url without padding. The
// optional third field is the legacy retirement date. Attributes follow
// after spaces or tabs, each at most once, in any order. TIME is RFC 3339
// to the second ("2026-12-05T10:00:00Z", "2026-12-05T11:00:00+01:00") or a
// date YYYY-MM-DD, which names a whole day in UTC that belongs to the
// key's life: activate=2026-12-05 signs from 00:00 UTC that day, and
// retire=2026-12-05 (like ID:KEY:2026-12-05) accepts the key through the
// end of that day.
//
// Why this shape: an RFC 3339 time contains colons, so it cannot be one
// more colon-separated field. Neither an id nor base64url contains a space,
// a colon or "=", so the first field of an entry ends at its first space,
// everything after it is name=value, and the colons of a time appear only
// after "=": every entry parses one way, and every entry latch has ever
// accepted keeps its meaning.
//
// The signing key is the newest valid key (see Keyring), not the first
// entry; an entry without activate= counts as activated at the beginning
// of time, so a keyring of plain entries signs with its first.
func ParseKeys(s string) (*Keyring, error) {
	return parseKeys(time.Now(), s)
}

// ParseKeysAt is ParseKeys with the keyring checked for a signing key at
// now rather than time.Now(): for programs and tests with their own clock
// (Config.Now).
func ParseKeysAt(now time.Time, s string) (*Keyring, error) {
	return parseKeys(now, s)
}

func parseKeys(now time.Time, s string) (*Keyring, error) {
	keys, err := parseEntries(s)
	if err != nil {
		return nil, err
	}
	return newKeyring(now, keys)
}

// parseEntries parses the entries of s without checking them as a
// keyring.
func parseEntries(s string) ([]Key, error) {
	var keys []Key
	// A byte order mark, which Windows editors put before UTF-8 text, is
	// no part of the first entry's id.
	s = strings.TrimPrefix(s, "\ufeff")
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
				return nil, atEntry(n, err)
			}
			keys = append(keys, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("latch: reading keys: %w", err)
	}
	return keys, nil
}

// entryError names the entry, by its number counted from 1, that an
// error is about: a reader finds it without the error showing its text.
type entryError struct {
	n   int
	err error
}

func (e *entryError) Error() string {
	return fmt.Sprintf("latch: key entry %d: %s", e.n, strings.TrimPrefix(e.err.Error(), "latch: "))
}

func (e *entryError) Unwrap() error { return e.err }

// atEntry returns err naming entry n, unless it does already.
func atEntry(n int, err error) error {
	if strings.HasPrefix(err.Error(), fmt.Sprintf("latch: key entry %d:", n)) {
		return err
	}
	return &entryError{n: n, err: err}
}

// parseKeyEntry parses entry number n. Errors name the entry by number and
// id, never by its text, which holds the secret.
func parseKeyEntry(n int, entry string) (Key, error) {
	fields := strings.Fields(entry)
	parts := strings.Split(fields[0], ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Key{}, fmt.Errorf("latch: key entry %d: want ID:KEY, ID:KEY:YYYY-MM-DD, then optional activate=TIME retire=TIME", n)
	}
	k := Key{ID: parts[0]}
	if checkKeyID(k.ID) != nil {
		// The text is not quoted: it may be a secret, such as a password
		// with a colon in it.
		return Key{}, errors.New("latch: the key id, before the first colon, must be 1 to 32 characters from A-Z a-z 0-9 - _")
	}
	// Until KEY decodes, the entry may be no entry at all but a secret
	// with a colon in it (a password, a Flask SECRET_KEY): errors name it
	// by number only, never by the text before the colon.
	if weakkeys.Contains(parts[1]) {
		return Key{}, &WeakKeyError{Rule: "known-key", Detail: "the key text is a published default or example key"}
	}
	if what, ok := weakkeys.Generated(parts[1]); ok {
		return Key{}, &WeakKeyError{Rule: "known-key", Detail: "the key text is a published default: " + what}
	}
	secret, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return Key{}, errors.New("latch: KEY, after the first colon, must be base64url without padding (make one with \"latch keygen\")")
	}
	k.Secret = secret
	// Text that happens to be base64url (a passphrase) decodes to bytes
	// that look random: the text is what was chosen, so it is judged too.
	// A random key's text passes (TestParseKeysAcceptsRandomKeys). A key
	// whose bytes fail is reported as such, by NewKeyring.
	if CheckKey(secret) == nil {
		if err := CheckKey([]byte(parts[1])); err != nil {
			var we *WeakKeyError
			if errors.As(err, &we) {
				return Key{}, &WeakKeyError{KeyID: k.ID, Rule: we.Rule, Detail: "read as text, which is what was chosen: " + we.Detail}
			}
			return Key{}, err
		}
	}
	if len(parts) == 3 {
		if k.Retire, err = parseKeyTime(parts[2], true); err != nil || len(parts[2]) != len(time.DateOnly) {
			return Key{}, fmt.Errorf("latch: key %q: retirement date must be YYYY-MM-DD", k.ID)
		}
	}
	for i, f := range fields[1:] {
		name, val, _ := strings.Cut(f, "=")
		var dst *time.Time
		switch name {
		case "activate":
			dst = &k.Activate
		case "retire":
			dst = &k.Retire
		default:
			// The text is not quoted: it may be a secret pasted in the
			// wrong place.
			return Key{}, fmt.Errorf("latch: key %q: attribute %d: want activate=TIME or retire=TIME", k.ID, i+1)
		}
		if !dst.IsZero() {
			return Key{}, fmt.Errorf("latch: key %q: %s given twice", k.ID, name)
		}
		if *dst, err = parseKeyTime(val, name == "retire"); err != nil {
			return Key{}, fmt.Errorf("latch: key %q: %s: %w", k.ID, name, err)
		}
	}
	return k, nil
}

// parseKeyTime parses an RFC 3339 time to the second, or a date
// YYYY-MM-DD: its start in UTC, or with endOfDay the start of the next
// day, so that the day itself is included. The result, in UTC, falls
// after the zero time (a Key's "not set") and before the year 10000, so
// that it means what it says and can be written back in RFC 3339.
func parseKeyTime(s string, endOfDay bool) (time.Time, error) {
	var t time.Time
	var err error
	if len(s) == len(time.DateOnly) {
		t, err = time.Parse(time.DateOnly, s)
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
	} else {
		t, err = time.Parse(time.RFC3339, s)
	}
	switch {
	case err != nil:
		return time.Time{}, errors.New("want YYYY-MM-DD or an RFC 3339 time such as 2026-12-05T10:00:00Z")
	case t.Nanosecond() != 0:
		return time.Time{}, errors.New("times are to the second: drop the fraction")
	case !t.After(time.Time{}) || t.UTC().Year() > 9999:
		// The zero instant is a Key's "not set": taken as a time it would
		// make a retirement none.
		return time.Time{}, errors.New("the time must fall after 0001-01-01T00:00:00Z and before the year 10000 (UTC)")
	}
	return t.UTC(), nil
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
// file named by LATCH_KEYS_FILE, whose mode is checked as LoadKeysFile
// does. It returns ErrNoKeys when neither is set.
func LoadKeys() (*Keyring, error) { return LoadKeysEnv(os.Getenv) }

// LoadKeysEnv is LoadKeys with the environment read through getenv.
func LoadKeysEnv(getenv func(string) string) (*Keyring, error) {
	src, err := KeysFromEnvFunc(getenv)
	if err != nil {
		return nil, err
	}
	return LoadKeysFrom(context.Background(), src)
}

// LoadKeysFile reads a keyring file: one entry a line, in the LATCH_KEYS
// format. The file must not be accessible to others, nor writable by
// group; group may read it only when root owns it (mode 0440 or 0640), as
// for a Kubernetes Secret volume with an fsGroup. FileKeys reads files
// alike.
func LoadKeysFile(path string) (*Keyring, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	r, err := ParseKeys(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
