package redisstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// fullMeta is a Meta with every field set, in the form latch writes.
func fullMeta() driver.Meta {
	t0 := time.Date(2026, 11, 29, 23, 5, 13, 123456789, time.UTC)
	return driver.Meta{
		UserID:          "alice@example.com",
		Created:         t0,
		LastSeen:        t0.Add(90 * time.Second),
		AuthTime:        t0.Add(time.Second),
		IdleTimeout:     30 * time.Minute,
		AbsoluteTimeout: 12 * time.Hour,
		Remember:        true,
		UserAgent:       "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		IP:              "2001:db8::1",
		Grace:           5 * time.Minute,
		DeviceKey:       "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE-_0123456789abcdefghij",
		DeviceBoundAt:   t0.Add(2 * time.Second),
	}
}

// sameMeta reports whether a and b are the same Meta, time zones included.
func sameMeta(a, b driver.Meta) bool {
	ta := []time.Time{a.Created, a.LastSeen, a.AuthTime, a.DeviceBoundAt}
	tb := []time.Time{b.Created, b.LastSeen, b.AuthTime, b.DeviceBoundAt}
	for i := range ta {
		na, oa := ta[i].Zone()
		nb, ob := tb[i].Zone()
		if !ta[i].Equal(tb[i]) || na != nb || oa != ob || ta[i].Location().String() != tb[i].Location().String() {
			return false
		}
	}
	a.Created, a.LastSeen, a.AuthTime, a.DeviceBoundAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	b.Created, b.LastSeen, b.AuthTime, b.DeviceBoundAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}

// checkDecodeMeta decodes raw with decodeMeta and with json.Unmarshal and
// fails unless both give the same Meta or both fail.
func checkDecodeMeta(t *testing.T, raw string) (driver.Meta, error) {
	t.Helper()
	var got, want driver.Meta
	err := decodeMeta(raw, &got)
	werr := json.Unmarshal([]byte(raw), &want)
	if (err == nil) != (werr == nil) {
		t.Fatalf("decodeMeta(%q): error %v, encoding/json: %v", raw, err, werr)
	}
	if err == nil && !sameMeta(got, want) {
		t.Fatalf("decodeMeta(%q) = %+v, encoding/json gives %+v", raw, got, want)
	}
	return got, err
}

func TestDecodeMeta(t *testing.T) {
	canonical, err := json.Marshal(fullMeta())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		raw  string
		fast bool // the hand-written path decodes it
		ok   bool // it decodes at all
	}{
		{"canonical, every field", string(canonical), true, true},
		{"empty object", `{}`, true, true},
		{"anonymous", `{"created":"2026-01-02T03:04:05Z","last_seen":"2026-01-02T03:04:05.5Z","auth_time":"0001-01-01T00:00:00Z","idle_timeout":1800000000000,"absolute_timeout":43200000000000}`, true, true},
		{"offset", `{"created":"2026-01-02T03:04:05.123+05:30"}`, true, true},
		{"negative offset", `{"created":"2026-01-02T03:04:05-08:00"}`, true, true},
		{"negative duration", `{"idle_timeout":-5}`, true, true},
		{"zero duration", `{"grace":0}`, true, true},
		{"remember false", `{"remember":false}`, true, true},
		{"non-ASCII user", `{"user":"zoë"}`, true, true},
		{"duplicate field, last wins", `{"user":"a","user":"b"}`, true, true},

		// Outside the strict form: encoding/json decides (time.Time's
		// UnmarshalJSON is more lenient than RFC 3339).
		{"escaped string", `{"ua":"a\"b\u003c"}`, false, true},
		{"white space", `{ "user" : "a" }`, false, true},
		{"trailing white space", `{"user":"a"} `, false, true},
		{"unknown field", `{"user":"a","new_field":[1,2]}`, false, true},
		{"field name in another case", `{"USER":"a"}`, false, true},
		{"null time", `{"created":null}`, false, true},
		{"null string", `{"user":null}`, false, true},
		{"invalid UTF-8", "{\"user\":\"\xff\"}", false, true},
		{"time with comma fraction", `{"created":"2026-01-02T03:04:05,5Z"}`, false, true},
		{"one-digit hour", `{"created":"2026-01-02T3:04:05Z"}`, false, true},
		{"offset hour out of range", `{"created":"2026-01-02T03:04:05+24:00"}`, false, true},
		{"ten fraction digits", `{"created":"2026-01-02T03:04:05.1234567891Z"}`, false, true},

		// Invalid: both paths refuse.
		{"empty", ``, false, false},
		{"not an object", `[]`, false, false},
		{"truncated", `{"user":"a"`, false, false},
		{"truncated string", `{"user":"a`, false, false},
		{"trailing garbage", `{"user":"a"}x`, false, false},
		{"trailing comma", `{"user":"a",}`, false, false},
		{"missing colon", `{"user""a"}`, false, false},
		{"string for a duration", `{"grace":"5m"}`, false, false},
		{"fraction for a duration", `{"grace":1.5}`, false, false},
		{"exponent for a duration", `{"grace":1e3}`, false, false},
		{"leading zero", `{"grace":01}`, false, false},
		{"lone minus", `{"grace":-}`, false, false},
		{"duration overflow", `{"grace":9223372036854775808}`, false, false},
		{"number for a string", `{"user":1}`, false, false},
		{"string for a bool", `{"remember":"true"}`, false, false},
		{"bad time", `{"created":"yesterday"}`, false, false},
		{"day out of range", `{"created":"2026-02-30T00:00:00Z"}`, false, false},
		{"hour out of range", `{"created":"2026-01-02T24:00:00Z"}`, false, false},
		{"lower-case z", `{"created":"2026-01-02T03:04:05z"}`, false, false},
		{"control character", "{\"user\":\"a\x01\"}", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m driver.Meta
			if fast := decodeMetaFast(tc.raw, &m); fast != tc.fast {
				t.Errorf("decodeMetaFast(%q) = %v, want %v", tc.raw, fast, tc.fast)
			}
			_, err := checkDecodeMeta(t, tc.raw)
			if (err == nil) != tc.ok {
				t.Errorf("decodeMeta(%q): error %v, want ok = %v", tc.raw, err, tc.ok)
			}
		})
	}
}

