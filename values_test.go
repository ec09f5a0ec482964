package latch_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

// valuesApp runs one function per request on a Manager, carrying the
// session cookie from one request to the next like a browser.
type valuesApp struct {
	t      *testing.T
	m      *latch.Manager
	events *latchtest.Events
	cookie string
}

// The backends a value passes through between two requests: the driver
// record codec (memstore), and a sealed cookie (cookiestore).
var valueBackends = []string{"memstore", "cookiestore"}

func newValuesApp(t *testing.T, backend string) *valuesApp {
	t.Helper()
	clock := latchtest.NewClock(time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC))
	keys := latchtest.Keys(t, "k1")
	a := &valuesApp{t: t, events: &latchtest.Events{}}
	cfg := latch.Config{Keys: keys, Now: clock.Now, OnEvent: a.events.Add, Logger: slog.New(slog.DiscardHandler)}
	ms, err := memstore.New(memstore.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	switch backend {
	case "memstore":
		cfg.Store = ms
	case "cookiestore":
		cfg.Stateless, err = cookiestore.New(keys, cookiestore.Options{Now: clock.Now, Revocations: cookiestore.StoreRevocations(ms)})
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	a.m, err = latch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// do makes one request that runs f, and keeps the cookie it sets.
func (a *valuesApp) do(f func(w http.ResponseWriter, s *latch.Session)) *http.Response {
	a.t.Helper()
	h := a.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := latch.FromContext(r.Context())
		if err != nil {
			panic(err)
		}
		f(w, s)
	}))
	req := httptest.NewRequest("POST", "/", nil)
	if a.cookie != "" {
		req.AddCookie(&http.Cookie{Name: a.m.CookieName(), Value: a.cookie})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.Name == a.m.CookieName() {
			a.cookie = c.Value
		}
	}
	return res
}

// roundTrip sets key to v in one request and returns read(s) as the same
// request sees it, and as the next request sees it after the backend
// stored and loaded it.
func (a *valuesApp) roundTrip(key string, v any, read func(*latch.Session) any) (same, next any) {
	a.t.Helper()
	a.do(func(w http.ResponseWriter, s *latch.Session) {
		if err := s.Set(key, v); err != nil {
			a.t.Fatalf("Set(%q, %#v): %v", key, v, err)
		}
		same = read(s)
	})
	a.do(func(w http.ResponseWriter, s *latch.Session) { next = read(s) })
	return same, next
}

type lostFields struct{ a, b int }

type failingMarshaler struct{}

// ptrMarshaler and ptrText encode themselves only through a pointer.
type ptrMarshaler struct{ n int }

func (p *ptrMarshaler) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, `{"n":%d}`, p.n), nil }

type ptrText struct{ n int }

func (p *ptrText) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "t%d", p.n), nil }

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("no JSON today") }

type textOnly struct{ v int }

func (t textOnly) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "v%d", t.v), nil }

type hidden struct {
	Name string `json:"-"`
	n    int
}

type inner struct{ Name string }

type withEmbedded struct {
	inner // unexported, but its exported field is promoted
	n     int
}

type withLostField struct {
	Name  string
	Inner lostFields
}

type withOmitted struct {
	Name string `json:",omitempty"`
}

type node struct {
	Next *node
}

