package cookiestore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
)

// Sizes of the sealed value.
const (
	// MaxCookieSize is the largest cookie, name=value, that browsers are
	// required to keep (RFC 6265 section 6.1). Seal refuses to make a
	// larger one and Open refuses a larger value before any other work.
	MaxCookieSize = 4096
	// KeySize is the size of the AES-256-GCM key derived from each
	// keyring key.
	KeySize = 32
	// NonceSize is the size of the random GCM nonce at the start of every
	// sealed value.
	NonceSize = 12
	// Overhead is the size of the GCM tag.
	Overhead = 16

	// derivePurpose names the cookie-encryption use of a keyring key.
	derivePurpose = "cookie-aead"
	// aadPrefix starts the additional data, which also binds the cookie
	// name and the key id.
	aadPrefix = "latch/cookiestore/v1\x00"
	// minPlaintext is the shortest envelope, in either format: header, id,
	// seal time, then a record's version, flags, three durations, three
	// string lengths and value count (formatV1: flags, two times, three
	// durations and three string lengths).
	minPlaintext = 1 + 32 + 8 + 1 + 2 + 3 + 3
	maxKeyID     = 32
)

// ErrTooLarge is matched (with errors.Is) by the error Seal returns when
// the cookie would pass MaxCookieSize, as is driver.ErrTooLarge (the
// latch.ErrTooLarge of every store). The Manager then fails the request
// with that error rather than send a cookie the browser would drop.
var ErrTooLarge = errors.New("cookiestore: session cookie over the 4096-byte limit")

// TooLargeError reports the size a cookie would have had. It matches
// ErrTooLarge and driver.ErrTooLarge.
type TooLargeError struct {
	// Size is the length of name=value, in bytes.
	Size int
}

// Error says how large the cookie would have been.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("cookiestore: session cookie would be %d bytes, over the %d-byte limit", e.Size, MaxCookieSize)
}

// Is makes errors.Is(err, ErrTooLarge) and errors.Is(err,
// driver.ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool {
	return target == ErrTooLarge || target == driver.ErrTooLarge
}

// Options configure a Store. The zero value is valid: no revocation, no
// compression, the system clock.
type Options struct {
	// Revocations keeps the sessions that were logged out or renewed and
	// a per-user "not before" time, so that a logout, a renewal and a
	// revocation end cookies already handed out. Default nil: Revoke and
	// RevokeUser return driver.ErrNotSupported, and a cookie that a logout
	// or a renewal replaced (a stolen copy, or one captured before a
	// demotion) stays valid until its timeouts. Use StoreRevocations with
	// any driver.Store, or FuncRevocations.
	Revocations Revocations

	// Compress deflates the sealed data when that makes it shorter.
	// Default false. Compression lets a session hold more: JSON with
	// repeated keys shrinks a lot (a 30-item cart of objects went from a
	// 2,311- to a 583-byte cookie), a few short values barely (2 to 10
	// percent), random tokens by a sixth; it costs tens of microseconds
	// per seal (flate.BestSpeed, pooled writers). But the length of a
	// compressed cookie depends on its content: an attacker who can both
	// put text into a session (a search term, a form field kept for
	// later) and watch the cookie's length on the network can learn other
	// values of the same session a few characters at a time, as the CRIME
	// attack did with TLS compression. Turn it on only when no value an
	// attacker controls shares a session with a secret.
	Compress bool

	// Now is the clock that Revoke and RevokeUser record revocations
	// with. Default time.Now. Open and Seal use the time the Manager
	// passes, so tests give both the same fake clock.
	Now func() time.Time
}

// Store keeps each session in its own cookie, encrypted and authenticated
// with AES-256-GCM. It implements driver.Stateless; give it to latch.New as
// Config.Stateless. It is safe for concurrent use.
type Store struct {
	keys    atomic.Pointer[keySet] // swapped whole by SetKeys
	revs    Revocations
	deflate bool
	now     func() time.Time

	// lastSeal is the latest seal time handed out, and floor the latest
	// not-before recorded, in Unix nanoseconds. They order a revocation
	// strictly after every earlier seal and before every later one, even
	// on a clock that ticks coarsely or a test clock that stands still.
	lastSeal atomic.Int64
	floor    atomic.Int64
}

// keySet is a keyring prepared for cookie encryption.
type keySet struct {
	ring *latch.Keyring // chooses the key that seals at a given time
	byID map[string]*aeadKey
}

// aeadKey is one keyring key prepared for cookie encryption.
type aeadKey struct {
	id     string
	retire latch.Key // ID and times only; the secret is not kept here
	aead   cipher.AEAD
}

var (
	_ driver.Stateless = (*Store)(nil)
	_ latch.KeySetter  = (*Store)(nil)
)

