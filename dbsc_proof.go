package latch

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// The parsing and verification of DBSC proofs: the JWT a browser signs
// with its session key (Secure-Session-Response), the JWK it carries at
// registration, and the structured-field strings of the request headers.
// Everything here takes untrusted input and fails with an error, never a
// panic; nothing here reads a clock or a store.

// Limits on what a browser sends.
const (
	// maxProofLen bounds a proof JWT: a registration proof with a
	// 4096-bit RSA key is under 2 KiB.
	maxProofLen = 8 << 10
	// minRSABits and maxRSABits bound an RS256 key's modulus: below
	// 2048 bits RSA is too weak, above 8192 a verification is a cost a
	// client could impose.
	minRSABits = 2048
	maxRSABits = 8192
	// maxHeaderString bounds Sec-Secure-Session-Id and the like.
	maxHeaderString = 512
)

// proofAlgs are the algorithms latch offers and accepts, in the order of
// the Secure-Session-Registration header. Chromium supports these two;
// "none" (which the draft allows) is never accepted.
var proofAlgs = [...]string{"ES256", "RS256"}

// dbscProof is a verified DBSC proof.
type dbscProof struct {
	alg string
	jti string           // the challenge the browser signed
	key crypto.PublicKey // the key that verified it
}

// errProofSignature is the error of a proof whose signature does not
// verify: the browser signed with another key, or the proof was forged.
var errProofSignature = errors.New("signature does not verify")

// verifyProof parses tok, a DBSC proof JWT (JWS compact serialisation), and
// verifies its signature. With key nil (a registration) the key is the one
// in the header's "jwk", which must be there; otherwise (a refresh) it is
// key, the session's registered key, and a "jwk" in the header is ignored.
// The header must have "typ" "dbsc+jwt" and an "alg" of proofAlgs matching
// the key's type; the payload must have a non-empty string "jti". Other
// claims are ignored (the draft dropped "aud" and "iat", which current
// Chromium does not send); a "crit" header, which would name extensions
// latch does not understand, is refused.
func verifyProof(tok string, key crypto.PublicKey) (*dbscProof, error) {
	if len(tok) > maxProofLen {
		return nil, fmt.Errorf("proof of %d bytes is longer than %d", len(tok), maxProofLen)
	}
	h64, rest, ok1 := strings.Cut(tok, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return nil, errors.New("proof is not a JWT of three parts")
	}
	hdr, err := jsonObject(h64, "header")
	if err != nil {
		return nil, err
	}
	payload, err := jsonObject(p64, "payload")
	if err != nil {
		return nil, err
	}
	sig, err := decodeB64URL(s64)
	if err != nil {
		return nil, errors.New("proof signature is not base64url")
	}
	if _, ok := hdr["crit"]; ok {
		return nil, errors.New(`proof header has "crit" extensions`)
	}
	var typ, alg, jti string
	if err := jsonString(hdr, "typ", &typ); err != nil {
		return nil, err
	}
	if typ != "dbsc+jwt" {
		return nil, fmt.Errorf("proof typ %q is not dbsc+jwt", clip(typ))
	}
	if err := jsonString(hdr, "alg", &alg); err != nil {
		return nil, err
	}
	if alg != proofAlgs[0] && alg != proofAlgs[1] {
		return nil, fmt.Errorf("proof alg %q is not ES256 or RS256", clip(alg))
	}
	if err := jsonString(payload, "jti", &jti); err != nil {
		return nil, err
	}
	if jti == "" {
		return nil, errors.New("proof jti is empty")
	}
	if key == nil {
		raw, ok := hdr["jwk"]
		if !ok {
			return nil, errors.New("registration proof has no jwk")
		}
		if key, err = parseJWK(raw); err != nil {
			return nil, err
		}
	}
	digest := sha256.Sum256([]byte(tok[:len(h64)+1+len(p64)]))
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if alg != "ES256" {
			return nil, fmt.Errorf("proof alg %s does not match the session's EC key", alg)
		}
		if len(sig) != 64 { // JWS: r||s, 32 bytes each (RFC 7518 3.4)
			return nil, fmt.Errorf("ES256 signature of %d bytes, want 64", len(sig))
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k, digest[:], r, s) {
			return nil, errProofSignature
		}
	case *rsa.PublicKey:
		if alg != "RS256" {
			return nil, fmt.Errorf("proof alg %s does not match the session's RSA key", alg)
		}
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig); err != nil {
			return nil, errProofSignature
		}
	default:
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	return &dbscProof{alg: alg, jti: jti, key: key}, nil
}

// b64 decodes base64url without padding, strictly (no padding, no stray
// bits, no line breaks).
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// jsonObject decodes one base64url part of a JWT as a JSON object whose
// members are looked up by their exact names (encoding/json would match
// "ALG" to a field "alg"). A duplicated member is refused.
func jsonObject(part, what string) (map[string]json.RawMessage, error) {
	raw, err := decodeB64URL(part)
	if err != nil {
		return nil, fmt.Errorf("proof %s is not base64url", what)
	}
	obj, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("proof %s: %w", what, err)
	}
	return obj, nil
}

// decodeObject decodes a JSON object into its members, refusing a member
// name that appears twice (which parsers resolve differently).
func decodeObject(raw []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	t, err := dec.Token()
	if err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	obj := make(map[string]json.RawMessage)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errors.New("not a JSON object")
		}
		name, ok := t.(string)
		if !ok {
			return nil, errors.New("not a JSON object")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("not a JSON object")
		}
		if _, dup := obj[name]; dup {
			return nil, fmt.Errorf("member %q appears twice", clip(name))
		}
		obj[name] = v
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("data after the JSON object")
	}
	return obj, nil
}

