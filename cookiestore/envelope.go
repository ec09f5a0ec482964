package cookiestore

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/latchsec/latch/driver"
)

// The plaintext sealed into a cookie is an envelope in a compact binary
// form:
//
//	header   1 byte: formatV1, or formatV1|flagDeflate when the rest is
//	         compressed with compress/flate
//	id       32 bytes: the session hash
//	sealed   8 bytes: big-endian Unix nanoseconds of the seal
//	flags    1 byte: flagRemember, flagAuth
//	created  signed varint: nanoseconds from sealed
//	lastSeen signed varint: nanoseconds from sealed
//	authTime signed varint: nanoseconds from sealed (only with flagAuth)
//	idle, absolute, grace   unsigned varints: nanoseconds
//	user, userAgent, ip     unsigned varint length, then the bytes
//	values   the rest: the values as one JSON object, or nothing
//
// Every field is checked when the envelope is read back, although it only
// ever is after the AEAD has authenticated it: a bug or a future format
// must give a clear refusal, never a panic or a half-read record.
const (
	formatV1    byte = 0x01
	flagDeflate byte = 0x80

	flagRemember byte = 1 << 0
	flagAuth     byte = 1 << 1
	knownFlags        = flagRemember | flagAuth

	// maxInflated bounds the decompressed envelope. Sealed cookies are
	// authenticated before they are inflated, so only the holder of a key
	// could make one expand; the bound is a second line.
	maxInflated = 64 << 10
)

// envelope is the decoded plaintext of a cookie.
type envelope struct {
	id     driver.Hash
	sealed time.Time
	meta   driver.Meta
	values map[string]any
}

var errMalformedEnvelope = errors.New("cookiestore: malformed envelope")

// appendEnvelope appends the uncompressed envelope body (everything after
// the header byte) to dst.
func appendEnvelope(dst []byte, id driver.Hash, sealed int64, rec *driver.Record) ([]byte, error) {
	m := &rec.Meta
	dst = append(dst, id[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(sealed))
	var flags byte
	if m.Remember {
		flags |= flagRemember
	}
	if !m.AuthTime.IsZero() {
		flags |= flagAuth
	}
	dst = append(dst, flags)
	times := []struct {
		name string
		t    time.Time
	}{{"Created", m.Created}, {"LastSeen", m.LastSeen}, {"AuthTime", m.AuthTime}}
	for i, f := range times {
		if i == 2 && flags&flagAuth == 0 {
			break
		}
		ns, err := unixNano(f.t)
		if err != nil {
			return nil, fmt.Errorf("cookiestore: Meta.%s: %w", f.name, err)
		}
		d := ns - sealed
		if (d > 0) != (ns > sealed) { // overflow of the difference
			return nil, fmt.Errorf("cookiestore: Meta.%s is too far from the seal time", f.name)
		}
		dst = binary.AppendVarint(dst, d)
	}
	durations := []struct {
		name string
		d    time.Duration
	}{{"IdleTimeout", m.IdleTimeout}, {"AbsoluteTimeout", m.AbsoluteTimeout}, {"Grace", m.Grace}}
	for _, f := range durations {
		if f.d < 0 {
			return nil, fmt.Errorf("cookiestore: Meta.%s %v is negative", f.name, f.d)
		}
		dst = binary.AppendUvarint(dst, uint64(f.d))
	}
	for _, s := range [...]string{m.UserID, m.UserAgent, m.IP} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	if len(rec.Values) > 0 {
		b, err := json.Marshal(rec.Values)
		if err != nil {
			return nil, fmt.Errorf("cookiestore: encode session values: %w", err)
		}
		dst = append(dst, b...)
	}
	return dst, nil
}

// Representable times: Unix nanoseconds in an int64 (years 1678 to 2262).
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// unixNano converts t, which must be representable, to Unix nanoseconds.
// The zero time is allowed only where flagAuth says so.
func unixNano(t time.Time) (int64, error) {
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("time %s is out of range", t.UTC().Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// Flate state is large (hundreds of kilobytes for a writer): it is pooled.
var (
	writers sync.Pool // of *flate.Writer
	readers sync.Pool // of io.ReadCloser that implements flate.Resetter
)

// deflate appends body compressed to dst.
func deflate(dst, body []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	w, _ := writers.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriter(buf, flate.BestSpeed); err != nil {
			return nil, err
		}
	} else {
		w.Reset(buf)
	}
	defer writers.Put(w)
	if _, err := w.Write(body); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// inflate decompresses an envelope body, refusing one that grows past
// maxInflated.
func inflate(b []byte) ([]byte, error) {
	src := bytes.NewReader(b)
	r, _ := readers.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReader(src)
	} else if err := r.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformedEnvelope, err)
	}
	defer readers.Put(r)
	out, err := io.ReadAll(io.LimitReader(r, maxInflated+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformedEnvelope, err)
	}
	if len(out) > maxInflated {
		return nil, fmt.Errorf("%w: inflates past %d bytes", errMalformedEnvelope, maxInflated)
	}
	return out, nil
}

