package driver

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 23, 1, 2, 345678901, time.UTC)

// sameMeta reports whether a and b are equal, times compared with Equal.
func sameMeta(a, b Meta) bool {
	ta := [...]time.Time{a.Created, a.LastSeen, a.AuthTime}
	tb := [...]time.Time{b.Created, b.LastSeen, b.AuthTime}
	for i := range ta {
		if !ta[i].Equal(tb[i]) || ta[i].IsZero() != tb[i].IsZero() {
			return false
		}
	}
	a.Created, a.LastSeen, a.AuthTime = time.Time{}, time.Time{}, time.Time{}
	b.Created, b.LastSeen, b.AuthTime = time.Time{}, time.Time{}, time.Time{}
	return a == b
}

func mustAppendRecord(t testing.TB, rec *Record) []byte {
	t.Helper()
	b, err := AppendRecord(nil, rec)
	if err != nil {
		t.Fatalf("AppendRecord: %v", err)
	}
	return b
}

func TestRecordRoundTrip(t *testing.T) {
	long := strings.Repeat("Mozilla/5.0 (X11; Linux x86_64) ", 20)
	tests := []struct {
		name   string
		meta   Meta
		values map[string]any
		want   map[string]any // as read back; nil means values
	}{
		{"anonymous, no values", Meta{Created: t0, LastSeen: t0, IdleTimeout: time.Hour, AbsoluteTimeout: 12 * time.Hour}, nil, nil},
		{"logged in", Meta{UserID: "alice", Created: t0, LastSeen: t0.Add(time.Minute), AuthTime: t0.Add(-time.Second),
			IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, Remember: true, UserAgent: "Firefox", IP: "192.0.2.1", Grace: time.Hour},
			map[string]any{"theme": "dark"}, nil},
		{"zero meta", Meta{}, nil, nil},
		{"every time zero", Meta{UserID: "u"}, map[string]any{"a": true}, nil},
		{"only last seen", Meta{LastSeen: t0}, nil, nil},
		{"only auth time", Meta{AuthTime: t0}, nil, nil},
		{"another zone", Meta{Created: t0.In(time.FixedZone("X", 3600)), LastSeen: t0.In(time.FixedZone("Y", -7200))}, nil, nil},
		{"times outside int64 nanoseconds", Meta{Created: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
			LastSeen: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), AuthTime: t0}, nil, nil},
		{"one time past 2116, the others zero", Meta{AuthTime: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}, nil, nil},
		{"times at 1970", Meta{Created: time.Unix(0, 0), LastSeen: time.Unix(0, 1), AuthTime: time.Unix(-1, 0)}, nil, nil},
		{"times at the edge of nanoseconds", Meta{Created: time.Unix(0, -nanoRange), LastSeen: time.Unix(0, nanoRange)}, nil, nil},
		{"odd durations", Meta{Created: t0, LastSeen: t0, IdleTimeout: -time.Second, AbsoluteTimeout: time.Nanosecond,
			Grace: time.Duration(math.MinInt64)}, nil, nil},
		{"largest durations", Meta{Created: t0, LastSeen: t0, IdleTimeout: time.Duration(math.MaxInt64),
			AbsoluteTimeout: time.Duration(maxSeconds) * time.Second, Grace: time.Duration(minSeconds) * time.Second}, nil, nil},
		{"device-bound", Meta{UserID: "u", Created: t0, LastSeen: t0, DeviceKey: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + strings.Repeat("A", 88), DeviceBoundAt: t0.Add(time.Second + 1)}, nil, nil},
		{"long metadata", Meta{UserID: strings.Repeat("ü", 100), Created: t0, LastSeen: t0, UserAgent: long, IP: "2001:db8::1"}, nil, nil},
		{"values of every kind",
			Meta{Created: t0, LastSeen: t0},
			map[string]any{"s": "plain", "esc": "quote \" backslash \\ <tag> \u2028 é", "empty": "", "n": 42, "neg": -1.5,
				"big": uint64(math.MaxUint64), "t": true, "f": false, "null": nil, "list": []any{1, "x"},
				"map": map[string]any{"k": []int{1}}, "struct": struct{ A int }{7}, "": "empty key", "bytes": []byte{0, 1},
				"long": strings.Repeat("x", 70000)},
			map[string]any{"s": "plain", "esc": "quote \" backslash \\ <tag> \u2028 é", "empty": "", "n": json.Number("42"),
				"neg": json.Number("-1.5"), "big": json.Number("18446744073709551615"), "t": true, "f": false, "null": nil,
				"list": []any{json.Number("1"), "x"}, "map": map[string]any{"k": []any{json.Number("1")}},
				"struct": map[string]any{"A": json.Number("7")}, "": "empty key", "bytes": "AAE=", "long": strings.Repeat("x", 70000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := mustAppendRecord(t, &Record{Meta: tc.meta, Values: tc.values})
			rec, rest, err := DecodeRecord(string(enc) + "tail")
			if err != nil {
				t.Fatalf("DecodeRecord: %v", err)
			}
			if rest != "tail" {
				t.Errorf("rest %q; want %q", rest, "tail")
			}
			if !sameMeta(rec.Meta, tc.meta) {
				t.Errorf("meta: got %+v, want %+v", rec.Meta, tc.meta)
			}
			for _, tt := range [...]time.Time{rec.Created, rec.LastSeen, rec.AuthTime} {
				if tt.Location() != time.UTC {
					t.Errorf("time %v not in UTC", tt)
				}
			}
			want := tc.want
			if want == nil {
				want = tc.values
			}
			if len(want) == 0 {
				if rec.Values != nil {
					t.Errorf("values: got %v, want nil", rec.Values)
				}
			} else if !reflect.DeepEqual(rec.Values, want) {
				t.Errorf("values: got %#v, want %#v", rec.Values, want)
			}
			if again := mustAppendRecord(t, rec); !bytes.Equal(again, enc) {
				t.Errorf("encoding again differs:\n %x\n %x", enc, again)
			}
		})
	}
}

