package latch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
)

// TestVerifyProofHostile: proofs an attacker crafts against the verifier,
// beyond TestVerifyProof's: algorithm confusion (HS256 keyed with the
// public key, as a verifier that takes alg from the token would accept),
// RSA keys that make the signature check meaningless or costly, a JWK
// whose coordinates are not 32 bytes, a member name escaped to dodge the
// duplicate check, base64 that is not canonical, data after the JSON, a
// header past the size limit. Each is refused with the reason. The
// (r, n-s) twin of an ES256 signature verifies: latch does not require
// low S, since a proof is good once by its challenge, not by its bytes
// (TestDeviceBoundProofConfusion shows the twin of a used proof refused).
func TestVerifyProofHostile(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	refEC := `{"alg":"ES256","typ":"dbsc+jwt"}`
	good := signJWT(t, ec, refEC, `{"jti":"c1"}`)
	sigOf := func(tok string) []byte {
		b, _ := base64.RawURLEncoding.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
		return b
	}
	withSig := func(tok string, sig []byte) string {
		return tok[:strings.LastIndexByte(tok, '.')+1] + base64.RawURLEncoding.EncodeToString(sig)
	}
	hs256 := func() string {
		pub, _ := ec.PublicKey.Bytes()
		input := enc(`{"alg":"HS256","typ":"dbsc+jwt"}`) + "." + enc(`{"jti":"c1"}`)
		m := hmac.New(sha256.New, pub)
		m.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}()
	highS := func() string {
		sig := sigOf(good)
		s := new(big.Int).Sub(elliptic.P256().Params().N, new(big.Int).SetBytes(sig[32:]))
		s.FillBytes(sig[32:])
		return withSig(good, sig)
	}()
	rsaReg := func(n, e []byte) string {
		return signJWT(t, ec, `{"alg":"RS256","jwk":{"e":"`+base64.RawURLEncoding.EncodeToString(e)+`","kty":"RSA","n":"`+base64.RawURLEncoding.EncodeToString(n)+`"},"typ":"dbsc+jwt"}`, `{"jti":"c1"}`)
	}
	n2048 := testRSA().PublicKey.N.Bytes()
	even := append([]byte(nil), n2048...)
	even[len(even)-1] &^= 1
	huge := append([]byte{0xff}, make([]byte, 8192/8)...)
	pt, _ := ec.PublicKey.Bytes()
	for _, tc := range []struct {
		name, tok, want string
		reg             bool
	}{
		{"HS256 keyed with the public key", hs256, "not ES256 or RS256", false},
		{"RSA exponent 1", rsaReg(n2048, []byte{1}), "not an odd number", true},
		{"RSA exponent even", rsaReg(n2048, []byte{1, 0, 0}), "not an odd number", true},
		{"RSA exponent of 5 bytes", rsaReg(n2048, []byte{1, 0, 0, 0, 1}), "exponent too large", true},
		{"RSA modulus over 8192 bits", rsaReg(huge, []byte{1, 0, 1}), "8200 bits", true},
		{"RSA modulus even", rsaReg(even, []byte{1, 0, 1}), "modulus is even", true},
		{"RSA modulus with a leading zero", rsaReg(append([]byte{0}, n2048...), []byte{1, 0, 1}), "leading zero", true},
		{"EC x of 33 bytes", signJWT(t, ec, `{"alg":"ES256","jwk":{"crv":"P-256","kty":"EC","x":"`+base64.RawURLEncoding.EncodeToString(append([]byte{0}, pt[1:33]...))+`","y":"`+base64.RawURLEncoding.EncodeToString(pt[33:])+`"},"typ":"dbsc+jwt"}`, `{"jti":"c1"}`), "32 bytes", true},
		{"alg escaped as \\u0061lg twice", signJWT(t, ec, `{"alg":"ES256","\u0061lg":"none","typ":"dbsc+jwt"}`, `{"jti":"c1"}`), "appears twice", false},
		{"jti twice", signJWT(t, ec, refEC, `{"jti":"c1","jti":"c2"}`), "appears twice", false},
		{"data after the payload", signJWT(t, ec, refEC, `{"jti":"c1"}{"jti":"c2"}`), "data after", false},
		{"signature with stray bits", good[:len(good)-1] + string(good[len(good)-1]^1), "not base64url", false},
		{"header with stray bits", func() string { h := enc(refEC); return h[:len(h)-1] + string(h[len(h)-1]^1) + good[len(h):] }(), "not base64url", false},
		{"header over the size limit", signJWT(t, ec, `{"alg":"ES256","typ":"dbsc+jwt","x":"`+strings.Repeat("a", maxProofLen)+`"}`, `{"jti":"c1"}`), "longer than", false},
		{"ES256 signature r = 0", withSig(good, make([]byte, 64)), "signature does not verify", false},
		{"ES256 signature of n", func() string {
			sig := make([]byte, 64)
			elliptic.P256().Params().N.FillBytes(sig[:32])
			elliptic.P256().Params().N.FillBytes(sig[32:])
			return withSig(good, sig)
		}(), "signature does not verify", false},
		{"high-S twin verifies", highS, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.reg {
				_, err = verifyProof(tc.tok, nil)
			} else {
				_, err = verifyProof(tc.tok, &ec.PublicKey)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("verifyProof: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("verifyProof: %v; want an error containing %q", err, tc.want)
			}
		})
	}
}
