package latch

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"sync"
	"time"

	"github.com/latchsec/latch/driver"
)

// Token sizes. A token is "KEYID.B64" where B64 is the base64url (no
// padding) encoding of the session ID followed by the truncated MAC.
const (
	// IDSize is the size of a session ID: 256 bits from crypto/rand.
	IDSize = 32
	// MACSize is the size of the truncated HMAC-SHA256 on every token.
	MACSize     = 16
	tokenB64Len = (IDSize + MACSize) * 4 / 3 // 64: no padding needed
	// MaxTokenLen bounds a token's length: the longest key id, the dot and
	// the encoded ID and MAC.
	MaxTokenLen = 32 + 1 + tokenB64Len
)

// Reason says why a request's cookie names no live session: why its token
// was refused, or why the session it named ended. It is what
// Session.Ended returns and what EventInvalidToken and EventExpired carry
// (as Event.Reason). It is the type stores use too (driver.Reason).
type Reason = driver.Reason

// Reasons a token is refused.
const (
	ReasonMalformed  = driver.ReasonMalformed  // wrong length, alphabet or shape
	ReasonUnknownKey = driver.ReasonUnknownKey // key id not in the keyring
	ReasonRetiredKey = driver.ReasonRetiredKey // key past its retirement date
	ReasonBadMAC     = driver.ReasonBadMAC     // MAC does not verify: forged or tampered
	ReasonNotFound   = driver.ReasonNotFound   // MAC fine but no live record: revoked, expired or logged out
	ReasonDuplicate  = driver.ReasonDuplicate  // several cookies of the session's name (cookie tossing)
	// ReasonRenewed: the token named a session that has since been
	// renewed under a new ID (by a login, Renew or Reauthenticate on
	// another request). The old token is dead, but its cookie is not
	// cleared: the browser most likely holds the new one already.
	ReasonRenewed = driver.ReasonRenewed
)

// Reasons a session ended.
const (
	ReasonIdle     Reason = "idle"     // the idle timeout passed
	ReasonAbsolute Reason = "absolute" // the absolute timeout passed
	ReasonBinding  Reason = "binding"  // ended by the BindingEnd policy
	// ReasonDevice: the session is bound to a device (Config.DeviceBound)
	// and this request did not prove it (no valid bound cookie). The
	// request goes on signed out; the session itself goes on for the
	// browser that holds the device's key. A page can use it to ask the
	// user to sign in again on this device.
	ReasonDevice Reason = "device"
)

// tokenKey is one keyring key prepared for token MACs.
type tokenKey struct {
	id     string
	key    Key       // for its times; Secret is not kept here
	prefix []byte    // cookie name, 0, key id, 0: bound into every MAC
	pool   sync.Pool // of *macState
}

// macState is a keyed HMAC with scratch space, pooled so that computing a
// MAC allocates nothing: the ID is copied into id and the sum written into
// sum, both already on the heap with the hash.
type macState struct {
	h   hash.Hash // HMAC-SHA256 keyed with the derived key
	id  [IDSize]byte
	sum [sha256.Size]byte
}

// mac appends the truncated MAC of id to dst. The cookie name and key id
// are bound into the MAC, so a token is only good for the cookie and key it
// was issued for.
func (k *tokenKey) mac(dst []byte, id *[IDSize]byte) []byte {
	st := k.pool.Get().(*macState)
	st.id = *id
	st.h.Reset()
	st.h.Write(k.prefix)
	st.h.Write(st.id[:])
	dst = append(dst, st.h.Sum(st.sum[:0])[:MACSize]...)
	k.pool.Put(st)
	return dst
}

// tokens signs and verifies session tokens under a keyring. Which key
// signs depends on the time (Keyring.SigningKey), so every call takes now.
type tokens struct {
	ring *Keyring
	keys []*tokenKey // in the keyring's order
	byID map[string]*tokenKey
}

func newTokens(r *Keyring, cookieName string) (*tokens, error) {
	t := &tokens{ring: r, byID: make(map[string]*tokenKey)}
	for _, k := range r.keys {
		sub, err := r.DeriveKey(k.ID, "session-token-mac", sha256.Size)
		if err != nil {
			return nil, err
		}
		tk := &tokenKey{
			id:     k.ID,
			key:    Key{ID: k.ID, Activate: k.Activate, Retire: k.Retire},
			prefix: []byte(cookieName + "\x00" + k.ID + "\x00"),
		}
		tk.pool.New = func() any { return &macState{h: hmac.New(sha256.New, sub)} }
		t.byID[k.ID] = tk
		t.keys = append(t.keys, tk)
	}
	return t, nil
}

// signer returns the key that signs at now, or an error matching
// ErrNoSigningKey: never a retired key.
func (t *tokens) signer(now time.Time) (*tokenKey, error) {
	if i := signer(t.ring.keys, now); i >= 0 {
		return t.keys[i], nil
	}
	return nil, t.ring.noSigner(now)
}

// newID returns a fresh random session ID.
func newID() (id [IDSize]byte) {
	rand.Read(id[:])
	return id
}

// sign returns the token for id under k.
func (k *tokenKey) sign(id *[IDSize]byte) string {
	var raw [IDSize + MACSize]byte
	copy(raw[:], id[:])
	k.mac(raw[:IDSize], id)
	buf := make([]byte, 0, len(k.id)+1+tokenB64Len)
	buf = append(buf, k.id...)
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, raw[:])
	return string(buf)
}

// verify checks a token: shape and length first, then the key, then the
// MAC in constant time. It returns the session ID's hash and whether the
// token was signed by a fallback key: any key but the one that signs at
// now. No store is consulted.
func (t *tokens) verify(tok string, now time.Time) (h driver.Hash, fallback bool, reason Reason) {
	if len(tok) > MaxTokenLen || len(tok) < 2+tokenB64Len {
		return h, false, ReasonMalformed
	}
	dot := len(tok) - tokenB64Len - 1
	if tok[dot] != '.' {
		return h, false, ReasonMalformed
	}
	kid := tok[:dot]
	for i := 0; i < len(kid); i++ {
		if !isIDByte(kid[i]) {
			return h, false, ReasonMalformed
		}
	}
	var src [tokenB64Len]byte
	copy(src[:], tok[dot+1:])
	var raw [IDSize + MACSize]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(raw[:], src[:]); err != nil || n != len(raw) {
		return h, false, ReasonMalformed
	}
	k := t.byID[kid]
	if k == nil {
		return h, false, ReasonUnknownKey
	}
	if k.key.Retired(now) {
		return h, false, ReasonRetiredKey
	}
	var want [MACSize]byte
	k.mac(want[:0], (*[IDSize]byte)(raw[:IDSize]))
	if !hmac.Equal(want[:], raw[IDSize:]) {
		return h, false, ReasonBadMAC
	}
	s, _ := t.signer(now)
	return sha256.Sum256(raw[:IDSize]), k != s, ""
}

// reissue returns tok's ID signed under the key that signs at now, or ""
// when no key does. tok must have passed verify.
func (t *tokens) reissue(tok string, now time.Time) string {
	s, err := t.signer(now)
	if err != nil {
		return ""
	}
	var raw [IDSize + MACSize]byte
	base64.RawURLEncoding.Decode(raw[:], []byte(tok[len(tok)-tokenB64Len:]))
	id := [IDSize]byte(raw[:IDSize])
	return s.sign(&id)
}
