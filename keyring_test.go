package latch

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestCheckKeyRefusesWeakKeys(t *testing.T) {
	random16 := make([]byte, 16)
	rand.Read(random16)
	tests := []struct {
		name string
		key  []byte
		rule string
	}{
		{"changeme", []byte("changeme"), "known-key"},
		{"known key of full length", []byte("your-256-bit-secret"), "known-key"},
		{"16 random bytes", random16, "too-short"},
		{"31 bytes", bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3)[:31], "too-short"},
		{"32 copies of one byte", bytes.Repeat([]byte{0x07}, 32), "few-distinct-bytes"},
		{"32 zero bytes", make([]byte, 32), "few-distinct-bytes"},
		{"repeated 10-byte block", bytes.Repeat([]byte("k3y!Q9z#Lm"), 4), "repeating-pattern"},
		{"counting bytes", func() []byte {
			b := make([]byte, 40)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}(), "repeating-pattern"},
		{"alphabet", []byte("abcdefghijklmnopqrstuvwxyzABCDEFGH"), "repeating-pattern"},
		{"passphrase", []byte("correct horse battery staple extra"), "low-entropy-text"},
		{"sentence key", []byte("this is my super secret key for production!"), "low-entropy-text"},
		{"lower-case words", []byte("mysecretkeyforthisapplicationthatnobodyknows"), "low-entropy-text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckKey(tt.key)
			var we *WeakKeyError
			if !errors.As(err, &we) {
				t.Fatalf("CheckKey = %v; want a *WeakKeyError with rule %q", err, tt.rule)
			}
			if we.Rule != tt.rule {
				t.Errorf("rule = %q; want %q (%v)", we.Rule, tt.rule, err)
			}
			if !errors.Is(err, ErrWeakKey) {
				t.Errorf("errors.Is(err, ErrWeakKey) = false")
			}
			if len(tt.key) >= 4 && strings.Contains(err.Error(), string(tt.key)) {
				t.Errorf("error message contains the key: %v", err)
			}
		})
	}
}

func TestCheckKeyAcceptsStrongKeys(t *testing.T) {
	hexText := []byte("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	b64Text := []byte("q3Z-Hk8wR2vY_pL0mN5tXa9cB7dE1fG4hJ6kS0uV2wQ")
	for i := 0; i < 200; i++ {
		if err := CheckKey(GenerateKey()); err != nil {
			t.Fatalf("generated key refused: %v", err)
		}
	}
	for name, k := range map[string][]byte{"hex text": hexText, "base64 text": b64Text} {
		if err := CheckKey(k); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
}

func TestParseKeys(t *testing.T) {
	k1, k2 := GenerateKey(), GenerateKey()
	future := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	past := time.Now().AddDate(0, 0, -2).Format(time.DateOnly)
	tests := []struct {
		name    string
		in      string
		ids     []string
		wantErr string
	}{
		{"one key", "k1:" + b64(k1), []string{"k1"}, ""},
		{"comma separated with retirement", "k2:" + b64(k2) + ", k1:" + b64(k1) + ":" + future, []string{"k2", "k1"}, ""},
		{"lines and comments", "# keys\nk2:" + b64(k2) + "\n\nk1:" + b64(k1) + ":" + past + "\n", []string{"k2", "k1"}, ""},
		{"empty", "", nil, "no keys"},
		{"no id", b64(k1), nil, "want ID:KEY"},
		{"bad id", "k 1:" + b64(k1), nil, "key id"},
		{"padded base64", "k1:" + base64.URLEncoding.EncodeToString(k1), nil, "base64url"},
		{"std alphabet", "k1:" + strings.NewReplacer("-", "+", "_", "/").Replace(b64(k1)) + "+/", nil, "base64url"},
		{"duplicate id", "k1:" + b64(k1) + ",k1:" + b64(k2), nil, "twice"},
		{"bad date", "k1:" + b64(k1) + ":2026-13-40", nil, "YYYY-MM-DD"},
		{"retired primary", "k1:" + b64(k1) + ":" + past, nil, "retired"},
		{"weak key", "k1:" + b64([]byte("changeme")), nil, "known-key"},
		{"known key text", "k1:changeme", nil, "known-key"},
		{"short key", "k1:" + b64(k1[:16]), nil, "too-short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseKeys(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKeys error = %v; want one containing %q", err, tt.wantErr)
				}
				for _, k := range [][]byte{k1, k2} {
					if strings.Contains(err.Error(), b64(k)) {
						t.Fatalf("error message contains a key")
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeys: %v", err)
			}
			var ids []string
			for _, k := range r.Keys() {
				ids = append(ids, k.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.ids, ",") {
				t.Errorf("ids = %v; want %v", ids, tt.ids)
			}
			if strings.Contains(r.String(), b64(k1)) {
				t.Errorf("Keyring.String leaks a key: %s", r)
			}
		})
	}
}

func TestKeyStringRoundTrip(t *testing.T) {
	k := Key{ID: "2026-11", Secret: GenerateKey(), Retire: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)}
	r, err := ParseKeys("new:" + b64(GenerateKey()) + "," + k.String())
	if err != nil {
		t.Fatal(err)
	}
	got, ok := r.Lookup("2026-11")
	if !ok || !bytes.Equal(got.Secret, k.Secret) || !got.Retire.Equal(k.Retire) {
		t.Fatalf("round trip lost the key: %v %v", ok, got.Retire)
	}
}

func TestKeyRetired(t *testing.T) {
	k := Key{Retire: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC), false},
		{time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), true},
	} {
		if got := k.Retired(tt.at); got != tt.want {
			t.Errorf("Retired(%v) = %v; want %v", tt.at, got, tt.want)
		}
	}
}

func TestLoadKeysEnv(t *testing.T) {
	entry := "k1:" + b64(GenerateKey())
	dir := t.TempDir()
	good := filepath.Join(dir, "keys")
	os.WriteFile(good, []byte(entry+"\n"), 0o600)
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte(entry+"\n"), 0o644)
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"from variable", map[string]string{EnvKeys: entry}, ""},
		{"from file", map[string]string{EnvKeysFile: good}, ""},
		{"variable wins", map[string]string{EnvKeys: entry, EnvKeysFile: "/nonexistent"}, ""},
		{"none", nil, "no secret keys"},
		{"file readable by others", map[string]string{EnvKeysFile: open}, "chmod 600"},
		{"missing file", map[string]string{EnvKeysFile: filepath.Join(dir, "nope")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadKeysEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr == "" && err != nil {
				t.Fatalf("LoadKeysEnv: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("LoadKeysEnv error = %v; want %q", err, tt.wantErr)
			}
		})
	}
}
