package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
)

func run(t *testing.T, stdin string, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = RunEnv(context.Background(), &Env{
		Args: args, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return code, out.String(), errb.String()
}

func TestKeygen(t *testing.T) {
	code, out, _ := run(t, "", nil, "keygen", "--id", "main")
	if code != 0 {
		t.Fatalf("keygen exit %d", code)
	}
	r, err := latch.ParseKeys(strings.TrimSpace(out))
	if err != nil || r.Primary().ID != "main" || len(r.Primary().Secret) != latch.KeySize {
		t.Fatalf("keygen printed an unusable key: %v", err)
	}
	code, out, _ = run(t, "", nil, "keygen", "--id", "k", "--retire", "2099-12-31")
	r, err = latch.ParseKeys(strings.TrimSpace(out))
	if code != 0 || err != nil {
		t.Fatalf("keygen --retire: exit %d, %v", code, err)
	}
	if k, _ := r.Lookup("k"); !k.Retire.Equal(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("keygen --retire 2099-12-31: retires at %v; want the key accepted through that day", k.Retire)
	}
	if code, _, _ := run(t, "", nil, "keygen", "--id", "bad id"); code != 2 {
		t.Fatalf("bad id: exit %d; want 2", code)
	}
}

func TestCheckkey(t *testing.T) {
	good := latch.Key{ID: "k", Secret: latch.GenerateKey()}.SecretEntry()
	staged := latch.Key{ID: "s", Secret: latch.GenerateKey(), Activate: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}.SecretEntry()
	tests := []struct {
		name   string
		stdin  string
		env    map[string]string
		args   []string
		code   int
		output string
	}{
		{"keyring entry on stdin", good + "\n", nil, nil, 0, `key "k": ok`},
		{"keyring file saved by a Windows editor", "\ufeff" + good + "\r\n", nil, nil, 0, `key "k": ok`},
		{"raw weak secret on stdin", "changeme\n", nil, nil, 1, "known-key"},
		{"raw short secret", "Xk9#qL2m", nil, nil, 1, "too-short"},
		{"raw Django startproject key", "django-insecure-1$-(3z*#-fhk)&p2-l2zeww(a$3g5petfr$==(j*nireqc8h2e\n", nil, nil, 1, "refused (known-key): the key is a published default: Django's development key (django-insecure-...), generated into settings.py by django-admin startproject"},
		{"raw strong text secret", "q3Z-Hk8wR2vY_pL0mN5tXa9cB7dE1fG4hJ6kS0uV2wQ", nil, nil, 0, "ok: 43 bytes"},
		{"from env", "", map[string]string{"SECRET": "secret"}, []string{"--env", "SECRET"}, 1, "refused"},
		{"empty env", "", nil, []string{"--env", "NOPE"}, 2, ""},
		{"weak keyring entry", "k:" + strings.Repeat("A", 43), nil, nil, 1, "few-distinct-bytes"},
		{"staged key", good + "\n" + staged + "\n", nil, nil, 0, `key "s": ok (32 bytes), verifies; staged to sign from 2099-01-01T00:00:00Z`},
		{"signing key", good + "\n" + staged + "\n", nil, nil, 0, `key "k": ok (32 bytes), signs now`},
		// A raw secret with a colon is no keyring entry when what follows
		// the colon is not base64url: it is judged whole, and no part of
		// it is echoed (the part before the colon looks like an id).
		{"raw secret with a colon", "Sup3rS3cretPassw0rdOfMine:and-the-rest-of-it-here!\n", nil, nil, 0, "ok: 50 bytes"},
		{"raw weak secret with a colon", "Sup3rS3cretPassw0rdOfMine:x!\n", nil, nil, 1, "too-short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := run(t, tt.stdin, tt.env, append([]string{"checkkey"}, tt.args...)...)
			if code != tt.code || !strings.Contains(out, tt.output) {
				t.Fatalf("exit %d, output %q; want %d and %q", code, out, tt.code, tt.output)
			}
			secret := strings.TrimSpace(tt.stdin)
			if len(secret) > 6 && strings.Contains(out, secret) {
				t.Fatalf("checkkey echoed the key")
			}
			if before, _, ok := strings.Cut(secret, ":"); ok && strings.HasPrefix(tt.name, "raw") && strings.Contains(out, before) {
				t.Fatalf("checkkey echoed the secret's text before its colon: %q", out)
			}
		})
	}
}

// TestCheckkeyBoundedInput: a key file or standard input larger than any
// keyring is refused whole, with the reason, instead of being read without
// end (/dev/zero) or checked in part.
func TestCheckkeyBoundedInput(t *testing.T) {
	big := strings.Repeat(latch.Key{ID: "k", Secret: latch.GenerateKey()}.SecretEntry()+"\n", 1<<20/40)
	file := t.TempDir() + "/keys"
	if err := os.WriteFile(file, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"endless file", "", []string{"--file", "/dev/zero"}},
		{"large file", "", []string{"--file", file}},
		{"large standard input", big, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.stdin, nil, append([]string{"checkkey"}, tt.args...)...)
			if code != 2 || !strings.Contains(errOut, "larger than 1024 KiB") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and a size error", code, out, errOut)
			}
		})
	}
}
