package memstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/latchsec/latch/driver"
)

// A stored session is one immutable string, its packed form:
//
//	uvarint len(meta) | meta | values
//
//	meta   = flags byte
//	         | created | lastSeen | authTime      (see putTimes)
//	         | dur idle | dur absolute | dur grace
//	         | str user | str userAgent | str ip
//	values = uvarint count | count × (str key | str JSON value)
//	str    = uvarint len | bytes
//	dur    = varint 2×seconds (a whole number of seconds, the usual case)
//	         or varint 1 | varint nanoseconds//
// The values section comes last so that a commit that changes only the
// metadata copies it as it is, and a patch splices it without decoding a
// single value. Values are JSON, encoded by driver.EncodeValue, as every
// serialising store keeps them.

// A forward, which a renewal leaves under the hash it renewed from, is
// kept in an entry like a session, its packed form a zero byte and the
// hash renewed into:
//
//	forward = 0x00 | to (32 bytes)
//
// No packed record starts with a zero byte: its metadata is never empty.

// forwardLen is the length of a forward's packed form.
const forwardLen = 1 + driver.HashSize

// packForward returns the packed form of a forward to to.
func packForward(to driver.Hash) string {
	var b [forwardLen]byte
	copy(b[1:], to[:])
	return string(b[:])
}

// isForward reports whether data is the packed form of a forward.
func isForward(data string) bool { return len(data) == forwardLen && data[0] == 0 }

// forwardTo returns the hash a forward leads to.
func forwardTo(data string) driver.Hash {
	var h driver.Hash
	copy(h[:], data[1:])
	return h
}

// flags of the packed metadata.
const (
	flagRemember = 1 << iota
	// flagWide: the times are seconds and nanoseconds, because one of them
	// is outside the range of int64 Unix nanoseconds (years 1678 to 2262).
	flagWide
	flagCreatedZero
	flagLastSeenZero
	flagAuthTimeZero
)

var errCorrupt = errors.New("corrupt record")

// rawValue is one value and its key, the value encoded: of a Commit.Set,
// or read from a packed record.
type rawValue struct {
	key, raw string
}

// encodeSet encodes the values a commit sets, sorted by key. It runs
// before any lock is taken: a value that cannot be encoded fails the commit
// and nothing is written.
func encodeSet(set map[string]any) ([]rawValue, error) {
	if len(set) == 0 {
		return nil, nil
	}
	out := make([]rawValue, 0, len(set))
	for k, v := range set {
		b, err := driver.EncodeValue(v)
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", k, err)
		}
		out = append(out, rawValue{k, string(b)})
	}
	slices.SortFunc(out, func(a, b rawValue) int { return strings.Compare(a.key, b.key) })
	return out, nil
}

// encodeMeta returns the packed metadata, with its length prefix.
func encodeMeta(m *driver.Meta) []byte {
	b := make([]byte, 0, 64+len(m.UserID)+len(m.UserAgent)+len(m.IP))
	b = binary.AppendUvarint(b, 0) // length, filled in below
	var flags byte
	if m.Remember {
		flags |= flagRemember
	}
	times := [3]time.Time{m.Created, m.LastSeen, m.AuthTime}
	for i, t := range times {
		if t.IsZero() {
			flags |= flagCreatedZero << i
		} else if !inNanoRange(t) {
			flags |= flagWide
		}
	}
	b = append(b, flags)
	b = putTimes(b, flags, times)
	b = appendDuration(b, m.IdleTimeout)
	b = appendDuration(b, m.AbsoluteTimeout)
	b = appendDuration(b, m.Grace)
	b = appendStr(b, m.UserID)
	b = appendStr(b, m.UserAgent)
	b = appendStr(b, m.IP)
	// The length prefix took one byte; a longer metadata (long user agent)
	// needs a longer prefix.
	n := len(b) - 1
	var prefix [binary.MaxVarintLen64]byte
	p := binary.PutUvarint(prefix[:], uint64(n))
	if p == 1 {
		b[0] = prefix[0]
		return b
	}
	out := make([]byte, 0, p+n)
	out = append(out, prefix[:p]...)
	return append(out, b[1:]...)
}

