package cookiestore

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/latchsec/latch/driver"
)

// The plaintext sealed into a cookie is an envelope:
//
//	header   1 byte: formatV2, or formatV2|flagDeflate when the rest is
//	         compressed with compress/flate
//	id       32 bytes: the session hash
//	sealed   8 bytes: big-endian Unix nanoseconds of the seal
//	record   the session in driver's record encoding (driver.AppendRecord):
//	         its metadata, then its values by key, each as JSON
//
// Every field is checked when the envelope is read back, although it only
// ever is after the AEAD has authenticated it: a bug or a future format
// must give a clear refusal, never a panic or a half-read record. Open
// still reads the envelope of formatV1 (see legacy.go) until the last
// cookie sealed in it has expired.
const (
	formatV2    byte = 0x02
	flagDeflate byte = 0x80

	// maxInflated bounds the decompressed envelope. Sealed cookies are
	// authenticated before they are inflated, so only the holder of a key
	// could make one expand; the bound is a second line.
	maxInflated = 64 << 10
)

// envelope is the decoded plaintext of a cookie.
type envelope struct {
	id     driver.Hash
	sealed time.Time
	rec    *driver.Record
}

var errMalformedEnvelope = errors.New("cookiestore: malformed envelope")

// appendEnvelope appends the uncompressed envelope body (everything after
// the header byte) to dst.
func appendEnvelope(dst []byte, id driver.Hash, sealed int64, rec *driver.Record) ([]byte, error) {
	if err := checkMeta(&rec.Meta); err != nil {
		return nil, err
	}
	dst = append(dst, id[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(sealed))
	dst, err := driver.AppendRecord(dst, rec)
	if err != nil {
		return nil, fmt.Errorf("cookiestore: encode session values: %w", err)
	}
	return dst, nil
}

// checkMeta refuses what no Manager seals and the first envelope format
// could not hold, so that what Seal accepts stays as it was: a zero
// Created or LastSeen, a time outside the years 1678 to 2262, a negative
// timeout or grace.
func checkMeta(m *driver.Meta) error {
	times := []struct {
		name string
		t    time.Time
	}{{"Created", m.Created}, {"LastSeen", m.LastSeen}, {"AuthTime", m.AuthTime}}
	for i, f := range times {
		if i == 2 && f.t.IsZero() {
			break // an anonymous session
		}
		if _, err := unixNano(f.t); err != nil {
			return fmt.Errorf("cookiestore: Meta.%s: %w", f.name, err)
		}
	}
	durations := []struct {
		name string
		d    time.Duration
	}{{"IdleTimeout", m.IdleTimeout}, {"AbsoluteTimeout", m.AbsoluteTimeout}, {"Grace", m.Grace}}
	for _, f := range durations {
		if f.d < 0 {
			return fmt.Errorf("cookiestore: Meta.%s %v is negative", f.name, f.d)
		}
	}
	return nil
}

// Representable times: Unix nanoseconds in an int64 (years 1678 to 2262).
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// unixNano converts t, which must be representable, to Unix nanoseconds.
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

// parseEnvelope decodes a plaintext, header byte included. Values come
// back as driver.DecodeValue gives them: numbers as json.Number.
func parseEnvelope(p []byte) (*envelope, error) {
	if len(p) == 0 {
		return nil, errMalformedEnvelope
	}
	hdr, body := p[0], p[1:]
	format := hdr &^ flagDeflate
	if format != formatV2 && format != formatV1 {
		return nil, fmt.Errorf("%w: unknown format 0x%02x", errMalformedEnvelope, hdr)
	}
	if hdr&flagDeflate != 0 {
		var err error
		if body, err = inflate(body); err != nil {
			return nil, err
		}
	}
	if format == formatV1 {
		return parseEnvelopeV1(body)
	}
	r := driver.NewReader(string(body))
	r.Next(driver.HashSize + 8) // id and seal time, read from body below
	rec := r.Record()
	if err := r.End(); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformedEnvelope, err)
	}
	e := &envelope{id: driver.Hash(body[:driver.HashSize]), rec: rec}
	e.sealed = time.Unix(0, int64(binary.BigEndian.Uint64(body[driver.HashSize:]))).UTC()
	return e, nil
}
