package boltstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"time"

	"github.com/latchsec/latch/driver"
)

// On-disk layout.
//
// Bucket "sessions": key = the raw 32-byte hash, value = an encoded record
// or an encoded forward (see tagRecord and tagForward).
// Bucket "expiry": key = expiry (8 bytes, see expiryKey) || hash, value
// empty; one entry per record and one per forward.
// Bucket "users": key = uvarint(len(user)) || user || hash, value empty;
// records only, since a forward belongs to no user.
// Bucket "meta": key "format" = formatVersion.
//
// The length prefix makes user keys prefix-free: the prefix of "bob" never
// matches a key of "bobby".
var (
	bucketSessions = []byte("sessions")
	bucketExpiry   = []byte("expiry")
	bucketUsers    = []byte("users")
	bucketMeta     = []byte("meta")

	keyFormat = []byte("format")
	// formatVersion names the layout of the whole file. boltstore/2 added
	// forwards to the sessions bucket; a boltstore/1 file (records only) is
	// a valid boltstore/2 file and is relabelled when opened, while a
	// program that reads only boltstore/1 refuses a boltstore/2 file rather
	// than take a forward for a corrupt record.
	formatVersion = []byte("boltstore/2")
	formatV1      = []byte("boltstore/1")
)

// The first byte of every value in the sessions bucket is its tag: the kind
// of value and the layout of that kind. A new layout of a kind gets a new
// tag, so that a value is always read with the layout it was written with.
const (
	tagRecord  = 1 // a session record, see encodeRecord
	tagForward = 2 // a forward left by a renewal, see encodeForward
)

// flagRemember is bit 0 of the flags field.
const flagRemember = 1

// MaxUserIDLen is the longest user ID, in bytes, that the store accepts. It
// keeps index keys well below bbolt's key size limit.
const MaxUserIDLen = 1024

// corruptError is the error of every decoding failure. It matches
// ErrCorrupt; its text leaves the package prefix to the error that wraps it.
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

func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }
func (e *corruptError) Unwrap() error        { return e.err }

// corrupt returns a corruptError with a formatted detail.
func corrupt(format string, args ...any) error {
	return &corruptError{detail: fmt.Sprintf(format, args...)}
}

// castagnoli is the CRC-32C table used for record checksums.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is the stored form of a session: its metadata and its values, each
// value still encoded with driver.EncodeValue so that a Commit can apply
// changes key by key without decoding the others.
type record struct {
	meta   driver.Meta
	values map[string][]byte
}

// encodeRecord serialises r:
//
//	version byte
//	uvarint flags
//	created, last seen, auth time: varint unix seconds, uvarint nanoseconds
//	varint idle timeout, absolute timeout, grace (nanoseconds)
//	user ID, user agent, IP: uvarint length || bytes
//	uvarint value count, then per value sorted by key:
//	    uvarint key length || key || uvarint value length || value
//	CRC-32C (Castagnoli) of everything above, big-endian
func encodeRecord(r *record) []byte {
	size := 1 + 3*binary.MaxVarintLen64 + 3*(binary.MaxVarintLen64+binary.MaxVarintLen32) +
		6*binary.MaxVarintLen64 + len(r.meta.UserID) + len(r.meta.UserAgent) + len(r.meta.IP) + 4
	keys := make([]string, 0, len(r.values))
	for k, v := range r.values {
		keys = append(keys, k)
		size += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	slices.Sort(keys)

	b := make([]byte, 0, size)
	b = append(b, tagRecord)
	var flags uint64
	if r.meta.Remember {
		flags |= flagRemember
	}
	b = binary.AppendUvarint(b, flags)
	b = appendTime(b, r.meta.Created)
	b = appendTime(b, r.meta.LastSeen)
	b = appendTime(b, r.meta.AuthTime)
	b = binary.AppendVarint(b, int64(r.meta.IdleTimeout))
	b = binary.AppendVarint(b, int64(r.meta.AbsoluteTimeout))
	b = binary.AppendVarint(b, int64(r.meta.Grace))
	b = appendString(b, r.meta.UserID)
	b = appendString(b, r.meta.UserAgent)
	b = appendString(b, r.meta.IP)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(r.values[k])))
		b = append(b, r.values[k]...)
	}
	return appendChecksum(b)
}