func TestAppendMeta(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	base := fullMeta()
	tests := []struct {
		name   string
		edit   func(m *driver.Meta)
		wantOK bool
	}{
		{"every field", func(m *driver.Meta) {}, true},
		{"zero", func(m *driver.Meta) { *m = driver.Meta{} }, true},
		{"anonymous", func(m *driver.Meta) { m.UserID, m.AuthTime, m.Remember, m.Grace = "", time.Time{}, false, 0 }, true},
		{"monotonic clock reading", func(m *driver.Meta) { m.Created = time.Now() }, true},
		{"local zone", func(m *driver.Meta) { m.Created = m.Created.In(paris) }, true},
		{"fixed offset", func(m *driver.Meta) { m.LastSeen = m.LastSeen.In(time.FixedZone("", -(7*3600 + 30*60))) }, true},
		{"whole seconds", func(m *driver.Meta) { m.Created = m.Created.Truncate(time.Second) }, true},
		{"HTML in the user agent", func(m *driver.Meta) { m.UserAgent = `<script>&"x"\` }, true},
		{"control characters", func(m *driver.Meta) { m.UserID = "a\nb\tc\x00\x7f" }, true},
		{"line separator", func(m *driver.Meta) { m.IP = "a\u2028b" }, true},
		{"invalid UTF-8", func(m *driver.Meta) { m.UserAgent = "a\xffb" }, true},
		{"negative durations", func(m *driver.Meta) { m.IdleTimeout, m.Grace = -1, math.MinInt64 }, true},
		{"year 10000", func(m *driver.Meta) { m.Created = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, false},
		{"year -1", func(m *driver.Meta) { m.AuthTime = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }, false},
		{"offset of 24 hours", func(m *driver.Meta) { m.LastSeen = m.LastSeen.In(time.FixedZone("", 24*3600)) }, false},
		{"offset with seconds", func(m *driver.Meta) { m.LastSeen = m.LastSeen.In(time.FixedZone("", 3600+30)) }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := base
			tc.edit(&m)
			checkAppendMeta(t, &m, tc.wantOK)
		})
	}
}

// checkAppendMeta fails unless appendMeta writes what json.Marshal writes,
// after a prefix that it must leave alone, and that the result reads back.
func checkAppendMeta(t *testing.T, m *driver.Meta, wantOK bool) {
	t.Helper()
	want, werr := json.Marshal(m)
	got, err := appendMeta([]byte("prefix"), m)
	if (err == nil) != (werr == nil) || (err == nil) != wantOK {
		t.Fatalf("appendMeta: error %v, json.Marshal: %v, want ok = %v", err, werr, wantOK)
	}
	if string(got[:6]) != "prefix" {
		t.Fatalf("appendMeta overwrote its buffer: %q", got)
	}
	if err != nil {
		if len(got) != 6 {
			t.Fatalf("appendMeta failed but left %q", got)
		}
		return
	}
	if !bytes.Equal(got[6:], want) {
		t.Fatalf("appendMeta = %s\njson.Marshal = %s", got[6:], want)
	}
	checkDecodeMeta(t, string(want))
}

func TestAppendValue(t *testing.T) {
	type named string
	tests := []struct {
		name string
		v    any
	}{
		{"string", "dark"},
		{"HTML string", "<a href='x'>&</a>"},
		{"non-ASCII string", "zoë\u2028"},
		{"bool", true},
		{"int", -42},
		{"int64", int64(math.MaxInt64)},
		{"nil", nil},
		{"float", 1.5},
		{"named string", named("x")},
		{"map", map[string]any{"b": 1, "a": []int{2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := driver.EncodeValue(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendValue([]byte("v:k"), tc.v)
			if err != nil {
				t.Fatalf("appendValue: %v", err)
			}
			if string(got) != "v:k"+string(want) {
				t.Fatalf("appendValue = %q, want %q", got, "v:k"+string(want))
			}
		})
	}
	t.Run("unencodable", func(t *testing.T) {
		_, err := appendValue(nil, func() {})
		var ue *json.UnsupportedTypeError
		if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "latch: ") {
			t.Fatalf("appendValue(func) error %v, want latch's wrapped UnsupportedTypeError", err)
		}
	})
}

func TestSessionKey(t *testing.T) {
	var h driver.Hash
	for i := range h {
		h[i] = byte(i * 7)
	}
	for _, prefix := range []string{"", DefaultPrefix, "app:tenant-1:"} {
		t.Run("prefix "+prefix, func(t *testing.T) {
			s := &Store{prefix: prefix}
			key := s.sessionKey(h)
			if want := prefix + "s:{" + h.String() + "}"; key != want {
				t.Fatalf("sessionKey = %q, want %q", key, want)
			}
			if got := s.keyHash(key); got != h.String() {
				t.Fatalf("keyHash(%q) = %q, want %q", key, got, h.String())
			}
		})
	}
}

// TestDecodeRecordAllocs keeps the cost of decoding a typical record from
// creeping back: its metadata and a string and a number value.
func TestDecodeRecordAllocs(t *testing.T) {
	meta, err := json.Marshal(fullMeta())
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{
		fieldMeta: string(meta), fieldUser: "alice@example.com", fieldExpiry: "1764457513123",
		"abs": "1764500000000", fieldIndex: "latch:u:{alice@example.com}", "v:theme": `"dark"`, "v:n": "7",
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := decodeRecord(fields); err != nil {
			t.Fatal(err)
		}
	})
	// The record, its map (header and one group) and one box per value.
	if allocs > 5 {
		t.Errorf("decodeRecord: %v allocations, want at most 5", allocs)
	}
}

// FuzzDecodeMeta checks that decodeMeta never panics and always agrees with
// encoding/json.
func FuzzDecodeMeta(f *testing.F) {
	canonical, _ := json.Marshal(fullMeta())
	f.Add(string(canonical))
	f.Add(`{}`)
	f.Add(`{"created":"2026-01-02T03:04:05.123+05:30","grace":-0}`)
	f.Add(`{"user":"a\"b","USER":"c","remember":null}`)
	f.Add(`{"created":"2026-02-29T00:00:00Z"}`)
	f.Add(`{"idle_timeout":9223372036854775807,"absolute_timeout":-9223372036854775808}`)
	f.Fuzz(func(t *testing.T, raw string) {
		checkDecodeMeta(t, raw)
	})
}

// FuzzAppendMeta checks that appendMeta writes exactly what json.Marshal
// writes, for any strings, times, zones and durations (t1 in nanoseconds,
// t2 in seconds, so that years beyond 0-9999 come up).
func FuzzAppendMeta(f *testing.F) {
	f.Add("alice", "Mozilla/5.0", "127.0.0.1", int64(1764457513123456789), int64(0), int64(1800e9), 0, true)
	f.Add("<&>", "\xff\u2028\n", "", int64(-62135596801), int64(253402300800), int64(-1), -3600*25, false)
	f.Add("", "", "::1", int64(math.MaxInt64), int64(math.MinInt64), int64(0), 19800, true)
	f.Fuzz(func(t *testing.T, user, ua, ip string, t1, t2, d int64, offset int, remember bool) {
		zone := time.UTC
		if offset != 0 {
			zone = time.FixedZone("", offset%(48*3600))
		}
		m := driver.Meta{
			UserID:          user,
			Created:         time.Unix(0, t1).In(zone),
			LastSeen:        time.Unix(t2, 0).In(zone),
			AuthTime:        time.Unix(t2/7, t1%1e9).UTC(),
			IdleTimeout:     time.Duration(d),
			AbsoluteTimeout: time.Duration(t2),
			Remember:        remember,
			UserAgent:       ua,
			IP:              ip,
			Grace:           time.Duration(t1),
		}
		_, werr := json.Marshal(&m)
		checkAppendMeta(t, &m, werr == nil)
	})
}

func TestSessionKeyAllocs(t *testing.T) {
	s := &Store{prefix: DefaultPrefix}
	var h driver.Hash
	if n := testing.AllocsPerRun(100, func() { _ = s.sessionKey(h) }); n != 1 {
		t.Errorf("sessionKey: %v allocations, want 1", n)
	}
}
