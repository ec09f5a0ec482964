package latch

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/latchsec/latch/driver"
)

// Errors of the values API.
var (
	// ErrNoValue means there is no value under the key (Get, GetJSON).
	ErrNoValue = errors.New("latch: no session value under this key")
	// ErrBadValue is matched (with errors.Is) by every *ValueError: a
	// value that cannot be stored in a session (Set).
	ErrBadValue = driver.ErrBadValue
)

// ValueError reports a value that cannot be stored in a session, and its
// key: JSON cannot encode it (a channel, a function, a complex number, a
// NaN or infinite float, a cycle, a MarshalJSON that fails), or it holds a
// struct whose fields JSON cannot see (all unexported, no MarshalJSON),
// which JSON would store as {}. Session.Set returns it; it matches
// ErrBadValue.
type ValueError = driver.ValueError

// Lookup returns the value stored under key and whether there is one.
func (s *Session) Lookup(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookup(key)
}

func (s *Session) lookup(key string) (any, bool) {
	if p, ok := s.changes[key]; ok {
		return p.v, !p.del
	}
	if s.cleared || s.base == nil {
		return nil, false
	}
	v, ok := s.base.Values[key]
	return cloneJSON(v), ok
}

// cloneJSON returns a copy of the maps and slices in v, a value as a store
// gives it back (JSON's types). The record a store loads may be shared
// with other requests on the session (see driver.Record), so what the
// getters hand the application must be its own: a change made without Set
// then stays in the request, as it would with a value set in it.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = cloneJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneJSON(e)
		}
		return out
	}
	return v
}

// Get returns the value stored under key, or nil. A value set during this
// request is returned as it was set; one read from the store comes back as
// JSON types (every store serialises values): prefer the typed getters or
// the function Get, which accept both. A map or slice read from the store
// is a copy: changing it changes the session only once it is Set.
func (s *Session) Get(key string) any {
	v, _ := s.Lookup(key)
	return v
}

// Get returns the value stored under key as a T. A value that already is a
// T (one set during this request) is returned as it is; any other goes
// through JSON into a T, as GetJSON does, so Get[[]byte] reads back the
// []byte that was set, Get[int64] an integer, Get[time.Time] a time, and
// Get[Cart] a struct. The error is ErrNoValue when there is no value under
// key, and names the key when the value does not fit a T (a string read as
// a number, a number beyond the range of an int64).
func Get[T any](s *Session, key string) (T, error) {
	var t T
	v, ok := s.Lookup(key)
	if !ok {
		return t, ErrNoValue
	}
	if t, ok := v.(T); ok {
		return t, nil
	}
	err := convert(key, v, &t)
	return t, err
}

// GetJSON decodes the value stored under key into dst (a pointer), by way
// of JSON, whatever store kept it. It returns ErrNoValue when there is no
// value under key.
func (s *Session) GetJSON(key string, dst any) error {
	v, ok := s.Lookup(key)
	if !ok {
		return ErrNoValue
	}
	return convert(key, v, dst)
}

// convert decodes v into dst by way of JSON.
func convert(key string, v, dst any) error {
	b, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(b, dst)
	}
	if err != nil {
		return fmt.Errorf("latch: session value %q: %w", key, err)
	}
	return nil
}

// GetString returns the string stored under key, or "".
func (s *Session) GetString(key string) string {
	v, _ := s.Get(key).(string)
	return v
}

// GetInt returns the integer stored under key, or 0. It accepts any Go
// integer type, and a json.Number or float holding an integer (what a
// store gives back); a json.Number is read exactly, beyond a float64's
// precision. It returns 0, never a clamped or wrapped number, for
// an integer beyond the range of an int64, and for a fraction; Get[int64]
// returns the error instead.
func (s *Session) GetInt(key string) int64 {
	n, _ := toInt(s.Get(key))
	return n
}

// twoTo63 is 2^63, the first float64 beyond the range of an int64.
const twoTo63 = 1 << 63

func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint:
		return toInt(uint64(v))
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case json.Number:
		return numberToInt(string(v))
	case float64:
		if v != math.Trunc(v) || v < -twoTo63 || v >= twoTo63 {
			return 0, false // a fraction, NaN, or out of range
		}
		return int64(v), true
	case float32:
		return toInt(float64(v))
	}
	return 0, false
}

// numberToInt returns the integer that the text of a JSON number holds,
// exactly. A number written with a fraction or an exponent is read in
// more bits than a float64 has, so that 9007199254740993.0 keeps its last
// digit and 1.0000000000000001 is a fraction, not 1.
func numberToInt(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if f, err := strconv.ParseFloat(s, 64); err != nil || math.Abs(f) > twoTo63 {
		return 0, false // not a number, or far beyond the range of an int64
	}
	// Each decimal digit is less than 4 bits, so this precision tells a
	// fraction from a whole number of the 64 bits of an int64.
	x, _, err := big.ParseFloat(s, 10, uint(64+4*len(s)), big.ToZero)
	if err != nil || !x.IsInt() {
		return 0, false
	}
	if n, acc := x.Int64(); acc == big.Exact {
		return n, true
	}
	return 0, false
}

// GetFloat returns the number stored under key, or 0. It accepts any Go
// float or integer type and a json.Number (what a store gives back).
func (s *Session) GetFloat(key string) float64 {
	v := s.Get(key)
	switch v := v.(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return 0 // not a number, or beyond the range of a float64
		}
		return f
	case uint:
		return float64(v)
	case uint64:
		return float64(v)
	}
	n, _ := toInt(v) // the other integer types
	return float64(n)
}