// TestCodecCoversMeta sets each field of Meta in turn and checks that it
// survives encoding, so that a field added to Meta and not to the codec
// fails here. storetest's MetaRoundTrip checks the same of every store.
func TestCodecCoversMeta(t *testing.T) {
	typ := reflect.TypeFor[Meta]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		t.Run(f.Name, func(t *testing.T) {
			var m Meta
			v := reflect.ValueOf(&m).Elem().Field(i)
			switch {
			case f.Type == reflect.TypeFor[time.Time]():
				v.Set(reflect.ValueOf(t0.Add(time.Duration(i) * time.Second)))
			case f.Type == reflect.TypeFor[time.Duration]():
				v.SetInt(int64(i+1) * int64(time.Minute))
			case f.Type.Kind() == reflect.String:
				v.SetString("value of " + f.Name)
			case f.Type.Kind() == reflect.Bool:
				v.SetBool(true)
			default:
				t.Fatalf("Meta.%s has type %v, which the codec does not handle", f.Name, f.Type)
			}
			rec, _, err := DecodeRecord(string(AppendMeta(nil, &m)) + "\x00")
			if err != nil {
				t.Fatal(err)
			}
			if rec.Meta != m {
				t.Fatalf("Meta.%s is not encoded: got %+v, want %+v", f.Name, rec.Meta, m)
			}
		})
	}
}

// varints returns vs as binary.AppendVarint writes them.
func varints(vs ...int64) string {
	var b []byte
	for _, v := range vs {
		b = binary.AppendVarint(b, v)
	}
	return string(b)
}