// reader reads envelope fields, remembering the first error.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) bytes(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.bad {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// time reads a signed offset from base and returns base+offset, refusing
// a sum that overflows.
func (r *reader) time(base int64) time.Time {
	d := r.varint()
	ns := base + d
	if (d > 0 && ns < base) || (d < 0 && ns > base) {
		r.bad = true
	}
	return time.Unix(0, ns).UTC()
}

func (r *reader) duration() time.Duration {
	v := r.uvarint()
	if v > math.MaxInt64 {
		r.bad = true
		return 0
	}
	return time.Duration(v)
}

func (r *reader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	return string(r.bytes(int(n)))
}

// parseEnvelope decodes a plaintext, header byte included. Values come
// back as driver.DecodeValue gives them: numbers as json.Number.
func parseEnvelope(p []byte) (*envelope, error) {
	if len(p) == 0 {
		return nil, errMalformedEnvelope
	}
	hdr, body := p[0], p[1:]
	switch hdr {
	case formatV1:
	case formatV1 | flagDeflate:
		var err error
		if body, err = inflate(body); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: unknown format 0x%02x", errMalformedEnvelope, hdr)
	}
	r := &reader{b: body}
	e := &envelope{}
	copy(e.id[:], r.bytes(driver.HashSize))
	sealedB := r.bytes(8)
	if r.bad {
		return nil, errMalformedEnvelope
	}
	sealed := int64(binary.BigEndian.Uint64(sealedB))
	e.sealed = time.Unix(0, sealed).UTC()
	flags := r.bytes(1)
	if r.bad || flags[0]&^knownFlags != 0 {
		return nil, errMalformedEnvelope
	}
	m := &e.meta
	m.Remember = flags[0]&flagRemember != 0
	m.Created = r.time(sealed)
	m.LastSeen = r.time(sealed)
	if flags[0]&flagAuth != 0 {
		m.AuthTime = r.time(sealed)
	}
	m.IdleTimeout = r.duration()
	m.AbsoluteTimeout = r.duration()
	m.Grace = r.duration()
	m.UserID = r.string()
	m.UserAgent = r.string()
	m.IP = r.string()
	if r.bad {
		return nil, errMalformedEnvelope
	}
	if len(r.b) > 0 {
		d := json.NewDecoder(bytes.NewReader(r.b))
		d.UseNumber()
		if err := d.Decode(&e.values); err != nil {
			return nil, fmt.Errorf("%w: values: %w", errMalformedEnvelope, err)
		}
		if _, err := d.Token(); err != io.EOF {
			return nil, fmt.Errorf("%w: data after the values", errMalformedEnvelope)
		}
		if e.values == nil { // the JSON was null
			return nil, fmt.Errorf("%w: values are not an object", errMalformedEnvelope)
		}
	}
	return e, nil
}
