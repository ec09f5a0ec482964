package flask

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file implements Flask's TaggedJSONSerializer (flask/json/tag.py):
// JSON in which a one-key object whose key is a tag stands for a Python type
// JSON lacks, written the way Flask's app.json.dumps writes it (sorted keys,
// compact separators, ASCII only).

// Tuple is a Python tuple, tagged " t". Flask stores flashed messages as
// tuples, for example.
type Tuple []any

// Markup is a markupsafe.Markup string (HTML marked safe), tagged " m".
type Markup string

// UUID is a Python uuid.UUID, tagged " u" and written as 32 hex digits.
type UUID [16]byte

// String returns u in the canonical 8-4-4-4-12 form.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// MarshalText returns the canonical form, so a UUID shows as a string in
// Payload.Raw.
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// ParseUUID parses the forms Python's uuid.UUID accepts: 32 hex digits,
// optionally with hyphens, braces or a "urn:uuid:" prefix.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	h := strings.TrimPrefix(strings.TrimPrefix(s, "urn:"), "uuid:")
	h = strings.Trim(h, "{}")
	h = strings.ReplaceAll(h, "-", "")
	if len(h) != 32 {
		return u, fmt.Errorf("%w: bad UUID", ErrMalformed)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("%w: bad UUID", ErrMalformed)
	}
	return u, nil
}

// Tag names Flask registers, in the order Flask checks them when encoding.
const (
	tagDict     = " di"
	tagTuple    = " t"
	tagBytes    = " b"
	tagMarkup   = " m"
	tagUUID     = " u"
	tagDateTime = " d"
)

func isTag(k string) bool {
	switch k {
	case tagDict, tagTuple, tagBytes, tagMarkup, tagUUID, tagDateTime:
		return true
	}
	return false
}

// maxDepth bounds nesting when encoding (Go values may be cyclic) and
// decoding.
const maxDepth = 500

// ---- decoding

// ParseTagged parses session data written in Flask's tagged JSON (the
// form Payload.Serialized holds, and what `latch flask sign` takes): plain
// JSON, where one-key objects such as {" t": [...]} or {" b": "..."} stand
// for Python tuples, bytes and the other tagged types. The result must be a
// JSON object.
func ParseTagged(doc []byte) (map[string]any, error) { return parseTagged(doc) }

// MarshalTagged writes data as Flask's session serializer does: tagged
// JSON with sorted keys, compact separators and only ASCII characters.
// Encode signs exactly these bytes (after compression when it pays).
func MarshalTagged(data map[string]any) ([]byte, error) { return encodeTagged(data) }

// parseTagged parses the serialized session JSON and resolves tags the way
// Flask's object_hook does: innermost objects first, and the result of a
// " di" tag is not looked at again. Numbers become json.Number so that
// Python's unbounded integers survive.
func parseTagged(doc []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: invalid JSON", ErrMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after JSON", ErrMalformed)
	}
	v, err := untag(v, 0)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: session is not a JSON object", ErrMalformed)
	}
	return m, nil
}

func untag(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested too deeply", ErrMalformed)
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			u, err := untag(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = u
		}
		return x, nil
	case map[string]any:
		for k, e := range x {
			u, err := untag(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = u
		}
		if len(x) != 1 {
			return x, nil
		}
		for k, e := range x {
			return untagOne(x, k, e)
		}
	}
	return v, nil
}

func untagOne(obj map[string]any, tag string, v any) (any, error) {
	bad := func(what string) error { return fmt.Errorf("%w: tag %q: %s", ErrMalformed, tag, what) }
	switch tag {
	case tagTuple:
		l, ok := v.([]any)
		if !ok {
			return nil, bad("want a list")
		}
		return Tuple(l), nil
	case tagBytes:
		s, ok := v.(string)
		if !ok {
			return nil, bad("want a string")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, bad("invalid base64")
		}
		return b, nil
	case tagMarkup:
		s, ok := v.(string)
		if !ok {
			return nil, bad("want a string")
		}
		return Markup(s), nil
	case tagUUID:
		s, ok := v.(string)
		if !ok {
			return nil, bad("want a string")
		}
		u, err := ParseUUID(s)
		if err != nil {
			return nil, bad("invalid UUID")
		}
		return u, nil
	case tagDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, bad("want a string")
		}
		// werkzeug's parse_date gives None for a date it cannot parse, and
		// Flask then sees None: so does this decoder.
		if t, ok := parseHTTPDate(s); ok {
			return t, nil
		}
		return nil, nil
	case tagDict:
		// Flask only writes {" di": {"KEY__": value}}; it would keep the
		// first key of a larger object and drop the others, which depends
		// on an order Go maps do not keep, so that is refused.
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, bad("want an object with one key")
		}
		for k, e := range m {
			r := []rune(k)
			if len(r) < 2 {
				return map[string]any{"": e}, nil
			}
			return map[string]any{string(r[:len(r)-2]): e}, nil
		}
	}
	return obj, nil
}

