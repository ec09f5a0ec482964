package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// auditApp is a small application for the command tests: secure when
// hardened is set, otherwise with cookie attributes missing.
func auditApp(hardened bool) http.Handler {
	var mu sync.Mutex
	sessions := map[string]bool{}
	name, attrs := "sid", "; Path=/"
	if hardened {
		name, attrs = "__Host-sid", "; Path=/; Secure; HttpOnly; SameSite=Strict"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		c, _ := r.Cookie(name)
		switch r.URL.Path {
		case "/login":
			if r.Method != http.MethodPost || r.PostFormValue("password") != "s3cret-pw" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			b := make([]byte, 32)
			rand.Read(b)
			id := base64.RawURLEncoding.EncodeToString(b)
			sessions[id] = true
			w.Header().Add("Set-Cookie", name+"="+id+attrs)
			http.Redirect(w, r, "/me", http.StatusSeeOther)
		case "/me":
			if c == nil || !sessions[c.Value] {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"user":"alice"}`)
		case "/logout":
			if c != nil {
				delete(sessions, c.Value)
			}
			w.Header().Add("Set-Cookie", name+"=; Max-Age=0"+attrs)
		default:
			fmt.Fprint(w, "home")
		}
	})
}

type auditRun struct {
	code           int
	stdout, stderr string
}

func runAuditCmd(t *testing.T, env map[string]string, args ...string) auditRun {
	t.Helper()
	var out, errb bytes.Buffer
	code := RunEnv(context.Background(), &Env{
		Args: append([]string{"audit"}, args...), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return auditRun{code, out.String(), errb.String()}
}

func TestAuditCommand(t *testing.T) {
	weak := httptest.NewServer(auditApp(false))
	defer weak.Close()
	hard := httptest.NewTLSServer(auditApp(true))
	defer hard.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, hard.URL+r.URL.Path, http.StatusPermanentRedirect)
	}))
	defer redirect.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hard.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PW": "s3cret-pw", "EMPTY": ""}
	login := []string{"--login-path", "/login", "--username", "alice", "--password-env", "PW", "--me-path", "/me", "--samples", "40"}
	htmlOut := filepath.Join(dir, "report.html")

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring expected on stdout
		stderr string // substring expected on stderr
	}{
		{"no url", nil, 2, "", "usage: latch audit"},
		{"two urls", []string{weak.URL, weak.URL}, 2, "", "usage"},
		{"help", []string{"-h"}, 0, "", "-idle-wait"},
		{"bad format", []string{weak.URL, "--format", "pdf"}, 2, "", "unknown format"},
		{"bad samples", []string{weak.URL, "--samples", "0"}, 2, "", "--samples"},
		{"login without password env", []string{weak.URL, "--login-path", "/login", "--username", "a", "--me-path", "/me"}, 2, "", "--password-env"},
		{"empty password env", []string{weak.URL, "--login-path", "/login", "--username", "a", "--me-path", "/me", "--password-env", "EMPTY"}, 2, "", "EMPTY is empty"},
		{"missing wordlist", []string{weak.URL, "--wordlist", filepath.Join(dir, "nope")}, 2, "", "--wordlist"},
		{"missing cacert", []string{weak.URL, "--cacert", filepath.Join(dir, "nope")}, 2, "", "--cacert"},
		{"unreachable", []string{"http://127.0.0.1:1/"}, 2, "", "target unreachable"},
		{"untrusted certificate", []string{hard.URL}, 2, "", "certificate"},
		{"weak app fails", append([]string{weak.URL, "--format", "json"}, login...), 1, `"status": "fail"`, ""},
		{"hardened app passes", append([]string{hard.URL, "--cacert", ca, "--http-url", redirect.URL, "--format", "html", "--out", htmlOut}, login...), 0, "", "report written to"},
		{"insecure flag", append([]string{hard.URL, "--insecure", "--http-url", redirect.URL, "--format", "markdown"}, login...), 0, "| Status |", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runAuditCmd(t, env, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d; want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.stdout) {
				t.Errorf("stdout lacks %q: %s", tt.stdout, r.stdout)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr lacks %q: %s", tt.stderr, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, "s3cret-pw") {
				t.Error("the password was printed")
			}
		})
	}
	b, err := os.ReadFile(htmlOut)
	if err != nil || !bytes.Contains(b, []byte(`class="grade gA"`)) {
		t.Errorf("html report: %v, grade A missing", err)
	}
}

func TestAuditJSONExitCodeMatchesReport(t *testing.T) {
	weak := httptest.NewServer(auditApp(false))
	defer weak.Close()
	r := runAuditCmd(t, nil, weak.URL, "--format", "json", "--samples", "5")
	var doc struct {
		Target string `json:"target"`
		Checks []struct {
			ID, Status string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	failed := false
	for _, c := range doc.Checks {
		failed = failed || c.Status == "fail"
	}
	if want := map[bool]int{true: 1, false: 0}[failed]; r.code != want || doc.Target != weak.URL || len(doc.Checks) != 15 {
		t.Errorf("exit %d, target %q, %d checks", r.code, doc.Target, len(doc.Checks))
	}
}

func TestParseWordlist(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"plain", "a\nb\n", []string{"a", "b"}},
		{"crlf and blanks", "a\r\n\r\n\nb", []string{"a", "b"}},
		{"spaces kept", " k ey \n#not-a-comment\n", []string{" k ey ", "#not-a-comment"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWordlist(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
	if _, err := parseWordlist(strings.NewReader(strings.Repeat("x", 2<<20))); err == nil {
		t.Error("accepted a 2 MiB line")
	}
}

func TestProgressNonTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	for i := 0; i <= 3; i++ {
		p.Update("sampling tokens", i, 3)
	}
	p.done()
	want := "latch audit: sampling tokens (3)...\nlatch audit: sampling tokens done\n"
	if b.String() != want {
		t.Errorf("progress wrote %q; want %q", b.String(), want)
	}
}

// TestAuditInterrupted cancels the command's context at the first logout,
// as SIGINT or SIGTERM does through main: the report of the checks that
// finished is still written, marked incomplete, and the exit status is 3.
func TestAuditInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app := auditApp(true)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/logout" {
			cancel()
		}
		app.ServeHTTP(w, r)
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	code := RunEnv(ctx, &Env{
		Args: []string{"audit", srv.URL, "--insecure", "--http-url", "http://127.0.0.1:1/", "--login-path", "/login", "--username", "alice",
			"--password-env", "PW", "--me-path", "/me", "--samples", "5", "--format", "json", "--out", out},
		Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "s3cret-pw" },
	})
	if code != 3 {
		t.Errorf("exit %d; want 3\nstderr: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(b, []byte(`"incomplete": "was interrupted"`)) || !bytes.Contains(b, []byte(`"id": "cookie-secure"`)) {
		t.Errorf("report: %v\n%s", err, b)
	}
	if !strings.Contains(stderr.String(), "incomplete") {
		t.Errorf("stderr does not say the report is incomplete: %s", stderr.String())
	}
}

func TestAuditMaxDurationShorterThanWait(t *testing.T) {
	r := runAuditCmd(t, nil, "http://127.0.0.1:1/", "--absolute-wait", "2h", "--max-duration", "1h")
	if r.code != 2 || !strings.Contains(r.stderr, "--max-duration") {
		t.Errorf("exit %d, stderr %q; want 2 naming --max-duration", r.code, r.stderr)
	}
}
