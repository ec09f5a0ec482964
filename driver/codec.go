package driver

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
)

// The record encoding is the one binary form of a Record that stores which
// keep sessions as bytes share (memstore, boltstore and cookiestore): the
// one place that must learn a field added to Meta. It is compact (a
// logged-in session with one small value takes about 50 bytes) and
// self-delimiting, so that a store can frame it with its own header and
// checksum:
//
//	record = version meta values
//	version  1 byte: RecordVersion
//	meta   = flags
//	         created lastSeen authTime  (see below)
//	         dur idle, dur absolute, dur grace
//	         str user, str userAgent, str ip
//	         [str deviceKey]      (only with flagDeviceKey)
//	         [time deviceBoundAt] (only with flagDeviceBoundAt, as
//	                               AppendTime writes it)
//	values = uvarint count, then count × (str key, str JSON),
//	         keys in strictly ascending byte order, each value as
//	         EncodeValue gives it
//	str    = uvarint length, then the bytes
//	dur    = varint 2×seconds (a whole number of seconds, the usual case)
//	         or varint 1 then varint nanoseconds
//
// The flags byte holds Remember (bit 0), the wide form of the times
// (bit 1), one bit for each of Created, LastSeen and AuthTime that is
// the zero time (bits 2 to 4), which is then left out, and bit 5 when
// DeviceKey is set (a device-bound session), which then follows the IP,
// and bit 6 when DeviceBoundAt is not zero, which then follows.
// A record without a device key is written exactly as before the field
// existed; a reader that predates it refuses one with a key (unknown
// flag) rather than drop the binding. The times are
// Unix nanoseconds, the first one written whole and the others as their
// distance from it, so that a session's times, which are close together,
// take few bytes. When one of them is outside the years 1970±146 (half
// of the range of int64 nanoseconds, so that no distance overflows), all
// of them take the wide form instead: varint Unix seconds then uvarint
// nanoseconds, as AppendTime writes a time. varint is binary.AppendVarint,
// uvarint binary.AppendUvarint.
//
// The values come last, so that a commit that changes only the metadata
// copies them as they are, and PatchRecord applies a commit to them
// without decoding a single value.
//
// Each record has exactly one encoding: the Reader refuses anything that
// AppendRecord would not have written (an unknown flag, a varint longer
// than it needs, keys out of order), so the metadata and the raw values
// of a record that decodes encode back to the same bytes. (The JSON of a
// value is kept as EncodeValue wrote it, and checked only when decoded.)

// RecordVersion is the first byte of every record this package writes. A
// change of layout gets a new version, which the Reader reads beside the
// older ones that files and cookies still hold; it refuses a version it
// does not know rather than misread it.
const RecordVersion byte = 1

// ErrCorruptRecord is matched (errors.Is) by every error of DecodeRecord
// and of a Reader: the bytes are not a record this package wrote.
var ErrCorruptRecord = errors.New("latch: corrupt record")

// corruptError is the error of a failed decoding. Its text, "corrupt
// record: " and what was wrong, leaves the package prefix to the store
// that wraps it.
type corruptError struct {
	detail string
	err    error // optional cause
}

func (e *corruptError) Error() string {
	if e.err != nil {
		return "corrupt record: " + e.detail + ": " + e.err.Error()
	}
	return "corrupt record: " + e.detail
}

func (e *corruptError) Is(target error) bool { return target == ErrCorruptRecord }
func (e *corruptError) Unwrap() error        { return e.err }

// The errors of the Reader's primitives, allocated once.
var (
	errTruncated = &corruptError{detail: "truncated"}
	errVarint    = &corruptError{detail: "bad varint"}
	errDuration  = &corruptError{detail: "bad duration"}
	errTime      = &corruptError{detail: "bad time"}
	errFlags     = &corruptError{detail: "unknown flags"}
	errCount     = &corruptError{detail: "bad value count"}
	errKeyOrder  = &corruptError{detail: "value keys out of order"}
)

// flags of the metadata.
const (
	flagRemember = 1 << iota
	// flagWide: the times are seconds and nanoseconds, because one of
	// them is outside nanoRange.
	flagWide
	flagCreatedZero
	flagLastSeenZero
	flagAuthTimeZero
	// flagDeviceKey: Meta.DeviceKey follows the IP.
	flagDeviceKey
	// flagDeviceBoundAt: Meta.DeviceBoundAt follows.
	flagDeviceBoundAt

	knownFlags = flagRemember | flagWide | flagCreatedZero | flagLastSeenZero | flagAuthTimeZero | flagDeviceKey | flagDeviceBoundAt
)

