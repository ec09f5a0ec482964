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
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/driver"
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

// sampleRecord is a logged-in session as the Manager seals it.
func sampleRecord() *driver.Record {
	return &driver.Record{
		Meta: driver.Meta{
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

func hashOf(s string) driver.Hash {
	var h driver.Hash
	copy(h[:], s)
	return h
}

func mustSeal(t testing.TB, s *cookiestore.Store, id driver.Hash, rec *driver.Record, now time.Time) string {
	t.Helper()
	v, err := s.Seal(context.Background(), cookieName, id, rec, now)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRoundTrip(t *testing.T) {
	s := newStore(t, testKeys(t, "k1"), cookiestore.Options{})
	anon := &driver.Record{Meta: driver.Meta{Created: t0, LastSeen: t0, IdleTimeout: time.Minute, AbsoluteTimeout: time.Hour}}
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
		rec  *driver.Record
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
			o, err := s.Open(context.Background(), cookieName, v, t0.Add(time.Second))
			if err != nil || o.Refused != "" {
				t.Fatalf("Open: refused %q, err %v", o.Refused, err)
			}
			if o.ID != id || o.Fallback {
				t.Errorf("id %v fallback %v; want %v false", o.ID, o.Fallback, id)
			}
			rec := o.Record
			if !reflect.DeepEqual(rec.Meta, normalise(tt.rec.Meta)) {
				t.Errorf("meta\n got %+v\nwant %+v", rec.Meta, normalise(tt.rec.Meta))
			}
			if len(tt.want) == 0 && len(rec.Values) != 0 || len(tt.want) > 0 && !reflect.DeepEqual(rec.Values, tt.want) {
				t.Errorf("values\n got %#v\nwant %#v", rec.Values, tt.want)
			}
			// Values decode as driver.DecodeValue decodes each of them.
			for k, want := range tt.rec.Values {
				b, err := driver.EncodeValue(want)
				if err != nil {
					t.Fatal(err)
				}
				dv, err := driver.DecodeValue(b)
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
func normalise(m driver.Meta) driver.Meta {
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
		name, value, cookie string
		want                driver.Reason
	}{
		{"empty", "", cookieName, driver.ReasonMalformed},
		{"key id only", "k1.", cookieName, driver.ReasonMalformed},
		{"no dot", kid + enc, cookieName, driver.ReasonMalformed},
		{"empty key id", "." + enc, cookieName, driver.ReasonMalformed},
		{"key id too long", strings.Repeat("k", 33) + "." + enc, cookieName, driver.ReasonMalformed},
		{"bad byte in key id", "k!." + enc, cookieName, driver.ReasonMalformed},
		{"standard base64 alphabet", kid + "." + strings.Repeat("+/", len(enc)/2), cookieName, driver.ReasonMalformed},
		{"padding", good + "==", cookieName, driver.ReasonMalformed},
		{"impossible length", kid + "." + enc[:len(enc)-(len(enc)-1)%4], cookieName, driver.ReasonMalformed},
		{"too short", kid + "." + enc[:40], cookieName, driver.ReasonMalformed},
		{"one megabyte", kid + "." + strings.Repeat("A", 1<<20), cookieName, driver.ReasonMalformed},
		{"just over the limit", kid + "." + strings.Repeat("A", cookiestore.MaxCookieSize-len(kid)), cookieName, driver.ReasonMalformed},
		{"non-canonical last character", good[:len(good)-1] + lastChar, cookieName, driver.ReasonMalformed},
		{"unknown key id", "k9." + enc, cookieName, driver.ReasonUnknownKey},
		{"sealed for another key id", "k2." + enc, cookieName, driver.ReasonBadMAC},
		{"sealed under another secret", foreign, cookieName, driver.ReasonBadMAC},
		{"sealed for another cookie", good, "__Host-other", driver.ReasonBadMAC},
		{"four characters cut out", kid + "." + enc[:20] + enc[24:], cookieName, driver.ReasonBadMAC},
		{"extended by four characters", good + "AAAA", cookieName, driver.ReasonBadMAC},
		{"zero bytes", kid + "." + strings.Repeat("A", len(enc)), cookieName, driver.ReasonBadMAC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := s.Open(context.Background(), tt.cookie, tt.value, t0)
			if o.Refused != tt.want || o.Record != nil || o.Fallback || err != nil {
				t.Errorf("Open = %+v, %v; want refused %q, nil", o, err, tt.want)
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
		name, value string
		want        driver.Reason
	}{
		{"one megabyte", "k1." + strings.Repeat("A", 1<<20), driver.ReasonMalformed},
		{"no dot", strings.Repeat("A", 400), driver.ReasonMalformed},
		{"bad alphabet", "k1." + strings.Repeat("*", 400), driver.ReasonMalformed},
		{"unknown key", "k9." + enc, driver.ReasonUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reason driver.Reason
			allocs := testing.AllocsPerRun(20, func() {
				o, _ := s.Open(context.Background(), cookieName, tt.value, t0)
				reason = o.Refused
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
		o, err := s.Open(context.Background(), cookieName, v, t0)
		if o.Refused == "" || o.Record != nil || err != nil {
			t.Fatalf("tampered value %q accepted (refused %q, err %v)", v, o.Refused, err)
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
	retired.Retire = t0 // refused from this instant on
	lastSecond := oldKey
	lastSecond.Retire = t0.Add(time.Second) // still accepted at t0

	sealed := mustSeal(t, newStore(t, ring(oldKey), cookiestore.Options{}), hashOf("x"), sampleRecord(), t0)
	tests := []struct {
		name         string
		keys         *latch.Keyring
		wantReason   driver.Reason
		wantFallback bool
	}{
		{"primary", ring(oldKey), "", false},
		{"fallback", ring(newKey, oldKey), "", true},
		{"fallback in its last second", ring(newKey, lastSecond), "", true},
		{"retired fallback", ring(newKey, retired), driver.ReasonRetiredKey, false},
		{"key removed", ring(newKey), driver.ReasonUnknownKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, tt.keys, cookiestore.Options{})
			o, err := s.Open(context.Background(), cookieName, sealed, t0)
			if o.Refused != tt.wantReason || o.Fallback != tt.wantFallback || err != nil || (o.Refused == "") != (o.Record != nil) {
				t.Errorf("Open = %+v, %v; want fallback %v, refused %q", o, err, tt.wantFallback, tt.wantReason)
			}
			if o.Fallback {
				again := mustSeal(t, s, hashOf("x"), o.Record, t0)
				if !strings.HasPrefix(again, "new.") {
					t.Errorf("resealed under %q", again[:4])
				}
			}
		})
	}
}

// The key that seals is the keyring's signing key at the time of sealing:
// a staged key from its activation, the next valid key once the signing key
// retires. A value sealed under the key it replaces opens as a fallback.
func TestSealUsesSigningKeyAtNow(t *testing.T) {
	h := 10 * time.Minute // within the sample record's idle timeout
	ring := func(keys ...latch.Key) *latch.Keyring {
		for i := range keys {
			keys[i].Secret = latch.GenerateKey()
		}
		r, err := latch.NewKeyringAt(t0, keys...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name       string
		keys       *latch.Keyring
		before, at string // the key that seals at t0 and at t0+h
	}{
		{"staged key", ring(latch.Key{ID: "old"}, latch.Key{ID: "new", Activate: t0.Add(h)}), "old", "new"},
		{"signing key retires", ring(latch.Key{ID: "old", Retire: t0.Add(h)}, latch.Key{ID: "new"}), "old", "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, tt.keys, cookiestore.Options{})
			first := mustSeal(t, s, hashOf("x"), sampleRecord(), t0)
			if !strings.HasPrefix(first, tt.before+".") {
				t.Fatalf("sealed at t0 under %q; want %q", first[:4], tt.before)
			}
			if v := mustSeal(t, s, hashOf("x"), sampleRecord(), t0.Add(h)); !strings.HasPrefix(v, tt.at+".") {
				t.Fatalf("sealed at t0+h under %q; want %q", v[:4], tt.at)
			}
			o, err := s.Open(context.Background(), cookieName, first, t0.Add(h-time.Second))
			if err != nil || o.Refused != "" || o.Fallback {
				t.Fatalf("Open before the change = %+v, %v; want it open and not a fallback", o, err)
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
	if !errors.Is(err, latch.ErrNoSigningKey) {
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
		want driver.Reason
	}{
		{"before the deadline", t0.Add(29 * time.Minute), ""},
		{"in the grace after the deadline", t0.Add(34 * time.Minute), ""}, // the Manager reports "idle"
		{"at ExpiresAt", rec.ExpiresAt(), driver.ReasonNotFound},
		{"long after", t0.Add(48 * time.Hour), driver.ReasonNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := s.Open(context.Background(), cookieName, v, tt.at)
			if o.Refused != tt.want || err != nil || (o.Refused == "") != (o.Record != nil) {
				t.Errorf("Open at %v: %q, %v; want %q", tt.at, o.Refused, err, tt.want)
			}
			if o.ID != hashOf("x") {
				t.Errorf("id %v; want the session's hash even when refused", o.ID)
			}
		})
	}
}

func TestSealErrors(t *testing.T) {
	s := newStore(t, testKeys(t, "k1"), cookiestore.Options{})
	mod := func(f func(r *driver.Record)) *driver.Record {
		r := sampleRecord()
		f(r)
		return r
	}
	tests := []struct {
		name string
		rec  *driver.Record
		want string
	}{
		{"nil record", nil, "needs a record"},
		{"zero Created", mod(func(r *driver.Record) { r.Created = time.Time{} }), "Meta.Created"},
		{"time past 2262", mod(func(r *driver.Record) { r.LastSeen = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }), "Meta.LastSeen"},
		{"negative timeout", mod(func(r *driver.Record) { r.IdleTimeout = -time.Second }), "Meta.IdleTimeout"},
		{"value JSON cannot encode", mod(func(r *driver.Record) { r.Values["ch"] = make(chan int) }), "encode session values"},
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
			o, _ := s.Open(context.Background(), cookieName, v, t0)
			if o.Refused != "" || o.Record.Values["v"] != rec.Values["v"] {
				t.Fatalf("value of %d bytes: Open %q", n, o.Refused)
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
			o, _ := packed.Open(context.Background(), cookieName, b, t0)
			if o.Refused != "" || !reflect.DeepEqual(jsonOf(t, o.Record.Values), jsonOf(t, rec.Values)) {
				t.Fatalf("compressed cookie: %+v", o)
			}
			// A store without compression opens compressed cookies too, so
			// the option can be turned off without logging anyone out.
			if o, _ := plain.Open(context.Background(), cookieName, b, t0); o.Refused != "" {
				t.Errorf("compressed cookie opened without Compress: %q", o.Refused)
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
	funcs := cookiestore.FuncRevocations{
		RevokeFunc:     func(context.Context, driver.Hash, time.Time) error { return nil },
		RenewedFunc:    func(context.Context, driver.Hash, driver.Hash, time.Time) error { return nil },
		RevokedFunc:    func(context.Context, driver.Hash) (driver.Reason, error) { return "", nil },
		RevokeUserFunc: func(context.Context, string, time.Time) error { return nil },
		NotBeforeFunc:  func(context.Context, string) (time.Time, error) { return time.Time{}, nil },
	}
	without := func(f func(*cookiestore.FuncRevocations)) cookiestore.FuncRevocations {
		g := funcs
		f(&g)
		return g
	}
	const incomplete = "needs RevokeFunc, RenewedFunc, RevokedFunc, RevokeUserFunc and NotBeforeFunc"
	tests := []struct {
		name string
		keys *latch.Keyring
		opts cookiestore.Options
		want string // "" for success
	}{
		{"defaults", keys, cookiestore.Options{}, ""},
		{"no keyring", nil, cookiestore.Options{}, "needs a keyring"},
		{"funcs", keys, cookiestore.Options{Revocations: funcs}, ""},
		{"funcs by pointer", keys, cookiestore.Options{Revocations: &funcs}, ""},
		{"no RevokeFunc", keys, cookiestore.Options{Revocations: without(func(f *cookiestore.FuncRevocations) { f.RevokeFunc = nil })}, incomplete},
		{"no RenewedFunc", keys, cookiestore.Options{Revocations: without(func(f *cookiestore.FuncRevocations) { f.RenewedFunc = nil })}, incomplete},
		{"no RevokedFunc", keys, cookiestore.Options{Revocations: without(func(f *cookiestore.FuncRevocations) { f.RevokedFunc = nil })}, incomplete},
		{"no RevokeUserFunc", keys, cookiestore.Options{Revocations: without(func(f *cookiestore.FuncRevocations) { f.RevokeUserFunc = nil })}, incomplete},
		{"no NotBeforeFunc", keys, cookiestore.Options{Revocations: without(func(f *cookiestore.FuncRevocations) { f.NotBeforeFunc = nil })}, incomplete},
		{"nil pointer", keys, cookiestore.Options{Revocations: (*cookiestore.FuncRevocations)(nil)}, incomplete},
		{"store revocations without a store", keys, cookiestore.Options{Revocations: cookiestore.StoreRevocations(nil)}, "needs a store"},
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
