package flask

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Salt is the salt Flask's SecureCookieSessionInterface gives itsdangerous.
const Salt = "cookie-session"

// Limits that keep a hostile cookie from costing much to reject.
const (
	// MaxCookieSize is the longest cookie value the decoders accept.
	// Browsers store at most about 4 KiB per cookie.
	MaxCookieSize = 64 << 10
	// MaxPayloadSize is the most a compressed payload may inflate to.
	MaxPayloadSize = 1 << 20
	// DefaultSkew is how far in the future a cookie's timestamp may be
	// before Decode refuses it, when Serializer.Skew is zero.
	DefaultSkew = time.Minute
)

// Errors returned by this package; test for them with errors.Is.
var (
	// ErrMalformed means the value is not a Flask session cookie: wrong
	// shape, bad base64, bad zlib data, or JSON Flask could not load.
	ErrMalformed = errors.New("flask: malformed session cookie")
	// ErrBadSignature means no key verified the signature: the cookie was
	// forged, tampered with or signed with another key.
	ErrBadSignature = errors.New("flask: bad signature")
	// ErrExpired means the signature is valid but the timestamp is older
	// than the maximum age.
	ErrExpired = errors.New("flask: session cookie expired")
	// ErrFuture means the signature is valid but the timestamp lies further
	// in the future than the allowed clock skew.
	ErrFuture = errors.New("flask: session cookie timestamp is in the future")
	// ErrNoKey means the serializer has no usable secret key: Flask itself
	// refuses to use sessions when SECRET_KEY is empty.
	ErrNoKey = errors.New("flask: empty secret key")
	// ErrTooLarge means the cookie or its payload exceeds MaxCookieSize or
	// MaxPayloadSize.
	ErrTooLarge = errors.New("flask: session cookie too large")
)

// Payload is a decoded session cookie.
type Payload struct {
	// Data is the session as Flask sees it. Tagged values come back as
	// Go types: Tuple, []byte, Markup, UUID, time.Time (UTC); numbers as
	// json.Number; objects as map[string]any and lists as []any.
	Data map[string]any
	// Raw is Data as plain JSON (no tags): tuples as arrays, bytes in
	// base64, UUIDs and markup as strings, dates in RFC 3339.
	Raw json.RawMessage
	// Serialized is the JSON exactly as it is in the cookie, tags included.
	Serialized json.RawMessage
	// Timestamp is when the cookie was signed, to the second.
	Timestamp time.Time
	// Compressed reports whether the payload was zlib-compressed (the
	// cookie starts with ".").
	Compressed bool
	// KeyIndex is the key that verified the signature: 0 for the primary
	// key, i for the i-th fallback. It is -1 for Unverified.
	KeyIndex int
}

// cookieParts is a cookie split at its separators; nothing is verified.
type cookieParts struct {
	signed    string // "payload.timestamp", the signed message
	payload   string // base64 payload, with the "." prefix if compressed
	timestamp int64
	sig       []byte
}

