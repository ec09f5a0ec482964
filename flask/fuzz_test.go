package flask

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func fuzzSeeds(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.Cookie)
	}
	for _, s := range []string{
		"", ".", "..", "...", "a.b.c", ".a.b.c", "e30..x",
		"eyJ1c2VyIjoiYWxpY2UifQ.ZVPxAA.EMJOpgH63SvAAgrjv24dP-yX7g8",
		".eJyrVkpUslIqSS0uUaoFAB6UBD0.ZVPxAA.EMJOpgH63SvAAgrjv24dP-yX7g8",
		signed("k", b64(`{"a":{" t":[{" di":{" b__":{" b":"AA=="}}}]}}`), 1),
		signed("k", b64(`{"a":{" d":"Tue, 07 May 2024 08:30:45 GMT"},"u":{" u":"{12345678-1234-5678-9abc-def012345678}"}}`), 1),
		signed("k", "."+b64("x\x9c\x03\x00\x00\x00\x00\x01"), 1),
	} {
		f.Add(s)
	}
}

// FuzzUnverified checks that any input either decodes or fails with one of
// the package's errors, without panicking, and that decoded data encodes.
func FuzzUnverified(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, cookie string) {
		p, err := Unverified(cookie)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if p.Data == nil || p.Raw == nil {
			t.Fatal("nil Data or Raw without error")
		}
		// Whatever decodes can be signed again and decodes to the same data,
		// unless it holds strings Go cannot re-encode (invalid surrogates).
		s := New("fuzz-key")
		s.Now = func() time.Time { return time.Unix(1700000000, 0) }
		c, err := s.Encode(p.Data)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedType) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Encode: %v", err)
			}
			return
		}
		q, err := s.Decode(c, 0)
		if err != nil {
			t.Fatalf("Decode of Encode output: %v", err)
		}
		if !reflect.DeepEqual(normalize(p.Data), normalize(q.Data)) {
			t.Fatalf("round trip changed data:\n%#v\n%#v", p.Data, q.Data)
		}
	})
}

// normalize re-renders numbers so that "1.50" and "1.5" compare equal.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = normalize(e)
		}
		return l
	case Tuple:
		l := make(Tuple, len(x))
		for i, e := range x {
			l[i] = normalize(e)
		}
		return l
	case interface{ String() string }:
		if n, ok := v.(interface{ Float64() (float64, error) }); ok {
			f, _ := n.Float64()
			return f
		}
	}
	return v
}

// FuzzDecode checks that verification never panics and never accepts a
// cookie that the key did not sign.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, cookie string) {
		s := New("dev", "secret", "k")
		s.Now = func() time.Time { return time.Unix(1700000000, 0) }
		p, err := s.Decode(cookie, time.Hour)
		if err != nil {
			return
		}
		parts, err := split(cookie)
		if err != nil {
			t.Fatalf("Decode accepted what split refuses: %v", err)
		}
		if got := sign(s.keys[p.KeyIndex], parts.signed); !reflect.DeepEqual(got, parts.sig) {
			t.Fatal("Decode accepted a signature that does not match")
		}
	})
}
