package driver

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"time"
)

// Reader decodes a record, or the primitives of the record encoding, from
// a string. It remembers its first error: after one, every read returns a
// zero value and Err reports it, so that a decoder reads every field and
// checks once at the end. A store that frames records with fields of its
// own (a tag, a hash, a time) reads those with the same Reader.
//
// The strings a Reader returns share the memory of the string it reads.
// Every error it reports matches ErrCorruptRecord.
type Reader struct {
	s   string
	err error
}

// NewReader returns a Reader of s.
func NewReader(s string) *Reader { return &Reader{s: s} }

// Err returns the first error the Reader met, or nil.
func (r *Reader) Err() error { return r.err }

// Len returns the number of bytes not read yet.
func (r *Reader) Len() int { return len(r.s) }

// Rest returns the bytes not read yet and consumes them; "" after an
// error.
func (r *Reader) Rest() string {
	if r.err != nil {
		return ""
	}
	s := r.s
	r.s = ""
	return s
}

// End checks that every byte was read, and returns Err.
func (r *Reader) End() error {
	if r.err == nil && len(r.s) != 0 {
		r.fail(&corruptError{detail: fmt.Sprintf("%d trailing bytes", len(r.s))})
	}
	return r.err
}

// Fail records an error saying what is wrong, unless the Reader has one
// already: a check of the caller's own, such as an unknown tag.
func (r *Reader) Fail(detail string) { r.fail(&corruptError{detail: detail}) }

func (r *Reader) fail(err *corruptError) {
	if r.err == nil {
		r.err = err
	}
	r.s = ""
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.s) == 0 {
		r.fail(errTruncated)
		return 0
	}
	b := r.s[0]
	r.s = r.s[1:]
	return b
}

