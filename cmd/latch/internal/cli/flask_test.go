package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/flask"
)

// runFlaskCLI runs "latch flask ARGS..." with the given environment and
// standard input.
func runFlaskCLI(t *testing.T, vars map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{
		Args:   append([]string{"flask"}, args...),
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(k string) string { return vars[k] },
	}
	code = RunEnv(context.Background(), env)
	return code, out.String(), errOut.String()
}

func flaskCookieFor(t *testing.T, key string, data map[string]any) string {
	t.Helper()
	c, err := flask.New(key).Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFlaskDecode(t *testing.T) {
	cookie := flaskCookieFor(t, "s3cr3t-for-tests", map[string]any{"user": "alice", "t": flask.Tuple{1, "x"}})
	old := flask.New("s3cr3t-for-tests")
	old.Now = func() time.Time { return time.Now().Add(-48 * time.Hour) }
	oldCookie, err := old.Encode(map[string]any{"user": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("s3cr3t-for-tests\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"GOOD": "s3cr3t-for-tests", "BAD": "another-key", "OTHER": "yet-another-key"}
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantOut    string
		wantErrSub string
	}{
		{"no key", []string{"decode", cookie}, "", 0, `"user": "alice"`, "not checked"},
		{"key from env", []string{"decode", cookie, "--key-env", "GOOD"}, "", 0, `"user": "alice"`, "signature: valid"},
		{"flags first", []string{"decode", "--key-env", "GOOD", cookie}, "", 0, `"t": [`, "signature: valid"},
		{"key from file", []string{"decode", cookie, "--key-file", keyFile}, "", 0, `"user": "alice"`, "signature: valid"},
		{"wrong key", []string{"decode", cookie, "--key-env", "BAD"}, "", 1, `"user": "alice"`, "INVALID"},
		{"fallback key", []string{"decode", cookie, "--key-env", "BAD", "--fallback-env", "OTHER", "--fallback-env", "GOOD"}, "", 0, `"user": "alice"`, "fallback key 2"},
		{"fallbacks do not match", []string{"decode", cookie, "--key-env", "BAD", "--fallback-env", "OTHER"}, "", 1, `"user": "alice"`, "INVALID"},
		{"fallback without key", []string{"decode", cookie, "--fallback-env", "GOOD"}, "", 2, "", "needs --key-env"},
		{"fallback unset", []string{"decode", cookie, "--key-env", "GOOD", "--fallback-env", "NOPE"}, "", 2, "", "NOPE is empty or unset"},
		{"expired", []string{"decode", oldCookie, "--key-env", "GOOD", "--max-age", "24h"}, "", 1, `"user": "bob"`, "expired"},
		{"from stdin", []string{"decode", "-"}, cookie + "\n", 0, `"user": "alice"`, "not checked"},
		{"cookie header form", []string{"decode", "session=" + cookie + ";"}, "", 0, `"user": "alice"`, ""},
		{"malformed", []string{"decode", "not-a-cookie"}, "", 1, "", "malformed"},
		{"unset env", []string{"decode", cookie, "--key-env", "NOPE"}, "", 2, "", "NOPE is empty or unset"},
		{"both key flags", []string{"decode", cookie, "--key-env", "GOOD", "--key-file", keyFile}, "", 2, "", "not both"},
		{"missing key file", []string{"decode", cookie, "--key-file", filepath.Join(dir, "nope")}, "", 2, "", "--key-file"},
		{"no cookie", []string{"decode"}, "", 2, "", "usage"},
		{"negative max age", []string{"decode", cookie, "--max-age", "-1s"}, "", 2, "", "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runFlaskCLI(t, vars, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d; want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout %q lacks %q", out, tt.wantOut)
			}
			if !strings.Contains(errOut, tt.wantErrSub) {
				t.Errorf("stderr %q lacks %q", errOut, tt.wantErrSub)
			}
			if strings.Contains(out+errOut, "s3cr3t-for-tests") {
				t.Error("output contains the secret key")
			}
			if code == 0 {
				var v map[string]any
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Errorf("stdout is not JSON: %v", err)
				}
			}
		})
	}
}