// Set refuses, with a *ValueError that names the key, every value JSON
// cannot keep, and the session keeps what it had under the key.
func TestSetRefusesValuesJSONCannotKeep(t *testing.T) {
	cyclic := &node{}
	cyclic.Next = cyclic
	refused := []struct {
		name  string
		value any
		cause string // in the error's text
	}{
		{"channel", make(chan int), "unsupported type: chan int"},
		{"function", func() {}, "unsupported type: func()"},
		{"complex", complex(1, 2), "unsupported type: complex128"},
		{"NaN", math.NaN(), "unsupported value: NaN"},
		{"infinity", math.Inf(-1), "unsupported value: -Inf"},
		{"float32 NaN", float32(math.NaN()), "unsupported value: NaN"},
		{"failing MarshalJSON", failingMarshaler{}, "no JSON today"},
		{"cycle", cyclic, "cycle"},
		{"channel in a map", map[string]any{"c": make(chan int)}, "chan int"},
		{"struct of unexported fields", lostFields{1, 2}, "latch_test.lostFields has no field that JSON encodes"},
		{"pointer to it", &lostFields{1, 2}, "latch_test.lostFields"},
		{"fields hidden by tags", hidden{"x", 1}, "latch_test.hidden"},
		{"in a slice", []any{1, lostFields{}}, "latch_test.lostFields"},
		{"in a map", map[string]any{"x": []lostFields{{}}}, "latch_test.lostFields"},
		{"in a field", withLostField{Name: "n"}, "latch_test.lostFields"},
		{"an error value", errors.New("boom"), "errors.errorString has no field"},
		// encoding/json calls a pointer receiver's method only on a value
		// it can address: not one held in an interface or a map.
		{"MarshalJSON on the pointer, value given", ptrMarshaler{7}, "latch_test.ptrMarshaler"},
		{"MarshalText on the pointer, in a map", map[string]ptrText{"a": {7}}, "latch_test.ptrText"},
	}
	for _, tc := range refused {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			a := newValuesApp(t, "memstore")
			a.do(func(w http.ResponseWriter, s *latch.Session) {
				s.Set("v", "before")
				err := s.Set("v", tc.value)
				var ve *latch.ValueError
				if !errors.As(err, &ve) || !errors.Is(err, latch.ErrBadValue) {
					t.Fatalf("Set = %v; want a *ValueError matching ErrBadValue", err)
				}
				if ve.Key != "v" || !strings.Contains(err.Error(), `value "v"`) || !strings.Contains(err.Error(), tc.cause) {
					t.Errorf("error %q (key %q); want the key %q and %q", err, ve.Key, "v", tc.cause)
				}
				if got := s.Get("v"); got != "before" {
					t.Errorf("after a refused Set the value is %#v; want the one before", got)
				}
			})
		})
	}

	big, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	kept := []struct {
		name  string
		value any
		want  string // the JSON the next request reads back
	}{
		{"empty struct", struct{}{}, `{}`},
		{"empty map", map[string]int{}, `{}`},
		{"omitempty fields left empty", withOmitted{}, `{}`},
		{"promoted field of an unexported embedded struct", withEmbedded{inner{"x"}, 1}, `{"Name":"x"}`},
		{"unexported fields with MarshalText", textOnly{7}, `"v7"`},
		{"netip.Addr", netip.MustParseAddr("192.0.2.1"), `"192.0.2.1"`},
		{"big.Int", big, `123456789012345678901234567890`},
		{"time", time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC), `"2026-12-04T09:00:00Z"`},
		{"nil", nil, `null`},
		{"a string holding {}", "{}", `"{}"`},
		{"MarshalJSON on the pointer, pointer given", &ptrMarshaler{7}, `{"n":7}`},
		{"MarshalJSON on the pointer, in a slice", []ptrMarshaler{{7}}, `[{"n":7}]`},
		{"MarshalText on the pointer, in a struct given by pointer", &struct{ T ptrText }{ptrText{7}}, `{"T":"t7"}`},
	}
	for _, tc := range kept {
		t.Run("kept/"+tc.name, func(t *testing.T) {
			a := newValuesApp(t, "memstore")
			_, next := a.roundTrip("v", tc.value, func(s *latch.Session) any {
				b, err := json.Marshal(s.Get("v"))
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			})
			if next != tc.want {
				t.Errorf("read back %s; want %s", next, tc.want)
			}
		})
	}
}