// RawValue is one session value as a store keeps it: its key and its JSON,
// as EncodeValue gives it.
type RawValue struct {
	Key  string
	JSON string
}

// EncodeValues encodes values with EncodeValue and returns them sorted by
// key, as AppendValues and PatchRecord take them. A store calls it before
// it takes any lock: a value that cannot be encoded fails the commit, and
// nothing is written.
func EncodeValues(values map[string]any) ([]RawValue, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := make([]RawValue, 0, len(values))
	for k, v := range values {
		b, err := EncodeValue(v)
		if err != nil {
			return nil, withKey(k, err)
		}
		out = append(out, RawValue{k, string(b)})
	}
	slices.SortFunc(out, compareKeys)
	return out, nil
}

func compareKeys(a, b RawValue) int { return strings.Compare(a.Key, b.Key) }

// AppendRecord appends the encoding of rec to dst, each value encoded by
// EncodeValue. It fails only when a value cannot be encoded.
func AppendRecord(dst []byte, rec *Record) ([]byte, error) {
	dst = AppendMeta(dst, &rec.Meta)
	keys := make([]string, 0, len(rec.Values))
	for k := range rec.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		b, err := EncodeValue(rec.Values[k])
		if err != nil {
			return nil, withKey(k, err)
		}
		dst = AppendString(dst, k)
		dst = binary.AppendUvarint(dst, uint64(len(b)))
		dst = append(dst, b...)
	}
	return dst, nil
}

// metaLen is room enough for the metadata less its strings in the usual
// case: version and flags, times in nanoseconds (the first one 9 bytes),
// timeouts in whole seconds, short string lengths.
const metaLen = 48

// AppendMeta appends the head of a record to dst: the version byte and m.
// AppendValues appends the rest. It grows dst once, in the usual case.
func AppendMeta(dst []byte, m *Meta) []byte {
	dst = slices.Grow(dst, metaLen+len(m.UserID)+len(m.UserAgent)+len(m.IP)+len(m.DeviceKey))
	dst = append(dst, RecordVersion)
	var flags byte
	if m.Remember {
		flags |= flagRemember
	}
	if m.DeviceKey != "" {
		flags |= flagDeviceKey
	}
	if !m.DeviceBoundAt.IsZero() {
		flags |= flagDeviceBoundAt
	}
	times := [3]time.Time{m.Created, m.LastSeen, m.AuthTime}
	for i, t := range times {
		if t.IsZero() {
			flags |= flagCreatedZero << i
		} else if !inNanoRange(t) {
			flags |= flagWide
		}
	}
	dst = append(dst, flags)
	dst = appendTimes(dst, flags, &times)
	dst = AppendDuration(dst, m.IdleTimeout)
	dst = AppendDuration(dst, m.AbsoluteTimeout)
	dst = AppendDuration(dst, m.Grace)
	dst = AppendString(dst, m.UserID)
	dst = AppendString(dst, m.UserAgent)
	dst = AppendString(dst, m.IP)
	if m.DeviceKey != "" {
		dst = AppendString(dst, m.DeviceKey)
	}
	if !m.DeviceBoundAt.IsZero() {
		dst = AppendTime(dst, m.DeviceBoundAt)
	}
	return dst
}

// appendTimes appends the times that flags does not mark zero: the first
// as Unix nanoseconds and the others as their distance from it, or, with
// flagWide, each as AppendTime writes it.
func appendTimes(dst []byte, flags byte, times *[3]time.Time) []byte {
	var base int64
	first := true
	for i, t := range times {
		switch {
		case flags&(flagCreatedZero<<i) != 0:
		case flags&flagWide != 0:
			dst = AppendTime(dst, t)
		default:
			ns := t.UnixNano()
			dst = binary.AppendVarint(dst, ns-base) // both in nanoRange: no overflow
			if first {
				base, first = ns, false
			}
		}
	}
	return dst
}

// nanoRange: the times kept as Unix nanoseconds, half of int64's range on
// either side of 1970, so that the distance between two never overflows.
const nanoRange = math.MaxInt64 / 2

var (
	minNanoTime = time.Unix(0, -nanoRange)
	maxNanoTime = time.Unix(0, nanoRange)
)

func inNanoRange(t time.Time) bool { return !t.Before(minNanoTime) && !t.After(maxNanoTime) }

