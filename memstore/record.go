package memstore

import (
	"errors"

	"github.com/latchsec/latch/driver"
)

// A stored session is one immutable string: its record in driver's record
// encoding (see driver.AppendRecord), which keeps the metadata compact
// (times as nanoseconds from the creation, timeouts in whole seconds) and
// puts the values last, each as the JSON driver.EncodeValue gives it. A
// commit encodes the new metadata with driver.AppendMeta and its values
// with driver.EncodeValues before it takes any lock; under the lock,
// driver.PatchRecord splices the stored values with the changed ones
// without decoding a single value, and a commit that changes only the
// metadata copies them as they are.

// A forward, which a renewal leaves under the hash it renewed from, is
// kept in an entry like a session, its packed form a zero byte and the
// hash renewed into:
//
//	forward = 0x00 | to (32 bytes)
//
// No record starts with a zero byte: its first byte is
// driver.RecordVersion.

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

var errForward = errors.New("a forward, not a record")

// decodeMeta decodes the metadata of a stored record into m and returns
// its values section. Times are in UTC; strings in m share the record's
// memory.
func decodeMeta(data string, m *driver.Meta) (values string, err error) {
	if isForward(data) {
		return "", errForward
	}
	r := driver.NewReader(data)
	r.Meta(m)
	values = r.Rest()
	return values, r.Err()
}

// valuesOf returns the values section of a stored record.
func valuesOf(data string) string {
	var m driver.Meta
	values, _ := decodeMeta(data, &m) // never fails: the store wrote data
	return values
}

// userOf returns the user ID of a stored record; "" for a forward, which
// is no session.
func userOf(data string) string {
	var m driver.Meta
	if _, err := decodeMeta(data, &m); err != nil {
		return ""
	}
	return m.UserID
}

// unpack decodes a stored record into a new Record.
func unpack(data string) (*driver.Record, error) {
	if isForward(data) {
		return nil, errForward
	}
	r := driver.NewReader(data)
	rec := r.Record()
	if err := r.End(); err != nil {
		return nil, err
	}
	return rec, nil
}
