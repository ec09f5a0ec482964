package audit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cookie is one Set-Cookie header as the auditor reads it. Unlike
// net/http's parser it keeps every attribute as the server sent it, so that
// a report can say exactly what was wrong (a SameSite value the browser
// would ignore, an Expires date it cannot read), and it never drops a
// header because one attribute is malformed.
type Cookie struct {
	Name  string
	Value string

	// Domain is the Domain attribute without a leading dot, "" when absent.
	Domain string
	// Path is the Path attribute, "" when absent.
	Path string
	// HasExpires is set when an Expires attribute was present; Expires is
	// its parsed time, zero when it could not be parsed (ExpiresRaw keeps
	// the text).
	HasExpires bool
	Expires    time.Time
	ExpiresRaw string
	// HasMaxAge is set when a Max-Age attribute with a valid integer was
	// present.
	HasMaxAge bool
	MaxAge    int64
	Secure    bool
	HttpOnly  bool
	// HasSameSite is set when a SameSite attribute was present; SameSite is
	// its value as sent (possibly empty or invalid).
	HasSameSite bool
	SameSite    string
	Partitioned bool
	// Unknown lists attribute names the parser did not recognise, and
	// attributes it recognised but could not read.
	Unknown []string
	// Raw is the header value as received.
	Raw string
}

// Errors returned by ParseSetCookie.
var (
	errEmptyHeader = errors.New("audit: empty Set-Cookie header")
	errNoName      = errors.New("audit: Set-Cookie header has no cookie name")
	errBadName     = errors.New("audit: Set-Cookie header has an invalid cookie name")
)

// maxSetCookie bounds the header length the parser accepts; browsers refuse
// cookies far smaller than this, so anything longer is hostile or broken.
const maxSetCookie = 64 << 10

// ParseSetCookie parses one Set-Cookie header value tolerantly: attribute
// names are matched case-insensitively, spaces around names, values and
// separators are ignored, a quoted value is unquoted, and an attribute that
// cannot be read is recorded in Unknown rather than failing the whole header.
// Only a header without a usable name=value pair is an error.
func ParseSetCookie(h string) (*Cookie, error) {
	if len(h) > maxSetCookie {
		return nil, fmt.Errorf("audit: Set-Cookie header of %d bytes is too long", len(h))
	}
	if strings.TrimSpace(h) == "" {
		return nil, errEmptyHeader
	}
	parts := strings.Split(h, ";")
	pair := strings.TrimSpace(parts[0])
	eq := strings.IndexByte(pair, '=')
	if eq < 0 {
		return nil, errNoName
	}
	name := strings.TrimSpace(pair[:eq])
	if name == "" {
		return nil, errNoName
	}
	if !validCookieName(name) {
		return nil, errBadName
	}
	value := strings.TrimSpace(pair[eq+1:])
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	c := &Cookie{Name: name, Value: value, Raw: h}
	for _, a := range parts[1:] {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		key, val := a, ""
		if i := strings.IndexByte(a, '='); i >= 0 {
			key, val = strings.TrimSpace(a[:i]), strings.TrimSpace(a[i+1:])
		}
		switch strings.ToLower(key) {
		case "domain":
			c.Domain = strings.ToLower(strings.TrimPrefix(val, "."))
		case "path":
			c.Path = val
		case "expires":
			c.HasExpires = true
			c.ExpiresRaw = val
			if t, ok := parseCookieDate(val); ok {
				c.Expires = t
			} else {
				c.Unknown = append(c.Unknown, "Expires (unreadable date)")
			}
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil {
				c.Unknown = append(c.Unknown, "Max-Age (not an integer)")
				continue
			}
			c.HasMaxAge, c.MaxAge = true, n
		case "secure":
			c.Secure = true
		case "httponly":
			c.HttpOnly = true
		case "samesite":
			c.HasSameSite, c.SameSite = true, val
		case "partitioned":
			c.Partitioned = true
		default:
			c.Unknown = append(c.Unknown, key)
		}
	}
	return c, nil
}

// validCookieName reports whether s is an RFC 6265 token.
func validCookieName(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, b) >= 0 {
			return false
		}
	}
	return true
}

// SameSiteMode returns the SameSite value normalised to "Strict", "Lax" or
// "None", "" when the attribute is absent, and "invalid" when its value is
// one a browser ignores.
func (c *Cookie) SameSiteMode() string {
	if !c.HasSameSite {
		return ""
	}
	switch strings.ToLower(c.SameSite) {
	case "strict":
		return "Strict"
	case "lax":
		return "Lax"
	case "none":
		return "None"
	}
	return "invalid"
}

// Lifetime returns how long a browser keeps the cookie counted from now:
// Max-Age wins over Expires as in RFC 6265. persistent is false for a
// browser-session cookie (neither attribute usable).
func (c *Cookie) Lifetime(now time.Time) (d time.Duration, persistent bool) {
	if c.HasMaxAge {
		return time.Duration(c.MaxAge) * time.Second, true
	}
	if c.HasExpires && !c.Expires.IsZero() {
		return c.Expires.Sub(now), true
	}
	return 0, false
}

// Deletes reports whether the header removes the cookie (empty value, or a
// lifetime that has already ended).
func (c *Cookie) Deletes(now time.Time) bool {
	if d, ok := c.Lifetime(now); ok && d <= 0 {
		return true
	}
	return c.Value == ""
}

// cookieDateLayouts are the Expires formats seen in the wild: RFC 1123 (the
// standard), RFC 850, ANSI C asctime, Netscape's dashed form with a
// four-digit year, and variants without the weekday or with a numeric zone.
var cookieDateLayouts = []string{
	time.RFC1123,
	"Mon, 02-Jan-2006 15:04:05 MST",
	time.RFC850,
	"Monday, 02-Jan-2006 15:04:05 MST",
	time.ANSIC,
	"Mon Jan 2 15:04:05 2006",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 02 Jan 06 15:04:05 MST",
	"02 Jan 2006 15:04:05 MST",
	"02-Jan-2006 15:04:05 MST",
	time.RFC1123Z,
	"Mon, 02-Jan-06 15:04:05 MST",
}

// parseCookieDate parses an Expires value in any of cookieDateLayouts,
// ignoring repeated spaces and the case of month and day names.
func parseCookieDate(s string) (time.Time, bool) {
	s = strings.Join(strings.Fields(strings.Trim(s, `"`)), " ")
	if s == "" {
		return time.Time{}, false
	}
	for _, cand := range []string{s, titleWords(s)} {
		for _, layout := range cookieDateLayouts {
			if t, err := time.Parse(layout, cand); err == nil {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

// titleWords upper-cases the first letter of every alphabetic run and
// lower-cases the rest, so "mon, 02-JAN-2006 ... gmt" matches the layouts
// (zone names stay upper case).
func titleWords(s string) string {
	b := []byte(strings.ToLower(s))
	start := true
	for i, c := range b {
		isLetter := c >= 'a' && c <= 'z'
		if isLetter && start {
			b[i] = c - 'a' + 'A'
		}
		start = !isLetter
	}
	out := string(b)
	for _, z := range []string{"Gmt", "Utc"} {
		out = strings.ReplaceAll(out, z, strings.ToUpper(z))
	}
	return out
}
