package audit

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
)

// Django signed-cookie sessions (SESSION_ENGINE =
// "django.contrib.sessions.backends.signed_cookies") store the whole
// session in the cookie:
//
//	[.]base64url(json or zlib(json)) ":" base62(unix time) ":" base64url(HMAC)
//
// The HMAC key is H(salt + "signer" + SECRET_KEY) with H = SHA-256 (Django
// 3.1 and later) or SHA-1 (earlier, and the legacy fallback of 3.1 and
// 3.2), and the HMAC covers everything before the last ":". The leading "."
// marks a zlib-compressed payload.

// DjangoSessionSalt is the salt Django's signed-cookie session backend
// signs with.
const DjangoSessionSalt = "django.contrib.sessions.backends.signed_cookies"

// DjangoAlgorithms are the hash algorithms Django has signed with, newest
// first.
var DjangoAlgorithms = []string{"sha256", "sha1"}

// maxDecompressed bounds a decompressed cookie payload: a cookie is at
// most 4 KiB, so anything near this is a compression bomb.
const maxDecompressed = 1 << 20

// DjangoCookie is a parsed (not verified) Django signed session cookie.
type DjangoCookie struct {
	// Payload is the serialised session (JSON with the default serializer),
	// decompressed.
	Payload []byte
	// Compressed reports whether the payload was zlib-compressed.
	Compressed bool
	// Timestamp is when the cookie was signed.
	Timestamp time.Time
	signed    string // everything the signature covers
	sig       []byte
}

var errNotDjango = errors.New("audit: not a Django signed cookie")

// ParseDjango splits and decodes a Django signed cookie without checking
// its signature.
func ParseDjango(cookie string) (*DjangoCookie, error) {
	cookie = strings.Trim(cookie, `"`)
	last := strings.LastIndexByte(cookie, ':')
	if last < 0 {
		return nil, errNotDjango
	}
	signed, sigText := cookie[:last], cookie[last+1:]
	mid := strings.LastIndexByte(signed, ':')
	if mid < 0 {
		return nil, errNotDjango
	}
	data, tsText := signed[:mid], signed[mid+1:]
	sig, err := base64.RawURLEncoding.DecodeString(sigText)
	if err != nil || (len(sig) != sha1.Size && len(sig) != sha256.Size) {
		return nil, errNotDjango
	}
	ts, err := b62Decode(tsText)
	if err != nil {
		return nil, fmt.Errorf("audit: Django cookie timestamp: %w", err)
	}
	d := &DjangoCookie{Timestamp: time.Unix(ts, 0).UTC(), signed: signed, sig: sig}
	if strings.HasPrefix(data, ".") {
		d.Compressed = true
		data = data[1:]
	}
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil {
		return nil, errNotDjango
	}
	if d.Compressed {
		zr, err := zlib.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("audit: Django cookie payload: %w", err)
		}
		raw, err = io.ReadAll(io.LimitReader(zr, maxDecompressed+1))
		if err != nil {
			return nil, fmt.Errorf("audit: Django cookie payload: %w", err)
		}
		if len(raw) > maxDecompressed {
			return nil, errors.New("audit: Django cookie payload decompresses to more than 1 MiB")
		}
	}
	d.Payload = raw
	return d, nil
}

// Algorithm returns the hash the signature length implies.
func (d *DjangoCookie) Algorithm() string {
	if len(d.sig) == sha1.Size {
		return "sha1"
	}
	return "sha256"
}

// Verify reports whether the cookie was signed with secretKey.
func (d *DjangoCookie) Verify(secretKey string) bool {
	return hmac.Equal(djangoMAC(secretKey, d.Algorithm(), d.signed), d.sig)
}

func djangoHash(algo string) func() hash.Hash {
	if algo == "sha1" {
		return sha1.New
	}
	return sha256.New
}

// djangoMAC is Django's base64_hmac(salt + "signer", value, key, algo)
// before encoding: salted_hmac derives the HMAC key as H(salt + key).
func djangoMAC(secretKey, algo, value string) []byte {
	h := djangoHash(algo)
	kh := h()
	kh.Write([]byte(DjangoSessionSalt + "signer" + secretKey))
	m := hmac.New(h, kh.Sum(nil))
	m.Write([]byte(value))
	return m.Sum(nil)
}

// SignDjango builds a session cookie that Django accepts for secretKey:
// payload is the serialised session (JSON), signed at ts with algo
// ("sha256" or "sha1"). With compress, the payload is zlib-compressed when
// that makes it shorter, as Django does.
func SignDjango(secretKey, algo string, payload []byte, ts time.Time, compress bool) (string, error) {
	if algo != "sha256" && algo != "sha1" {
		return "", fmt.Errorf("audit: unknown Django signing algorithm %q", algo)
	}
	data, dot := payload, ""
	if compress {
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf)
		if _, err := zw.Write(payload); err != nil {
			return "", fmt.Errorf("audit: compress Django payload: %w", err)
		}
		if err := zw.Close(); err != nil {
			return "", fmt.Errorf("audit: compress Django payload: %w", err)
		}
		if buf.Len() < len(payload)-1 {
			data, dot = buf.Bytes(), "."
		}
	}
	value := dot + base64.RawURLEncoding.EncodeToString(data) + ":" + b62Encode(ts.Unix())
	return value + ":" + base64.RawURLEncoding.EncodeToString(djangoMAC(secretKey, algo, value)), nil
}

// CrackDjango tries every candidate key against the cookie's signature with
// workers goroutines (0 means one per CPU). It returns the key that
// verifies, whether one did, and how many candidates were tried. It stops
// early when ctx is cancelled and then returns ctx's error.
func CrackDjango(ctx context.Context, cookie string, candidates []string, workers int) (key string, ok bool, tried int, err error) {
	d, err := ParseDjango(cookie)
	if err != nil {
		return "", false, 0, err
	}
	return crack(ctx, "Django", candidates, workers, d.Verify)
}

const b62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// b62Encode is Django's base62 encoding of an integer (used for the
// timestamp).
func b62Encode(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	var b []byte
	for u > 0 {
		b = append(b, b62Alphabet[u%62])
		u /= 62
	}
	if neg {
		b = append(b, '-')
	}
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// b62Decode is the inverse of b62Encode.
func b62Decode(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if s == "" || len(s) > 10 {
		return 0, errors.New("audit: malformed base62 number")
	}
	var n int64
	for i := 0; i < len(s); i++ {
		v := strings.IndexByte(b62Alphabet, s[i])
		if v < 0 {
			return 0, errors.New("audit: malformed base62 number")
		}
		n = n*62 + int64(v)
	}
	if neg {
		n = -n
	}
	return n, nil
}
