package latch

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"testing"
)

// TestCheckKeyRefusesNearMisses: keys that people make from a published
// key, a word or a phrase, which the rules must refuse however they are
// dressed up.
func TestCheckKeyRefusesNearMisses(t *testing.T) {
	tests := []struct {
		name string
		key  string
		rule string
	}{
		{"published key without its punctuation", "my super secret key that no one is supposed to know", "known-key"},
		{"published key in capitals", "MY SUPER SECRET KEY THAT NO ONE IS SUPPOSED TO KNOW!", "known-key"},
		{"published key in camel case", "MySuperSecretKeyThatNoOneIsSupposedToKnow", "known-key"},
		{"published key in kebab case", "my-super-secret-key-that-no-one-is-supposed-to-know", "known-key"},
		{"published key with substitutions", "my $up3r s3cr3t k3y th4t n0 0n3 i5 5upp0s3d t0 kn0w!", "known-key"},
		{"published key with spaces around", "  extremely secret key that no one will ever know\t", "known-key"},
		{"published key with underscores and digits for letters", "3XTR3M3LY_53CR37_K3Y_7H47_N0_0N3_W1LL_3V3R_KN0W", "known-key"},
		{"repeated Russian word", "парольпарольпароль1", "repeating-pattern"},
		{"repeated Russian phrase", "секретныйключсекретныйключсекретныйключ1", "repeating-pattern"},
		{"repeated Greek word, then an exclamation mark", "μυστικόκλειδίμυστικόκλειδίμυστικόκλειδί!", "repeating-pattern"},
		{"repeated block then newlines", "passwordpasswordpasswordpassword\n\n\n\n", "repeating-pattern"},
		{"repeated block then NUL bytes", "passwordpasswordpasswordpassword\x00\x00\x00", "repeating-pattern"},
		{"junk then a repeated block", "\x01\x02\x03secretsecretsecretsecretsecret", "repeating-pattern"},
		{"repeated block with a suffix", "k3y!Q9z#Lmk3y!Q9z#Lmk3y!Q9z#Lmk3y!Q9z#Lm2024", "repeating-pattern"},
		{"half text, half zero bytes", "password-for-my-app\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "low-entropy"},
		{"Russian phrase", "мой секретный ключ который никто не знает", "low-entropy-text"},
		{"Russian phrase without spaces", "мойсекретныйключкоторыйниктонезнает", "low-entropy-text"},
		{"German phrase", "das ist mein geheimer schlüssel für die anwendung", "low-entropy-text"},
		{"kebab-case passphrase (valid base64url)", "correct-horse-battery-staple-extra", "low-entropy-text"},
		{"lower-case words (valid base64)", "mysecretkeyforthisapplicationthatnobodyknows", "low-entropy-text"},
		{"words with a year", "mysecretkeyforthisapplication2024", "low-entropy-text"},
		{"counting digits as hex", "01234567890123456789012345678901", "repeating-pattern"},
		{"hex of a repeated word", hex.EncodeToString([]byte("k3y!Q9z#Lmk3y!Q9z#Lm")), "repeating-pattern"},
		{"base64 of a repeated word", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k3y!Q9z#Lm12"), 3)), "repeating-pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckKey([]byte(tt.key))
			var we *WeakKeyError
			if !errors.As(err, &we) {
				t.Fatalf("CheckKey = %v; want rule %q", err, tt.rule)
			}
			if we.Rule != tt.rule {
				t.Errorf("rule = %q; want %q (%v)", we.Rule, tt.rule, err)
			}
			if strings.Contains(err.Error(), tt.key) {
				t.Errorf("error quotes the key: %v", err)
			}
		})
	}
}

// TestCheckKeyDjangoInsecure: a key django-admin startproject generated is
// refused as a published default whatever its random part, and the reason
// says where it comes from without quoting it.
func TestCheckKeyDjangoInsecure(t *testing.T) {
	tests := []struct {
		name string
		key  string
	}{
		// Made by Django 3.2's get_random_secret_key, as startproject does.
		{"startproject key", "django-insecure-1$-(3z*#-fhk)&p2-l2zeww(a$3g5petfr$==(j*nireqc8h2e"},
		{"startproject key, base64url characters only", "django-insecure-wg-fYCYQJBx-QTn0-NZO-ccBd9pQPgmB9cYCuoY9oKNA"},
		{"with a trailing newline", "django-insecure-1$-(3z*#-fhk)&p2-l2zeww(a$3g5petfr$==(j*nireqc8h2e\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckKey([]byte(tt.key))
			var we *WeakKeyError
			if !errors.As(err, &we) || we.Rule != "known-key" {
				t.Fatalf("CheckKey = %v; want rule known-key", err)
			}
			for _, want := range []string{"published default", "Django's development key", "settings.py"} {
				if !strings.Contains(we.Detail, want) {
					t.Errorf("detail %q lacks %q", we.Detail, want)
				}
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(strings.TrimSpace(tt.key), "django-insecure-")) {
				t.Errorf("error quotes the key: %v", err)
			}
		})
	}
	// The same random part without Django's prefix is a strong key.
	if err := CheckKey([]byte("1$-(3z*#-fhk)&p2-l2zeww(a$3g5petfr$==(j*nireqc8h2e")); err != nil {
		t.Errorf("the random part alone: %v; want it accepted", err)
	}
}

