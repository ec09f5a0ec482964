package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	search "github.com/latchsec/latch/internal/crack"
)

// Express applications sign cookies with the cookie-signature package:
// express-session's session cookie (connect.sid by default) and
// cookie-parser's signed cookies (res.cookie(name, value, {signed: true}))
// both have the form
//
//	"s:" value "." base64(HMAC-SHA256(secret, value)) without "=" padding
//
// sent URL-encoded ("s%3A..."). For express-session the value is the
// session ID and the session data stays on the server; for cookie-parser it
// is the cookie's own value, "j:" followed by JSON for an object.

// expressMACLen is the length of an HMAC-SHA256 tag.
const expressMACLen = sha256.Size

// expressSigLen is the tag's length in unpadded base64.
const expressSigLen = 43

// ExpressCookie is a parsed (not verified) cookie-signature cookie.
type ExpressCookie struct {
	// Value is what was signed: a session ID for express-session, the
	// cookie's value for cookie-parser.
	Value string
	// MAC is the decoded HMAC-SHA256 tag.
	MAC []byte
}

var errNotExpress = errors.New("audit: not an Express (cookie-signature) signed cookie")

// ParseExpress decodes a cookie value as the browser holds it (URL-encoded
// or not) into the signed value and its tag, without checking the tag.
func ParseExpress(cookie string) (*ExpressCookie, error) {
	v := cookie
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if strings.Contains(v, "%") {
		// decodeURIComponent: "+" stays "+", which url.PathUnescape does.
		d, err := url.PathUnescape(v)
		if err != nil {
			return nil, errNotExpress
		}
		v = d
	}
	rest, ok := strings.CutPrefix(v, "s:")
	if !ok {
		return nil, errNotExpress
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 || len(rest)-i-1 != expressSigLen {
		return nil, errNotExpress
	}
	mac, err := base64.RawStdEncoding.Strict().DecodeString(rest[i+1:])
	if err != nil || len(mac) != expressMACLen {
		return nil, errNotExpress
	}
	return &ExpressCookie{Value: rest[:i], MAC: mac}, nil
}

// expressMAC is cookie-signature's HMAC-SHA256 of value under secret (a
// JavaScript string, so its UTF-8 bytes).
func expressMAC(secret, value string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(value))
	return m.Sum(nil)
}

// Verify reports whether the cookie was signed with secret.
func (e *ExpressCookie) Verify(secret string) bool {
	return hmac.Equal(expressMAC(secret, e.Value), e.MAC)
}

// JSON returns the object of a cookie-parser JSON cookie ("j:" followed by
// a JSON object) and whether the value is one.
func (e *ExpressCookie) JSON() (map[string]any, bool) {
	rest, ok := strings.CutPrefix(e.Value, "j:")
	if !ok {
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(rest))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, false
	}
	return m, true
}

// SignExpress returns the cookie value Express sends for value signed with
// secret: "s:" value "." tag, URL-encoded as the cookie package encodes it
// (encodeURIComponent).
func SignExpress(secret, value string) string {
	tag := base64.RawStdEncoding.EncodeToString(expressMAC(secret, value))
	return encodeURIComponent("s:" + value + "." + tag)
}

// encodeURIComponent escapes s as JavaScript's encodeURIComponent does:
// everything but A-Z a-z 0-9 and - _ . ! ~ * ' ( ).
func encodeURIComponent(s string) string {
	const keep = "-_.!~*'()"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// CrackExpress tries every candidate secret against the cookie's tag with
// workers goroutines (0 means one per CPU). It returns the secret that
// verifies, whether one did, and how many candidates were tried. It stops
// early when ctx is cancelled and then returns ctx's error.
func CrackExpress(ctx context.Context, cookie string, candidates []string, workers int) (key string, ok bool, tried int, err error) {
	e, err := ParseExpress(cookie)
	if err != nil {
		return "", false, 0, err
	}
	return crack(ctx, "Express", candidates, workers, e.Verify)
}

// crack runs verify over candidates on workers goroutines (0 means one per
// CPU) until one verifies, every one was tried, or ctx is cancelled. Of
// several that verify it returns the first in candidates' order.
func crack(ctx context.Context, what string, candidates []string, workers int, verify func(string) bool) (key string, ok bool, tried int, err error) {
	found, tried, err := search.Search(ctx, len(candidates), workers, func() struct{} { return struct{}{} }, func(_ struct{}, i int) (hit, tried bool) {
		return verify(candidates[i]), true
	})
	if found >= 0 {
		return candidates[found], true, tried, nil
	}
	if err != nil {
		return "", false, tried, fmt.Errorf("audit: crack %s cookie: %w", what, err)
	}
	return "", false, tried, nil
}