var httpDateLayouts = []string{http.TimeFormat, time.RFC1123Z, time.RFC1123, time.RFC850, time.ANSIC}

func parseHTTPDate(s string) (time.Time, bool) {
	for _, l := range httpDateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// plainJSON renders decoded data as ordinary JSON: tuples as arrays, bytes
// as base64, UUIDs and Markup as strings, dates in RFC 3339.
func plainJSON(data map[string]any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(data); err != nil {
		return nil, fmt.Errorf("flask: rendering payload: %w", err)
	}
	return json.RawMessage(bytes.TrimRight(buf.Bytes(), "\n")), nil
}

// ---- encoding

// ErrUnsupportedType is returned by Encode for a value Flask's session
// serializer cannot represent.
var ErrUnsupportedType = errors.New("flask: value cannot be stored in a Flask session")

type encoder struct {
	buf []byte
}

// encodeTagged writes data as Flask's session serializer would.
func encodeTagged(data map[string]any) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 128)}
	if data == nil {
		data = map[string]any{}
	}
	if err := e.value(data, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

func (e *encoder) tagged(tag string) {
	e.buf = append(e.buf, '{')
	e.str(tag)
	e.buf = append(e.buf, ':')
}

func (e *encoder) value(v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested too deeply (or cyclic)", ErrUnsupportedType)
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case string:
		return e.checkedStr(x)
	case Markup:
		e.tagged(tagMarkup)
		if err := e.checkedStr(string(x)); err != nil {
			return err
		}
		e.buf = append(e.buf, '}')
	case []byte:
		e.tagged(tagBytes)
		e.str(base64.StdEncoding.EncodeToString(x))
		e.buf = append(e.buf, '}')
	case UUID:
		e.tagged(tagUUID)
		e.str(hex.EncodeToString(x[:]))
		e.buf = append(e.buf, '}')
	case time.Time:
		u := x.UTC()
		if u.Year() < 1 || u.Year() > 9999 {
			return fmt.Errorf("%w: year %d outside 1-9999", ErrUnsupportedType, u.Year())
		}
		e.tagged(tagDateTime)
		e.str(u.Format(http.TimeFormat))
		e.buf = append(e.buf, '}')
	case Tuple:
		e.tagged(tagTuple)
		if err := e.list(len(x), func(i int) any { return x[i] }, depth); err != nil {
			return err
		}
		e.buf = append(e.buf, '}')
	case []any:
		return e.list(len(x), func(i int) any { return x[i] }, depth)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		return e.dict(keys, func(k string) any { return x[k] }, depth)
	case json.Number:
		return e.number(x)
	case float64:
		return e.float(x)
	case float32:
		return e.float(float64(x))
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, x, 10)
	case int32:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case uint64:
		e.buf = strconv.AppendUint(e.buf, x, 10)
	case *big.Int:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		e.buf = x.Append(e.buf, 10)
	default:
		return e.reflectValue(reflect.ValueOf(v), depth)
	}
	return nil
}