// keyEncodings are the common ways a random key is written as text.
var keyEncodings = []struct {
	name   string
	encode func([]byte) string
}{
	{"raw", func(b []byte) string { return string(b) }},
	{"hex", hex.EncodeToString},
	{"HEX", func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }},
	{"base64", base64.StdEncoding.EncodeToString},
	{"base64 unpadded", base64.RawStdEncoding.EncodeToString},
	{"base64url", base64.URLEncoding.EncodeToString},
	{"base64url unpadded", base64.RawURLEncoding.EncodeToString},
	{"base32", base32.StdEncoding.EncodeToString},
	{"base32 unpadded", base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString},
}

// TestCheckKeyAcceptsRandomKeys is the property the rules must keep: a
// random key whose text is at least MinKeySize bytes and encodes at least
// 128 bits is never refused, whatever common encoding writes it. It checks
// 100,000 keys per encoding and size (1,000 with -short), in parallel: 3.9
// million keys, measured on the development machine (2 CPUs) at 8.5 s of
// CPU time, and 43 s under -race (about 21 s there when the machine is
// otherwise idle).
func TestCheckKeyAcceptsRandomKeys(t *testing.T) {
	count := 100_000
	if testing.Short() {
		count = 1_000
	}
	for _, enc := range keyEncodings {
		for _, size := range []int{16, 17, 20, 22, 23, 24, 32} {
			if len(enc.encode(make([]byte, size))) < MinKeySize {
				continue // too short as text: refused, rightly
			}
			t.Run(fmt.Sprintf("%s of %d bytes", enc.name, size), func(t *testing.T) {
				t.Parallel()
				var seed [32]byte
				rand.Read(seed[:])
				rng := mrand.NewChaCha8(seed)
				b := make([]byte, size)
				refused := 0
				for i := 0; i < count; i++ {
					rng.Read(b)
					key := enc.encode(b)
					if err := CheckKey([]byte(key)); err != nil {
						if refused++; refused <= 3 {
							t.Errorf("refused %q: %v", key, err)
						}
					}
				}
				if refused > 0 {
					t.Errorf("%d of %d random keys refused", refused, count)
				}
			})
		}
	}
}

// TestCheckKeyRefusesRandomKeysTooShort: the length rule still holds for
// random text.
func TestCheckKeyRefusesRandomKeysTooShort(t *testing.T) {
	b := make([]byte, 16)
	rand.Read(b)
	for _, key := range []string{base64.RawURLEncoding.EncodeToString(b), hex.EncodeToString(b[:15]), string(bytes.Repeat([]byte{'x'}, 31))} {
		var we *WeakKeyError
		if err := CheckKey([]byte(key)); !errors.As(err, &we) || we.Rule != "too-short" {
			t.Errorf("CheckKey of %d bytes = %v; want too-short", len(key), err)
		}
	}
}

// TestCheckKeyAcceptsRareRandomKeys: draws that a random key makes rarely,
// fixed here so that the rules' answer to them does not depend on luck.
func TestCheckKeyAcceptsRareRandomKeys(t *testing.T) {
	tests := []struct{ name, key string }{
		{"hex of 16 bytes with 7 distinct characters (1 in 30 million)", "a60a02aaffa2a0fa80a2110a00fa2a08"},
		{"hex of 16 bytes, digits only (1 in 3 million)", "24628194821993518190937865797543"},
		{"base64url of 24 bytes without capitals", "lpf-t75v2seh60kvj50ce9-uvw5_3efr"},
		{"base64 of 22 bytes without small letters", "4EDT+2SYWB3WKH5DNSIPZZ5FK2Z9RI=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckKey([]byte(tt.key)); err != nil {
				t.Errorf("CheckKey(%q) = %v", tt.key, err)
			}
		})
	}
}
