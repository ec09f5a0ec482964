package driver

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestDecodeValueString(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want any
		ok   bool
	}{
		{"string", `"dark"`, "dark", true},
		{"empty string", `""`, "", true},
		{"non-ASCII string", `"zoë"`, "zoë", true},
		{"escaped string", `"a\nb\u00e9"`, "a\nbé", true},
		{"HTML escapes", `"\u003cb\u003e"`, "<b>", true},
		{"integer", `42`, json.Number("42"), true},
		{"negative zero", `-0`, json.Number("-0"), true},
		{"big integer keeps its digits", `12345678901234567890123`, json.Number("12345678901234567890123"), true},
		{"fraction and exponent", `-1.5E+10`, json.Number("-1.5E+10"), true},
		{"true", `true`, true, true},
		{"false", `false`, false, true},
		{"null", `null`, nil, true},
		{"object", `{"a":[1,"x"]}`, map[string]any{"a": []any{json.Number("1"), "x"}}, true},
		{"leading white space", ` "x"`, "x", true},
		{"leading zero: the first value only", `01`, json.Number("0"), true},
		{"trailing data: the first value only", `"x" 1`, "x", true},
		{"quote inside: the first value only", `"a"b"`, "a", true},
		{"invalid UTF-8", "\"\xff\"", "\ufffd", true},

		{"empty", ``, nil, false},
		{"lone quote", `"`, nil, false},
		{"lone minus", `-`, nil, false},
		{"dangling fraction", `1.`, nil, false},
		{"dangling exponent", `1e`, nil, false},
		{"bare word", `dark`, nil, false},
		{"control character", "\"a\x01\"", nil, false},
		{"truncated literal", `tru`, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeValueString(tc.raw)
			if (err == nil) != tc.ok {
				t.Fatalf("DecodeValueString(%q): error %v, want ok = %v", tc.raw, err, tc.ok)
			}
			if err == nil && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("DecodeValueString(%q) = %#v, want %#v", tc.raw, got, tc.want)
			}
			checkDecodeValueString(t, tc.raw)
		})
	}
}

func TestDecodeValueStringAllocs(t *testing.T) {
	for _, raw := range []string{`"dark"`, `true`, `null`} {
		if n := testing.AllocsPerRun(100, func() { _, _ = DecodeValueString(raw) }); n > 1 {
			t.Errorf("DecodeValueString(%s): %v allocations, want at most 1 (the interface)", raw, n)
		}
	}
}

// checkDecodeValueString fails unless DecodeValueString and DecodeValue
// agree on raw.
func checkDecodeValueString(t *testing.T, raw string) {
	t.Helper()
	got, err := DecodeValueString(raw)
	want, werr := DecodeValue([]byte(raw))
	if (err == nil) != (werr == nil) {
		t.Fatalf("DecodeValueString(%q): error %v, DecodeValue: %v", raw, err, werr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeValueString(%q) = %#v, DecodeValue gives %#v", raw, got, want)
	}
}

// FuzzDecodeValueString checks that the fast paths always give what
// DecodeValue gives, error or value.
func FuzzDecodeValueString(f *testing.F) {
	for _, seed := range []string{`"x"`, `""`, `-0.5e-7`, `01`, `true`, `null`, `nul`, `{"a":1}`, `"\u00e9"`, "\"\xff\"", ` 1`, `1 `, `"a"b"`, `-`, `0.`, `1E+`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkDecodeValueString(t, raw)
	})
}

type unexportedOnly struct{ n int }

// EncodeValue refuses, with a *ValueError, what JSON refuses and a struct
// JSON would keep as {}; EncodeValues and AppendRecord name the key.
func TestEncodeValueRefuses(t *testing.T) {
	tests := []struct {
		name  string
		value any
		ok    bool
	}{
		{"string", "x", true},
		{"empty struct", struct{}{}, true},
		{"empty map", map[string]any{}, true},
		{"struct with an exported field", struct{ N int }{1}, true},
		{"channel", make(chan int), false},
		{"unexported fields only", unexportedOnly{1}, false},
		{"inside an interface slice", []any{"a", unexportedOnly{}}, false},
		{"nil pointer to it", (*unexportedOnly)(nil), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EncodeValue(tc.value)
			if (err == nil) != tc.ok {
				t.Fatalf("EncodeValue(%#v): error %v, want ok = %v", tc.value, err, tc.ok)
			}
			if err == nil {
				return
			}
			var ve *ValueError
			if !errors.As(err, &ve) || !errors.Is(err, ErrBadValue) || ve.Key != "" {
				t.Errorf("EncodeValue: %#v; want a *ValueError without a key, matching ErrBadValue", err)
			}
			_, err = EncodeValues(map[string]any{"ok": 1, "bad": tc.value})
			if !errors.As(err, &ve) || ve.Key != "bad" {
				t.Errorf("EncodeValues: %v; want a *ValueError for %q", err, "bad")
			}
			_, err = AppendRecord(nil, &Record{Values: map[string]any{"bad": tc.value}})
			if !errors.As(err, &ve) || ve.Key != "bad" {
				t.Errorf("AppendRecord: %v; want a *ValueError for %q", err, "bad")
			}
		})
	}
}