// AppendValues appends a values section to dst: the count of vals, then
// each key and JSON. It sorts vals by key first; keys must be distinct
// (as those of a map are).
func AppendValues(dst []byte, vals []RawValue) []byte {
	slices.SortFunc(vals, compareKeys)
	dst = binary.AppendUvarint(dst, uint64(len(vals)))
	for _, v := range vals {
		dst = AppendString(dst, v.Key)
		dst = AppendString(dst, v.JSON)
	}
	return dst
}

// AppendString appends s with its length: uvarint len(s), then s.
// Reader.Str reads it back.
func AppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// AppendTime appends t as varint Unix seconds then uvarint nanoseconds:
// every time, to the nanosecond, without its location or monotonic
// reading. Reader.Time reads it back, in UTC.
func AppendTime(dst []byte, t time.Time) []byte {
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

// AppendDuration appends d in whole seconds when it is one, which takes 2
// or 3 bytes for the usual timeouts instead of 6 or 7, and in nanoseconds
// otherwise. Every duration round-trips, negative ones too: a store keeps
// what it is given. Reader.Duration reads it back.
func AppendDuration(dst []byte, d time.Duration) []byte {
	if d%time.Second == 0 {
		return binary.AppendVarint(dst, int64(d/time.Second)*2)
	}
	dst = binary.AppendVarint(dst, 1)
	return binary.AppendVarint(dst, int64(d))
}

// PatchRecord returns the record whose head is head (from AppendMeta) and
// whose values are those of base, a values section ("" for none), changed
// as c says: all dropped with c.Clear, then those c.Delete names, then set
// (c.Set as EncodeValues gives it) added or replacing. The values it keeps
// are copied as they are, never decoded, and the result is built in one
// allocation of its exact size. It fails only when base is corrupt.
func PatchRecord(head []byte, base string, c *Commit, set []RawValue) (string, error) {
	if c.Clear {
		base = ""
	}
	if base != "" && len(c.Delete) == 0 && len(set) == 0 {
		return string(head) + base, nil // the values as they are
	}
	// First pass: the size and count of the values kept from base.
	keep := func(k string) bool {
		return !slices.Contains(c.Delete, k) && !containsKey(set, k)
	}
	count, size := len(set), 0
	for _, v := range set {
		size += stringLen(v.Key) + stringLen(v.JSON)
	}
	r := NewReader(base)
	for k, v := range r.values(base == "") {
		if keep(k) {
			count++
			size += stringLen(k) + stringLen(v)
		}
	}
	if err := r.Err(); err != nil {
		return "", err
	}
	size += len(head) + uvarintLen(uint64(count))

	// Second pass: merge the values kept from base with set, both sorted.
	var sb strings.Builder
	sb.Grow(size)
	sb.Write(head)
	var tmp [binary.MaxVarintLen64]byte
	writeString := func(s string) {
		sb.Write(binary.AppendUvarint(tmp[:0], uint64(len(s))))
		sb.WriteString(s)
	}
	sb.Write(binary.AppendUvarint(tmp[:0], uint64(count)))
	r = NewReader(base)
	for k, v := range r.values(base == "") {
		if !keep(k) {
			continue
		}
		for len(set) > 0 && set[0].Key < k {
			writeString(set[0].Key)
			writeString(set[0].JSON)
			set = set[1:]
		}
		writeString(k)
		writeString(v)
	}
	for _, v := range set {
		writeString(v.Key)
		writeString(v.JSON)
	}
	return sb.String(), nil
}

// containsKey reports whether set, sorted by key, holds k.
func containsKey(set []RawValue, k string) bool {
	_, found := slices.BinarySearchFunc(set, k, func(v RawValue, k string) int { return strings.Compare(v.Key, k) })
	return found
}

func uvarintLen(n uint64) int {
	var tmp [binary.MaxVarintLen64]byte
	return len(binary.AppendUvarint(tmp[:0], n))
}

func stringLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

// DecodeRecord decodes the record at the start of s and returns it with
// the bytes that follow it. Its strings share the memory of s, and its
// values are decoded by DecodeValueString (numbers as json.Number); a
// record without values has nil Values. Times are in UTC. Every error
// matches ErrCorruptRecord.
func DecodeRecord(s string) (*Record, string, error) {
	r := NewReader(s)
	rec := r.Record()
	if err := r.Err(); err != nil {
		return nil, "", err
	}
	return rec, r.Rest(), nil
}