func TestFlaskSign(t *testing.T) {
	vars := map[string]string{"KEY": "sign-key-for-tests"}
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantData   map[string]any
		wantErrSub string
	}{
		{"plain", []string{"sign", "--key-env", "KEY", `{"user":"alice"}`}, "", 0, map[string]any{"user": "alice"}, ""},
		{"flag after JSON", []string{"sign", `{"user":"alice","admin":true}`, "--key-env", "KEY"}, "", 0, map[string]any{"user": "alice", "admin": true}, ""},
		{"tagged tuple", []string{"sign", "--key-env", "KEY", `{"f":{" t":["a","b"]}}`}, "", 0, map[string]any{"f": flask.Tuple{"a", "b"}}, ""},
		{"from stdin", []string{"sign", "--key-env", "KEY", "-"}, `{"user":"carol"}`, 0, map[string]any{"user": "carol"}, ""},
		{"no key", []string{"sign", `{"user":"alice"}`}, "", 2, nil, "key is required"},
		{"not an object", []string{"sign", "--key-env", "KEY", `[1]`}, "", 2, nil, "JSON"},
		{"not JSON", []string{"sign", "--key-env", "KEY", `{user}`}, "", 2, nil, "JSON"},
		{"no JSON", []string{"sign", "--key-env", "KEY"}, "", 2, nil, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runFlaskCLI(t, vars, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d; want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(errOut, tt.wantErrSub) {
				t.Errorf("stderr %q lacks %q", errOut, tt.wantErrSub)
			}
			if code != 0 {
				return
			}
			p, err := flask.New("sign-key-for-tests").Decode(strings.TrimSpace(out), time.Minute)
			if err != nil {
				t.Fatalf("signed cookie does not verify: %v", err)
			}
			want, _ := flask.MarshalTagged(tt.wantData)
			if string(p.Serialized) != string(want) {
				t.Errorf("cookie holds %s; want %s", p.Serialized, want)
			}
		})
	}
}

func TestFlaskCrack(t *testing.T) {
	weak := flaskCookieFor(t, "changeme", map[string]any{"user": "alice"})
	custom := flaskCookieFor(t, "corp-s3cret-2024", map[string]any{"user": "alice"})
	docKey := "_5#y2L\"F4Q8z\n\xec]/"
	bs := flask.NewBytes([]byte(docKey))
	docCookie, err := bs.Encode(map[string]any{"user": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	binCookie, err := flask.NewBytes([]byte("\x00bin\xffkey")).Encode(map[string]any{"user": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wl := filepath.Join(dir, "words.txt")
	if err := os.WriteFile(wl, []byte("nope\r\ncorp-s3cret-2024\n\nb'\\x00bin\\xffkey'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantErrSub string
	}{
		{"shipped list", []string{"crack", weak}, 0, "key: changeme\n", "candidates/s"},
		{"flask doc bytes key", []string{"crack", docCookie, "--workers", "1"}, 0, `key: b'_5#y2L"F4Q8z\n\xec]/'` + "\n", "candidates/s"},
		{"wordlist", []string{"crack", custom, "--wordlist", wl}, 0, "key: corp-s3cret-2024\n", "candidates/s"},
		{"wordlist literal", []string{"crack", binCookie, "--wordlist", wl}, 0, `key: b'\x00bin\xffkey'` + "\n", "candidates/s"},
		{"not found", []string{"crack", custom}, 1, "", "key not found"},
		{"malformed", []string{"crack", "garbage"}, 2, "", "malformed"},
		{"missing wordlist", []string{"crack", weak, "--wordlist", filepath.Join(dir, "nope")}, 2, "", "--wordlist"},
		{"negative workers", []string{"crack", weak, "--workers", "-1"}, 2, "", "--workers"},
		{"no cookie", []string{"crack"}, 2, "", "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runFlaskCLI(t, nil, "", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d; want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if out != tt.wantOut {
				t.Errorf("stdout = %q; want %q", out, tt.wantOut)
			}
			if !strings.Contains(errOut, tt.wantErrSub) {
				t.Errorf("stderr %q lacks %q", errOut, tt.wantErrSub)
			}
		})
	}
}

func TestFlaskUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"no subcommand", nil, 2},
		{"unknown", []string{"frobnicate"}, 2},
		{"help", []string{"help"}, 0},
		{"decode -h", []string{"decode", "-h"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runFlaskCLI(t, nil, "", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d; want %d", code, tt.wantCode)
			}
			if !strings.Contains(out+errOut, "usage: latch flask") {
				t.Errorf("no usage text in %q", out+errOut)
			}
		})
	}
}

func TestDisplayKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"changeme", "changeme"},
		{"super secret key", "super secret key"},
		{"Zoë", "Zoë"},
		{"a\nb", `b'a\nb'`},
		{"\x02\x01it's\\", `b'\x02\x01it\'s\\'`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := displayKey(tt.in); got != tt.want {
				t.Errorf("displayKey(%q) = %s; want %s", tt.in, got, tt.want)
			}
		})
	}
}