// A value JSON cannot keep is the application's error: it is not a store
// outage (no 503, no store-error event), the handler's response goes out
// as it chose it, and the next request does not find a value in its
// place. Before, a channel answered 503 "the session store cannot be
// reached" instead of the handler's redirect, and a struct of unexported
// fields was stored as {}.
func TestBadValueIsNotAStoreOutage(t *testing.T) {
	values := []struct {
		name  string
		value any
	}{
		{"channel", make(chan int)},
		{"NaN", math.NaN()},
		{"failing MarshalJSON", failingMarshaler{}},
		{"struct of unexported fields", lostFields{1, 2}},
	}
	for _, backend := range valueBackends {
		for _, tc := range values {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				a := newValuesApp(t, backend)
				res := a.do(func(w http.ResponseWriter, s *latch.Session) {
					s.Set("theme", "dark")
					s.Set("bad", tc.value) // the error is ignored here on purpose
					w.Header().Set("Location", "/next")
					w.WriteHeader(http.StatusSeeOther)
				})
				if res.StatusCode != http.StatusSeeOther {
					t.Errorf("status %d; want the handler's 303", res.StatusCode)
				}
				if n := a.events.Count(latch.EventStoreError, ""); n != 0 {
					t.Errorf("%d store-error events; want none", n)
				}
				a.do(func(w http.ResponseWriter, s *latch.Session) {
					if v, ok := s.Lookup("bad"); ok {
						t.Errorf("next request finds %#v under the refused key", v)
					}
					if got := s.GetString("theme"); got != "dark" {
						t.Errorf("theme = %q; want the value set beside the refused one", got)
					}
				})
			})
		}
	}
}

// Set checks a value when it is called; one changed afterwards so that
// JSON cannot encode it fails its commit. That is not a store outage
// either: an EventBadValue names the key, none of the request's changes is
// saved, and the response is the handler's.
func TestValueChangedAfterSet(t *testing.T) {
	for _, backend := range valueBackends {
		for _, late := range []bool{false, true} {
			name := backend + "/before the response"
			if late {
				name = backend + "/after the response began"
			}
			t.Run(name, func(t *testing.T) {
				a := newValuesApp(t, backend)
				a.do(func(w http.ResponseWriter, s *latch.Session) { s.Set("theme", "light") })
				res := a.do(func(w http.ResponseWriter, s *latch.Session) {
					if late {
						w.WriteHeader(http.StatusAccepted)
						io.WriteString(w, "body first")
					}
					cart := map[string]any{"apples": 2}
					if err := s.Set("cart", cart); err != nil {
						t.Fatal(err)
					}
					s.Set("theme", "dark")
					cart["callback"] = func() {}
					if !late {
						w.WriteHeader(http.StatusSeeOther)
					}
				})
				want := http.StatusSeeOther
				if late {
					want = http.StatusAccepted
				}
				if res.StatusCode != want {
					t.Errorf("status %d; want the handler's %d", res.StatusCode, want)
				}
				ev, ok := a.events.Find(latch.EventBadValue)
				if !ok || !strings.Contains(ev.Reason, `"cart"`) || !errors.Is(ev.Err, latch.ErrBadValue) {
					t.Errorf("event %+v (found %v); want an EventBadValue naming \"cart\"", ev, ok)
				}
				for _, kind := range []latch.EventKind{latch.EventStoreError, latch.EventLateChange} {
					if n := a.events.Count(kind, ""); n != 0 {
						t.Errorf("%d %v events; want none", n, kind)
					}
				}
				a.do(func(w http.ResponseWriter, s *latch.Session) {
					if _, ok := s.Lookup("cart"); ok {
						t.Error("the cart was saved")
					}
					if got := s.GetString("theme"); got != "light" {
						t.Errorf("theme = %q; want %q: no change of the failed commit is saved", got, "light")
					}
				})
			})
		}
	}
}

