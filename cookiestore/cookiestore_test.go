package cookiestore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/memstore"
)

const cookieName = "__Host-session"

var t0 = time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)

func newStore(t testing.TB, keys *latch.Keyring, opts cookiestore.Options) *cookiestore.Store {
	t.Helper()
	s, err := cookiestore.New(keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newFrozenRevokingStore returns a store whose revocations are kept in a
// memstore, both with a clock that stands still at t0.
func newFrozenRevokingStore(t testing.TB) *cookiestore.Store {
	t.Helper()
	now := func() time.Time { return t0 }
	revs, err := memstore.New(memstore.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { revs.Close() })
	return newStore(t, testKeys(t, "k1"), cookiestore.Options{Revocations: cookiestore.StoreRevocations(revs), Now: now})
}

// sampleRecord is a logged-in session as the Manager seals it.
func sampleRecord() *latch.Record {
	return &latch.Record{
		Meta: latch.Meta{
			UserID:          "alice",
			Created:         t0.Add(-time.Hour),
			LastSeen:        t0,
			AuthTime:        t0.Add(-30 * time.Minute),
			IdleTimeout:     30 * time.Minute,
			AbsoluteTimeout: 12 * time.Hour,
			UserAgent:       "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
			IP:              "192.0.2.10",
			Grace:           5 * time.Minute,
		},
		Values: map[string]any{"cart": 3, "theme": "dark"},
	}
}

func hashOf(s string) latch.Hash {
	var h latch.Hash
	copy(h[:], s)
	return h
}

func mustSeal(t testing.TB, s *cookiestore.Store, id latch.Hash, rec *latch.Record, now time.Time) string {
	t.Helper()
	v, err := s.Seal(context.Background(), cookieName, id, rec, now)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRoundTrip(t *testing.T) {
	s := newStore(t, testKeys(t, "k1"), cookiestore.Options{})
	anon := &latch.Record{Meta: latch.Meta{Created: t0, LastSeen: t0, IdleTimeout: time.Minute, AbsoluteTimeout: time.Hour}}
	remember := sampleRecord()
	remember.Remember = true
	remember.IdleTimeout, remember.AbsoluteTimeout = 7*24*time.Hour, 30*24*time.Hour
	nested := sampleRecord()
	nested.Values = map[string]any{
		"n":     int64(9007199254740993), // past float64 precision
		"f":     1.5,
		"neg":   -7,
		"list":  []any{1, "two", true, nil},
		"obj":   map[string]any{"a": map[string]any{"b": "c"}},
		"when":  t0,
		"empty": "",
		"uni":   "héllo ☃ \u2028",
		"":      "empty key",
	}
	tests := []struct {
		name string
		rec  *latch.Record
		// want are the values as JSON stores give them back.
		want map[string]any
	}{
		{"anonymous without values", anon, nil},
		{"logged in", sampleRecord(), map[string]any{"cart": json.Number("3"), "theme": "dark"}},
		{"remember-me", remember, map[string]any{"cart": json.Number("3"), "theme": "dark"}},
		{"values of every JSON type", nested, map[string]any{
			"n":     json.Number("9007199254740993"),
			"f":     json.Number("1.5"),
			"neg":   json.Number("-7"),
			"list":  []any{json.Number("1"), "two", true, nil},
			"obj":   map[string]any{"a": map[string]any{"b": "c"}},
			"when":  t0.Format(time.RFC3339Nano),
			"empty": "",
			"uni":   "héllo ☃ \u2028",
			"":      "empty key",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := hashOf("session-" + tt.name)
			v := mustSeal(t, s, id, tt.rec, t0)
			rec, gotID, reseal, reason, err := s.Open(context.Background(), cookieName, v, t0.Add(time.Second))
			if err != nil || reason != "" {
				t.Fatalf("Open: reason %q, err %v", reason, err)
			}
			if gotID != id || reseal {
				t.Errorf("id %v reseal %v; want %v false", gotID, reseal, id)
			}
			if !reflect.DeepEqual(rec.Meta, normalise(tt.rec.Meta)) {
				t.Errorf("meta\n got %+v\nwant %+v", rec.Meta, normalise(tt.rec.Meta))
			}
			if len(tt.want) == 0 && len(rec.Values) != 0 || len(tt.want) > 0 && !reflect.DeepEqual(rec.Values, tt.want) {
				t.Errorf("values\n got %#v\nwant %#v", rec.Values, tt.want)
			}
			// Values decode as latch.DecodeValue decodes each of them.
			for k, want := range tt.rec.Values {
				b, err := latch.EncodeValue(want)
				if err != nil {
					t.Fatal(err)
				}
				dv, err := latch.DecodeValue(b)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(rec.Values[k], dv) {
					t.Errorf("value %q: %#v; DecodeValue gives %#v", k, rec.Values[k], dv)
				}
			}
		})
	}
}

// normalise gives m's times in UTC without a monotonic reading, as Open
// returns them.
func normalise(m latch.Meta) latch.Meta {
	for _, p := range []*time.Time{&m.Created, &m.LastSeen, &m.AuthTime} {
		if !p.IsZero() {
			*p = p.UTC().Round(0)
		}
	}
	return m
}

func TestSealIsRandomised(t *testing.T) {
	s := newStore(t, testKeys(t, "k1"), cookiestore.Options{})
	a := mustSeal(t, s, hashOf("x"), sampleRecord(), t0)
	b := mustSeal(t, s, hashOf("x"), sampleRecord(), t0)
	if a == b {
		t.Error("two seals of the same record are equal: the nonce is not fresh")
	}
	if !strings.HasPrefix(a, "k1.") {
		t.Errorf("value %q does not start with the key id", a)
	}
}

func TestOpenRefusals(t *testing.T) {
	keys := testKeys(t, "k1", "k2")
	s := newStore(t, keys, cookiestore.Options{})
	// A record whose encoding ends in a partial base64 group, so that its
	// last character has unused low bits.
	var good, kid, enc string
	for pad := ""; ; pad += "p" {
		rec := sampleRecord()
		rec.Values["pad"] = pad
		good = mustSeal(t, s, hashOf("x"), rec, t0)
		kid, enc, _ = strings.Cut(good, ".")
		if len(enc)%4 != 0 {
			break
		}
	}
	other := newStore(t, testKeys(t, "k1"), cookiestore.Options{}) // same id, another secret
	foreign := mustSeal(t, other, hashOf("x"), sampleRecord(), t0)
	// lastChar changes only the unused low bits of the last base64url
	// character: a lax decoder would read the same bytes.
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", enc[len(enc)-1])
	lastChar := string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last^1])
	tests := []struct {
		name, value, cookie, want string
	}{
		{"empty", "", cookieName, latch.ReasonMalformed},
		{"key id only", "k1.", cookieName, latch.ReasonMalformed},
		{"no dot", kid + enc, cookieName, latch.ReasonMalformed},
		{"empty key id", "." + enc, cookieName, latch.ReasonMalformed},
		{"key id too long", strings.Repeat("k", 33) + "." + enc, cookieName, latch.ReasonMalformed},
		{"bad byte in key id", "k!." + enc, cookieName, latch.ReasonMalformed},
		{"standard base64 alphabet", kid + "." + strings.Repeat("+/", len(enc)/2), cookieName, latch.ReasonMalformed},
		{"padding", good + "==", cookieName, latch.ReasonMalformed},
		{"impossible length", kid + "." + enc[:len(enc)-(len(enc)-1)%4], cookieName, latch.ReasonMalformed},
		{"too short", kid + "." + enc[:40], cookieName, latch.ReasonMalformed},
		{"one megabyte", kid + "." + strings.Repeat("A", 1<<20), cookieName, latch.ReasonMalformed},
		{"just over the limit", kid + "." + strings.Repeat("A", cookiestore.MaxCookieSize-len(kid)), cookieName, latch.ReasonMalformed},
		{"non-canonical last character", good[:len(good)-1] + lastChar, cookieName, latch.ReasonMalformed},
		{"unknown key id", "k9." + enc, cookieName, latch.ReasonUnknownKey},
		{"sealed for another key id", "k2." + enc, cookieName, latch.ReasonBadMAC},
		{"sealed under another secret", foreign, cookieName, latch.ReasonBadMAC},
		{"sealed for another cookie", good, "__Host-other", latch.ReasonBadMAC},
		{"four characters cut out", kid + "." + enc[:20] + enc[24:], cookieName, latch.ReasonBadMAC},
		{"extended by four characters", good + "AAAA", cookieName, latch.ReasonBadMAC},
		{"zero bytes", kid + "." + strings.Repeat("A", len(enc)), cookieName, latch.ReasonBadMAC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, _, reseal, reason, err := s.Open(context.Background(), tt.cookie, tt.value, t0)
			if reason != tt.want || rec != nil || reseal || err != nil {
				t.Errorf("Open = %v, reseal %v, %q, %v; want nil, false, %q, nil", rec, reseal, reason, err, tt.want)
			}
		})
	}
}