// appendDuration appends d in whole seconds when it is one, which takes 2
// or 3 bytes for the usual timeouts instead of 6 or 7, and in nanoseconds
// otherwise. Negative durations round-trip too: a store keeps what it is
// given.
func appendDuration(b []byte, d time.Duration) []byte {
	if d%time.Second == 0 {
		return binary.AppendVarint(b, int64(d/time.Second)*2)
	}
	b = binary.AppendVarint(b, 1)
	return binary.AppendVarint(b, int64(d))
}

// putTimes appends the three times: the first as Unix nanoseconds, the
// others as their distance from it, so that a session's times, which are
// close together, take few bytes. With flagWide every time is seconds and
// nanoseconds instead. A zero time is left out (its flag says so).
func putTimes(b []byte, flags byte, times [3]time.Time) []byte {
	var base int64 // 0 until the first time is written, then that time
	first := true
	for i, t := range times {
		if flags&(flagCreatedZero<<i) != 0 {
			continue
		}
		if flags&flagWide != 0 {
			b = binary.AppendVarint(b, t.Unix())
			b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
			continue
		}
		ns := t.UnixNano()
		b = binary.AppendVarint(b, ns-base) // cannot overflow: both in range
		if first {
			base, first = ns, false
		}
	}
	return b
}

var (
	minNanoTime = time.Unix(0, math.MinInt64/2)
	maxNanoTime = time.Unix(0, math.MaxInt64/2)
)

// inNanoRange reports whether t is stored as Unix nanoseconds. The range is
// half of int64's on either side, so differences between two such times
// never overflow.
func inNanoRange(t time.Time) bool { return !t.Before(minNanoTime) && !t.After(maxNanoTime) }

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// valuesOf returns the values section of a packed record.
func valuesOf(data string) string {
	n, p := uvarint(data)
	if p <= 0 || n > uint64(len(data)-p) {
		return "" // never happens: the store wrote data
	}
	return data[p+int(n):]
}

// pack builds the packed record of a commit: its metadata (from
// encodeMeta), then the values of base (a values section, "" for none)
// patched by the commit. Keys are kept in the order of base, and new keys
// follow in the order of set.
func pack(meta []byte, base string, c *driver.Commit, set []rawValue) (string, error) {
	if c.Clear {
		base = ""
	}
	if len(c.Delete) == 0 && len(set) == 0 {
		return string(meta) + base, nil
	}
	var vals []rawValue // the values of base that stay, then set
	if base != "" {
		r := reader{s: base}
		count := r.uvarint()
		if r.err == nil && count > uint64(len(base)) {
			r.err = errCorrupt
		}
		if r.err == nil {
			vals = make([]rawValue, 0, int(count)+len(set))
		}
		for i := uint64(0); i < count && r.err == nil; i++ {
			k, v := r.str(), r.str()
			if !slices.Contains(c.Delete, k) && !containsKey(set, k) {
				vals = append(vals, rawValue{k, v})
			}
		}
		if r.err != nil {
			return "", r.err
		}
	}
	if len(vals) == 0 {
		vals = set
	} else {
		vals = append(vals, set...) // within its capacity
	}
	if len(vals) == 0 {
		return string(meta), nil
	}
	// The exact size, so that the record takes the smallest allocation.
	size := len(meta) + uvarintLen(len(vals))
	for _, v := range vals {
		size += strLen(v.key) + strLen(v.raw)
	}
	var sb strings.Builder
	sb.Grow(size)
	sb.Write(meta)
	var tmp [binary.MaxVarintLen64]byte
	writeStr := func(s string) {
		sb.Write(tmp[:binary.PutUvarint(tmp[:], uint64(len(s)))])
		sb.WriteString(s)
	}
	sb.Write(tmp[:binary.PutUvarint(tmp[:], uint64(len(vals)))])
	for _, v := range vals {
		writeStr(v.key)
		writeStr(v.raw)
	}
	return sb.String(), nil
}