// Next reads the next n bytes.
func (r *Reader) Next(n int) string {
	if n < 0 || n > len(r.s) {
		r.fail(errTruncated)
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

// Uvarint reads an unsigned varint, as binary.AppendUvarint writes it. A
// varint longer than it needs to be is an error, so that every number has
// one encoding.
func (r *Reader) Uvarint() uint64 {
	if r.s != "" && r.s[0] < 0x80 { // one byte: most lengths and counts
		b := r.s[0]
		r.s = r.s[1:]
		return uint64(b)
	}
	return r.uvarint()
}

func (r *Reader) uvarint() uint64 {
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if i == len(r.s) {
			r.fail(errTruncated)
			return 0
		}
		b := r.s[i]
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 || i > 0 && b == 0 {
				break // overflow, or longer than needed
			}
			r.s = r.s[i+1:]
			return x | uint64(b)<<shift
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	r.fail(errVarint)
	return 0
}

// Varint reads a signed varint, as binary.AppendVarint writes it.
func (r *Reader) Varint() int64 {
	u := r.Uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// Str reads a string that AppendString wrote: its length, then its bytes.
func (r *Reader) Str() string {
	n := r.Uvarint()
	if n > uint64(len(r.s)) {
		r.fail(errTruncated)
		return ""
	}
	return r.Next(int(n))
}

// Time reads a time that AppendTime wrote, in UTC.
func (r *Reader) Time() time.Time {
	sec := r.Varint()
	nsec := r.Uvarint()
	if nsec >= uint64(time.Second) {
		r.fail(errTime)
	}
	if r.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// The whole seconds that a Duration holds.
const (
	minSeconds = math.MinInt64 / int64(time.Second)
	maxSeconds = math.MaxInt64 / int64(time.Second)
)

// Duration reads a duration that AppendDuration wrote.
func (r *Reader) Duration() time.Duration {
	switch v := r.Varint(); {
	case v&1 == 0:
		if s := v / 2; minSeconds <= s && s <= maxSeconds {
			return time.Duration(s) * time.Second
		}
	case v == 1:
		if d := time.Duration(r.Varint()); d%time.Second != 0 {
			return d
		}
	}
	r.fail(errDuration)
	return 0
}

// Meta reads the head of a record into m: its version byte and its
// metadata (see AppendMeta). Times are in UTC; strings share the memory
// of the Reader's string.
func (r *Reader) Meta(m *Meta) {
	if v := r.Byte(); v != RecordVersion && r.err == nil {
		r.fail(&corruptError{detail: fmt.Sprintf("unknown version %d", v)})
	}
	flags := r.Byte()
	if flags&^knownFlags != 0 {
		r.fail(errFlags)
	}
	m.Remember = flags&flagRemember != 0
	r.times(flags, [3]*time.Time{&m.Created, &m.LastSeen, &m.AuthTime})
	m.IdleTimeout = r.Duration()
	m.AbsoluteTimeout = r.Duration()
	m.Grace = r.Duration()
	m.UserID = r.Str()
	m.UserAgent = r.Str()
	m.IP = r.Str()
	m.DeviceKey, m.DeviceBoundAt = "", time.Time{}
	if flags&flagDeviceKey != 0 {
		if m.DeviceKey = r.Str(); m.DeviceKey == "" && r.err == nil {
			r.fail(&corruptError{detail: "empty device key under its flag"})
		}
	}
	if flags&flagDeviceBoundAt != 0 {
		if m.DeviceBoundAt = r.Time(); m.DeviceBoundAt.IsZero() && r.err == nil {
			r.fail(errTime) // flagged, but the zero time, which is not written
		}
	}
}

// times reads the times of a record's metadata (see appendTimes), and
// refuses a form that appendTimes would not have written.
func (r *Reader) times(flags byte, times [3]*time.Time) {
	var base int64
	first, wide := true, false
	for i, t := range times {
		switch {
		case flags&(flagCreatedZero<<i) != 0:
			*t = time.Time{}
		case flags&flagWide != 0:
			*t = r.Time()
			if t.IsZero() {
				r.fail(errTime) // flagged zero, not written
			}
			wide = wide || !inNanoRange(*t)
		default:
			d := r.Varint()
			ns := base + d
			if (d > 0 && ns < base) || (d < 0 && ns > base) || ns < -nanoRange || ns > nanoRange {
				r.fail(errTime)
			}
			if first {
				base, first = ns, false
			}
			*t = time.Unix(0, ns).UTC()
		}
	}
	if flags&flagWide != 0 && !wide {
		r.fail(errTime) // every time fits in nanoseconds
	}
}

// valueCount reads the count that starts a values section. Each value
// takes at least two bytes, which bounds the count by what is left.
func (r *Reader) valueCount() uint64 {
	n := r.Uvarint()
	if n > uint64(len(r.s))/2 {
		r.fail(errCount)
		return 0
	}
	return n
}

// value reads the i-th value of a values section, whose key must sort
// after prev, the key of the value before it.
func (r *Reader) value(i uint64, prev string) (key, json string) {
	key, json = r.Str(), r.Str()
	if i > 0 && key <= prev {
		r.fail(errKeyOrder)
	}
	return key, json
}

// Values reads a values section (see AppendValues), yielding each key and
// its JSON, undecoded. Check Err after the loop; a loop that stops early
// leaves the Reader within the section.
func (r *Reader) Values() iter.Seq2[string, string] { return r.values(false) }

// values is Values, except that with none set it reads nothing and yields
// nothing: PatchRecord's empty base.
func (r *Reader) values(none bool) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		if none {
			return
		}
		n := r.valueCount()
		var k, v string
		for i := uint64(0); i < n; i++ {
			if k, v = r.value(i, k); r.err != nil || !yield(k, v) {
				return
			}
		}
	}
}

// Record reads a whole record (see DecodeRecord), or returns nil after an
// error.
func (r *Reader) Record() *Record {
	rec := new(Record)
	r.Meta(&rec.Meta)
	n := r.valueCount()
	if r.err != nil {
		return nil
	}
	if n > 0 {
		rec.Values = make(map[string]any, n)
	}
	var k, raw string
	for i := uint64(0); i < n; i++ {
		if k, raw = r.value(i, k); r.err != nil {
			return nil
		}
		v, err := DecodeValueString(raw)
		if err != nil {
			r.fail(&corruptError{detail: fmt.Sprintf("value %q", k), err: err})
			return nil
		}
		rec.Values[k] = v
	}
	return rec
}