// TestRefusalIsCheap checks that values refused on their shape, length or
// key id cost no allocation and no cryptography.
func TestRefusalIsCheap(t *testing.T) {
	s := newStore(t, testKeys(t, "k1"), cookiestore.Options{})
	good := mustSeal(t, s, hashOf("x"), sampleRecord(), t0)
	_, enc, _ := strings.Cut(good, ".")
	tests := []struct {
		name, value, want string
	}{
		{"one megabyte", "k1." + strings.Repeat("A", 1<<20), latch.ReasonMalformed},
		{"no dot", strings.Repeat("A", 400), latch.ReasonMalformed},
		{"bad alphabet", "k1." + strings.Repeat("*", 400), latch.ReasonMalformed},
		{"unknown key", "k9." + enc, latch.ReasonUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reason string
			allocs := testing.AllocsPerRun(20, func() {
				_, _, _, reason, _ = s.Open(context.Background(), cookieName, tt.value, t0)
			})
			if reason != tt.want || allocs != 0 {
				t.Errorf("Open: %q with %.0f allocations; want %q with none", reason, allocs, tt.want)
			}
		})
	}
}

func TestTamperEveryByte(t *testing.T) {
	s := newStore(t, testKeys(t, "k1"), cookiestore.Options{})
	good := mustSeal(t, s, hashOf("x"), sampleRecord(), t0)
	check := func(v string) {
		t.Helper()
		rec, _, _, reason, err := s.Open(context.Background(), cookieName, v, t0)
		if reason == "" || rec != nil || err != nil {
			t.Fatalf("tampered value %q accepted (reason %q, err %v)", v, reason, err)
		}
	}
	for i := range len(good) {
		for _, c := range []byte("A_-.9z") {
			if good[i] == c {
				continue
			}
			check(good[:i] + string(c) + good[i+1:])
		}
		check(good[:i])              // truncated
		check(good[:i] + good[i+1:]) // one byte dropped
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey := latch.Key{ID: "old", Secret: latch.GenerateKey()}
	newKey := latch.Key{ID: "new", Secret: latch.GenerateKey()}
	ring := func(keys ...latch.Key) *latch.Keyring {
		r, err := latch.NewKeyring(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	retired := oldKey
	retired.Retire = t0.AddDate(0, 0, -1) // last valid day: yesterday
	lastDay := oldKey
	lastDay.Retire = t0 // last valid day: today

	sealed := mustSeal(t, newStore(t, ring(oldKey), cookiestore.Options{}), hashOf("x"), sampleRecord(), t0)
	tests := []struct {
		name       string
		keys       *latch.Keyring
		wantReason string
		wantReseal bool
	}{
		{"primary", ring(oldKey), "", false},
		{"fallback", ring(newKey, oldKey), "", true},
		{"fallback on its last day", ring(newKey, lastDay), "", true},
		{"retired fallback", ring(newKey, retired), latch.ReasonRetiredKey, false},
		{"key removed", ring(newKey), latch.ReasonUnknownKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, tt.keys, cookiestore.Options{})
			rec, _, reseal, reason, err := s.Open(context.Background(), cookieName, sealed, t0)
			if reason != tt.wantReason || reseal != tt.wantReseal || err != nil || (reason == "") != (rec != nil) {
				t.Errorf("Open = %v, reseal %v, %q, %v; want reseal %v, %q", rec != nil, reseal, reason, err, tt.wantReseal, tt.wantReason)
			}
			if reseal {
				again := mustSeal(t, s, hashOf("x"), rec, t0)
				if !strings.HasPrefix(again, "new.") {
					t.Errorf("resealed under %q", again[:4])
				}
			}
		})
	}
}

func TestSealRefusesRetiredPrimary(t *testing.T) {
	keys, err := latch.NewKeyring(latch.Key{ID: "k1", Secret: latch.GenerateKey(), Retire: time.Now().AddDate(0, 0, 3)})
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, keys, cookiestore.Options{})
	_, err = s.Seal(context.Background(), cookieName, hashOf("x"), sampleRecord(), time.Now().AddDate(0, 0, 5))
	if err == nil || !strings.Contains(err.Error(), `primary key "k1" retired`) {
		t.Errorf("Seal after the primary retired: %v", err)
	}
}