// Login and Renew commit at once, so a value changed after Set fails
// them, and they return the *ValueError with its key.
func TestLoginReturnsValueError(t *testing.T) {
	for _, backend := range valueBackends {
		t.Run(backend, func(t *testing.T) {
			a := newValuesApp(t, backend)
			a.do(func(w http.ResponseWriter, s *latch.Session) {
				cart := []any{1}
				s.Set("cart", cart)
				cart[0] = math.Inf(1)
				err := s.Login("alice")
				var ve *latch.ValueError
				if !errors.As(err, &ve) || ve.Key != "cart" {
					t.Fatalf("Login = %v; want a *ValueError for \"cart\"", err)
				}
				if s.IsAuthenticated() {
					t.Error("the failed Login left the session authenticated")
				}
				s.Delete("cart")
				if err := s.Login("alice"); err != nil {
					t.Fatal(err)
				}
				cart = []any{1}
				s.Set("cart", cart)
				cart[0] = func() {}
				h := s.Handle()
				err = s.Renew()
				if !errors.As(err, &ve) || ve.Key != "cart" {
					t.Fatalf("Renew = %v; want a *ValueError for \"cart\"", err)
				}
				if s.Handle() != h {
					t.Error("the failed Renew changed the session's handle")
				}
				s.Delete("cart")
			})
			if n := a.events.Count(latch.EventStoreError, ""); n != 0 {
				t.Errorf("%d store-error events; want none", n)
			}
		})
	}
}

type cart struct {
	Items []string
	Total int64
}