// GetBool returns the bool stored under key, or false.
func (s *Session) GetBool(key string) bool {
	v, _ := s.Get(key).(bool)
	return v
}

// GetBytes returns the bytes stored under key, or nil. It accepts a
// []byte or its base64 text (JSON's encoding of a []byte, so what a
// store gives back).
func (s *Session) GetBytes(key string) []byte {
	switch v := s.Get(key).(type) {
	case []byte:
		return v
	case string:
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil
		}
		return b
	}
	return nil
}

// GetTime returns the time stored under key, or the zero time. It accepts
// a time.Time or its RFC 3339 text (what JSON stores give back).
func (s *Session) GetTime(key string) time.Time {
	switch v := s.Get(key).(type) {
	case time.Time:
		return v
	case string:
		t, _ := time.Parse(time.RFC3339Nano, v)
		return t
	}
	return time.Time{}
}

// Set stores value under key. Every store keeps values as JSON, so Set
// checks that JSON can keep this one, and returns a *ValueError (nothing
// is changed) when it cannot: the value, or something inside it, is a
// channel, a function, a complex number, a NaN or infinite float, a cycle,
// has a MarshalJSON that fails, or is a struct with fields of which JSON
// sees none (all unexported, and no MarshalJSON or MarshalText method
// that JSON calls: one on the pointer counts only for a struct given by
// pointer, or in a slice or a struct given by pointer), which it would
// store as {}. Set never fails for a string, a bool, an integer, a finite
// float, a []byte or nil.
//
// The value is kept as it is, and encoded when the session is committed:
// a value changed after Set so that it can no longer be encoded makes that
// commit fail. Its changes are then not saved, an EventBadValue names the
// key, and the response goes out as the handler wrote it.
func (s *Session) Set(key string, value any) error {
	if err := checkValue(value); err != nil {
		return withKey(key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.change(key, pending{v: value})
	return nil
}

// checkValue returns driver.EncodeValue's error for v, with no encoding
// for the values that always encode.
func checkValue(v any) error {
	switch v := v.(type) {
	case nil, string, bool, []byte, int, int64, int32, uint, uint64, uint32, int8, int16, uint8, uint16:
		return nil
	case float64:
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			return nil
		}
	}
	_, err := driver.EncodeValue(v)
	return err
}

// withKey names key in a *ValueError.
func withKey(key string, err error) error {
	var ve *ValueError
	if errors.As(err, &ve) {
		return &ValueError{Key: key, Err: ve.Err}
	}
	return err
}

// Delete removes key.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.change(key, pending{del: true})
}

// Pop returns the value under key and removes it: for one-time messages.
func (s *Session) Pop(key string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.lookup(key)
	if ok {
		s.change(key, pending{del: true})
	}
	return v
}

// PopString returns the string under key, or "", and removes the value
// under key whatever it is: for one-time messages ("flash").
func (s *Session) PopString(key string) string {
	v, _ := s.Pop(key).(string)
	return v
}

// FlashKey is the key under which AddFlash keeps messages and Flashes
// reads them when no key is given (gorilla/sessions uses the same name).
const FlashKey = "_flash"

// flashKey returns the first of keys, or FlashKey.
func flashKey(keys []string) string {
	if len(keys) > 0 {
		return keys[0]
	}
	return FlashKey
}

// AddFlash appends value to the list of one-time messages under the first
// of key, or FlashKey when none is given, for Flashes to read once, in
// this request or a later one. The value must be one Set accepts (a
// *ValueError otherwise, and nothing is changed). A value under the key
// that is not a list of messages (one set with Set) becomes the first
// message of the list.
func (s *Session) AddFlash(value any, key ...string) error {
	k := flashKey(key)
	if err := checkValue(value); err != nil {
		return withKey(k, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []any
	old, _ := s.lookup(k)
	switch old := old.(type) {
	case nil:
	case []any:
		list = slices.Clip(old) // a new array on append: the stored list stays as it was
	default:
		list = []any{old}
	}
	s.change(k, pending{v: append(list, value)})
	return nil
}

// Flashes returns the one-time messages under the first of key, or
// FlashKey when none is given, oldest first, and removes them: a second
// call returns nil. Messages added during this request are returned as
// they were given; messages read from the store come back as JSON types
// (a number as a json.Number or float64, a struct as a map), as Get's do.
// A single value set under the key with Set is returned as a list of one.
func (s *Session) Flashes(key ...string) []any {
	k := flashKey(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.lookup(k)
	if !ok {
		return nil
	}
	s.change(k, pending{del: true})
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return slices.Clone(v)
	default:
		return []any{v}
	}
}

// Clear removes every value, keeping the session and its user.
func (s *Session) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleared = true
	clear(s.changes)
}

func (s *Session) change(key string, p pending) {
	if s.changes == nil {
		s.changes = make(map[string]pending, 4)
	}
	s.changes[key] = p
}

// Keys returns the keys that hold values, sorted.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.values()))
}

// values returns the merged view of the values.
func (s *Session) values() map[string]any {
	out := make(map[string]any)
	if !s.cleared && s.base != nil {
		maps.Copy(out, s.base.Values)
	}
	for k, p := range s.changes {
		if p.del {
			delete(out, k)
		} else {
			out[k] = p.v
		}
	}
	return out
}
