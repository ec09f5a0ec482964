package boltstore

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// fullMeta returns metadata with every field set.
func fullMeta() driver.Meta {
	m := meta("alice", t0)
	m.LastSeen = t0.Add(time.Minute + 123*time.Nanosecond)
	m.Remember = true
	m.Grace = 5 * time.Minute
	m.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) ünïcode"
	m.IP = "2001:db8::1"
	return m
}

// TestRecordRoundTrip: every field of driver.Meta is covered by driver's
// TestCodecCoversMeta and by storetest's MetaRoundTrip; this is the
// framing around it.
func TestRecordRoundTrip(t *testing.T) {
	full := fullMeta()
	tests := []struct {
		name string
		rec  *record
	}{
		{"empty", &record{values: map[string][]byte{}}},
		{"anonymous", &record{meta: meta("", t0), values: map[string][]byte{"k": []byte(`"v"`)}}},
		{"full", &record{meta: full, values: map[string][]byte{
			"":      []byte(`null`),
			"a":     []byte(`1`),
			"b":     []byte(`{"nested":[1,2,3]}`),
			"long":  []byte(`"` + strings.Repeat("x", 70000) + `"`),
			"emoji": []byte(`"🔒"`),
		}}},
		{"zero times", &record{meta: driver.Meta{UserID: "u", IdleTimeout: time.Second}, values: map[string][]byte{}}},
		{"pre-1970 and far future", &record{meta: driver.Meta{
			Created:         time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC),
			LastSeen:        time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
			AuthTime:        time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
			IdleTimeout:     -time.Second,
			AbsoluteTimeout: math.MaxInt64,
		}, values: map[string][]byte{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := encodeRecord(tc.rec)
			got, err := recordOf(enc, true)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got.meta != tc.rec.meta {
				t.Errorf("meta %+v; want %+v", got.meta, tc.rec.meta)
			}
			if len(got.values) != len(tc.rec.values) {
				t.Fatalf("%d values; want %d", len(got.values), len(tc.rec.values))
			}
			for k, v := range tc.rec.values {
				if !bytes.Equal(got.values[k], v) {
					t.Errorf("value %q = %.40q; want %.40q", k, got.values[k], v)
				}
			}
			if again := encodeRecord(got); !bytes.Equal(again, enc) {
				t.Error("re-encoding differs")
			}
		})
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	good := encodeRecord(&record{meta: meta("alice", t0), values: map[string][]byte{"a": []byte("1"), "b": []byte("2")}})
	// resum returns body with a valid checksum, so the parser itself is tested.
	resum := func(body []byte) []byte { return appendChecksum(slices.Clone(body)) }
	body := good[:len(good)-4]
	tests := []struct {
		name        string
		data        []byte
		want        string
		driverFault bool // found by driver's decoder
	}{
		{"nil", nil, "truncated", false},
		{"short", []byte{1, 2, 3}, "truncated", false},
		{"bad checksum", append(slices.Clone(body), 0, 0, 0, 0), "checksum mismatch", false},
		{"unknown tag", resum(append([]byte{9}, body[1:]...)), "unknown tag 9", false},
		{"unknown record version", resum(append([]byte{tagRecord, 2}, body[2:]...)), "unknown version 2", true},
		{"truncated body", resum(body[:len(body)-3]), "truncated", true},
		{"trailing bytes", resum(append(slices.Clone(body), 0)), "1 trailing bytes", true},
		{"keys out of order", resum(append(slices.Clone(body[:len(body)-9]), 2, 1, 'b', 1, '2', 1, 'a', 1, '1')), "out of order", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := recordOf(tc.data, true)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err %v; want ErrCorrupt", err)
			}
			if errors.Is(err, driver.ErrCorruptRecord) != tc.driverFault {
				t.Errorf("err %v: matches driver.ErrCorruptRecord %v; want %v", err, !tc.driverFault, tc.driverFault)
			}
			if !strings.HasPrefix(err.Error(), "corrupt record: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %q; want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestExpiryKeyOrder(t *testing.T) {
	h := hashOf("x")
	times := []time.Time{
		{},
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Unix(0, 0),
		time.Unix(0, 1),
		t0,
		t0.Add(time.Nanosecond),
		time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := expiryKey(times[i-1], h), expiryKey(times[i], h)
		if bytes.Compare(a, b) > 0 {
			t.Errorf("key of %v sorts after key of %v", times[i-1], times[i])
		}
	}
	for _, tt := range times[3:7] {
		k := expiryKey(tt, h)
		nanos, got, ok := parseExpiryKey(k)
		if !ok || nanos != tt.UnixNano() || got != h {
			t.Errorf("parseExpiryKey(expiryKey(%v)) = %d, %x, %v", tt, nanos, got[:4], ok)
		}
	}
	if _, _, ok := parseExpiryKey([]byte("short")); ok {
		t.Error("parseExpiryKey accepted a short key")
	}
}

func TestUserKeyPrefixFree(t *testing.T) {
	h := hashOf("x")
	users := []string{"a", "ab", "b", "a\x00", strings.Repeat("z", 200), "ü"}
	for _, u := range users {
		for _, v := range users {
			if u != v && bytes.HasPrefix(userKey(v, h), userPrefix(u)) {
				t.Errorf("key of %q has the prefix of %q", v, u)
			}
		}
	}
}

// FuzzDecodeRecord feeds decodeStored, the parser of every value of the
// sessions bucket (records and forwards).
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(&record{values: map[string][]byte{}}))
	f.Add(encodeRecord(&record{meta: meta("alice", t0), values: map[string][]byte{"a": []byte("1"), "b": []byte(`"x"`)}}))
	f.Add(encodeForward(&forward{to: hashOf("to"), expires: t0}))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0})
	f.Add([]byte{2, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Checksummed, so that the fuzzer reaches the parser too.
		for _, in := range [][]byte{data, appendChecksum(slices.Clone(data))} {
			r, fw, err := decodeStored(in, false)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v does not match ErrCorrupt", err)
				}
				continue
			}
			if (r == nil) == (fw == nil) {
				t.Fatalf("decodeStored(%x) = %v, %v; want exactly one", in, r, fw)
			}
			// Varints may be written in more than one way, so compare
			// after one round: encoding is then stable.
			enc := encodeStored(r, fw)
			r2, fw2, err := decodeStored(enc, false)
			if err != nil {
				t.Fatalf("re-decoding %x: %v", enc, err)
			}
			if again := encodeStored(r2, fw2); !bytes.Equal(again, enc) {
				t.Fatalf("encoding not stable:\n %x\n %x", enc, again)
			}
		}
	})
}