// Every getter reads back, in the same request and in the next one (after
// the backend stored the value as JSON and loaded it), what was set.
func TestGetters(t *testing.T) {
	when := time.Date(2026, 12, 4, 9, 30, 0, 123456789, time.UTC)
	get := func(f func(*latch.Session, string) any) func(*latch.Session) any {
		return func(s *latch.Session) any { return f(s, "k") }
	}
	getString := get(func(s *latch.Session, k string) any { return s.GetString(k) })
	getInt := get(func(s *latch.Session, k string) any { return s.GetInt(k) })
	getFloat := get(func(s *latch.Session, k string) any { return s.GetFloat(k) })
	getBool := get(func(s *latch.Session, k string) any { return s.GetBool(k) })
	getBytes := get(func(s *latch.Session, k string) any { return s.GetBytes(k) })
	getTime := get(func(s *latch.Session, k string) any { return s.GetTime(k) })
	tests := []struct {
		name string
		set  any
		read func(*latch.Session) any
		want any
	}{
		{"GetString", "dark", getString, "dark"},
		{"GetString of a number", 3, getString, ""},
		{"GetInt", 42, getInt, int64(42)},
		{"GetInt of int8", int8(-8), getInt, int64(-8)},
		{"GetInt of the largest int64", int64(math.MaxInt64), getInt, int64(math.MaxInt64)},
		{"GetInt of the smallest int64", int64(math.MinInt64), getInt, int64(math.MinInt64)},
		{"GetInt of a uint64 beyond int64", uint64(math.MaxUint64), getInt, int64(0)},
		{"GetInt of 2^63", uint64(1 << 63), getInt, int64(0)},
		{"GetInt of a float beyond int64", 1e30, getInt, int64(0)},
		{"GetInt of a whole float", 1e3, getInt, int64(1000)},
		{"GetInt of a fraction", 2.5, getInt, int64(0)},
		{"GetInt of a string", "7", getInt, int64(0)},
		{"GetInt of a big integer just below int64", bigInt("-9223372036854775809"), getInt, int64(0)},
		{"GetInt of a big integer far below int64", bigInt("-1" + strings.Repeat("0", 40)), getInt, int64(0)},
		{"GetInt of a number below int64 written with a fraction", json.Number("-9223372036854775808.5"), getInt, int64(0)},
		{"GetInt of a fraction beyond float64's precision", json.Number("1.0000000000000001"), getInt, int64(0)},
		{"GetInt of a whole number beyond float64's precision", json.Number("9007199254740993.0"), getInt, int64(9007199254740993)},
		{"GetInt of a whole number in exponent form", json.Number("9007199254740993e0"), getInt, int64(9007199254740993)},
		{"GetInt of a tiny exponent", json.Number("1e-400"), getInt, int64(0)},
		{"GetInt of a huge exponent", json.Number("1e999999999"), getInt, int64(0)},
		{"GetFloat", 1.5, getFloat, 1.5},
		{"GetFloat of float32", float32(0.25), getFloat, 0.25},
		{"GetFloat of an int", 3, getFloat, 3.0},
		{"GetFloat of a uint64", uint64(math.MaxUint64), getFloat, float64(math.MaxUint64)},
		{"GetFloat of a string", "1.5", getFloat, 0.0},
		{"GetBool", true, getBool, true},
		{"GetBool of a string", "true", getBool, false},
		{"GetBytes", []byte{0, 1, 2, 0xfe, 0xff}, getBytes, []byte{0, 1, 2, 0xfe, 0xff}},
		{"GetBytes of empty bytes", []byte{}, getBytes, []byte{}},
		{"GetBytes of a string that is not base64", "not base64!", getBytes, []byte(nil)},
		{"GetTime", when, getTime, when},
		{"GetTime of a string that is not a time", "noon", getTime, time.Time{}},
		{"Get[[]byte]", []byte("\x00secret"), func(s *latch.Session) any { return must(latch.Get[[]byte](s, "k")) }, []byte("\x00secret")},
		{"Get[int64]", 12, func(s *latch.Session) any { return must(latch.Get[int64](s, "k")) }, int64(12)},
		{"Get[float64]", 0.5, func(s *latch.Session) any { return must(latch.Get[float64](s, "k")) }, 0.5},
		{"Get[time.Time]", when, func(s *latch.Session) any { return must(latch.Get[time.Time](s, "k")).Equal(when) }, true},
		{"Get[cart]", cart{[]string{"pear"}, 3}, func(s *latch.Session) any { return must(latch.Get[cart](s, "k")) }, cart{[]string{"pear"}, 3}},
		{"Get[*cart]", &cart{[]string{"fig"}, 1}, func(s *latch.Session) any { return *must(latch.Get[*cart](s, "k")) }, cart{[]string{"fig"}, 1}},
		{"Get[int64] beyond int64", uint64(math.MaxUint64), func(s *latch.Session) any { return jsonErr(latch.Get[int64](s, "k")) }, "cannot unmarshal number 18446744073709551615 into Go value of type int64"},
		{"Get[int64] of a string", "7", func(s *latch.Session) any { return jsonErr(latch.Get[int64](s, "k")) }, "cannot unmarshal string into Go value of type int64"},
		{"Get[string] of a missing key", "x", func(s *latch.Session) any {
			_, err := latch.Get[string](s, "missing")
			return errors.Is(err, latch.ErrNoValue)
		}, true},
		{"GetJSON", cart{[]string{"kiwi"}, 9}, func(s *latch.Session) any {
			var c cart
			if err := s.GetJSON("k", &c); err != nil {
				t.Fatal(err)
			}
			return c
		}, cart{[]string{"kiwi"}, 9}},
		{"GetJSON of a missing key", "x", func(s *latch.Session) any {
			var c cart
			err := s.GetJSON("missing", &c)
			return fmt.Sprint(errors.Is(err, latch.ErrNoValue), errors.Is(err, latch.ErrNotFound), err)
		}, "true false latch: no session value under this key"},
	}
	for _, tc := range tests {
		for _, backend := range valueBackends {
			t.Run(tc.name+"/"+backend, func(t *testing.T) {
				a := newValuesApp(t, backend)
				same, next := a.roundTrip("k", tc.set, tc.read)
				if !reflect.DeepEqual(same, tc.want) {
					t.Errorf("same request: %#v; want %#v", same, tc.want)
				}
				if !reflect.DeepEqual(next, tc.want) {
					t.Errorf("next request: %#v; want %#v", next, tc.want)
				}
			})
		}
	}
}