// appendChecksum appends the CRC-32C of b to b.
func appendChecksum(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads the fields of an encoded record, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = corrupt("bad %s", what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) time(what string) time.Time {
	sec := d.varint(what)
	nsec := d.uvarint(what)
	if d.err != nil {
		return time.Time{}
	}
	if nsec >= uint64(time.Second) {
		d.fail(what)
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if t.IsZero() {
		return time.Time{}
	}
	return t
}

// decodeStored parses a value of the sessions bucket: it returns a record
// (written by encodeRecord) or a forward (written by encodeForward), never
// both. Value bytes of a record are copied when copyValues is set, so that
// the record outlives the transaction that read it; otherwise they alias
// data.
func decodeStored(data []byte, copyValues bool) (*record, *forward, error) {
	if len(data) < 1+4 {
		return nil, nil, corrupt("truncated (%d bytes)", len(data))
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, nil, corrupt("checksum mismatch")
	}
	switch body[0] {
	case tagRecord:
		r, err := decodeRecordBody(body[1:], copyValues)
		return r, nil, err
	case tagForward:
		f, err := decodeForwardBody(body[1:])
		return nil, f, err
	}
	return nil, nil, corrupt("unknown record version %d", body[0])
}

// decodeRecordBody parses the body of a record, after its tag and without its
// checksum.
func decodeRecordBody(body []byte, copyValues bool) (*record, error) {
	d := &decoder{b: body}
	r := &record{}
	flags := d.uvarint("flags")
	if flags&^flagRemember != 0 {
		d.fail("flags")
	}
	r.meta.Remember = flags&flagRemember != 0
	r.meta.Created = d.time("created time")
	r.meta.LastSeen = d.time("last-seen time")
	r.meta.AuthTime = d.time("authentication time")
	r.meta.IdleTimeout = time.Duration(d.varint("idle timeout"))
	r.meta.AbsoluteTimeout = time.Duration(d.varint("absolute timeout"))
	r.meta.Grace = time.Duration(d.varint("grace"))
	r.meta.UserID = string(d.bytes("user ID"))
	r.meta.UserAgent = string(d.bytes("user agent"))
	r.meta.IP = string(d.bytes("IP"))
	n := d.uvarint("value count")
	if d.err != nil {
		return nil, d.err
	}
	// Each value takes at least two bytes, which bounds the allocation.
	if n > uint64(len(d.b))/2 {
		return nil, corrupt("bad value count")
	}
	r.values = make(map[string][]byte, n)
	prev := ""
	for i := uint64(0); i < n; i++ {
		k := string(d.bytes("value key"))
		v := d.bytes("value")
		if d.err != nil {
			return nil, d.err
		}
		if i > 0 && k <= prev {
			return nil, corrupt("value keys out of order")
		}
		prev = k
		if copyValues {
			v = bytes.Clone(v)
		}
		r.values[k] = v
	}
	if len(d.b) != 0 {
		return nil, corrupt("%d trailing bytes", len(d.b))
	}
	return r, nil
}

// forward is what a renewal leaves under the hash it renewed: the hash the
// session moved to, kept until the time the replaced record would have
// expired (its Meta.ExpiresAt()).
type forward struct {
	to      driver.Hash
	expires time.Time
}

// live reports whether f may still be followed at now.
func (f *forward) live(now time.Time) bool { return now.Before(f.expires) }

// encodeForward serialises f:
//
//	tag byte (tagForward)
//	the 32 bytes of the target hash
//	expiry: varint unix seconds, uvarint nanoseconds
//	CRC-32C (Castagnoli) of everything above, big-endian
func encodeForward(f *forward) []byte {
	b := make([]byte, 0, 1+driver.HashSize+binary.MaxVarintLen64+binary.MaxVarintLen32+4)
	b = append(b, tagForward)
	b = append(b, f.to[:]...)
	b = appendTime(b, f.expires)
	return appendChecksum(b)
}

// decodeForwardBody parses the body of a forward, after its tag and without its
// checksum.
func decodeForwardBody(body []byte) (*forward, error) {
	if len(body) < driver.HashSize {
		return nil, corrupt("bad forward target")
	}
	f := &forward{to: driver.Hash(body[:driver.HashSize])}
	if f.to.IsZero() {
		return nil, corrupt("forward to the zero hash")
	}
	d := &decoder{b: body[driver.HashSize:]}
	f.expires = d.time("forward expiry")
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, corrupt("%d trailing bytes", len(d.b))
	}
	return f, nil
}

// expiryNanos returns t as Unix nanoseconds, saturated to the int64 range
// so that times far in the past or the future still order correctly.
func expiryNanos(t time.Time) int64 {
	const maxSec = math.MaxInt64 / int64(time.Second)
	switch sec := t.Unix(); {
	case sec >= maxSec:
		return math.MaxInt64
	case sec <= -maxSec:
		return math.MinInt64
	}
	return t.UnixNano()
}

// expiryPrefixLen is the size of the time part of an expiry key.
const expiryPrefixLen = 8

// expiryKey is the expiry index key for a session: the expiry in Unix
// nanoseconds with the sign bit flipped, big-endian, so that byte order is
// time order, followed by the hash.
func expiryKey(t time.Time, h driver.Hash) []byte {
	k := make([]byte, expiryPrefixLen+driver.HashSize)
	binary.BigEndian.PutUint64(k, uint64(expiryNanos(t))^(1<<63))
	copy(k[expiryPrefixLen:], h[:])
	return k
}

// parseExpiryKey is the inverse of expiryKey.
func parseExpiryKey(k []byte) (nanos int64, h driver.Hash, ok bool) {
	if len(k) != expiryPrefixLen+driver.HashSize {
		return 0, h, false
	}
	nanos = int64(binary.BigEndian.Uint64(k) ^ (1 << 63))
	copy(h[:], k[expiryPrefixLen:])
	return nanos, h, true
}

// userPrefix is the common prefix of every index key of the user.
func userPrefix(user string) []byte {
	p := make([]byte, 0, binary.MaxVarintLen64+len(user)+driver.HashSize)
	p = binary.AppendUvarint(p, uint64(len(user)))
	return append(p, user...)
}

// userKey is the per-user index key of a session.
func userKey(user string, h driver.Hash) []byte {
	return append(userPrefix(user), h[:]...)
}