func TestOpenRefusesExpiredRecord(t *testing.T) {
	s := newStore(t, testKeys(t, "k1"), cookiestore.Options{})
	rec := sampleRecord() // idle deadline t0+30m, grace 5m
	v := mustSeal(t, s, hashOf("x"), rec, t0)
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{"before the deadline", t0.Add(29 * time.Minute), ""},
		{"in the grace after the deadline", t0.Add(34 * time.Minute), ""}, // the Manager reports "idle"
		{"at ExpiresAt", rec.ExpiresAt(), latch.ReasonNotFound},
		{"long after", t0.Add(48 * time.Hour), latch.ReasonNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, id, _, reason, err := s.Open(context.Background(), cookieName, v, tt.at)
			if reason != tt.want || err != nil || (reason == "") != (got != nil) {
				t.Errorf("Open at %v: %q, %v; want %q", tt.at, reason, err, tt.want)
			}
			if id != hashOf("x") {
				t.Errorf("id %v; want the session's hash even when refused", id)
			}
		})
	}
}

func TestSealErrors(t *testing.T) {
	s := newStore(t, testKeys(t, "k1"), cookiestore.Options{})
	mod := func(f func(r *latch.Record)) *latch.Record {
		r := sampleRecord()
		f(r)
		return r
	}
	tests := []struct {
		name string
		rec  *latch.Record
		want string
	}{
		{"nil record", nil, "needs a record"},
		{"zero Created", mod(func(r *latch.Record) { r.Created = time.Time{} }), "Meta.Created"},
		{"time past 2262", mod(func(r *latch.Record) { r.LastSeen = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }), "Meta.LastSeen"},
		{"negative timeout", mod(func(r *latch.Record) { r.IdleTimeout = -time.Second }), "Meta.IdleTimeout"},
		{"value JSON cannot encode", mod(func(r *latch.Record) { r.Values["ch"] = make(chan int) }), "encode session values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Seal(context.Background(), cookieName, hashOf("x"), tt.rec, t0)
			if err == nil || !strings.HasPrefix(err.Error(), "cookiestore: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Seal: %v; want an error about %q", err, tt.want)
			}
		})
	}
}