func bigInt(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("not an integer: " + s)
	}
	return n
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// jsonErr returns the text of err after the key's name, or "no error".
func jsonErr[T any](_ T, err error) string {
	if err == nil {
		return "no error"
	}
	_, after, _ := strings.Cut(err.Error(), `"k": json: `)
	return after
}

// PopString returns the string and removes it, in the request that set it
// and in a later one.
func TestPopString(t *testing.T) {
	tests := []struct {
		name string
		set  any
		want string
	}{
		{"string", "Saved.", "Saved."},
		{"not a string: removed all the same", 3, ""},
	}
	for _, tc := range tests {
		for _, backend := range valueBackends {
			for _, later := range []bool{false, true} {
				when := "same request"
				if later {
					when = "next request"
				}
				t.Run(tc.name+"/"+backend+"/"+when, func(t *testing.T) {
					a := newValuesApp(t, backend)
					var got string
					a.do(func(w http.ResponseWriter, s *latch.Session) {
						s.Set("flash", tc.set)
						if !later {
							got = s.PopString("flash")
						}
					})
					if later {
						a.do(func(w http.ResponseWriter, s *latch.Session) { got = s.PopString("flash") })
					}
					if got != tc.want {
						t.Errorf("PopString = %q; want %q", got, tc.want)
					}
					a.do(func(w http.ResponseWriter, s *latch.Session) {
						if v, ok := s.Lookup("flash"); ok {
							t.Errorf("after PopString the value is still there: %#v", v)
						}
					})
				})
			}
		}
	}
}

// AddFlash keeps one-time messages in order, Flashes returns them once and
// removes them, in the request that added them and in a later one, through
// each backend.
func TestFlashes(t *testing.T) {
	type msg struct{ Text string }
	tests := []struct {
		name  string
		add   func(t *testing.T, s *latch.Session)
		read  func(s *latch.Session) []any
		key   string // where the messages live
		same  []any  // what the same request reads
		later []any  // what a later request reads
	}{
		{
			name: "default key, in order",
			add: func(t *testing.T, s *latch.Session) {
				for _, v := range []string{"Saved.", "Mail sent."} {
					if err := s.AddFlash(v); err != nil {
						t.Fatal(err)
					}
				}
			},
			read:  func(s *latch.Session) []any { return s.Flashes() },
			key:   latch.FlashKey,
			same:  []any{"Saved.", "Mail sent."},
			later: []any{"Saved.", "Mail sent."},
		},
		{
			name: "named key, other kinds of value",
			add: func(t *testing.T, s *latch.Session) {
				if err := s.AddFlash(3, "errors"); err != nil {
					t.Fatal(err)
				}
				if err := s.AddFlash(msg{"bad date"}, "errors"); err != nil {
					t.Fatal(err)
				}
				if err := s.AddFlash("elsewhere"); err != nil {
					t.Fatal(err)
				}
			},
			read:  func(s *latch.Session) []any { return s.Flashes("errors") },
			key:   "errors",
			same:  []any{3, msg{"bad date"}},
			later: []any{json.Number("3"), map[string]any{"Text": "bad date"}},
		},
		{
			name: "a value set with Set is a list of one",
			add: func(t *testing.T, s *latch.Session) {
				if err := s.Set("note", "first"); err != nil {
					t.Fatal(err)
				}
				if err := s.AddFlash("second", "note"); err != nil {
					t.Fatal(err)
				}
			},
			read:  func(s *latch.Session) []any { return s.Flashes("note") },
			key:   "note",
			same:  []any{"first", "second"},
			later: []any{"first", "second"},
		},
		{
			name:  "nothing added",
			add:   func(t *testing.T, s *latch.Session) {},
			read:  func(s *latch.Session) []any { return s.Flashes() },
			key:   latch.FlashKey,
			same:  nil,
			later: nil,
		},
	}
	for _, tc := range tests {
		for _, backend := range valueBackends {
			for _, later := range []bool{false, true} {
				when, want := "same request", tc.same
				if later {
					when, want = "next request", tc.later
				}
				t.Run(tc.name+"/"+backend+"/"+when, func(t *testing.T) {
					a := newValuesApp(t, backend)
					var got, again []any
					a.do(func(w http.ResponseWriter, s *latch.Session) {
						tc.add(t, s)
						if !later {
							got, again = tc.read(s), tc.read(s)
						}
					})
					if later {
						a.do(func(w http.ResponseWriter, s *latch.Session) { got, again = tc.read(s), tc.read(s) })
					}
					if !equalJSONish(got, want) {
						t.Errorf("Flashes = %#v; want %#v", got, want)
					}
					if again != nil {
						t.Errorf("second Flashes = %#v; want nil", again)
					}
					a.do(func(w http.ResponseWriter, s *latch.Session) {
						if v, ok := s.Lookup(tc.key); ok {
							t.Errorf("after Flashes the messages are still there: %#v", v)
						}
					})
				})
			}
		}
	}
}

