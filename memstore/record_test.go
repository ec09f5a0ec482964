package memstore

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// packOf packs a record with meta m and values set, as a creating commit
// does.
func packOf(t testing.TB, m driver.Meta, set map[string]any) string {
	t.Helper()
	enc, err := driver.EncodeValues(set)
	if err != nil {
		t.Fatalf("EncodeValues: %v", err)
	}
	data, err := driver.PatchRecord(driver.AppendMeta(nil, &m), "", &driver.Commit{}, enc)
	if err != nil {
		t.Fatalf("PatchRecord: %v", err)
	}
	return data
}

// TestRecordRoundTrip reads back, with memstore's decoders, what a commit
// stores. driver's tests cover the encoding itself.
func TestRecordRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 29, 23, 1, 2, 345678901, time.UTC)
	tests := []struct {
		name   string
		meta   driver.Meta
		values map[string]any
	}{
		{"anonymous, no values", driver.Meta{Created: now, LastSeen: now, IdleTimeout: time.Hour, AbsoluteTimeout: 12 * time.Hour}, nil},
		{"logged in", driver.Meta{UserID: "alice", Created: now, LastSeen: now.Add(time.Minute), AuthTime: now.Add(-time.Second),
			IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, Remember: true, UserAgent: "Firefox", IP: "192.0.2.1", Grace: time.Hour},
			map[string]any{"theme": "dark", "dark": true}},
		{"every time zero", driver.Meta{UserID: "u"}, map[string]any{"a": "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := packOf(t, tc.meta, tc.values)
			rec, err := unpack(data)
			if err != nil {
				t.Fatalf("unpack: %v", err)
			}
			if rec.Meta != tc.meta || !reflect.DeepEqual(rec.Values, tc.values) {
				t.Errorf("got %+v, want %+v %v", rec, tc.meta, tc.values)
			}
			var m driver.Meta
			values, err := decodeMeta(data, &m)
			if err != nil || m != tc.meta || values != valuesOf(data) || values != data[len(data)-len(values):] {
				t.Errorf("decodeMeta: %+v, %q, %v", m, values, err)
			}
			if got := userOf(data); got != tc.meta.UserID {
				t.Errorf("userOf: got %q, want %q", got, tc.meta.UserID)
			}
		})
	}
}

func TestRecordSize(t *testing.T) {
	now := time.Now()
	m := driver.Meta{UserID: "user-0000001", Created: now, LastSeen: now, AuthTime: now,
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, Grace: time.Hour}
	data := packOf(t, m, map[string]any{"theme": "dark"})
	// 1 version + 1 flags + 9 created + 1 + 1 + 2 + 3 + 3 durations +
	// 13 user + 1 + 1, then 1 count + 6 key + 7 value.
	if len(data) > 50 {
		t.Errorf("a logged-in session with one value packs into %d bytes, want at most 50", len(data))
	}
}

// TestForward checks that a forward is never taken for a record.
func TestForward(t *testing.T) {
	to := hashOf(7)
	data := packForward(to)
	if !isForward(data) || forwardTo(data) != to {
		t.Fatalf("packForward(%x): isForward %v, forwardTo %x", to[:4], isForward(data), forwardTo(data))
	}
	if u := userOf(data); u != "" {
		t.Errorf("userOf a forward: %q", u)
	}
	if rec, err := unpack(data); err == nil {
		t.Errorf("unpack a forward: %+v", rec)
	}
	rec := packOf(t, driver.Meta{UserID: "u"}, nil)
	if isForward(rec) || rec[0] != driver.RecordVersion {
		t.Errorf("a record %x is taken for a forward", rec)
	}
	if n := testing.AllocsPerRun(100, func() { _ = userOf(data); _ = userOf(rec) }); n != 0 {
		t.Errorf("userOf: %v allocations, want 0", n)
	}
}

func sameMeta(a, b driver.Meta) bool {
	return a.UserID == b.UserID && a.Created.Equal(b.Created) && a.LastSeen.Equal(b.LastSeen) &&
		a.AuthTime.Equal(b.AuthTime) && a.AuthTime.IsZero() == b.AuthTime.IsZero() &&
		a.Created.IsZero() == b.Created.IsZero() && a.LastSeen.IsZero() == b.LastSeen.IsZero() &&
		a.IdleTimeout == b.IdleTimeout && a.AbsoluteTimeout == b.AbsoluteTimeout &&
		a.Remember == b.Remember && a.UserAgent == b.UserAgent && a.IP == b.IP && a.Grace == b.Grace
}

// FuzzRecord packs fuzzed metadata and values, as a creating commit does,
// and checks that they read back, and that the packed form is the one
// driver.AppendRecord writes.
func FuzzRecord(f *testing.F) {
	f.Add("alice", int64(1_780_000_000_000_000_000), int64(60e9), int64(-5), int64(1800e9), "Mozilla", "key", "value", true)
	f.Add("", int64(0), int64(0), int64(0), int64(0), "", "", "", false)
	f.Add("\xff", int64(math.MinInt64), int64(math.MaxInt64), int64(math.MinInt64), int64(math.MaxInt64), "\x00", "\"", "\\\n", true)
	f.Fuzz(func(t *testing.T, user string, created, seen, auth, idle int64, ua, key, value string, remember bool) {
		m := driver.Meta{UserID: user, Created: time.Unix(0, created), LastSeen: time.Unix(created/1e9, seen),
			AuthTime: time.Unix(auth, auth), IdleTimeout: time.Duration(idle), AbsoluteTimeout: time.Duration(seen),
			Grace: time.Duration(auth), Remember: remember, UserAgent: ua, IP: key}
		data := packOf(t, m, map[string]any{key: value})
		if enc, err := driver.AppendRecord(nil, &driver.Record{Meta: m, Values: map[string]any{key: value}}); err != nil || string(enc) != data {
			t.Fatalf("AppendRecord: %v\n %x\npacked:\n %x", err, enc, data)
		}
		rec, err := unpack(data)
		if err != nil {
			t.Fatalf("unpack: %v", err)
		}
		if !sameMeta(rec.Meta, m) {
			t.Fatalf("meta: got %+v, want %+v", rec.Meta, m)
		}
		// Keys are kept as they are; values as a JSON round trip gives
		// them (invalid UTF-8 becomes U+FFFD).
		enc, _ := json.Marshal(value)
		var want any
		if err := json.Unmarshal(enc, &want); err != nil {
			t.Fatal(err)
		}
		if got, ok := rec.Values[key]; len(rec.Values) != 1 || !ok || got != want {
			t.Fatalf("values: got %q, want %q: %q", rec.Values, key, want)
		}
	})
}

// FuzzUnpack feeds arbitrary bytes to the decoder, which must never panic
// (the store only ever decodes what it wrote, but a bug must fail closed).
func FuzzUnpack(f *testing.F) {
	now := time.Now()
	f.Add(packOf(f, driver.Meta{UserID: "u", Created: now, LastSeen: now, IdleTimeout: time.Hour}, map[string]any{"k": "v"}))
	f.Add("")
	f.Add("\x01\x02")
	f.Add("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")
	f.Fuzz(func(t *testing.T, data string) {
		rec, err := unpack(data)
		if err == nil && rec == nil {
			t.Fatal("unpack: nil record without an error")
		}
		_ = userOf(data)
		_ = valuesOf(data)
		c := &driver.Commit{Delete: []string{"k"}, Set: map[string]any{"x": 1}}
		set, _ := driver.EncodeValues(c.Set)
		_, _ = driver.PatchRecord(nil, valuesOf(data), c, set)
	})
}
