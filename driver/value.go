package driver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// EncodeValue serialises one session value for a store that keeps bytes.
// Values are encoded as JSON, each on its own, so that a store can apply a
// Commit key by key.
func EncodeValue(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("latch: encode session value: %w", err)
	}
	return b, nil
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