func split(cookie string) (*cookieParts, error) {
	if len(cookie) > MaxCookieSize {
		return nil, ErrTooLarge
	}
	i := strings.LastIndexByte(cookie, '.')
	if i < 0 {
		return nil, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	signed, sigText := cookie[:i], cookie[i+1:]
	j := strings.LastIndexByte(signed, '.')
	if j < 0 {
		return nil, fmt.Errorf("%w: no timestamp", ErrMalformed)
	}
	payload, tsText := signed[:j], signed[j+1:]
	if payload == "" || payload == "." {
		return nil, fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(sigText)
	if err != nil || len(sig) != sha1.Size {
		return nil, fmt.Errorf("%w: bad signature encoding", ErrMalformed)
	}
	tsBytes, err := base64.RawURLEncoding.Strict().DecodeString(tsText)
	if err != nil || len(tsBytes) > 8 {
		return nil, fmt.Errorf("%w: bad timestamp", ErrMalformed)
	}
	var b [8]byte
	copy(b[8-len(tsBytes):], tsBytes)
	ts := binary.BigEndian.Uint64(b[:])
	if ts > 1<<40 { // far beyond any real clock; keeps time arithmetic safe
		return nil, fmt.Errorf("%w: bad timestamp", ErrMalformed)
	}
	return &cookieParts{signed: signed, payload: payload, timestamp: int64(ts), sig: sig}, nil
}

// decodePayload turns the payload part into a Payload (KeyIndex unset).
func decodePayload(p *cookieParts) (*Payload, error) {
	text := p.payload
	compressed := strings.HasPrefix(text, ".")
	if compressed {
		text = text[1:]
	}
	doc, err := base64.RawURLEncoding.Strict().DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("%w: bad payload encoding", ErrMalformed)
	}
	if compressed {
		zr, err := zlib.NewReader(bytes.NewReader(doc))
		if err != nil {
			return nil, fmt.Errorf("%w: bad zlib data", ErrMalformed)
		}
		doc, err = io.ReadAll(io.LimitReader(zr, MaxPayloadSize+1))
		if err != nil {
			return nil, fmt.Errorf("%w: bad zlib data", ErrMalformed)
		}
		if len(doc) > MaxPayloadSize {
			return nil, ErrTooLarge
		}
	}
	data, err := parseTagged(doc)
	if err != nil {
		return nil, err
	}
	raw, err := plainJSON(data)
	if err != nil {
		return nil, err
	}
	return &Payload{
		Data:       data,
		Raw:        raw,
		Serialized: json.RawMessage(doc),
		Timestamp:  time.Unix(p.timestamp, 0).UTC(),
		Compressed: compressed,
		KeyIndex:   -1,
	}, nil
}

// Unverified decodes a session cookie without checking its signature. It
// shows what anyone who sees the cookie can read: Flask's session cookie is
// signed, not encrypted. Never trust the result.
func Unverified(cookie string) (*Payload, error) {
	p, err := split(cookie)
	if err != nil {
		return nil, err
	}
	return decodePayload(p)
}

// deriveKey is itsdangerous's "hmac" key derivation: HMAC-SHA1(secret, salt).
func deriveKey(secret []byte) []byte {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(Salt))
	return m.Sum(nil)
}

// Serializer signs and verifies session cookies as a Flask application with
// a given SECRET_KEY and SECRET_KEY_FALLBACKS does. It keeps only the derived
// keys, never the secrets. A Serializer is safe for concurrent use as long as
// its fields are not changed.
type Serializer struct {
	// Now returns the current time; nil means time.Now. Tests set a fixed
	// clock.
	Now func() time.Time
	// Skew is how far in the future a timestamp may lie before Decode
	// refuses it (clocks differ between hosts). Zero means DefaultSkew; a
	// negative value allows none, as Flask does.
	Skew time.Duration

	keys [][]byte // derived keys: primary first, then fallbacks
	err  error
}

// New returns a Serializer for the secret key secretKey (Flask's
// SECRET_KEY) and the older keys that still verify (SECRET_KEY_FALLBACKS,
// newest first). Flask encodes string keys as UTF-8. An empty key makes
// Decode and Encode return ErrNoKey.
func New(secretKey string, fallbacks ...string) *Serializer {
	keys := make([][]byte, 0, 1+len(fallbacks))
	keys = append(keys, []byte(secretKey))
	for _, f := range fallbacks {
		keys = append(keys, []byte(f))
	}
	return NewBytes(keys[0], keys[1:]...)
}

// NewBytes is New for keys given as bytes, as Flask allows (its
// documentation's example key is a bytes literal that is not valid UTF-8).
func NewBytes(secretKey []byte, fallbacks ...[]byte) *Serializer {
	s := &Serializer{}
	for _, k := range append([][]byte{secretKey}, fallbacks...) {
		if len(k) == 0 {
			s.err = ErrNoKey
			break
		}
		s.keys = append(s.keys, deriveKey(k))
	}
	return s
}