func TestSizeLimit(t *testing.T) {
	tests := []struct {
		name             string
		compress         bool
		from, to, stride int // value lengths that cross the limit
	}{
		{"plain", false, 2700, 3000, 1},
		{"compressed", true, 3300, 4200, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testSizeLimit(t, tt.compress, tt.from, tt.to, tt.stride) })
	}
}

func testSizeLimit(t *testing.T, compress bool, from, to, stride int) {
	s := newStore(t, testKeys(t, "k1"), cookiestore.Options{Compress: compress})
	var sawOK, sawTooLarge bool
	// Walk across the limit one byte of value at a time.
	for n := from; n < to; n += stride {
		rec := sampleRecord()
		rec.Values = map[string]any{"v": randomText(n)}
		v, err := s.Seal(context.Background(), cookieName, hashOf("x"), rec, t0)
		size := len(cookieName) + 1 + len(v)
		var tle *cookiestore.TooLargeError
		switch {
		case err == nil:
			sawOK = true
			if size > cookiestore.MaxCookieSize {
				t.Fatalf("value of %d bytes sealed into a %d-byte cookie", n, size)
			}
			// Every length seals and opens: the ciphertext never lands
			// outside the buffer, whatever its capacity.
			got, _, _, reason, _ := s.Open(context.Background(), cookieName, v, t0)
			if reason != "" || got.Values["v"] != rec.Values["v"] {
				t.Fatalf("value of %d bytes: Open %q", n, reason)
			}
		case errors.As(err, &tle) && errors.Is(err, cookiestore.ErrTooLarge):
			sawTooLarge = true
			if tle.Size <= cookiestore.MaxCookieSize {
				t.Fatalf("value of %d bytes: TooLargeError.Size %d within the limit", n, tle.Size)
			}
			want := fmt.Sprintf("cookiestore: session cookie would be %d bytes, over the 4096-byte limit", tle.Size)
			if err.Error() != want {
				t.Fatalf("error %q; want %q", err, want)
			}
		default:
			t.Fatalf("value of %d bytes: %v", n, err)
		}
	}
	if !sawOK || !sawTooLarge {
		t.Errorf("the walk did not cross the limit (ok %v, too large %v)", sawOK, sawTooLarge)
	}
}