// New returns a Store that seals under the key of keys that signs at the
// time of sealing (keys.SigningKey) and opens values sealed under any of
// its keys that is not retired. Each key's AES-256 key is derived
// with keys.DeriveKey(id, "cookie-aead", 32), so the cookie key differs
// from the key that signs server-side tokens. A Manager with a
// Config.KeySource replaces the keyring on every reload (SetKeys).
func New(keys *latch.Keyring, opts Options) (*Store, error) {
	if keys == nil {
		return nil, errors.New("cookiestore: New needs a keyring (latch.LoadKeys)")
	}
	if err := checkRevocations(opts.Revocations); err != nil {
		return nil, err
	}
	s := &Store{
		revs:    opts.Revocations,
		deflate: opts.Compress,
		now:     opts.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.SetKeys(keys); err != nil {
		return nil, err
	}
	return s, nil
}

// SetKeys makes keys the keyring from now on: the Store seals under its
// signing key at the time and opens values sealed under any of its keys
// that is not retired. A value sealed under a key that keys lacks is
// refused from then on (driver.ReasonUnknownKey). On an error the keyring
// in use stays. A Manager with a Config.KeySource calls it on every
// reload.
func (s *Store) SetKeys(keys *latch.Keyring) error {
	if keys == nil {
		return errors.New("cookiestore: SetKeys needs a keyring")
	}
	set := &keySet{ring: keys, byID: make(map[string]*aeadKey)}
	for _, k := range keys.Keys() {
		sub, err := keys.DeriveKey(k.ID, derivePurpose, KeySize)
		if err != nil {
			return fmt.Errorf("cookiestore: derive key %q: %w", k.ID, err)
		}
		block, err := aes.NewCipher(sub)
		if err != nil {
			return fmt.Errorf("cookiestore: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return fmt.Errorf("cookiestore: key %q: %w", k.ID, err)
		}
		set.byID[k.ID] = &aeadKey{id: k.ID, retire: latch.Key{ID: k.ID, Activate: k.Activate, Retire: k.Retire}, aead: aead}
	}
	if len(set.byID) == 0 {
		return errors.New("cookiestore: keyring has no keys")
	}
	s.keys.Store(set)
	return nil
}

// appendAAD appends the additional data of a cookie: a format label, the
// cookie name and the key id, so that a value is only good for the cookie
// and the key it was sealed for.
func appendAAD(dst []byte, name, keyID string) []byte {
	dst = append(dst, aadPrefix...)
	dst = append(dst, name...)
	dst = append(dst, 0)
	return append(dst, keyID...)
}

// Seal encrypts rec, the session named id, into the value of the cookie
// called name, under the key that signs at now (never a retired one) and a
// fresh random nonce. It returns a *TooLargeError (matching ErrTooLarge)
// when name=value would pass MaxCookieSize, and an error when no key signs
// at now (matching latch.ErrNoSigningKey) or the record cannot be encoded.
//
// A random 96-bit nonce stays safe for about four billion seals under one
// key; rotate keys (latch rotate) long before that.
func (s *Store) Seal(ctx context.Context, name string, id driver.Hash, rec *driver.Record, now time.Time) (string, error) {
	if rec == nil {
		return "", errors.New("cookiestore: Seal needs a record")
	}
	set := s.keys.Load()
	signing, err := set.ring.SigningKey(now)
	if err != nil {
		return "", fmt.Errorf("cookiestore: seal: %w", err)
	}
	k := set.byID[signing.ID]
	sealed, err := unixNano(now)
	if err != nil {
		return "", fmt.Errorf("cookiestore: seal: %w", err)
	}
	sealed = s.sealTime(sealed)

	buf := make([]byte, NonceSize+1, 512)
	buf[NonceSize] = formatV2
	buf, err = appendEnvelope(buf, id, sealed, rec)
	if err != nil {
		return "", err
	}
	if s.deflate {
		z, err := deflate(make([]byte, NonceSize+1, len(buf)+Overhead), buf[NonceSize+1:])
		if err != nil {
			return "", fmt.Errorf("cookiestore: compress: %w", err)
		}
		if len(z) < len(buf) { // only when it helps
			buf = z
			buf[NonceSize] = formatV2 | flagDeflate
		}
	}
	// Check the size before encrypting: the sealed length is known.
	encLen := base64.RawURLEncoding.EncodedLen(len(buf) + Overhead)
	if size := len(name) + 1 + len(k.id) + 1 + encLen; size > MaxCookieSize {
		return "", &TooLargeError{Size: size}
	}
	rand.Read(buf[:NonceSize]) // never fails (crypto/rand.Read panics on failure since Go 1.24)
	var aadBuf [128]byte
	aad := appendAAD(aadBuf[:0], name, k.id)
	buf = slices.Grow(buf, Overhead) // so that sealing in place never moves buf
	plain := buf[NonceSize:]
	ct := k.aead.Seal(plain[:0], buf[:NonceSize], plain, aad)
	raw := buf[:NonceSize+len(ct)]

	out := make([]byte, 0, len(k.id)+1+encLen)
	out = append(out, k.id...)
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, raw)
	return string(out), nil
}

// sealTime returns the seal time for a seal at now: never below the
// latest not-before this Store recorded. It remembers the latest seal.
func (s *Store) sealTime(now int64) int64 {
	t := max(now, s.floor.Load())
	for {
		last := s.lastSeal.Load()
		if t <= last || s.lastSeal.CompareAndSwap(last, t) {
			return t
		}
	}
}

// Open authenticates and decodes value, the content of the cookie called
// name. The checks go from cheap to dear: length and shape, key id, key
// retirement, then AES-GCM, then the envelope and the record's expiry,
// and last, with Options.Revocations set, the revocations: whether the
// session was revoked or renewed (every session) and, for an
// authenticated one, whether it was sealed before the user's not-before
// time. A value that fails comes back with Refused set
// (driver.ReasonMalformed, ReasonUnknownKey, ReasonRetiredKey,
// ReasonBadMAC; with its ID, ReasonRenewed for a session that a renewal
// replaced and ReasonNotFound for an expired or revoked one); err is set
// only when a revocation lookup fails, and the Manager then answers 503
// rather than trust the cookie.
func (s *Store) Open(ctx context.Context, name, value string, now time.Time) (driver.Opened, error) {
	k, raw, reason := s.parse(value, now)
	if reason != "" {
		return driver.Opened{Refused: reason}, nil
	}
	var aadBuf [128]byte
	aad := appendAAD(aadBuf[:0], name, k.id)
	plain, err := k.aead.Open(raw[NonceSize:NonceSize], raw[:NonceSize], raw[NonceSize:], aad)
	if err != nil {
		return driver.Opened{Refused: driver.ReasonBadMAC}, nil
	}
	e, err := parseEnvelope(plain)
	if err != nil {
		return driver.Opened{Refused: driver.ReasonMalformed}, nil
	}
	rec := e.rec
	if !now.Before(rec.ExpiresAt()) {
		return driver.Opened{ID: e.id, Refused: driver.ReasonNotFound}, nil
	}
	if s.revs != nil {
		reason, err := s.refused(ctx, e)
		if err != nil {
			return driver.Opened{ID: e.id}, fmt.Errorf("cookiestore: revocation lookup: %w", err)
		}
		if reason != "" {
			return driver.Opened{ID: e.id, Refused: reason}, nil
		}
	}
	return driver.Opened{Record: rec, ID: e.id, Fallback: !s.signs(k, now)}, nil
}

// signs reports whether k is the key that seals at now.
func (s *Store) signs(k *aeadKey, now time.Time) bool {
	signing, err := s.keys.Load().ring.SigningKey(now)
	return err == nil && signing.ID == k.id
}

// parse checks the shape of a value and decodes it, before any
// cryptography: its length, the key id's alphabet and length, the
// base64url text (strict, so that no two texts decode alike), then the key
// id against the keyring and its retirement.
func (s *Store) parse(value string, now time.Time) (*aeadKey, []byte, driver.Reason) {
	const minB64 = (NonceSize + minPlaintext + Overhead) * 4 / 3
	if len(value) > MaxCookieSize || len(value) < 2+minB64 {
		return nil, nil, driver.ReasonMalformed
	}
	dot := -1
	for i := 0; i < len(value) && i <= maxKeyID; i++ {
		c := value[i]
		if c == '.' {
			dot = i
			break
		}
		if !isIDByte(c) {
			return nil, nil, driver.ReasonMalformed
		}
	}
	if dot < 1 {
		return nil, nil, driver.ReasonMalformed
	}
	kid, enc := value[:dot], value[dot+1:]
	if len(enc) < minB64 || len(enc)%4 == 1 {
		return nil, nil, driver.ReasonMalformed
	}
	for i := 0; i < len(enc); i++ {
		if !isB64Byte(enc[i]) {
			return nil, nil, driver.ReasonMalformed
		}
	}
	k := s.keys.Load().byID[kid]
	if k == nil {
		return nil, nil, driver.ReasonUnknownKey
	}
	if k.retire.Retired(now) {
		return nil, nil, driver.ReasonRetiredKey
	}
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(enc)))
	n, err := base64.RawURLEncoding.Strict().Decode(raw, []byte(enc))
	if err != nil || n < NonceSize+Overhead+minPlaintext {
		return nil, nil, driver.ReasonMalformed
	}
	return k, raw[:n], ""
}

func isIDByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// isB64Byte reports whether c is in the base64url alphabet.
func isB64Byte(c byte) bool { return isIDByte(c) }
