package redisstore

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchsec/latch/driver"
)

// This file holds the hot-path encoding of what the store keeps: the key of
// a session record, its metadata and its values. The format on the wire is
// exactly that of encoding/json (driver.Meta's JSON tags, driver.EncodeValue);
// the code below only avoids the reflection and the allocations of
// encoding/json for the forms that latch itself writes. Anything else, such
// as a string with an escape, a field written by another version, a JSON
// null or extra white space, goes to encoding/json, so a record is read the
// same whichever path decodes it. The fuzz tests check that both paths
// agree.

// sessionKey returns the key of the record of h: prefix "s:{" hex "}", built
// in one allocation.
func (s *Store) sessionKey(h driver.Hash) string {
	var hx [2 * driver.HashSize]byte
	hex.Encode(hx[:], h[:])
	var b strings.Builder
	b.Grow(len(s.prefix) + len("s:{") + len(hx) + len("}"))
	b.WriteString(s.prefix)
	b.WriteString("s:{")
	b.Write(hx[:])
	b.WriteByte('}')
	return b.String()
}

// keyHash returns the hex hash inside key, a key from sessionKey, without
// a copy.
func (s *Store) keyHash(key string) string {
	return key[len(s.prefix)+3 : len(key)-1]
}

// ---- metadata: decoding ----

// decodeMeta decodes raw, the JSON of a driver.Meta, into m, which must be
// zero. It gives the result json.Unmarshal would give.
func decodeMeta(raw string, m *driver.Meta) error {
	if decodeMetaFast(raw, m) {
		return nil
	}
	*m = driver.Meta{}
	return json.Unmarshal([]byte(raw), m)
}

// decodeMetaFast decodes raw into m if raw is in the form encoding/json
// writes for a driver.Meta: no white space, fields under their exact names,
// strings without escapes, canonical numbers and RFC 3339 times. It
// reports false, leaving m in any state, for anything else.
func decodeMetaFast(raw string, m *driver.Meta) bool {
	p := scanner{s: raw}
	if !p.consume('{') {
		return false
	}
	if p.consume('}') {
		return p.done()
	}
	for {
		name, ok := p.plainString()
		if !ok || !p.consume(':') {
			return false
		}
		switch name {
		case "user":
			m.UserID, ok = p.plainString()
		case "created":
			m.Created, ok = p.time()
		case "last_seen":
			m.LastSeen, ok = p.time()
		case "auth_time":
			m.AuthTime, ok = p.time()
		case "idle_timeout":
			m.IdleTimeout, ok = p.duration()
		case "absolute_timeout":
			m.AbsoluteTimeout, ok = p.duration()
		case "remember":
			m.Remember, ok = p.boolean()
		case "ua":
			m.UserAgent, ok = p.plainString()
		case "ip":
			m.IP, ok = p.plainString()
		case "grace":
			m.Grace, ok = p.duration()
		case "dk":
			m.DeviceKey, ok = p.plainString()
		case "dk_at":
			m.DeviceBoundAt, ok = p.time()
		default:
			// Unknown, or a known name in another case, which
			// encoding/json also accepts.
			return false
		}
		if !ok {
			return false
		}
		if p.consume(',') {
			continue
		}
		return p.consume('}') && p.done()
	}
}

// scanner reads the strict subset of JSON that decodeMetaFast accepts
// (values go to driver.DecodeValueString, which has its own fast paths).
// Every method reports false on input outside it, and none reads past the
// end of s.
type scanner struct {
	s string
	i int
}

func (p *scanner) done() bool { return p.i == len(p.s) }