// equalJSONish compares two lists, taking a json.Number and a float64 of
// the same value as equal (stores differ in which they give back).
func equalJSONish(got, want []any) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if n, ok := w.(json.Number); ok {
			f, _ := n.Float64()
			if gf, ok := g.(float64); ok && gf == f {
				continue
			}
		}
		if !reflect.DeepEqual(g, w) {
			return false
		}
	}
	return true
}

// AddFlash refuses a value JSON cannot keep, names the key, and keeps the
// messages already added.
func TestAddFlashRefusesBadValue(t *testing.T) {
	a := newValuesApp(t, "memstore")
	a.do(func(w http.ResponseWriter, s *latch.Session) {
		if err := s.AddFlash("kept"); err != nil {
			t.Fatal(err)
		}
		err := s.AddFlash(make(chan int))
		var ve *latch.ValueError
		if !errors.As(err, &ve) || ve.Key != latch.FlashKey {
			t.Fatalf("AddFlash(chan) = %v; want a *ValueError naming %q", err, latch.FlashKey)
		}
	})
	a.do(func(w http.ResponseWriter, s *latch.Session) {
		if got := s.Flashes(); !reflect.DeepEqual(got, []any{"kept"}) {
			t.Errorf("Flashes = %#v; want [kept]", got)
		}
	})
}

// TestValuesReadAreCopies: a map or slice that the getters return from
// the stored session is the request's own. Changing it without Set keeps
// nothing, and cannot reach another request on the same session, which
// may share the record the store loaded (memstore keeps the decoded
// record for the next Load).
func TestValuesReadAreCopies(t *testing.T) {
	mutate := map[string]func(s *latch.Session){
		"Get map": func(s *latch.Session) { s.Get("cart").(map[string]any)["items"].([]any)[0] = "stolen" },
		"Get[map]": func(s *latch.Session) {
			m := must(latch.Get[map[string]any](s, "cart"))
			m["n"] = json.Number("99")
		},
		"Lookup slice": func(s *latch.Session) {
			v, _ := s.Lookup("list")
			v.([]any)[1] = "changed"
		},
		"Get map, then Set of another key": func(s *latch.Session) {
			s.Get("cart").(map[string]any)["n"] = json.Number("5")
			must(0, s.Set("other", 1))
			s.Delete("other")
		},
		"Pop in a request that fails": func(s *latch.Session) {
			s.Pop("cart").(map[string]any)["n"] = json.Number("7")
			panic(http.ErrAbortHandler) // nothing is committed
		},
	}
	want := `{"cart":{"items":["pear","fig"],"n":2},"list":[1,"two",{"x":true}]}`
	for name, f := range mutate {
		for _, backend := range valueBackends {
			t.Run(name+"/"+backend, func(t *testing.T) {
				a := newValuesApp(t, backend)
				a.do(func(w http.ResponseWriter, s *latch.Session) {
					must(0, s.Set("cart", map[string]any{"items": []string{"pear", "fig"}, "n": 2}))
					must(0, s.Set("list", []any{1, "two", map[string]bool{"x": true}}))
				})
				cookie := a.cookie
				func() {
					defer func() { recover() }()
					a.do(func(w http.ResponseWriter, s *latch.Session) { f(s) })
				}()
				a.cookie = cookie // the request before the change, again
				var got []byte
				a.do(func(w http.ResponseWriter, s *latch.Session) {
					got, _ = json.Marshal(map[string]any{"cart": s.Get("cart"), "list": s.Get("list")})
				})
				if string(got) != want {
					t.Fatalf("after a change without Set: %s; want %s", got, want)
				}
			})
		}
	}
}

