package latch

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/latchsec/latch/memstore"
)

// Unit tests and fuzz targets of the proof parser and verifier and of the
// structured-field strings. The protocol as a browser plays it is tested
// in dbsc_test.go.

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signJWT returns header.payload.signature with key (an *ecdsa or *rsa
// private key) over the two parts as given.
func signJWT(t testing.TB, key crypto.Signer, header, payload string) string {
	t.Helper()
	input := enc(header) + "." + enc(payload)
	d := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case *rsa.PrivateKey:
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:]); err != nil {
			t.Fatal(err)
		}
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func ecJWK(k *ecdsa.PublicKey) string {
	b, _ := k.Bytes()
	return `{"crv":"P-256","kty":"EC","x":"` + base64.RawURLEncoding.EncodeToString(b[1:33]) + `","y":"` + base64.RawURLEncoding.EncodeToString(b[33:]) + `"}`
}

func rsaJWK(k *rsa.PublicKey) string {
	return `{"e":"` + base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()) + `","kty":"RSA","n":"` + base64.RawURLEncoding.EncodeToString(k.N.Bytes()) + `"}`
}

// testRSA is a 2048-bit key, made once when a test first needs it.
var testRSA = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func TestVerifyProof(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	regEC := `{"alg":"ES256","jwk":` + ecJWK(&ec.PublicKey) + `,"typ":"dbsc+jwt"}`
	regRSA := `{"alg":"RS256","jwk":` + rsaJWK(&testRSA().PublicKey) + `,"typ":"dbsc+jwt"}`
	refEC := `{"alg":"ES256","typ":"dbsc+jwt"}`
	for _, tc := range []struct {
		name string
		tok  string
		key  crypto.PublicKey // nil: a registration
		want string           // "" for success
	}{
		{"ES256 registration", signJWT(t, ec, regEC, `{"jti":"c1"}`), nil, ""},
		{"RS256 registration", signJWT(t, testRSA(), regRSA, `{"jti":"c1"}`), nil, ""},
		{"ES256 refresh", signJWT(t, ec, refEC, `{"jti":"c1"}`), &ec.PublicKey, ""},
		{"refresh with a jwk of another key is verified with the session's", signJWT(t, ec2, `{"alg":"ES256","jwk":`+ecJWK(&ec2.PublicKey)+`,"typ":"dbsc+jwt"}`, `{"jti":"c1"}`), &ec.PublicKey, "signature does not verify"},
		{"other claims ignored", signJWT(t, ec, refEC, `{"jti":"c1","aud":"x","iat":1,"authorization":"a"}`), &ec.PublicKey, ""},
		{"another key", signJWT(t, ec2, refEC, `{"jti":"c1"}`), &ec.PublicKey, "signature does not verify"},
		{"RS256 for an EC key", signJWT(t, testRSA(), `{"alg":"RS256","typ":"dbsc+jwt"}`, `{"jti":"c1"}`), &ec.PublicKey, "does not match"},
		{"ES256 for an RSA key", signJWT(t, ec, refEC, `{"jti":"c1"}`), &testRSA().PublicKey, "does not match"},
		{"RSA key under 2048 bits", signJWT(t, small, `{"alg":"RS256","jwk":`+rsaJWK(&small.PublicKey)+`,"typ":"dbsc+jwt"}`, `{"jti":"c1"}`), nil, "RSA key of 1024 bits"},
		{"no typ", signJWT(t, ec, `{"alg":"ES256"}`, `{"jti":"c1"}`), &ec.PublicKey, `no "typ"`},
		{"typ JWT", signJWT(t, ec, `{"alg":"ES256","typ":"JWT"}`, `{"jti":"c1"}`), &ec.PublicKey, "not dbsc+jwt"},
		{"alg none", enc(`{"alg":"none","typ":"dbsc+jwt"}`) + "." + enc(`{"jti":"c1"}`) + ".", &ec.PublicKey, "not ES256 or RS256"},
		{"alg HS256", signJWT(t, ec, `{"alg":"HS256","typ":"dbsc+jwt"}`, `{"jti":"c1"}`), &ec.PublicKey, "not ES256 or RS256"},
		{"ALG in capitals", signJWT(t, ec, `{"ALG":"ES256","typ":"dbsc+jwt"}`, `{"jti":"c1"}`), &ec.PublicKey, `no "alg"`},
		{"duplicate alg", signJWT(t, ec, `{"alg":"ES256","alg":"none","typ":"dbsc+jwt"}`, `{"jti":"c1"}`), &ec.PublicKey, "appears twice"},
		{"crit", signJWT(t, ec, `{"alg":"ES256","typ":"dbsc+jwt","crit":["x"]}`, `{"jti":"c1"}`), &ec.PublicKey, "crit"},
		{"no jti", signJWT(t, ec, refEC, `{"nonce":"c1"}`), &ec.PublicKey, `no "jti"`},
		{"empty jti", signJWT(t, ec, refEC, `{"jti":""}`), &ec.PublicKey, "jti is empty"},
		{"jti a number", signJWT(t, ec, refEC, `{"jti":1}`), &ec.PublicKey, "not a string"},
		{"registration without jwk", signJWT(t, ec, refEC, `{"jti":"c1"}`), nil, "no jwk"},
		{"jwk with a private key", signJWT(t, ec, `{"alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"},"typ":"dbsc+jwt"}`, `{"jti":"c1"}`), nil, "private key"},
		{"jwk on P-384", signJWT(t, ec, `{"alg":"ES256","jwk":{"kty":"EC","crv":"P-384","x":"a","y":"b"},"typ":"dbsc+jwt"}`, `{"jti":"c1"}`), nil, "not P-256"},
		{"jwk point off the curve", signJWT(t, ec, `{"alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"`+enc(strings.Repeat("\x01", 32))+`","y":"`+enc(strings.Repeat("\x02", 32))+`"},"typ":"dbsc+jwt"}`, `{"jti":"c1"}`), nil, "not on P-256"},
		{"jwk kty oct", signJWT(t, ec, `{"alg":"ES256","jwk":{"kty":"oct","k":"AAAA"},"typ":"dbsc+jwt"}`, `{"jti":"c1"}`), nil, "not EC or RSA"},
		{"ES256 signature in DER", func() string {
			tok := signJWT(t, ec, refEC, `{"jti":"c1"}`)
			return tok[:strings.LastIndexByte(tok, '.')+1] + enc(strings.Repeat("0", 70))
		}(), &ec.PublicKey, "want 64"},
		{"two parts", enc(refEC) + "." + enc(`{"jti":"c1"}`), &ec.PublicKey, "three parts"},
		{"four parts", signJWT(t, ec, refEC, `{"jti":"c1"}`) + ".x", &ec.PublicKey, "three parts"},
		{"padding", strings.Replace(signJWT(t, ec, refEC, `{"jti":"c1"}`), ".", "=.", 1), &ec.PublicKey, "not base64url"},
		{"header not an object", signJWT(t, ec, `["alg"]`, `{"jti":"c1"}`), &ec.PublicKey, "not a JSON object"},
		{"too long", strings.Repeat("a", maxProofLen+1), &ec.PublicKey, "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := verifyProof(tc.tok, tc.key)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("verifyProof: %v", err)
			case tc.want == "":
				if p.jti != "c1" {
					t.Errorf("jti %q", p.jti)
				}
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Errorf("verifyProof: %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestDeviceKeyRoundTrip: a key kept in Meta.DeviceKey reads back as the
// same key, and verifies what it verified.
func TestDeviceKeyRoundTrip(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, k := range []crypto.PublicKey{&ec.PublicKey, &testRSA().PublicKey} {
		s, err := encodeDeviceKey(k)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeDeviceKey(s)
		if err != nil {
			t.Fatal(err)
		}
		if !back.(interface{ Equal(crypto.PublicKey) bool }).Equal(k) {
			t.Errorf("%T does not round-trip", k)
		}
	}
	for _, bad := range []string{"", "!!", enc("not der")} {
		if _, err := decodeDeviceKey(bad); err == nil {
			t.Errorf("decodeDeviceKey(%q) accepted", bad)
		}
	}
}

func TestParseSFString(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`abc.def-_`, "abc.def-_", true},
		{`"abc.def"`, "abc.def", true},
		{`  "abc";id="x"`, "abc", true},
		{`abc;p=1`, "abc", true},
		{`"a\"b\\c"`, `a"b\c`, true},
		{`"a\nb"`, "", false},
		{`"abc`, "", false},
		{`"abc" x`, "", false},
		{``, "", false},
		{`a b`, "", false},
		{`a,b`, "", false},
		{"\"a\x01\"", "", false},
		{"a\x7f", "", false},
	} {
		got, err := parseSFString(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSFString(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzVerifyProof: any input is refused with an error or verified; never a
// panic. A proof that verifies as a registration carries a key that
// verifies it again as a refresh, and a jti.
func FuzzVerifyProof(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.Add(signJWT(f, ec, `{"alg":"ES256","jwk":`+ecJWK(&ec.PublicKey)+`,"typ":"dbsc+jwt"}`, `{"jti":"c1"}`))
	f.Add(signJWT(f, testRSA(), `{"alg":"RS256","jwk":`+rsaJWK(&testRSA().PublicKey)+`,"typ":"dbsc+jwt"}`, `{"jti":"c1"}`))
	f.Add(signJWT(f, ec, `{"alg":"ES256","typ":"dbsc+jwt"}`, `{"jti":"c1"}`))
	f.Add(enc(`{"alg":"ES256","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"},"typ":"dbsc+jwt"}`) + "." + enc(`{"jti":"x"}`) + ".AAAA")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		verifyProof(tok, &ec.PublicKey) // as a refresh: no panic
		p, err := verifyProof(tok, nil)
		if err != nil {
			return
		}
		if p.jti == "" || p.key == nil {
			t.Fatalf("verified proof without jti or key: %+v", p)
		}
		if _, err := verifyProof(tok, p.key); err != nil {
			t.Fatalf("the proof's own key refuses it: %v", err)
		}
		s, err := encodeDeviceKey(p.key)
		if err != nil {
			t.Fatalf("a verified key cannot be kept: %v", err)
		}
		if _, err := decodeDeviceKey(s); err != nil {
			t.Fatalf("a kept key cannot be read back: %v", err)
		}
	})
}

// FuzzParseSFString: never a panic; a value read is free of the bytes a
// header cannot carry, and quoting it again reads back the same.
func FuzzParseSFString(f *testing.F) {
	for _, s := range []string{`abc`, `"abc";id="x"`, `"a\"b"`, `a;b`, `"`, `\`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		v, err := parseSFString(in)
		if err != nil {
			return
		}
		for i := 0; i < len(v); i++ {
			if v[i] < ' ' || v[i] >= 0x7f {
				t.Fatalf("value %q has byte %#x", v, v[i])
			}
		}
		q := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
		if back, err := parseSFString(q); err != nil || back != v {
			t.Fatalf("re-quoted %q reads back %q, %v", q, back, err)
		}
	})
}

// TestInstructionsJSON: the session instructions have the members the
// draft names, and no others.
func TestInstructionsJSON(t *testing.T) {
	st, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := New(Config{Store: st, Keys: testKeyring(t, "k1"), DeviceBound: DeviceBound{Mode: DeviceBoundEnforce}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m.dbsc.instructions("sid"))
	want := `{"session_identifier":"sid","refresh_url":"/.latch/dbsc/refresh","scope":{"include_site":false},"credentials":[{"type":"cookie","name":"__Host-latch-bound","attributes":"Path=/; Secure; HttpOnly; SameSite=Lax"}],"allowed_refresh_initiators":["*"]}`
	if string(b) != want {
		t.Errorf("instructions:\n%s\nwant\n%s", b, want)
	}
}