// consume skips c if it is the next byte.
func (p *scanner) consume(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// literal skips lit if it comes next.
func (p *scanner) literal(lit string) bool {
	if len(p.s)-p.i >= len(lit) && p.s[p.i:p.i+len(lit)] == lit {
		p.i += len(lit)
		return true
	}
	return false
}

// plainString reads a JSON string that needs no unescaping: valid UTF-8,
// no backslash, no control character. It returns the content without a
// copy.
func (p *scanner) plainString() (string, bool) {
	if !p.consume('"') {
		return "", false
	}
	start := p.i
	ascii := true
	for ; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			if !ascii && !utf8.ValidString(v) {
				return "", false // encoding/json would replace bad bytes
			}
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// integer reads a JSON number that is an integer in canonical form: an
// optional minus, then 0 or a digit string that does not start with 0.
func (p *scanner) integer() (string, bool) {
	start := p.i
	p.consume('-')
	switch {
	case p.consume('0'):
	case p.i < len(p.s) && '1' <= p.s[p.i] && p.s[p.i] <= '9':
		for p.i < len(p.s) && isDigit(p.s[p.i]) {
			p.i++
		}
	default:
		return "", false
	}
	return p.s[start:p.i], true
}

// duration reads an integer into a time.Duration, as encoding/json does
// for an int64.
func (p *scanner) duration() (time.Duration, bool) {
	lit, ok := p.integer()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	if err != nil {
		return 0, false // out of range: encoding/json fails, and says why
	}
	return time.Duration(n), true
}

func (p *scanner) boolean() (bool, bool) {
	switch {
	case p.literal("true"):
		return true, true
	case p.literal("false"):
		return false, true
	}
	return false, false
}

// time reads a JSON string holding an RFC 3339 time.
func (p *scanner) time() (time.Time, bool) {
	v, ok := p.plainString()
	if !ok || !isRFC3339(v) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isRFC3339 reports whether v has the exact shape that time.Time's
// MarshalJSON writes: "2006-01-02T15:04:05", an optional fraction of one to
// nine digits, then "Z" or an offset "±hh:mm", with every field in range
// (the day only up to 31; time.Parse checks it against the month).
// time.Time's UnmarshalJSON and time.Parse with time.RFC3339 give the same
// result for every such string, which is what lets decodeMetaFast call the
// latter, which takes a string and does not allocate.
func isRFC3339(v string) bool {
	const base = len("2006-01-02T15:04:05")
	if len(v) < base+1 {
		return false
	}
	num := func(i, lo, hi int) bool {
		if !isDigit(v[i]) || !isDigit(v[i+1]) {
			return false
		}
		n := int(v[i]-'0')*10 + int(v[i+1]-'0')
		return lo <= n && n <= hi
	}
	if !num(0, 0, 99) || !num(2, 0, 99) || v[4] != '-' || !num(5, 1, 12) || v[7] != '-' ||
		!num(8, 1, 31) || v[10] != 'T' || !num(11, 0, 23) || v[13] != ':' ||
		!num(14, 0, 59) || v[16] != ':' || !num(17, 0, 59) {
		return false
	}
	rest := v[base:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 1 || n > 10 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z":
		return true
	case len(rest) == len("+07:00") && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		return num(len(v)-5, 0, 23) && num(len(v)-2, 0, 59)
	}
	return false
}

// ---- metadata: encoding ----

// appendMeta appends the JSON of m to b: the bytes json.Marshal(m) gives,
// and the same error when it fails.
func appendMeta(b []byte, m *driver.Meta) ([]byte, error) {
	start := len(b)
	ok := true
	b = append(b, '{')
	if m.UserID != "" {
		b = append(b, `"user":`...)
		b = appendString(b, m.UserID)
		b = append(b, ',')
	}
	b = append(b, `"created":`...)
	b, ok = appendTime(b, m.Created, ok)
	b = append(b, `,"last_seen":`...)
	b, ok = appendTime(b, m.LastSeen, ok)
	b = append(b, `,"auth_time":`...)
	b, ok = appendTime(b, m.AuthTime, ok)
	b = append(b, `,"idle_timeout":`...)
	b = strconv.AppendInt(b, int64(m.IdleTimeout), 10)
	b = append(b, `,"absolute_timeout":`...)
	b = strconv.AppendInt(b, int64(m.AbsoluteTimeout), 10)
	if m.Remember {
		b = append(b, `,"remember":true`...)
	}
	if m.UserAgent != "" {
		b = append(b, `,"ua":`...)
		b = appendString(b, m.UserAgent)
	}
	if m.IP != "" {
		b = append(b, `,"ip":`...)
		b = appendString(b, m.IP)
	}
	if m.Grace != 0 {
		b = append(b, `,"grace":`...)
		b = strconv.AppendInt(b, int64(m.Grace), 10)
	}
	if m.DeviceKey != "" {
		b = append(b, `,"dk":`...)
		b = appendString(b, m.DeviceKey)
	}
	if !m.DeviceBoundAt.IsZero() {
		b = append(b, `,"dk_at":`...)
		b, ok = appendTime(b, m.DeviceBoundAt, ok)
	}
	b = append(b, '}')
	if !ok {
		// A time that RFC 3339 cannot express: encoding/json refuses it,
		// with its own error.
		out, err := json.Marshal(m)
		if err != nil {
			return b[:start], err
		}
		return append(b[:start], out...), nil
	}
	return b, nil
}

// appendTime appends t as time.Time's MarshalJSON does, and reports
// whether it could (ok stays false once false).
func appendTime(b []byte, t time.Time, ok bool) ([]byte, bool) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	// The checks of time.Time.MarshalJSON: a four-digit year, an offset
	// in whole minutes below 24 hours.
	switch {
	case len(b) < n0+5 || b[n0+4] != '-':
		ok = false
	case b[len(b)-1] != 'Z':
		z := b[len(b)-len("Z07:00"):]
		if isDigit(z[0]) || (z[1]-'0')*10+(z[2]-'0') >= 24 {
			ok = false
		}
	}
	return append(b, '"'), ok
}

// appendString appends s as a JSON string, exactly as encoding/json writes
// it (HTML characters escaped).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			out, _ := json.Marshal(s) // a string always encodes
			return append(b, out...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// ---- values ----

// appendValue appends driver.EncodeValue(v) to b. Strings, booleans and
// integers are written here, to the same bytes; anything else goes to
// driver.EncodeValue.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case nil:
		return append(b, "null"...), nil
	}
	out, err := driver.EncodeValue(v)
	if err != nil {
		return b, err
	}
	return append(b, out...), nil
}
