package flask

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

type vector struct {
	Name         string `json:"name"`
	SecretKey    string `json:"secret_key"`
	SecretKeyB64 string `json:"secret_key_b64"`
	Timestamp    int64  `json:"timestamp"`
	JSON         string `json:"json"`
	Cookie       string `json:"cookie"`
	Compressed   bool   `json:"compressed"`
}

func (v vector) key(t *testing.T) []byte {
	if v.SecretKeyB64 != "" {
		k, err := base64.StdEncoding.DecodeString(v.SecretKeyB64)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return []byte(v.SecretKey)
}

func loadVectors(t testing.TB) []vector {
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	return file.Vectors
}

func mustUUID(s string) UUID {
	u, err := ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

func n(s string) json.Number { return json.Number(s) }

// expected holds, for each vector of testdata/vectors.json, the Go value
// that the Flask data decodes to (and that Encode must turn back into the
// same cookie).
func expected() map[string]map[string]any {
	big70, _ := new(big.Int).SetString("1180591620717411303424", 10)
	_ = big70
	history := make([]any, 0, 28)
	for d := 1; d <= 28; d++ {
		var u UUID
		x := new(big.Int).SetInt64(int64(d * 7919))
		x.FillBytes(u[:])
		history = append(history, map[string]any{
			"at":   time.Date(2023, 1, d, 12, 0, 0, 0, time.UTC),
			"id":   u,
			"ok":   d%3 == 0,
			"path": "/orders/" + itoa(d*31),
		})
	}
	cart := make([]any, 40)
	for i := range cart {
		cart[i] = "item-" + itoa(i)
	}
	return map[string]map[string]any{
		"plain": {"user": "alice"},
		"empty": {},
		"scalars": {
			"n": n("42"), "neg": n("-3"), "zero": n("0"), "big": n("1180591620717411303424"),
			"f": n("1.5"), "third": n("0.3333333333333333"), "e16": n("1e+16"), "e15": n("1000000000000000.0"),
			"small": n("1e-05"), "tiny": n("0.0001"), "negf": n("-2.5e-300"), "whole": n("3.0"),
			"ok": true, "no": false, "none": nil,
			"list": []any{n("1"), "two", []any{n("3"), []any{}}}, "obj": map[string]any{},
		},
		"sorting": {"b": n("1"), "a": n("2"), "B": n("3"), "_": n("4"), " ": n("5"), "\u00e9": n("6"), "aa": n("7"), "a b": n("8")},
		"unicode": {
			"name": "Zo\u00eb \u2603 \U0001F600",
			"ctl":  "a\"b\\c\n\r\t\b\f\x01\x1f\x7f</script>&'",
		},
		"tuple":    {"t": Tuple{n("1"), "a", Tuple{n("2"), n("3")}, Tuple{}}},
		"bytes":    {"b": []byte("\x00\xffhello"), "empty": []byte{}},
		"datetime": {"when": time.Date(2024, 5, 7, 8, 30, 45, 0, time.UTC)},
		"uuid":     {"id": mustUUID("12345678-1234-5678-9abc-def012345678")},
		"markup":   {"html": Markup("<b>hi</b> &amp; bye")},
		"tagdict": {
			"d": map[string]any{" t": "x"},
			"e": map[string]any{" di": map[string]any{" u": n("1")}},
		},
		"toplevel_tagdict": {" b": "not bytes"},
		"nested": {
			"nested":   map[string]any{"a": map[string]any{"b": []any{Tuple{n("1"), n("2")}, map[string]any{" u": n("5")}, []byte("x"), []any{Markup("<i>")}}}},
			"_flashes": []any{Tuple{"message", "Welcome back"}, Tuple{"error", "Oops"}},
		},
		"flask_login": {
			"_fresh": true, "_id": strings.Repeat("a", 128), "_user_id": "7",
			"csrf_token": "0123456789abcdef0123456789abcdef01234567",
		},
		"compressed": {"cart": cart, "user": "bob"},
		"compressed_mixed": {
			"history": history,
			"prefs":   map[string]any{"theme": "dark", "lang": "en-GB", "tz": "Europe/London"},
		},
		"bytes_key":        {"user": "alice", "admin": false},
		"fallback_old_key": {"user": "carol"},
	}
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

func fixedClock(sec int64) func() time.Time {
	return func() time.Time { return time.Unix(sec, 0) }
}

func TestFlaskVectors(t *testing.T) {
	vectors := loadVectors(t)
	want := expected()
	if len(vectors) != len(want) {
		t.Fatalf("%d vectors in testdata, %d expected values", len(vectors), len(want))
	}
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			data, ok := want[v.Name]
			if !ok {
				t.Fatalf("no expected value for vector %q", v.Name)
			}
			s := NewBytes(v.key(t))
			s.Now = fixedClock(v.Timestamp + 10)

			got, err := s.Decode(v.Cookie, 31*24*time.Hour)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got.Data, data) {
				t.Errorf("Decode data:\n got %#v\nwant %#v", got.Data, data)
			}
			if string(got.Serialized) != v.JSON {
				t.Errorf("Serialized = %s; want %s", got.Serialized, v.JSON)
			}
			if got.Compressed != v.Compressed || got.Timestamp.Unix() != v.Timestamp || got.KeyIndex != 0 {
				t.Errorf("Compressed %v Timestamp %d KeyIndex %d; want %v %d 0", got.Compressed, got.Timestamp.Unix(), got.KeyIndex, v.Compressed, v.Timestamp)
			}

			un, err := Unverified(v.Cookie)
			if err != nil || !reflect.DeepEqual(un.Data, data) || un.KeyIndex != -1 {
				t.Errorf("Unverified = %+v, %v", un, err)
			}

			s.Now = fixedClock(v.Timestamp)
			cookie, err := s.Encode(data)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if cookie != v.Cookie {
				t.Errorf("Encode =\n %s\nwant (Flask)\n %s", cookie, v.Cookie)
			}
			// Encoding what Decode returned reproduces the cookie too.
			again, err := s.Encode(got.Data)
			if err != nil || again != v.Cookie {
				t.Errorf("Encode(Decode(cookie)) = %q, %v", again, err)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	const ts = 1700000000
	vectors := loadVectors(t)
	var plain vector
	for _, v := range vectors {
		if v.Name == "plain" {
			plain = v
		}
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	fresh := New(plain.SecretKey)
	fresh.Now = fixedClock(ts)
	future, err := fresh.Encode(map[string]any{"user": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cookie string
		key    string
		now    int64
		maxAge time.Duration
		skew   time.Duration
		want   error
	}{
		{"wrong key", plain.Cookie, "not-dev", ts, 0, 0, ErrBadSignature},
		{"tampered payload", flip(plain.Cookie, 3), "dev", ts, 0, 0, ErrBadSignature},
		{"tampered timestamp", flip(plain.Cookie, strings.Index(plain.Cookie, ".")+2), "dev", ts, 0, 0, ErrBadSignature},
		{"tampered signature", flip(plain.Cookie, len(plain.Cookie)-5), "dev", ts, 0, 0, ErrBadSignature},
		{"expired", plain.Cookie, "dev", ts + 3601, time.Hour, 0, ErrExpired},
		{"exactly max age", plain.Cookie, "dev", ts + 3600, time.Hour, 0, nil},
		{"no limit", plain.Cookie, "dev", ts + 10*365*86400, 0, 0, nil},
		{"future beyond skew", future, "dev", ts - 61, 0, 0, ErrFuture},
		{"future within skew", future, "dev", ts - 60, 0, 0, nil},
		{"future, no skew allowed", future, "dev", ts - 1, 0, -1, ErrFuture},
		// time.Duration(age)*time.Second overflowed past about 292 years
		// and let these through; Flask refuses them.
		{"wrap seconds ahead, 31-day limit", signed("dev", b64(`{"user":"alice"}`), ts+wrap), "dev", ts, 31 * 24 * time.Hour, 0, ErrFuture},
		{"wrap-1 seconds ahead, 31-day limit", signed("dev", b64(`{"user":"alice"}`), ts+wrap-1), "dev", ts, 31 * 24 * time.Hour, 0, ErrFuture},
		{"wrap seconds ahead, no limit", signed("dev", b64(`{"user":"alice"}`), ts+wrap), "dev", ts, 0, 0, ErrFuture},
		{"wrap seconds old, 31-day limit", signed("dev", b64(`{"user":"alice"}`), ts), "dev", ts + wrap, 31 * 24 * time.Hour, 0, ErrExpired},
		{"empty", "", "dev", ts, 0, 0, ErrMalformed},
		{"no dots", "abc", "dev", ts, 0, 0, ErrMalformed},
		{"one dot", "abc.def", "dev", ts, 0, 0, ErrMalformed},
		{"short signature", "eyJ1IjoxfQ.ZVPxAA.abc", "dev", ts, 0, 0, ErrMalformed},
		{"bad timestamp", "eyJ1IjoxfQ.!!.EMJOpgH63SvAAgrjv24dP-yX7g8", "dev", ts, 0, 0, ErrMalformed},
		{"long timestamp", "eyJ1IjoxfQ.AAAAAAAAAAAAAA.EMJOpgH63SvAAgrjv24dP-yX7g8", "dev", ts, 0, 0, ErrMalformed},
		{"too large", strings.Repeat("a", MaxCookieSize+1), "dev", ts, 0, 0, ErrTooLarge},
		{"empty key", plain.Cookie, "", ts, 0, 0, ErrNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.key)
			s.Now = fixedClock(tt.now)
			s.Skew = tt.skew
			_, err := s.Decode(tt.cookie, tt.maxAge)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Decode error = %v; want %v", err, tt.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "flask: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if err != nil && tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q contains the key", err)
			}
		})
	}
	t.Run("negative max age", func(t *testing.T) {
		if _, err := New("dev").Decode(plain.Cookie, -time.Second); err == nil {
			t.Fatal("no error")
		}
	})
}

// signed makes a cookie with a chosen payload part, validly signed with key.
func signed(key, payload string, ts int64) string {
	msg := payload + "." + encodeTimestamp(ts)
	return msg + "." + base64.RawURLEncoding.EncodeToString(sign(deriveKey([]byte(key)), msg))
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestDecodeMalformedPayload(t *testing.T) {
	const ts = 1700000000
	tests := []struct {
		name    string
		payload string
	}{
		{"not base64", "!!!"},
		{"not JSON", b64("hello")},
		{"trailing data", b64(`{"a":1} x`)},
		{"list at top", b64(`[1,2]`)},
		{"string at top", b64(`"x"`)},
		{"tuple tag at top", b64(`{" t":[1]}`)},
		{"tuple of number", b64(`{"a":{" t":5}}`)},
		{"bytes not base64", b64(`{"a":{" b":"***"}}`)},
		{"bytes of number", b64(`{"a":{" b":5}}`)},
		{"bad uuid", b64(`{"a":{" u":"xyz"}}`)},
		{"markup of list", b64(`{"a":{" m":[]}}`)},
		{"di with two keys", b64(`{"a":{" di":{"x__":1,"y__":2}}}`)},
		{"di of string", b64(`{"a":{" di":"x"}}`)},
		{"compressed garbage", "." + b64("not zlib")},
		{"NaN", b64(`{"a":NaN}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New("k")
			s.Now = fixedClock(ts)
			_, err := s.Decode(signed("k", tt.payload, ts), 0)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode error = %v; want ErrMalformed", err)
			}
			if _, err := Unverified(signed("k", tt.payload, ts)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Unverified error = %v; want ErrMalformed", err)
			}
		})
	}
}

func TestDecodeTagEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		json string
		want map[string]any
	}{
		{"unparseable date is None as in Flask", `{"d":{" d":"yesterday"}}`, map[string]any{"d": nil}},
		{"RFC 850 date", `{"d":{" d":"Sunday, 06-Nov-94 08:49:37 GMT"}}`, map[string]any{"d": time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)}},
		{"hyphenated uuid", `{"u":{" u":"12345678-1234-5678-9abc-def012345678"}}`, map[string]any{"u": mustUUID("12345678123456789abcdef012345678")}},
		{"di short key", `{"x":{" di":{"_":1}}}`, map[string]any{"x": map[string]any{"": json.Number("1")}}},
		{"di result not re-tagged", `{"x":{" di":{" t__":[1]}}}`, map[string]any{"x": map[string]any{" t": []any{json.Number("1")}}}},
		{"two keys are not a tag", `{"x":{" t":[1],"y":2}}`, map[string]any{"x": map[string]any{" t": []any{json.Number("1")}, "y": json.Number("2")}}},
		{"unknown tag kept", `{"x":{" z":1}}`, map[string]any{"x": map[string]any{" z": json.Number("1")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Unverified(signed("k", b64(tt.json), 1))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Data, tt.want) {
				t.Errorf("Data = %#v; want %#v", p.Data, tt.want)
			}
		})
	}
}

func TestFallbackKeys(t *testing.T) {
	const ts = 1700000000
	old := New("old-secret-key")
	old.Now = fixedClock(ts)
	cookie, err := old.Encode(map[string]any{"user": "carol"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		s         *Serializer
		wantIndex int
		wantErr   error
	}{
		{"primary", New("old-secret-key"), 0, nil},
		{"first fallback", New("new-key", "old-secret-key"), 1, nil},
		{"second fallback", New("new-key", "other", "old-secret-key"), 2, nil},
		{"not listed", New("new-key", "other"), -1, ErrBadSignature},
		{"empty fallback refused", New("new-key", ""), -1, ErrNoKey},
		{"bytes keys", NewBytes([]byte("new"), []byte("old-secret-key")), 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.Now = fixedClock(ts)
			p, err := tt.s.Decode(cookie, time.Hour)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Decode error = %v; want %v", err, tt.wantErr)
			}
			if err == nil && p.KeyIndex != tt.wantIndex {
				t.Errorf("KeyIndex = %d; want %d", p.KeyIndex, tt.wantIndex)
			}
		})
	}
	t.Run("encode uses the primary", func(t *testing.T) {
		s := New("new-key", "old-secret-key")
		s.Now = fixedClock(ts)
		c, err := s.Encode(map[string]any{"user": "carol"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New("new-key").Decode(c, 0); err != nil {
			t.Errorf("primary-only serializer rejects the cookie: %v", err)
		}
		if _, err := New("old-secret-key").Decode(c, 0); !errors.Is(err, ErrBadSignature) {
			t.Errorf("fallback key verifies a cookie Encode signed: %v", err)
		}
	})
}

func TestEncodeValues(t *testing.T) {
	type myString string
	tests := []struct {
		name string
		data map[string]any
		want string // tagged JSON
		err  error
	}{
		{"nil map", nil, `{}`, nil},
		{"typed slices and maps", map[string]any{"a": []string{"x", "y"}, "m": map[string]int{"b": 2, "a": 1}}, `{"a":["x","y"],"m":{"a":1,"b":2}}`, nil},
		{"integer kinds", map[string]any{"a": int8(-1), "b": uint16(7), "c": int64(-1 << 62), "d": uint64(1 << 63)}, `{"a":-1,"b":7,"c":-4611686018427387904,"d":9223372036854775808}`, nil},
		{"big int", map[string]any{"b": new(big.Int).Lsh(big.NewInt(1), 80)}, `{"b":1208925819614629174706176}`, nil},
		{"floats", map[string]any{"a": 0.1, "b": math.Copysign(0, -1), "c": 1e300, "d": 123456789.125, "e": float32(0.5), "f": 1e22, "g": 5e-324}, `{"a":0.1,"b":-0.0,"c":1e+300,"d":123456789.125,"e":0.5,"f":1e+22,"g":5e-324}`, nil},
		{"json numbers", map[string]any{"a": json.Number("-0"), "b": json.Number("2.50"), "c": json.Number("1E3")}, `{"a":0,"b":2.5,"c":1000.0}`, nil},
		{"pointer and named string", map[string]any{"p": new(int), "s": myString("x"), "n": (*int)(nil)}, `{"n":null,"p":0,"s":"x"}`, nil},
		{"byte array", map[string]any{"a": [3]byte{1, 2, 3}}, `{"a":{" b":"AQID"}}`, nil},
		{"nested tag-named key", map[string]any{"x": map[string]any{" di": Tuple{}}}, `{"x":{" di":{" di__":{" t":[]}}}}`, nil},
		{"html is not escaped", map[string]any{"s": "<&>"}, `{"s":"<&>"}`, nil},
		{"NaN", map[string]any{"f": func() float64 { z := 0.0; return z / z }()}, "", ErrUnsupportedType},
		{"struct", map[string]any{"s": struct{}{}}, "", ErrUnsupportedType},
		{"int keys", map[string]any{"m": map[int]string{1: "a"}}, "", ErrUnsupportedType},
		{"invalid UTF-8", map[string]any{"s": "\xff"}, "", ErrUnsupportedType},
		{"func", map[string]any{"f": func() {}}, "", ErrUnsupportedType},
		{"year 10000", map[string]any{"t": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "", ErrUnsupportedType},
		{"bad json number", map[string]any{"n": json.Number("x")}, "", ErrUnsupportedType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeTagged(tt.data)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("error = %v; want %v", err, tt.err)
			}
			if err == nil && string(got) != tt.want {
				t.Errorf("got %s; want %s", got, tt.want)
			}
		})
	}
	t.Run("cyclic", func(t *testing.T) {
		m := map[string]any{}
		m["self"] = m
		if _, err := New("k").Encode(m); !errors.Is(err, ErrUnsupportedType) {
			t.Fatalf("error = %v; want ErrUnsupportedType", err)
		}
	})
	t.Run("empty key", func(t *testing.T) {
		if _, err := New("").Encode(map[string]any{}); !errors.Is(err, ErrNoKey) {
			t.Fatalf("error = %v; want ErrNoKey", err)
		}
	})
}

func TestPayloadRaw(t *testing.T) {
	s := New("k")
	s.Now = fixedClock(1700000000)
	c, err := s.Encode(map[string]any{
		"t": Tuple{"a", 1}, "b": []byte("hi"), "u": mustUUID("12345678123456789abcdef012345678"),
		"m": Markup("<b>"), "d": time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Unverified(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"b":"aGk=","d":"2024-01-02T03:04:05Z","m":"<b>","t":["a",1],"u":"12345678-1234-5678-9abc-def012345678"}`
	if string(p.Raw) != want {
		t.Errorf("Raw = %s; want %s", p.Raw, want)
	}
}

func TestCrack(t *testing.T) {
	s := New("changeme")
	s.Now = fixedClock(1700000000)
	cookie, err := s.Encode(map[string]any{"user": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	words := make([]string, 5000)
	for i := range words {
		words[i] = "word-" + itoa(i)
	}
	withKey := append(append([]string{""}, words...), "changeme")
	tests := []struct {
		name       string
		candidates []string
		workers    int
		wantOK     bool
		wantTried  int // exact when not found; at least 1 when found
	}{
		{"found at end", withKey, 0, true, 1},
		{"found one worker", withKey, 1, true, len(withKey) - 1},
		{"found first", []string{"changeme", "x"}, 4, true, 1},
		{"not found", words, 3, false, len(words)},
		{"no candidates", nil, 0, false, 0},
		{"only empty", []string{""}, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, ok, tried, err := Crack(context.Background(), cookie, tt.candidates, tt.workers)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || (ok && key != "changeme") {
				t.Fatalf("Crack = %q, %v; want found=%v", key, ok, tt.wantOK)
			}
			if (!ok && tried != tt.wantTried) || (ok && (tried < tt.wantTried || tried > len(tt.candidates))) {
				t.Errorf("tried = %d; want %d (found=%v, %d candidates)", tried, tt.wantTried, ok, len(tt.candidates))
			}
		})
	}
	t.Run("bytes key", func(t *testing.T) {
		key := "_5#y2L\"F4Q8z\n\xec]/"
		bs := NewBytes([]byte(key))
		c, err := bs.Encode(map[string]any{"a": 1})
		if err != nil {
			t.Fatal(err)
		}
		got, ok, _, err := Crack(context.Background(), c, []string{"dev", key}, 2)
		if err != nil || !ok || got != key {
			t.Fatalf("Crack = %q, %v, %v", got, ok, err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, ok, _, err := Crack(ctx, cookie, withKey, 2)
		if ok || !errors.Is(err, context.Canceled) {
			t.Fatalf("Crack on a cancelled context = %v, %v", ok, err)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		if _, _, _, err := Crack(context.Background(), "nope", words, 0); !errors.Is(err, ErrMalformed) {
			t.Fatalf("error = %v; want ErrMalformed", err)
		}
	})
}

func BenchmarkCrack(b *testing.B) {
	s := New("not-in-the-list")
	cookie, _ := s.Encode(map[string]any{"user": "alice"})
	words := make([]string, 10000)
	for i := range words {
		words[i] = "candidate-" + itoa(i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Crack(context.Background(), cookie, words, 0)
	}
	b.ReportMetric(float64(b.N*len(words))/b.Elapsed().Seconds(), "keys/s")
}

func BenchmarkEncode(b *testing.B) {
	s := New("k")
	data := expected()["compressed_mixed"]
	for i := 0; i < b.N; i++ {
		if _, err := s.Encode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTaggedRoundTrip(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			data, err := ParseTagged([]byte(v.JSON))
			if err != nil {
				t.Fatal(err)
			}
			out, err := MarshalTagged(data)
			if err != nil || string(out) != v.JSON {
				t.Fatalf("MarshalTagged(ParseTagged(x)) = %s, %v; want %s", out, err, v.JSON)
			}
		})
	}
}

func TestDecompressionLimit(t *testing.T) {
	tests := []struct {
		name string
		size int
		want error
	}{
		{"at the limit", MaxPayloadSize, nil},
		{"over the limit", MaxPayloadSize + 1, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// {"a":"xxxx...."} padded to exactly tt.size bytes.
			doc := []byte(`{"a":"` + strings.Repeat("x", tt.size-8) + `"}`)
			payload := "." + base64.RawURLEncoding.EncodeToString(zlibCompress(doc))
			s := New("k")
			s.Now = fixedClock(1)
			p, err := s.Decode(signed("k", payload, 1), 0)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Decode error = %v; want %v", err, tt.want)
			}
			if err == nil && (!p.Compressed || len(p.Serialized) != tt.size) {
				t.Errorf("Compressed %v, %d bytes; want compressed, %d bytes", p.Compressed, len(p.Serialized), tt.size)
			}
		})
	}
}