func uvarintLen(n int) int {
	var tmp [binary.MaxVarintLen64]byte
	return binary.PutUvarint(tmp[:], uint64(n))
}

func strLen(s string) int { return uvarintLen(len(s)) + len(s) }

func containsKey(set []rawValue, k string) bool {
	_, found := slices.BinarySearchFunc(set, k, func(v rawValue, k string) int { return strings.Compare(v.key, k) })
	return found
}

// reader decodes a packed record. The first error sticks; later reads
// return zero values.
type reader struct {
	s   string
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := uvarint(r.s)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.s = r.s[n:]
	return v
}

func (r *reader) varint() int64 {
	u := r.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (r *reader) duration() time.Duration {
	switch v := r.varint(); {
	case v&1 == 0:
		return time.Duration(v/2) * time.Second
	case v == 1:
		return time.Duration(r.varint())
	}
	r.err = errCorrupt
	return 0
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.s) == 0 {
		r.err = errCorrupt
		return 0
	}
	b := r.s[0]
	r.s = r.s[1:]
	return b
}

// str returns the next string: a substring of the record, not a copy.
func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.s)) {
		r.err = errCorrupt
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

// uvarint is binary.Uvarint for a string.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, -(i + 1)
			}
			return x | uint64(b)<<shift, i + 1
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

// decodeMeta decodes the metadata of a packed record into m and returns the
// values section. Times are in UTC; strings in m share the record's
// memory.
func decodeMeta(data string, m *driver.Meta) (values string, err error) {
	r := reader{s: data}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.s)) {
		return "", errCorrupt
	}
	values = r.s[n:]
	r.s = r.s[:n]
	flags := r.byte()
	m.Remember = flags&flagRemember != 0
	var base int64
	first := true
	for i, t := range [3]*time.Time{&m.Created, &m.LastSeen, &m.AuthTime} {
		switch {
		case flags&(flagCreatedZero<<i) != 0:
			*t = time.Time{}
		case flags&flagWide != 0:
			sec := r.varint()
			nsec := r.uvarint()
			if nsec >= 1e9 {
				r.err = errCorrupt
			}
			*t = time.Unix(sec, int64(nsec)).UTC()
		default:
			ns := r.varint() + base
			if first {
				base, first = ns, false
			}
			*t = time.Unix(0, ns).UTC()
		}
	}
	m.IdleTimeout = r.duration()
	m.AbsoluteTimeout = r.duration()
	m.Grace = r.duration()
	m.UserID = r.str()
	m.UserAgent = r.str()
	m.IP = r.str()
	if r.err == nil && len(r.s) != 0 {
		r.err = errCorrupt
	}
	return values, r.err
}

// userOf returns the user ID of a packed record without decoding the rest;
// "" for a forward, which is no session.
func userOf(data string) string {
	var m driver.Meta
	if _, err := decodeMeta(data, &m); err != nil {
		return ""
	}
	return m.UserID
}

// unpack decodes a packed record into a new Record.
func unpack(data string) (*driver.Record, error) {
	rec := new(driver.Record)
	values, err := decodeMeta(data, &rec.Meta)
	if err != nil {
		return nil, err
	}
	if values == "" {
		return rec, nil
	}
	r := reader{s: values}
	count := r.uvarint()
	if r.err != nil || count > uint64(len(values)) {
		return nil, errCorrupt
	}
	rec.Values = make(map[string]any, count)
	for range count {
		k, raw := r.str(), r.str()
		if r.err != nil {
			return nil, r.err
		}
		v, err := driver.DecodeValueString(raw)
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", k, err)
		}
		rec.Values[k] = v
	}
	if len(r.s) != 0 {
		return nil, errCorrupt
	}
	return rec, nil
}
