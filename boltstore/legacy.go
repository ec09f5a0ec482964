package boltstore

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"time"

	"github.com/latchsec/latch/driver"
	bolt "go.etcd.io/bbolt"
)

// Files of earlier formats, read only to migrate them.
//
// boltstore/1 (records only) and boltstore/2 (which added forwards) kept
// each record in a layout of their own, under tag 1. Open migrates such a
// file in the transaction that opens it: every record is rewritten in
// driver's record encoding (tagRecord), and the file is marked
// boltstore/3. Forwards (tagForward) and the indexes are the same in
// both, and a record keeps its metadata exactly, so its index entries
// stay as they are. A record that does not decode is left as it was: it
// reads as corrupt, as it did before, and Delete and DeleteUser remove it.
//
// This file can go when latch no longer promises to open a file written
// before boltstore/3: once every deployment has opened its file with a
// version that migrates it (the first Open does), nothing reads tag 1.

// legacyFormats are the formats Open migrates.
var legacyFormats = [][]byte{[]byte("boltstore/1"), []byte("boltstore/2")}

// tagLegacyRecord is the tag of a record of boltstore/1 and /2.
const tagLegacyRecord = 1

// isLegacyFormat reports whether format names a file that Open migrates.
func isLegacyFormat(format []byte) bool {
	for _, f := range legacyFormats {
		if bytes.Equal(format, f) {
			return true
		}
	}
	return false
}

// migrateBatch is the number of records read before they are rewritten: a
// cursor must not walk a bucket while it changes.
const migrateBatch = 1024

// migrate rewrites every legacy record of the sessions bucket of tx in the
// current encoding, and marks the file as formatVersion in meta.
func migrate(tx *bolt.Tx, meta *bolt.Bucket) error {
	if sessions := tx.Bucket(bucketSessions); sessions != nil {
		type kv struct{ k, v []byte }
		c := sessions.Cursor()
		k, v := c.First()
		for k != nil {
			var batch []kv
			for ; k != nil && len(batch) < migrateBatch; k, v = c.Next() {
				if r, err := decodeLegacy(v); err == nil {
					batch = append(batch, kv{bytes.Clone(k), encodeRecord(r)})
				}
			}
			next := bytes.Clone(k) // the first key not read yet, or nil
			for _, e := range batch {
				if err := sessions.Put(e.k, e.v); err != nil {
					return err
				}
			}
			if next != nil {
				k, v = c.Seek(next)
			}
		}
	}
	return meta.Put(keyFormat, formatVersion)
}

// decodeLegacy parses a record of boltstore/1 and /2:
//
//	tag byte (tagLegacyRecord)
//	uvarint flags (bit 0: Remember)
//	created, last seen, auth time: varint Unix seconds, uvarint nanoseconds
//	varint idle timeout, absolute timeout, grace (nanoseconds)
//	user ID, user agent, IP: uvarint length, then the bytes
//	the values, as driver's record encoding has them
//	CRC-32C (Castagnoli) of everything above, big-endian
//
// It fails on anything else, a forward included.
func decodeLegacy(data []byte) (*record, error) {
	if len(data) < 1+4 || data[0] != tagLegacyRecord {
		return nil, corrupt("not a legacy record")
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(data[len(data)-4:]) {
		return nil, corrupt("checksum mismatch")
	}
	rd := driver.NewReader(string(body[1:]))
	r := &record{values: map[string][]byte{}}
	flags := rd.Uvarint()
	if flags&^1 != 0 {
		rd.Fail("bad flags")
	}
	m := &r.meta
	m.Remember = flags&1 != 0
	m.Created, m.LastSeen, m.AuthTime = rd.Time(), rd.Time(), rd.Time()
	m.IdleTimeout = time.Duration(rd.Varint())
	m.AbsoluteTimeout = time.Duration(rd.Varint())
	m.Grace = time.Duration(rd.Varint())
	m.UserID, m.UserAgent, m.IP = rd.Str(), rd.Str(), rd.Str()
	for k, v := range rd.Values() {
		r.values[k] = []byte(v)
	}
	if err := rd.End(); err != nil {
		return nil, &corruptError{err: err}
	}
	return r, nil
}