func (e *encoder) reflectValue(rv reflect.Value, depth int) error {
	switch rv.Kind() {
	case reflect.Bool:
		e.buf = strconv.AppendBool(e.buf, rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = strconv.AppendInt(e.buf, rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf = strconv.AppendUint(e.buf, rv.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return e.float(rv.Float())
	case reflect.String:
		return e.checkedStr(rv.String())
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.value(rv.Elem().Interface(), depth+1)
	case reflect.Slice:
		if rv.IsNil() && rv.Type().Elem().Kind() != reflect.Uint8 {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		fallthrough
	case reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return e.value(b, depth)
		}
		return e.list(rv.Len(), func(i int) any { return rv.Index(i).Interface() }, depth)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("%w: map key type %s (keys must be strings)", ErrUnsupportedType, rv.Type().Key())
		}
		if rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		keys := make([]string, 0, rv.Len())
		vals := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := it.Key().String()
			keys = append(keys, k)
			vals[k] = it.Value().Interface()
		}
		return e.dict(keys, func(k string) any { return vals[k] }, depth)
	default:
		if !rv.IsValid() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return fmt.Errorf("%w: %s", ErrUnsupportedType, rv.Type())
	}
	return nil
}

func (e *encoder) list(n int, at func(int) any, depth int) error {
	e.buf = append(e.buf, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := e.value(at(i), depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

// dict writes an object with Python's sort_keys order (code points, which
// is byte order for valid UTF-8), wrapping a one-key object whose key is a
// tag name in " di" as Flask's TagDict does.
func (e *encoder) dict(keys []string, at func(string) any, depth int) error {
	if len(keys) == 1 && isTag(keys[0]) {
		e.tagged(tagDict)
		e.buf = append(e.buf, '{')
		if err := e.checkedStr(keys[0] + "__"); err != nil {
			return err
		}
		e.buf = append(e.buf, ':')
		if err := e.value(at(keys[0]), depth+1); err != nil {
			return err
		}
		e.buf = append(e.buf, "}}"...)
		return nil
	}
	slices.Sort(keys)
	e.buf = append(e.buf, '{')
	for i, k := range keys {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := e.checkedStr(k); err != nil {
			return err
		}
		e.buf = append(e.buf, ':')
		if err := e.value(at(k), depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func (e *encoder) checkedStr(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: string is not valid UTF-8", ErrUnsupportedType)
	}
	e.str(s)
	return nil
}

const hexDigits = "0123456789abcdef"

// str writes s as Python's json.dumps(ensure_ascii=True) does.
func (e *encoder) str(s string) {
	e.buf = append(e.buf, '"')
	for _, r := range s {
		switch {
		case r == '"':
			e.buf = append(e.buf, '\\', '"')
		case r == '\\':
			e.buf = append(e.buf, '\\', '\\')
		case r == '\n':
			e.buf = append(e.buf, '\\', 'n')
		case r == '\r':
			e.buf = append(e.buf, '\\', 'r')
		case r == '\t':
			e.buf = append(e.buf, '\\', 't')
		case r == '\b':
			e.buf = append(e.buf, '\\', 'b')
		case r == '\f':
			e.buf = append(e.buf, '\\', 'f')
		case r >= 0x20 && r <= 0x7e:
			e.buf = append(e.buf, byte(r))
		case r > 0xffff:
			r -= 0x10000
			e.u16(0xd800 + (r>>10)&0x3ff)
			e.u16(0xdc00 + r&0x3ff)
		default:
			e.u16(r)
		}
	}
	e.buf = append(e.buf, '"')
}

func (e *encoder) u16(r rune) {
	e.buf = append(e.buf, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

func (e *encoder) number(n json.Number) error {
	s := string(n)
	if isJSONInt(s) {
		var b big.Int
		if _, ok := b.SetString(s, 10); !ok {
			return fmt.Errorf("%w: bad number", ErrUnsupportedType)
		}
		e.buf = b.Append(e.buf, 10)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("%w: bad number", ErrUnsupportedType)
	}
	return e.float(f)
}

func isJSONInt(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// float writes f as Python's float repr: the shortest digits that round
// trip, in fixed notation for exponents -5 < e < 16 (with ".0" when the
// value is whole) and as d.ddde+XX otherwise.
func (e *encoder) float(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%w: NaN or infinite float", ErrUnsupportedType)
	}
	if f == 0 {
		if math.Signbit(f) {
			e.buf = append(e.buf, "-0.0"...)
		} else {
			e.buf = append(e.buf, "0.0"...)
		}
		return nil
	}
	sci := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	neg := sci[0] == '-'
	sci = strings.TrimPrefix(sci, "-")
	mant, expStr, _ := strings.Cut(sci, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	if neg {
		e.buf = append(e.buf, '-')
	}
	if exp < -4 || exp >= 16 {
		e.buf = append(e.buf, digits[0])
		if len(digits) > 1 {
			e.buf = append(e.buf, '.')
			e.buf = append(e.buf, digits[1:]...)
		}
		e.buf = append(e.buf, 'e')
		if exp < 0 {
			e.buf = append(e.buf, '-')
			exp = -exp
		} else {
			e.buf = append(e.buf, '+')
		}
		if exp < 10 {
			e.buf = append(e.buf, '0')
		}
		e.buf = strconv.AppendInt(e.buf, int64(exp), 10)
		return nil
	}
	if exp < 0 {
		e.buf = append(e.buf, "0."...)
		e.buf = append(e.buf, strings.Repeat("0", -exp-1)...)
		e.buf = append(e.buf, digits...)
		return nil
	}
	if len(digits) <= exp+1 {
		e.buf = append(e.buf, digits...)
		e.buf = append(e.buf, strings.Repeat("0", exp+1-len(digits))...)
		e.buf = append(e.buf, ".0"...)
		return nil
	}
	e.buf = append(e.buf, digits[:exp+1]...)
	e.buf = append(e.buf, '.')
	e.buf = append(e.buf, digits[exp+1:]...)
	return nil
}
