package flask

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"hash"

	"github.com/latchsec/latch/internal/crack"
)

// Crack looks for the secret key that signed cookie among candidates, as an
// attacker with a wordlist would, to show that a weak key lets anyone forge
// sessions. Each candidate costs one key derivation and one HMAC. Work is
// spread over workers goroutines (GOMAXPROCS when workers <= 0); the search
// stops at the first hit or when ctx is done, and of several keys that
// verify it returns the first in candidates' order. tried is the number of
// candidates checked. err is ErrMalformed (or ErrTooLarge) for a value that is
// not a session cookie, or ctx.Err() when the search was cut short; key and ok
// report a hit. Empty candidates are skipped: Flask refuses an empty key.
func Crack(ctx context.Context, cookie string, candidates []string, workers int) (key string, ok bool, tried int, err error) {
	p, err := split(cookie)
	if err != nil {
		return "", false, 0, err
	}
	msg := []byte(p.signed)
	found, tried, err := crack.Search(ctx, len(candidates), workers, newMACer, func(m *macer, i int) (hit, tried bool) {
		c := candidates[i]
		if c == "" {
			return false, false
		}
		return m.verify([]byte(c), msg, p.sig), true
	})
	if found < 0 {
		return "", false, tried, err
	}
	return candidates[found], true, tried, nil
}

// macer computes itsdangerous signatures for many keys with two reused
// SHA-1 states and no allocation per candidate.
type macer struct {
	inner, outer hash.Hash
	block        [64]byte
	pad          [64]byte
	sum          [sha1.Size]byte
	derived      [sha1.Size]byte
	mac          [sha1.Size]byte
	salt         []byte
}

func newMACer() *macer {
	return &macer{inner: sha1.New(), outer: sha1.New(), salt: []byte(Salt)}
}

// hmac writes HMAC-SHA1(key, msg) into out.
func (m *macer) hmac(key, msg []byte, out *[sha1.Size]byte) {
	clear(m.block[:])
	if len(key) > len(m.block) {
		m.inner.Reset()
		m.inner.Write(key)
		m.inner.Sum(m.block[:0])
	} else {
		copy(m.block[:], key)
	}
	for i, b := range m.block {
		m.pad[i] = b ^ 0x36
	}
	m.inner.Reset()
	m.inner.Write(m.pad[:])
	m.inner.Write(msg)
	m.inner.Sum(m.sum[:0])
	for i, b := range m.block {
		m.pad[i] = b ^ 0x5c
	}
	m.outer.Reset()
	m.outer.Write(m.pad[:])
	m.outer.Write(m.sum[:])
	m.outer.Sum(out[:0])
}

// verify reports whether secret, derived as Flask derives it, signs msg
// with sig.
func (m *macer) verify(secret, msg, sig []byte) bool {
	m.hmac(secret, m.salt, &m.derived)
	m.hmac(m.derived[:], msg, &m.mac)
	return subtle.ConstantTimeCompare(m.mac[:], sig) == 1
}