func TestDecodeRecordErrors(t *testing.T) {
	m := Meta{UserID: "u", Created: t0, LastSeen: t0, IdleTimeout: time.Hour}
	head := string(AppendMeta(nil, &m))
	good := head + "\x02\x01a\x011\x01b\x012"
	if _, _, err := DecodeRecord(good); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	allZero := "\x01" + string(rune(flagCreatedZero|flagLastSeenZero|flagAuthTimeZero))
	// withFlags returns the head of m with its flags byte replaced.
	withFlags := func(flags byte) string { return head[:1] + string(flags) + head[2:] }
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty", "", "truncated"},
		{"unknown version", "\x02" + good[1:], "unknown version 2"},
		{"version 0 (a memstore forward)", "\x00" + good[1:], "unknown version 0"},
		{"unknown flags", withFlags(0x80) + good[len(head):], "unknown flags"},
		{"device time flag with the zero time", withFlags(head[1]|flagDeviceBoundAt) + string(AppendTime(nil, time.Time{})) + good[len(head):], "bad time"},
		{"device key flag with an empty key", withFlags(head[1]|flagDeviceKey) + "\x00" + good[len(head):], "empty device key"},
		{"wide flag for times in range", withFlags(flagWide) + good[len(head):], "bad"},
		{"no values section", head, "truncated"},
		{"truncated value", good[:len(good)-1], "truncated"},
		{"varint longer than needed", head + "\x81\x00", "bad varint"},
		{"varint overflow", head + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", "bad varint"},
		{"huge value count", head + "\xff\xff\xff\xff\x0f", "bad value count"},
		{"keys out of order", head + "\x02\x01b\x012\x01a\x011", "out of order"},
		{"duplicate keys", head + "\x02\x01a\x011\x01a\x012", "out of order"},
		{"value not JSON", head + "\x01\x01k\x05{nope", `value "k": latch: decode session value`},
		{"duration in nanoseconds that is whole seconds", allZero + varints(1, int64(time.Second)) + "\x00\x00\x00\x00\x00", "bad duration"},
		{"duration tag 3", allZero + varints(3) + "\x00\x00\x00\x00\x00", "bad duration"},
		{"seconds past a Duration", allZero + varints(2*(maxSeconds+1)) + "\x00\x00\x00\x00\x00", "bad duration"},
		{"wide time that is the zero time", "\x01" + string(rune(flagWide|flagLastSeenZero|flagAuthTimeZero)) +
			string(AppendTime(nil, time.Time{})) + "\x00\x00\x00\x00\x00\x00\x00", "bad time"},
		{"wide nanoseconds past a second", "\x01" + string(rune(flagWide|flagLastSeenZero|flagAuthTimeZero)) +
			varints(1<<40) + string(binary.AppendUvarint(nil, uint64(time.Second))) + "\x00\x00\x00\x00\x00\x00\x00", "bad time"},
		{"first time past the range", "\x01" + string(rune(flagLastSeenZero|flagAuthTimeZero)) + varints(nanoRange+1) +
			"\x00\x00\x00\x00\x00\x00\x00", "bad time"},
		{"time distance that overflows", "\x01" + string(rune(flagAuthTimeZero)) + varints(nanoRange, math.MaxInt64) +
			"\x00\x00\x00\x00\x00\x00\x00", "bad time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, rest, err := DecodeRecord(tc.data)
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("err %v; want ErrCorruptRecord", err)
			}
			if !strings.HasPrefix(err.Error(), "corrupt record: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %q; want it to contain %q", err, tc.want)
			}
			if rec != nil || rest != "" {
				t.Errorf("got %v, %q with the error", rec, rest)
			}
		})
	}
}