// TestSizes measures the cookie for typical sessions, with and without
// compression, and checks that compression is used only when it helps.
func TestSizes(t *testing.T) {
	keys := testKeys(t, "k1")
	plain := newStore(t, keys, cookiestore.Options{})
	packed := newStore(t, keys, cookiestore.Options{Compress: true})
	randomText := make([]byte, 600)
	rand.Read(randomText)
	cart := make([]any, 30)
	for i := range cart {
		cart[i] = map[string]any{"sku": fmt.Sprintf("SKU-%05d", i*37), "quantity": i%3 + 1, "gift_wrap": false}
	}
	tests := []struct {
		name         string
		values       map[string]any
		shouldShrink bool
	}{
		{"no values", nil, false},
		{"a few small values", map[string]any{"theme": "dark", "lang": "en", "csrf": base64.RawURLEncoding.EncodeToString(randomText[:32])}, false},
		{"shopping cart of 30 items", map[string]any{"cart": cart}, true},
		{"600 random bytes", map[string]any{"blob": base64.StdEncoding.EncodeToString(randomText)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := sampleRecord()
			rec.Values = tt.values
			a := mustSeal(t, plain, hashOf("x"), rec, t0)
			b := mustSeal(t, packed, hashOf("x"), rec, t0)
			t.Logf("%s: %d bytes plain, %d compressed", tt.name, len(a), len(b))
			if len(b) > len(a) {
				t.Errorf("compression made the cookie longer: %d > %d", len(b), len(a))
			}
			if tt.shouldShrink && len(b) >= len(a)*3/4 {
				t.Errorf("compression saved too little: %d -> %d", len(a), len(b))
			}
			got, _, _, reason, _ := packed.Open(context.Background(), cookieName, b, t0)
			if reason != "" || !reflect.DeepEqual(jsonOf(t, got.Values), jsonOf(t, rec.Values)) {
				t.Errorf("compressed cookie: %q, values %s", reason, jsonOf(t, got.Values))
			}
			// A store without compression opens compressed cookies too, so
			// the option can be turned off without logging anyone out.
			if _, _, _, reason, _ := plain.Open(context.Background(), cookieName, b, t0); reason != "" {
				t.Errorf("compressed cookie opened without Compress: %q", reason)
			}
		})
	}
}

