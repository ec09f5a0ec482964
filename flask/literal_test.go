package flask

import (
	"encoding/hex"
	"reflect"
	"testing"
)

// The expected values were produced by Python's ast.literal_eval (str
// results encoded as UTF-8, as Flask encodes str keys).
func TestPythonLiteral(t *testing.T) {
	tests := []struct {
		name, in, wantHex string
		ok                bool
	}{
		{"flask doc bytes", `b'_5#y2L"F4Q8z\n\xec]/'`, "5f352379324c22463451387a0aec5d2f", true},
		{"flask doc as str", `'_5#y2L"F4Q8z\n\xec]/'`, "5f352379324c22463451387a0ac3ac5d2f", true},
		{"double quotes", `"_5#y2L\"F4Q8z\n\xec]/"`, "5f352379324c22463451387a0ac3ac5d2f", true},
		{"urandom str", `'\xfd{H\xe5<\x95\xf9\xe3\x96.5\xd1\x01O<!\xd5\xa2\xa0\x9fR"\xa1\xa8'`, "c3bd7b48c3a53cc295c3b9c3a3c2962e35c391014f3c21c395c2a2c2a0c29f5222c2a1c2a8", true},
		{"urandom bytes", `b'\xfd{H\xe5<\x95\xf9\xe3\x96.5\xd1\x01O<!\xd5\xa2\xa0\x9fR"\xa1\xa8'`, "fd7b48e53c95f9e3962e35d1014f3c21d5a2a09f5222a1a8", true},
		{"superset octal and unknown escapes", `'\2\1thisismyscretkey\1\2\e\y\y\h'`, "02017468697369736d7973637265746b657901025c655c795c795c68", true},
		{"superset escaped backslashes", `"\2\1thisismyscretkey\1\2\\e\\y\\y\\h"`, "02017468697369736d7973637265746b657901025c655c795c795c68", true},
		{"raw", `r'raw\nkey'`, "7261775c6e6b6579", true},
		{"raw bytes", `Rb"raw\x00"`, "7261775c783030", true},
		{"plain quoted", `'secret'`, "736563726574", true},
		{"apostrophe in double quotes", `"it's"`, "69742773", true},
		{"escaped apostrophe", `'it\'s'`, "69742773", true},
		{"unicode escapes", `'\u00e9t\U0001F600'`, "c3a974f09f9880", true},
		{"unicode escape in bytes is literal", `b'\u00e9'`, "5c7530306539", true},
		{"short octal", `'\101\7\0'`, "410700", true},
		{"line continuation", "'a\\\nb'", "6162", true},
		{"not quoted", `secret`, "", false},
		{"unterminated", `'abc`, "", false},
		{"two literals", `'a'b'`, "", false},
		{"non-ASCII in bytes", "b'\xc3\xa9'", "", false},
		{"short hex escape", `'\x4'`, "", false},
		{"named character", `'\N{DASH}'`, "", false},
		{"surrogate", `'\ud800'`, "", false},
		{"bad prefix", `f'x'`, "", false},
		{"only quotes", `'`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pythonLiteral(tt.in)
			if ok != tt.ok {
				t.Fatalf("pythonLiteral(%q) ok = %v; want %v", tt.in, ok, tt.ok)
			}
			if ok && hex.EncodeToString([]byte(got)) != tt.wantHex {
				t.Errorf("pythonLiteral(%q) = %x; want %s", tt.in, got, tt.wantHex)
			}
		})
	}
}

func TestExpandCandidates(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"plain words unchanged", []string{"a", "b"}, []string{"a", "b"}},
		{"literal adds its value after the words", []string{`'x'`, "y", `b'\x41'`}, []string{`'x'`, "y", `b'\x41'`, "x", "A"}},
		{"no repeats", []string{"x", `'x'`, "x", `"x"`}, []string{"x", `'x'`, `"x"`}},
		{"empty", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExpandCandidates(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ExpandCandidates(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzPythonLiteral(f *testing.F) {
	for _, s := range []string{`b'\xec'`, `'\777'`, `r'\'`, `'\U0010ffff'`, `'\`, `b''`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pythonLiteral(s) // must not panic
	})
}