// TestLateChange: a value set after the response began is saved when the
// handler returns by a server-side store. A cookie session keeps its
// values in the cookie, which went out with the headers: the change cannot
// be kept, and EventLateChange says so rather than losing it silently.
func TestLateChange(t *testing.T) {
	tests := []struct {
		backend string
		kept    bool
	}{
		{"memstore", true},
		{"cookiestore", false},
	}
	for _, tt := range tests {
		t.Run(tt.backend, func(t *testing.T) {
			a := newValuesApp(t, tt.backend)
			a.do(func(w http.ResponseWriter, s *latch.Session) { must(0, s.Login("alice")) })
			a.do(func(w http.ResponseWriter, s *latch.Session) {
				io.WriteString(w, "the body first")
				must(0, s.Set("k", "late"))
			})
			ev, reported := a.events.Find(latch.EventLateChange)
			var got string
			a.do(func(w http.ResponseWriter, s *latch.Session) { got = s.GetString("k") })
			if kept := got == "late"; kept != tt.kept || reported == tt.kept {
				t.Fatalf("late value kept = %v, late-change event = %v %q; want kept = %v, event = %v", kept, reported, ev.Reason, tt.kept, !tt.kept)
			}
		})
	}
}

// TestValuesFromGoroutines: the goroutines of one request may set and read
// values while the response begins. Every value set before the handler
// returns is saved, whether it went out with the headers or after them;
// a cookie session cannot save what comes after the headers, and says so
// with EventLateChange.
func TestValuesFromGoroutines(t *testing.T) {
	for _, backend := range valueBackends {
		t.Run(backend, func(t *testing.T) {
			a := newValuesApp(t, backend)
			a.do(func(w http.ResponseWriter, s *latch.Session) {
				if err := s.Login("alice"); err != nil {
					t.Fatal(err)
				}
			})
			const n = 16
			a.do(func(w http.ResponseWriter, s *latch.Session) {
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						k := fmt.Sprint("k", i)
						must(0, s.Set(k, map[string]any{"i": i}))
						if _, err := latch.Get[map[string]int](s, k); err != nil {
							t.Error(err)
						}
						s.Keys()
						s.GetInt("missing")
					})
				}
				io.WriteString(w, "the response begins meanwhile")
				wg.Wait()
			})
			_, late := a.events.Find(latch.EventLateChange)
			a.do(func(w http.ResponseWriter, s *latch.Session) {
				for i := range n {
					got, err := latch.Get[map[string]int](s, fmt.Sprint("k", i))
					switch {
					case errors.Is(err, latch.ErrNoValue) && backend == "cookiestore" && late:
					case err != nil || got["i"] != i:
						t.Errorf("k%d = %v, %v; want i=%d", i, got, err, i)
					}
				}
			})
		})
	}
}