// encodeStored encodes whichever of r and f is set.
func encodeStored(r *record, f *forward) []byte {
	if f != nil {
		return encodeForward(f)
	}
	return encodeRecord(r)
}

// recordOf decodes data, which must hold a record.
func recordOf(data []byte, copyValues bool) (*record, error) {
	r, f, err := decodeStored(data, copyValues)
	if err == nil && f != nil {
		return nil, errors.New("a forward, not a record")
	}
	return r, err
}

func TestForwardRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    forward
	}{
		{"plain", forward{to: hashOf("to"), expires: t0.Add(30*time.Minute + 7)}},
		{"zero expiry", forward{to: hashOf("to")}},
		{"pre-1970", forward{to: hashOf("to"), expires: time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC)}},
		{"far future", forward{to: hashOf("to"), expires: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := encodeForward(&tc.f)
			if enc[0] != tagForward {
				t.Fatalf("tag %d; want %d", enc[0], tagForward)
			}
			r, got, err := decodeStored(enc, false)
			if err != nil || r != nil || got == nil {
				t.Fatalf("decodeStored: %v, %v, %v; want a forward", r, got, err)
			}
			if got.to != tc.f.to || !got.expires.Equal(tc.f.expires) {
				t.Errorf("got %+v; want %+v", *got, tc.f)
			}
		})
	}
}

func TestDecodeForwardErrors(t *testing.T) {
	good := encodeForward(&forward{to: hashOf("to"), expires: t0})
	resum := func(body []byte) []byte { return appendChecksum(slices.Clone(body)) }
	body := good[:len(good)-4]
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"bad checksum", append(slices.Clone(body), 0, 0, 0, 0), "checksum mismatch"},
		{"short target", resum(body[:20]), "bad forward target"},
		{"zero target", resum(append(append([]byte{tagForward}, make([]byte, driver.HashSize)...), body[1+driver.HashSize:]...)), "forward to the zero hash"},
		{"no expiry", resum(body[:1+driver.HashSize]), "bad forward expiry"},
		{"trailing bytes", resum(append(slices.Clone(body), 0)), "1 trailing bytes"},
		{"unknown tag", resum(append([]byte{9}, body[1:]...)), "unknown tag 9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeStored(tc.data, false)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err %v; want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %q; want it to contain %q", err, tc.want)
			}
		})
	}
}
