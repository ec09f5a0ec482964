package boltstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
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
	// formatVersion names the layout of the whole file. boltstore/3 keeps
	// records in driver's record encoding; Open migrates a file of an
	// earlier format (see legacy.go), and a program that reads only those
	// refuses a boltstore/3 file rather than take its records for corrupt
	// ones.
	formatVersion = []byte("boltstore/3")
)

// The first byte of every value in the sessions bucket is its tag: the kind
// of value and the layout of that kind. A new layout of a kind gets a new
// tag, so that a value is always read with the layout it was written with.
// Tag 1 was the record of boltstore/1 and /2 (see legacy.go).
const (
	tagForward = 2 // a forward left by a renewal, see encodeForward
	tagRecord  = 3 // a session record, see encodeRecord
)

// MaxUserIDLen is the longest user ID, in bytes, that the store accepts. It
// keeps index keys well below bbolt's key size limit.
const MaxUserIDLen = 1024

// corruptError is the error of every decoding failure. It matches
// ErrCorrupt, and driver.ErrCorruptRecord when driver's decoder found the
// fault; its text leaves the package prefix to the error that wraps it.
type corruptError struct {
	detail string // "" when err, driver's error, says it all
	err    error  // optional cause
}

func (e *corruptError) Error() string {
	switch {
	case e.detail == "":
		return e.err.Error() // "corrupt record: ..."
	case e.err != nil:
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
//	tag byte (tagRecord)
//	the record in driver's record encoding (driver.AppendRecord): its
//	version byte, the metadata, the values by key
//	CRC-32C (Castagnoli) of everything above, big-endian
func encodeRecord(r *record) []byte {
	size := 1 + 64 + len(r.meta.UserID) + len(r.meta.UserAgent) + len(r.meta.IP) + len(r.meta.DeviceKey) + 4
	vals := make([]driver.RawValue, 0, len(r.values))
	for k, v := range r.values {
		vals = append(vals, driver.RawValue{Key: k, JSON: string(v)})
		size += 2*binary.MaxVarintLen32 + len(k) + len(v)
	}
	b := make([]byte, 0, size)
	b = append(b, tagRecord)
	b = driver.AppendMeta(b, &r.meta)
	b = driver.AppendValues(b, vals)
	return appendChecksum(b)
}

// appendChecksum appends the CRC-32C of b to b.
func appendChecksum(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeStored parses a value of the sessions bucket: it returns a record
// (written by encodeRecord) or a forward (written by encodeForward), never
// both. The strings of a record share one copy of data; its values are
// copied too when copyValues is set, so that the record outlives the
// transaction that read it, and otherwise alias data.
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
	return nil, nil, corrupt("unknown tag %d", body[0])
}

// decodeRecordBody parses the body of a record, after its tag and without
// its checksum.
func decodeRecordBody(body []byte, copyValues bool) (*record, error) {
	s := string(body)
	rd := driver.NewReader(s)
	r := &record{values: map[string][]byte{}}
	rd.Meta(&r.meta)
	for k, v := range rd.Values() {
		end := len(s) - rd.Len()
		raw := body[end-len(v) : end] // v, in data
		if copyValues {
			raw = []byte(v)
		}
		r.values[k] = raw
	}
	if err := rd.End(); err != nil {
		return nil, &corruptError{err: err}
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
//	expiry: varint Unix seconds, uvarint nanoseconds (driver.AppendTime)
//	CRC-32C (Castagnoli) of everything above, big-endian
func encodeForward(f *forward) []byte {
	b := make([]byte, 0, 1+driver.HashSize+binary.MaxVarintLen64+binary.MaxVarintLen32+4)
	b = append(b, tagForward)
	b = append(b, f.to[:]...)
	b = driver.AppendTime(b, f.expires)
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
	r := driver.NewReader(string(body[driver.HashSize:]))
	if f.expires = r.Time(); r.Err() != nil {
		return nil, corrupt("bad forward expiry")
	}
	if err := r.End(); err != nil {
		return nil, &corruptError{err: err}
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