func TestReaderPrimitives(t *testing.T) {
	var b []byte
	b = append(b, 7)
	b = append(b, "fixed"...)
	b = AppendString(b, "string")
	b = AppendTime(b, t0)
	b = AppendTime(b, time.Time{})
	b = AppendTime(b, time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC))
	b = AppendDuration(b, 90*time.Minute)
	b = AppendDuration(b, time.Duration(math.MinInt64))
	b = append(b, "rest"...)
	r := NewReader(string(b))
	if got := r.Byte(); got != 7 {
		t.Errorf("Byte %d", got)
	}
	if got := r.Next(5); got != "fixed" {
		t.Errorf("Next %q", got)
	}
	if got := r.Str(); got != "string" {
		t.Errorf("Str %q", got)
	}
	for _, want := range []time.Time{t0, {}, time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)} {
		if got := r.Time(); got != want {
			t.Errorf("Time %v; want %v", got, want)
		}
	}
	for _, want := range []time.Duration{90 * time.Minute, math.MinInt64} {
		if got := r.Duration(); got != want {
			t.Errorf("Duration %v; want %v", got, want)
		}
	}
	if r.Len() != 4 {
		t.Errorf("Len %d; want 4", r.Len())
	}
	if err := r.End(); err == nil || !strings.Contains(err.Error(), "4 trailing bytes") {
		t.Errorf("End: %v; want 4 trailing bytes", err)
	}
	// After an error every read is a zero value, and the first error stays.
	if r.Byte() != 0 || r.Str() != "" || !r.Time().IsZero() || r.Rest() != "" {
		t.Error("reads after an error are not zero")
	}
	r.Fail("later")
	if !strings.Contains(r.Err().Error(), "trailing") {
		t.Errorf("Err %v; want the first error", r.Err())
	}
	r = NewReader("ab")
	if r.Next(3) != "" || !errors.Is(r.Err(), ErrCorruptRecord) {
		t.Errorf("Next past the end: %v", r.Err())
	}
	r = NewReader("x")
	r.Fail("unknown tag 9")
	if err := r.Err(); !errors.Is(err, ErrCorruptRecord) || err.Error() != "corrupt record: unknown tag 9" {
		t.Errorf("Fail: %v", err)
	}
}