// randomText returns n characters that do not compress well.
func randomText(n int) string {
	b := make([]byte, (n*3+3)/4)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

func jsonOf(t *testing.T, v map[string]any) string {
	t.Helper()
	if len(v) == 0 {
		return "{}"
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNew(t *testing.T) {
	keys := testKeys(t, "k1")
	ok := func(context.Context, string) (time.Time, error) { return time.Time{}, nil }
	rev := func(context.Context, string, time.Time) error { return nil }
	tests := []struct {
		name string
		keys *latch.Keyring
		opts cookiestore.Options
		want string // "" for success
	}{
		{"defaults", keys, cookiestore.Options{}, ""},
		{"no keyring", nil, cookiestore.Options{}, "needs a keyring"},
		{"funcs", keys, cookiestore.Options{Revocations: cookiestore.FuncRevocations{NotBeforeFunc: ok, RevokeFunc: rev}}, ""},
		{"funcs by pointer", keys, cookiestore.Options{Revocations: &cookiestore.FuncRevocations{NotBeforeFunc: ok, RevokeFunc: rev}}, ""},
		{"no NotBeforeFunc", keys, cookiestore.Options{Revocations: cookiestore.FuncRevocations{RevokeFunc: rev}}, "needs both"},
		{"no RevokeFunc", keys, cookiestore.Options{Revocations: cookiestore.FuncRevocations{NotBeforeFunc: ok}}, "needs both"},
		{"nil pointer", keys, cookiestore.Options{Revocations: (*cookiestore.FuncRevocations)(nil)}, "needs both"},
		{"store revocations without a store", keys, cookiestore.Options{Revocations: cookiestore.StoreRevocations(nil)}, "needs a store"},
		{"store revocations in a cookie store", keys, cookiestore.Options{Revocations: cookiestore.StoreRevocations(newStore(t, keys, cookiestore.Options{}))}, "server-side store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := cookiestore.New(tt.keys, tt.opts)
			if tt.want == "" {
				if err != nil || s == nil {
					t.Errorf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "cookiestore: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v; want an error about %q", err, tt.want)
			}
		})
	}
}

func TestStoreMethods(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	without := newStore(t, testKeys(t, "k1"), cookiestore.Options{})
	var revoked []string
	with := newStore(t, testKeys(t, "k1"), cookiestore.Options{
		Now: func() time.Time { return t0 },
		Revocations: cookiestore.FuncRevocations{
			NotBeforeFunc: func(context.Context, string) (time.Time, error) { return time.Time{}, nil },
			RevokeFunc: func(_ context.Context, user string, at time.Time) error {
				revoked = append(revoked, user+"@"+at.Format(time.RFC3339Nano))
				return nil
			},
		},
	})
	tests := []struct {
		name    string
		call    func() error
		wantErr error // nil: no error
	}{
		{"Load", func() error { _, err := with.Load(ctx, hashOf("x")); return err }, latch.ErrNotSupported},
		{"Commit", func() error { return with.Commit(ctx, &latch.Commit{}) }, latch.ErrNotSupported},
		{"ListUser", func() error { _, err := with.ListUser(ctx, "alice"); return err }, latch.ErrNotSupported},
		{"Delete", func() error { return with.Delete(ctx, hashOf("x")) }, nil},
		{"Delete cancelled", func() error { return with.Delete(cancelled, hashOf("x")) }, context.Canceled},
		{"DeleteUser without revocations", func() error { _, err := without.DeleteUser(ctx, "alice", latch.Hash{}); return err }, latch.ErrNotSupported},
		{"DeleteUser cancelled", func() error { _, err := with.DeleteUser(cancelled, "alice", latch.Hash{}); return err }, context.Canceled},
		{"DeleteUser", func() error {
			n, err := with.DeleteUser(ctx, "alice", hashOf("keep"))
			if err == nil && n != -1 {
				return fmt.Errorf("DeleteUser returned %d; want -1", n)
			}
			return err
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("err = %v; want %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, context.Canceled) && !strings.HasPrefix(err.Error(), "cookiestore: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	if _, err := with.DeleteUser(ctx, "", latch.Hash{}); err == nil {
		t.Error("DeleteUser of the empty user id succeeded")
	}
	if want := []string{"alice@" + t0.Format(time.RFC3339Nano)}; !reflect.DeepEqual(revoked, want) {
		t.Errorf("revocations %q; want %q", revoked, want)
	}
}

func TestRevocationOrdersSeals(t *testing.T) {
	// With a clock that does not move, a seal before DeleteUser is refused
	// and a seal after it accepted.
	s := newFrozenRevokingStore(t)
	ctx := context.Background()
	before := mustSeal(t, s, hashOf("a"), sampleRecord(), t0)
	if _, err := s.DeleteUser(ctx, "alice", latch.Hash{}); err != nil {
		t.Fatal(err)
	}
	after := mustSeal(t, s, hashOf("b"), sampleRecord(), t0)
	anon := sampleRecord()
	anon.UserID = ""
	anonBefore := mustSeal(t, s, hashOf("c"), anon, t0.Add(-time.Second))
	tests := []struct {
		name, value, want string
	}{
		{"sealed before", before, latch.ReasonNotFound},
		{"sealed after, same instant", after, ""},
		{"anonymous: never revoked", anonBefore, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, reason, err := s.Open(ctx, cookieName, tt.value, t0)
			if reason != tt.want || err != nil {
				t.Errorf("Open: %q, %v; want %q", reason, err, tt.want)
			}
		})
	}
}

// failingStore is a latch.Store whose every call fails.
type failingStore struct{ latch.Store }

var errStoreDown = errors.New("store down")

func (failingStore) Load(context.Context, latch.Hash) (*latch.Record, error) {
	return nil, errStoreDown
}
func (failingStore) Commit(context.Context, *latch.Commit) error { return errStoreDown }

func TestStoreRevocations(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	ms, err := memstore.New(memstore.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	r := cookiestore.StoreRevocations(ms)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	want := func(what, user string, w time.Time) {
		t.Helper()
		got, err := r.NotBefore(ctx, user)
		if err != nil || !got.Equal(w) {
			t.Errorf("%s: NotBefore(%q) = %v, %v; want %v", what, user, got, err, w)
		}
	}
	want("nothing recorded", "alice", time.Time{})
	steps := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"first revocation", at(time.Second), at(time.Second)},
		{"a later one moves it forward", at(time.Minute + 1), at(time.Minute + 1)},
		{"an earlier one never moves it back", at(time.Second), at(time.Minute + 1)},
	}
	for _, st := range steps {
		if err := r.Revoke(ctx, "alice", st.at); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want(st.name, "alice", st.want)
	}
	want("another user", "bob", time.Time{})
	if err := r.Revoke(ctx, "", t0); err == nil {
		t.Error("Revoke of the empty user id succeeded")
	}
	// The record is in no user's index, so the store's DeleteUser leaves it.
	if infos, err := ms.ListUser(ctx, "alice"); err != nil || len(infos) != 0 {
		t.Errorf("ListUser = %v, %v; want nothing", infos, err)
	}
	if _, err := ms.DeleteUser(ctx, "alice", latch.Hash{}); err != nil {
		t.Fatal(err)
	}
	want("after the store's DeleteUser", "alice", at(time.Minute+1))
	// It lives as long as any session sealed before it could.
	c.Advance(cookiestore.RevocationLifetime)
	want("just before it expires", "alice", at(time.Minute+1))
	c.Advance(time.Minute + 1)
	want("after it expired", "alice", time.Time{})

	broken := cookiestore.StoreRevocations(failingStore{})
	if _, err := broken.NotBefore(ctx, "alice"); !errors.Is(err, errStoreDown) || !strings.HasPrefix(err.Error(), "cookiestore: ") {
		t.Errorf("NotBefore on a failing store: %v", err)
	}
	if err := broken.Revoke(ctx, "alice", t0); !errors.Is(err, errStoreDown) {
		t.Errorf("Revoke on a failing store: %v", err)
	}
}

func TestFuncRevocationsZeroValue(t *testing.T) {
	var f cookiestore.FuncRevocations
	if _, err := f.NotBefore(context.Background(), "alice"); err == nil {
		t.Error("NotBefore without NotBeforeFunc succeeded")
	}
	if err := f.Revoke(context.Background(), "alice", t0); err == nil {
		t.Error("Revoke without RevokeFunc succeeded")
	}
}

// TestConcurrentRevocation seals and revokes from many goroutines with a
// clock that stands still: seals finished before DeleteUser are refused,
// seals begun after it are accepted, whatever ran in between.
func TestConcurrentRevocation(t *testing.T) {
	s := newFrozenRevokingStore(t)
	ctx := context.Background()
	sealMany := func(n int) []string {
		out := make([]string, n)
		var wg sync.WaitGroup
		for i := range out {
			wg.Go(func() {
				v, err := s.Seal(ctx, cookieName, hashOf(fmt.Sprint(i)), sampleRecord(), t0)
				if err != nil {
					t.Error(err)
				}
				out[i] = v
			})
		}
		wg.Wait()
		return out
	}
	before := sealMany(20)
	var wg sync.WaitGroup
	wg.Go(func() { sealMany(20) }) // races with the revocation: either outcome is right
	wg.Go(func() {
		if _, err := s.DeleteUser(ctx, "alice", latch.Hash{}); err != nil {
			t.Error(err)
		}
	})
	wg.Go(func() {
		for _, v := range before {
			s.Open(ctx, cookieName, v, t0)
		}
	})
	wg.Wait()
	after := sealMany(20)
	for i, v := range before {
		if _, _, _, reason, _ := s.Open(ctx, cookieName, v, t0); reason != latch.ReasonNotFound {
			t.Errorf("cookie %d sealed before the revocation: %q; want not-found", i, reason)
		}
	}
	for i, v := range after {
		if _, _, _, reason, _ := s.Open(ctx, cookieName, v, t0); reason != "" {
			t.Errorf("cookie %d sealed after the revocation: %q", i, reason)
		}
	}
}