// jsonString sets *dst to the string member name of obj.
func jsonString(obj map[string]json.RawMessage, name string, dst *string) error {
	raw, ok := obj[name]
	if !ok {
		return fmt.Errorf("proof has no %q", name)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("proof %q is not a string", name)
	}
	return nil
}

// parseJWK parses a public JWK (RFC 7517/7518) of an EC P-256 or an RSA
// key. A private member ("d") is refused: a browser never sends one, and
// a client that does has leaked its key.
func parseJWK(raw json.RawMessage) (crypto.PublicKey, error) {
	obj, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("jwk: %w", err)
	}
	if _, ok := obj["d"]; ok {
		return nil, errors.New("jwk holds a private key")
	}
	var kty string
	if err := jwkString(obj, "kty", &kty); err != nil {
		return nil, err
	}
	switch kty {
	case "EC":
		var crv, xs, ys string
		for _, f := range []struct {
			name string
			dst  *string
		}{{"crv", &crv}, {"x", &xs}, {"y", &ys}} {
			if err := jwkString(obj, f.name, f.dst); err != nil {
				return nil, err
			}
		}
		if crv != "P-256" {
			return nil, fmt.Errorf("jwk curve %q is not P-256", clip(crv))
		}
		x, errX := decodeB64URL(xs)
		y, errY := decodeB64URL(ys)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("jwk x and y must be 32 bytes of base64url each")
		}
		point := append(append([]byte{4}, x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return nil, errors.New("jwk point is not on P-256")
		}
		return k, nil
	case "RSA":
		var ns, es string
		if err := jwkString(obj, "n", &ns); err != nil {
			return nil, err
		}
		if err := jwkString(obj, "e", &es); err != nil {
			return nil, err
		}
		n, errN := decodeB64URL(ns)
		e, errE := decodeB64URL(es)
		if errN != nil || errE != nil || len(n) == 0 || len(e) == 0 {
			return nil, errors.New("jwk n and e must be base64url")
		}
		if n[0] == 0 || e[0] == 0 {
			return nil, errors.New("jwk n or e has a leading zero byte")
		}
		k := &rsa.PublicKey{N: new(big.Int).SetBytes(n)}
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("RSA key of %d bits, want %d to %d", bits, minRSABits, maxRSABits)
		}
		if len(e) > 4 {
			return nil, errors.New("RSA exponent too large")
		}
		var ev int
		for _, b := range e {
			ev = ev<<8 | int(b)
		}
		if ev < 3 || ev%2 == 0 || ev > 1<<31-1 {
			return nil, fmt.Errorf("RSA exponent %d is not an odd number from 3 to 2^31-1", ev)
		}
		k.E = ev
		if k.N.Bit(0) == 0 {
			return nil, errors.New("RSA modulus is even")
		}
		return k, nil
	}
	return nil, fmt.Errorf("jwk kty %q is not EC or RSA", clip(kty))
}

func jwkString(obj map[string]json.RawMessage, name string, dst *string) error {
	raw, ok := obj[name]
	if !ok {
		return fmt.Errorf("jwk has no %q", name)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("jwk %q is not a string", name)
	}
	return nil
}

// encodeDeviceKey returns the form of a key that Meta.DeviceKey holds:
// base64url (no padding) of its PKIX DER encoding.
func encodeDeviceKey(k crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(der), nil
}

// decodeDeviceKey parses Meta.DeviceKey back into a key of a type
// verifyProof takes.
func decodeDeviceKey(s string) (crypto.PublicKey, error) {
	der, err := decodeB64URL(s)
	if err != nil {
		return nil, errors.New("stored device key is not base64url")
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("stored device key: %w", err)
	}
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("stored device key is not on P-256")
		}
	case *rsa.PublicKey:
	default:
		return nil, fmt.Errorf("stored device key of type %T", k)
	}
	return k, nil
}

// parseSFString reads the value of a request header that RFC 9651 defines
// as an sf-string (Secure-Session-Response, Sec-Secure-Session-Id): a
// quoted string, whose parameters are ignored. Chromium sends these values
// bare, without quotes, so a bare value is accepted too: the characters up
// to a ';', which must be visible ASCII other than '"', '\' and ','.
func parseSFString(v string) (string, error) {
	v = strings.TrimLeft(v, " \t")
	if v == "" {
		return "", errors.New("empty")
	}
	if v[0] != '"' {
		bare, _, _ := strings.Cut(v, ";")
		bare = strings.TrimRight(bare, " \t")
		if bare == "" || len(bare) > maxProofLen {
			return "", errors.New("empty or too long")
		}
		for i := 0; i < len(bare); i++ {
			if c := bare[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == ',' {
				return "", fmt.Errorf("character %q in a bare value", c)
			}
		}
		return bare, nil
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\':
			i++
			if i == len(v) || (v[i] != '"' && v[i] != '\\') {
				return "", errors.New("bad escape in a string")
			}
			b.WriteByte(v[i])
		case c == '"':
			rest := strings.TrimLeft(v[i+1:], " \t")
			if rest != "" && rest[0] != ';' {
				return "", errors.New("data after the string")
			}
			if b.Len() > maxProofLen {
				return "", errors.New("too long")
			}
			return b.String(), nil
		case c < ' ' || c >= 0x7f:
			return "", fmt.Errorf("character %q in a string", c)
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("unterminated string")
}

// clip shortens untrusted text quoted in an error or an event.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