func TestValues(t *testing.T) {
	enc := AppendValues(nil, []RawValue{{"b", "2"}, {"a", `"x"`}, {"", "null"}})
	r := NewReader(string(enc))
	var got []RawValue
	for k, v := range r.Values() {
		got = append(got, RawValue{k, v})
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	want := []RawValue{{"", "null"}, {"a", `"x"`}, {"b", "2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q; want %q (sorted)", got, want)
	}
	// A loop that stops early leaves the rest unread.
	r = NewReader(string(enc))
	for range r.Values() {
		break
	}
	if r.Err() != nil || r.Len() == 0 {
		t.Errorf("after break: %v, %d left", r.Err(), r.Len())
	}
}

func TestEncodeValues(t *testing.T) {
	got, err := EncodeValues(map[string]any{"b": 1, "a": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []RawValue{{"a", `"x"`}, {"b", "1"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q; want %q", got, want)
	}
	if got, err := EncodeValues(nil); got != nil || err != nil {
		t.Errorf("nil: %v, %v", got, err)
	}
	if _, err := EncodeValues(map[string]any{"ch": make(chan int)}); err == nil || !strings.Contains(err.Error(), `value "ch"`) {
		t.Errorf("unencodable value: %v", err)
	}
	if _, err := AppendRecord(nil, &Record{Values: map[string]any{"f": func() {}}}); err == nil || !strings.Contains(err.Error(), `value "f"`) {
		t.Errorf("AppendRecord of an unencodable value: %v", err)
	}
}

func TestPatchRecord(t *testing.T) {
	m := Meta{UserID: "u", Created: t0, LastSeen: t0}
	head := AppendMeta(nil, &m)
	stored := mustAppendRecord(t, &Record{Meta: m, Values: map[string]any{"a": 1, "b": "two", "c": 3}})
	base := string(stored[len(head):])
	tests := []struct {
		name string
		base string
		c    Commit
		want map[string]any
	}{
		{"metadata only", base, Commit{}, map[string]any{"a": json.Number("1"), "b": "two", "c": json.Number("3")}},
		{"set one", base, Commit{Set: map[string]any{"b": "new"}}, map[string]any{"a": json.Number("1"), "b": "new", "c": json.Number("3")}},
		{"add first, middle and last", base, Commit{Set: map[string]any{"0": 0, "bb": false, "d": "x"}},
			map[string]any{"0": json.Number("0"), "a": json.Number("1"), "b": "two", "bb": false, "c": json.Number("3"), "d": "x"}},
		{"delete", base, Commit{Delete: []string{"a", "missing"}}, map[string]any{"b": "two", "c": json.Number("3")}},
		{"delete then set the same key", base, Commit{Delete: []string{"a"}, Set: map[string]any{"a": "back"}},
			map[string]any{"a": "back", "b": "two", "c": json.Number("3")}},
		{"clear", base, Commit{Clear: true}, nil},
		{"clear then set", base, Commit{Clear: true, Set: map[string]any{"z": 1}}, map[string]any{"z": json.Number("1")}},
		{"delete all", base, Commit{Delete: []string{"a", "b", "c"}}, nil},
		{"no base", "", Commit{}, nil},
		{"no base, set", "", Commit{Set: map[string]any{"k": "v"}}, map[string]any{"k": "v"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := EncodeValues(tc.c.Set)
			if err != nil {
				t.Fatal(err)
			}
			data, err := PatchRecord(head, tc.base, &tc.c, set)
			if err != nil {
				t.Fatal(err)
			}
			rec, rest, err := DecodeRecord(data)
			if err != nil || rest != "" {
				t.Fatalf("DecodeRecord: %v, rest %q", err, rest)
			}
			if !reflect.DeepEqual(rec.Values, tc.want) {
				t.Errorf("got %v, want %v", rec.Values, tc.want)
			}
			// The same record as AppendRecord would write.
			if again := mustAppendRecord(t, rec); string(again) != data {
				t.Errorf("not the canonical encoding:\n %x\n %x", data, again)
			}
		})
	}
	// One allocation: the record, of its exact size.
	c := &Commit{Set: map[string]any{"b": 2}}
	set, _ := EncodeValues(c.Set)
	if n := testing.AllocsPerRun(100, func() { _, _ = PatchRecord(head, base, c, set) }); n != 1 {
		t.Errorf("PatchRecord: %v allocations, want 1", n)
	}
	if _, err := PatchRecord(head, "\x05\x01a", &Commit{Set: map[string]any{"x": 1}}, []RawValue{{"x", "1"}}); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("corrupt base: %v; want ErrCorruptRecord", err)
	}
}

// FuzzDecodeRecord feeds arbitrary bytes to the decoder. It must never
// panic, every error must match ErrCorruptRecord, and what it accepts must
// be canonical: the metadata and the raw values encode back to the very
// same bytes.
func FuzzDecodeRecord(f *testing.F) {
	full := Meta{UserID: "alice", Created: t0, LastSeen: t0.Add(time.Minute), AuthTime: t0, IdleTimeout: time.Hour,
		AbsoluteTimeout: 12 * time.Hour, Grace: time.Second + 1, Remember: true, UserAgent: "ua", IP: "ip"}
	f.Add(mustAppendRecord(f, &Record{Meta: full, Values: map[string]any{"k": "v", "n": 1, "o": map[string]any{"a": []int{1}}}}))
	f.Add(mustAppendRecord(f, &Record{Meta: Meta{Created: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), LastSeen: t0}}))
	f.Add(mustAppendRecord(f, &Record{}))
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 0xff})
	f.Add([]byte{1, 0x1c, 0, 0, 0, 0, 0, 0, 1, 0x80, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, rest, err := DecodeRecord(string(data))
		if err != nil {
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("error %v does not match ErrCorruptRecord", err)
			}
		} else if rec == nil {
			t.Fatal("nil record without an error")
		}
		r := NewReader(string(data))
		var m Meta
		r.Meta(&m)
		var vals []RawValue
		for k, v := range r.Values() {
			vals = append(vals, RawValue{k, v})
		}
		if r.Err() != nil {
			if err == nil {
				t.Fatalf("Reader refused what DecodeRecord accepted: %v", r.Err())
			}
			return
		}
		consumed := data[:len(data)-r.Len()]
		if err == nil && string(data[len(consumed):]) != rest {
			t.Fatalf("Reader left %q; DecodeRecord %q", data[len(consumed):], rest)
		}
		if enc := AppendValues(AppendMeta(nil, &m), vals); !bytes.Equal(enc, consumed) {
			t.Fatalf("not canonical:\n in  %x\n out %x", consumed, enc)
		}
	})
}
