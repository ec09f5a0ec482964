package cookiestore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/latchsec/latch/driver"
)

// The first envelope format, which Open still reads so that the cookies
// browsers hold stay good until they expire; Seal writes formatV2.
//
// This file can go once no cookie sealed in formatV1 can still be live:
// when every deployment has run a version that seals formatV2 for longer
// than its longest session (the AbsoluteTimeout of a remember-me session,
// plus Grace). A cookie is sealed again on every commit that changes its
// session, so most are replaced far sooner.
const (
	formatV1 byte = 0x01

	flagRemember byte = 1 << 0 // Meta.Remember
	flagAuth     byte = 1 << 1 // an AuthTime follows
	knownFlagsV1      = flagRemember | flagAuth
)

// parseEnvelopeV1 decodes the body of an envelope of formatV1, after its
// header byte and inflated:
//
//	id       32 bytes: the session hash
//	sealed   8 bytes: big-endian Unix nanoseconds of the seal
//	flags    1 byte: flagRemember, flagAuth
//	created  signed varint: nanoseconds from sealed
//	lastSeen signed varint: nanoseconds from sealed
//	authTime signed varint: nanoseconds from sealed (only with flagAuth)
//	idle, absolute, grace   unsigned varints: nanoseconds
//	user, userAgent, ip     unsigned varint length, then the bytes
//	values   the rest: the values as one JSON object, or nothing
func parseEnvelopeV1(body []byte) (*envelope, error) {
	r := driver.NewReader(string(body))
	r.Next(driver.HashSize + 8) // id and seal time, read from body below
	flags := r.Byte()
	if flags&^knownFlagsV1 != 0 {
		r.Fail("unknown flags")
	}
	if r.Err() != nil {
		return nil, errMalformedEnvelope
	}
	e := &envelope{id: driver.Hash(body[:driver.HashSize]), rec: &driver.Record{}}
	sealed := int64(binary.BigEndian.Uint64(body[driver.HashSize:]))
	e.sealed = time.Unix(0, sealed).UTC()
	m := &e.rec.Meta
	m.Remember = flags&flagRemember != 0
	m.Created = timeV1(r, sealed)
	m.LastSeen = timeV1(r, sealed)
	if flags&flagAuth != 0 {
		m.AuthTime = timeV1(r, sealed)
	}
	m.IdleTimeout = durationV1(r)
	m.AbsoluteTimeout = durationV1(r)
	m.Grace = durationV1(r)
	m.UserID, m.UserAgent, m.IP = r.Str(), r.Str(), r.Str()
	rest := r.Rest()
	if r.Err() != nil {
		return nil, errMalformedEnvelope
	}
	if rest != "" {
		d := json.NewDecoder(bytes.NewReader([]byte(rest)))
		d.UseNumber()
		if err := d.Decode(&e.rec.Values); err != nil {
			return nil, fmt.Errorf("%w: values: %w", errMalformedEnvelope, err)
		}
		if _, err := d.Token(); err != io.EOF {
			return nil, fmt.Errorf("%w: data after the values", errMalformedEnvelope)
		}
		if e.rec.Values == nil { // the JSON was null
			return nil, fmt.Errorf("%w: values are not an object", errMalformedEnvelope)
		}
	}
	return e, nil
}

// timeV1 reads a signed offset from base and returns base+offset, refusing
// a sum that overflows.
func timeV1(r *driver.Reader, base int64) time.Time {
	d := r.Varint()
	ns := base + d
	if (d > 0 && ns < base) || (d < 0 && ns > base) {
		r.Fail("bad time")
	}
	return time.Unix(0, ns).UTC()
}

// durationV1 reads a duration in nanoseconds.
func durationV1(r *driver.Reader) time.Duration {
	v := r.Uvarint()
	if v > math.MaxInt64 {
		r.Fail("bad duration")
		return 0
	}
	return time.Duration(v)
}