func (s *Serializer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func sign(key []byte, msg string) []byte {
	m := hmac.New(sha1.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Decode verifies cookie with the primary key and then each fallback, checks
// its age, and decodes it. maxAge is the longest a cookie stays valid after
// it was signed (Flask uses PERMANENT_SESSION_LIFETIME, 31 days by default);
// zero means no limit. Every signature failure is ErrBadSignature, whatever
// the reason, and the payload is not parsed until the signature verifies.
//
// The age check is itsdangerous's, in whole seconds: a cookie older than
// maxAge is ErrExpired, and one stamped ahead of the clock is ErrFuture
// (Flask raises SignatureExpired for both). With a negative Skew, Decode
// accepts exactly the cookies Flask accepts, for every timestamp (a test
// asks real Flask); with the default it also accepts a cookie up to
// DefaultSkew ahead, which Flask refuses.
func (s *Serializer) Decode(cookie string, maxAge time.Duration) (*Payload, error) {
	if s.err != nil {
		return nil, s.err
	}
	if maxAge < 0 {
		return nil, fmt.Errorf("flask: negative maxAge %v", maxAge)
	}
	p, err := split(cookie)
	if err != nil {
		return nil, err
	}
	index := -1
	for i, k := range s.keys {
		if hmac.Equal(sign(k, p.signed), p.sig) {
			index = i
			break
		}
	}
	if index < 0 {
		return nil, ErrBadSignature
	}
	if err := s.checkAge(p.timestamp, maxAge); err != nil {
		return nil, err
	}
	payload, err := decodePayload(p)
	if err != nil {
		return nil, err
	}
	payload.KeyIndex = index
	return payload, nil
}

// checkAge refuses a timestamp older than maxAge or further ahead than the
// skew, as itsdangerous's TimestampSigner.unsign does: it counts whole
// seconds (age = int(time.time()) - ts) and refuses age > max_age and
// age < 0 with SignatureExpired. The arithmetic stays in seconds, so no
// timestamp split accepts can overflow it (a time.Duration holds only
// about 292 years).
func (s *Serializer) checkAge(ts int64, maxAge time.Duration) error {
	age := s.now().Unix() - ts
	if maxAge > 0 && age > int64(maxAge/time.Second) {
		return fmt.Errorf("%w: signed %ds ago, limit %v", ErrExpired, age, maxAge)
	}
	skew := s.Skew
	if skew == 0 {
		skew = DefaultSkew
	}
	if age < 0 && -age > int64(max(skew, 0)/time.Second) {
		return fmt.Errorf("%w: signed %ds ahead of this clock", ErrFuture, -age)
	}
	return nil
}

// Encode returns the session cookie value Flask would set for data, signed
// with the primary key at the current time (Now). The output is byte for
// byte what Flask produces: tagged JSON with sorted keys and compact
// separators, zlib-compressed (with a leading ".") when that is at least two
// bytes shorter. Values may be nil, bool, strings, integers, floats,
// json.Number, *big.Int, []any, Tuple, map[string]any, []byte, Markup,
// UUID and time.Time, and slices and string-keyed maps of those.
func (s *Serializer) Encode(data map[string]any) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	doc, err := encodeTagged(data)
	if err != nil {
		return "", err
	}
	if len(doc) > MaxPayloadSize {
		return "", ErrTooLarge
	}
	compressed := false
	if z := zlibCompress(doc); len(z) < len(doc)-1 {
		doc, compressed = z, true
	}
	var b strings.Builder
	b.Grow(base64.RawURLEncoding.EncodedLen(len(doc)) + 40)
	if compressed {
		b.WriteByte('.')
	}
	b.WriteString(base64.RawURLEncoding.EncodeToString(doc))
	b.WriteByte('.')
	b.WriteString(encodeTimestamp(s.now().Unix()))
	sig := sign(s.keys[0], b.String())
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(sig))
	return b.String(), nil
}

// encodeTimestamp writes ts as itsdangerous does: big-endian bytes without
// leading zeros, in base64url.
func encodeTimestamp(ts int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(ts))
	i := 0
	for i < 8 && b[i] == 0 {
		i++
	}
	return base64.RawURLEncoding.EncodeToString(b[i:])
}
