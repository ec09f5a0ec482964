package driver

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// ErrBadValue is matched (with errors.Is) by every *ValueError.
var ErrBadValue = errors.New("latch: cannot encode session value")

// ValueError reports a session value that cannot be stored: encoding/json
// refuses it (a channel, a function, a complex number, a NaN or infinite
// float, a cycle, a failing MarshalJSON), or it holds a struct that JSON
// would keep as {} (see EncodeValue). It is the caller's error, never the
// store's.
type ValueError struct {
	Key string // the value's key, "" when the encoder was not told it
	Err error  // why: encoding/json's error, or the struct that would be lost
}

func (e *ValueError) Error() string {
	if e.Key == "" {
		return ErrBadValue.Error() + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s %q: %v", ErrBadValue, e.Key, e.Err)
}

// Unwrap returns the cause, such as a *json.UnsupportedTypeError.
func (e *ValueError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrBadValue) true.
func (e *ValueError) Is(target error) bool { return target == ErrBadValue }

// EncodeValue serialises one session value for a store that keeps bytes.
// Values are encoded as JSON, each on its own, so that a store can apply a
// Commit key by key.
//
// It returns a *ValueError for a value encoding/json refuses, and for one
// that holds a struct with fields of which JSON keeps none (all unexported
// or tagged "-") and no MarshalJSON or MarshalText method that JSON calls
// (one on the pointer is called only for a value it can address, so not
// for a struct given by value or held in a map): JSON would store it as
// {}, and its data would be lost without a word. A struct with
// no fields at all, and an empty map, are kept as {}.
func EncodeValue(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &ValueError{Err: err}
	}
	// A struct JSON keeps as {} shows as {} in the encoding: the search
	// of the value runs only then.
	if bytes.Contains(b, emptyObject) {
		if t := lostStruct(reflect.ValueOf(v), 0); t != nil {
			return nil, &ValueError{Err: fmt.Errorf("%s has no field that JSON encodes and no MarshalJSON or MarshalText method, so it would be stored as {}", t)}
		}
	}
	return b, nil
}

// withKey names key in EncodeValue's error.
func withKey(key string, err error) error {
	if ve, ok := err.(*ValueError); ok {
		ve.Key = key
	}
	return err
}

var emptyObject = []byte("{}")

// maxDepth bounds the search of lostStruct. encoding/json has already
// refused cycles; the bound keeps a pathological nesting from costing more
// than the encoding did.
const maxDepth = 1000

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// marshals reports whether values of t may encode themselves: t or *t
// has a MarshalJSON or MarshalText method.
func marshals(t reflect.Type) bool {
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) {
		return true
	}
	p := reflect.PointerTo(t)
	return p.Implements(jsonMarshaler) || p.Implements(textMarshaler)
}

// encodesItself reports whether encoding/json encodes v by its own method.
// A method on the pointer counts only when v is addressable, as
// encoding/json calls it only then: not for a value held in an interface
// or a map, which it encodes field by field.
func encodesItself(v reflect.Value) bool {
	t := v.Type()
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) {
		return true
	}
	return v.CanAddr() && marshals(t)
}

// lostStruct returns the type of a struct inside v that has fields but
// that JSON encodes as {}, or nil. It visits what encoding/json encodes.
func lostStruct(v reflect.Value, depth int) reflect.Type {
	if !v.IsValid() || depth > maxDepth {
		return nil
	}
	t := v.Type()
	if encodesItself(v) {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return lostStruct(v.Elem(), depth+1)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // base64 text, or an array of numbers
		}
		for i := range v.Len() {
			if lt := lostStruct(v.Index(i), depth+1); lt != nil {
				return lt
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if lt := lostStruct(it.Value(), depth+1); lt != nil {
				return lt
			}
		}
	case reflect.Struct:
		if t.NumField() > 0 && !hasJSONField(t, 0) {
			return t
		}
		return lostField(v, depth)
	}
	return nil
}

// lostField is lostStruct for the fields of the struct v.
func lostField(v reflect.Value, depth int) reflect.Type {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		ft, encoded, promoted := jsonField(sf)
		if !encoded {
			continue
		}
		fv := v.Field(i)
		if promoted {
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if !marshals(ft) {
				if lt := lostField(fv, depth+1); lt != nil {
					return lt
				}
				continue
			}
		}
		if lt := lostStruct(fv, depth+1); lt != nil {
			return lt
		}
	}
	return nil
}

// hasJSONField reports whether encoding/json encodes a field of the struct
// type t, counting the fields promoted from embedded structs.
func hasJSONField(t reflect.Type, depth int) bool {
	if depth > maxDepth {
		return true // assume so: never refuse on a guess
	}
	for i := range t.NumField() {
		ft, encoded, promoted := jsonField(t.Field(i))
		switch {
		case !encoded:
		case !promoted, marshals(ft), hasJSONField(ft, depth+1):
			return true
		}
	}
	return false
}

// jsonField applies encoding/json's rules to a struct field: whether it is
// encoded, and whether it is an embedded struct whose fields are promoted
// (ft is then the struct type, not the pointer).
func jsonField(sf reflect.StructField) (ft reflect.Type, encoded, promoted bool) {
	ft = sf.Type
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return ft, false, false
	}
	if !sf.Anonymous {
		return ft, sf.IsExported(), false
	}
	if ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if ft.Kind() != reflect.Struct {
		return sf.Type, sf.IsExported(), false
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return sf.Type, true, false // an embedded struct with a name is a field
	}
	return ft, true, true
}

// DecodeValue is the inverse of EncodeValue. Numbers decode as json.Number so
// that integers keep their precision; the Session's typed getters accept it.
func DecodeValue(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("latch: decode session value: %w", err)
	}
	return v, nil
}

// DecodeValueString is DecodeValue for a value held in a string, with fast
// paths for what sessions mostly hold: a string that needs no unescaping
// (returned as a substring of s, without a copy), a number, true, false and
// null. Anything else, and anything not exactly valid JSON, goes to
// DecodeValue, so the result and the errors are always DecodeValue's.
func DecodeValueString(s string) (any, error) {
	switch {
	case s == "null":
		return nil, nil
	case s == "true":
		return true, nil
	case s == "false":
		return false, nil
	case len(s) >= 2 && s[0] == '"':
		if v, ok := plainJSONString(s); ok {
			return v, nil
		}
	case len(s) > 0 && (s[0] == '-' || isDigit(s[0])):
		if isJSONNumber(s) {
			return json.Number(s), nil
		}
	}
	return DecodeValue([]byte(s))
}

// plainJSONString returns the content of s when s is exactly one JSON
// string that needs no unescaping: valid UTF-8 (encoding/json replaces bad
// bytes), no backslash, no control character.
func plainJSONString(s string) (string, bool) {
	if s[len(s)-1] != '"' {
		return "", false
	}
	v := s[1 : len(s)-1]
	ascii := true
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' || c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !ascii && !utf8.ValidString(v) {
		return "", false
	}
	return v, true
}

// isJSONNumber reports whether s is exactly one JSON number:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(s string) bool {
	i := 0
	digits := func() bool {
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		return i > start
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
