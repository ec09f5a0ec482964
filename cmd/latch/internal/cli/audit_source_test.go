package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// pythonFor returns the Python that runs the Flask targets, or skips the
// test (fails it under CI) when Flask is missing.
func pythonFor(t *testing.T) string {
	t.Helper()
	py := os.Getenv("LATCH_TEST_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if err := exec.Command(py, "-c", "import flask").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot import flask: scripts/test must install python3-flask", py)
		}
		t.Skipf("%s cannot import flask", py)
	}
	return py
}

// targetsDir is testdata/targets of the repository.
func targetsDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "testdata", "targets")
}

// startFlaskApp runs "python app.py PORT" in dir, as scripts/audit-targets
// starts its Flask targets, and returns the app's URL once it listens.
func startFlaskApp(t *testing.T, dir string) string {
	t.Helper()
	py := pythonFor(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(py, "app.py", fmt.Sprint(port))
	cmd.Dir = dir
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + addr + "/"
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Flask app in %s did not listen on %s: %v\n%s", dir, addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// flaskweakWithKey copies testdata/targets/flaskweak/app.py into a new
// directory with its SECRET_KEY literal replaced by key.
func flaskweakWithKey(t *testing.T, key string) string {
	t.Helper()
	return flaskweakVariant(t, key, "")
}

// flaskweakVariant is flaskweakWithKey with extra lines of configuration
// after the key's.
func flaskweakVariant(t *testing.T, key, extra string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(targetsDir(t), "flaskweak", "app.py"))
	if err != nil {
		t.Fatal(err)
	}
	const planted = `app.config["SECRET_KEY"] = "changeme"`
	if !strings.Contains(string(src), planted) {
		t.Fatalf("flaskweak/app.py no longer plants %s", planted)
	}
	dir := t.TempDir()
	body := strings.Replace(string(src), planted, `app.config["SECRET_KEY"] = "`+key+`"`+extra, 1)
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// git runs git in dir with a fixed identity.
func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

type jsonCheck struct {
	ID, Status, Severity, Evidence string
	Locations                      []struct {
		File string
		Line int
	}
}

// checkOf returns the check of checks with id; without one the test ends.
func checkOf(t *testing.T, checks []jsonCheck, id string) jsonCheck {
	t.Helper()
	for _, c := range checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no %s check", id)
	return jsonCheck{}
}

// wantCheck reports unless c has the status want and evidence that holds
// every string of evidence.
func wantCheck(t *testing.T, c jsonCheck, want string, evidence []string) {
	t.Helper()
	if c.Status != want {
		t.Errorf("%s %s; want %s: %s", c.ID, c.Status, want, c.Evidence)
	}
	for _, w := range evidence {
		if !strings.Contains(c.Evidence, w) {
			t.Errorf("evidence lacks %q: %s", w, c.Evidence)
		}
	}
}

// TestAuditSource audits real Flask apps (testdata/targets/flaskweak, and
// copies of it with other keys) with --source: a source whose literal key
// signs the live cookie (the planted weak key; a strong key no word list
// holds; a key removed from the source but still in its git history)
// fails source-key-live, proven by a forged cookie the app accepts, and
// a source whose key does not sign it passes.
func TestAuditSource(t *testing.T) {
	const strongKey = "hard-coded-but-long-7f3a9c1e5b2d8f40a6c4"
	weakLive := startFlaskApp(t, filepath.Join(targetsDir(t), "flaskweak"))
	strongDir := flaskweakWithKey(t, strongKey)
	strongLive := startFlaskApp(t, strongDir)

	// A repository whose key was committed, then replaced by an
	// environment lookup: the tree no longer holds the key that the
	// running app (started from the old version) uses.
	repo := flaskweakWithKey(t, strongKey)
	gitIn(t, repo, "init", "-q", "-b", "main")
	gitIn(t, repo, "add", "app.py")
	gitIn(t, repo, "commit", "-q", "-m", "app")
	src, _ := os.ReadFile(filepath.Join(repo, "app.py"))
	fixed := strings.Replace(string(src), `app.config["SECRET_KEY"] = "`+strongKey+`"`, `import os
app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]`, 1)
	if err := os.WriteFile(filepath.Join(repo, "app.py"), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, repo, "commit", "-q", "-am", "key from the environment")

	tests := []struct {
		name, url, source string
		wantCode          int    // flaskweak fails other checks whatever the source
		keyLive, weakKey  string // statuses
		evidence          []string
	}{
		{"planted key in the source", weakLive, filepath.Join(targetsDir(t), "flaskweak"), 1, "fail", "fail",
			[]string{"a key written in the source signs the live session cookie", "the key found in the source at app.py:17 (app.config.SECRET_KEY, hard-coded)", "proven: a cookie forged with this key"}},
		{"source with another key", weakLive, flaskweakWithKey(t, "not-the-live-key-0123456789abcdef"), 1, "pass", "fail",
			[]string{"none of the 1 keys found in the source and its git history verifies the live Flask session cookie (another weak key does"}},
		{"strong hard-coded key", strongLive, strongDir, 1, "fail", "fail",
			[]string{"the key found in the source at app.py:17 (app.config.SECRET_KEY, hard-coded)", "proven: a cookie forged with this key"}},
		{"strong key, other source", strongLive, flaskweakWithKey(t, "not-the-live-key-0123456789abcdef"), 1, "pass", "pass",
			[]string{"production uses another key"}},
		{"key only in the git history", strongLive, repo, 1, "fail", "fail",
			[]string{"the key found in the source in its git history: committed in ", "app.py:17 (app.config.SECRET_KEY, hard-coded", "removed since, but still in the history", "proven: a cookie forged"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := runAuditCmd(t, map[string]string{"PW": "wonderland"}, tt.url, "--login-path", "/login", "--username", "alice",
				"--password-env", "PW", "--me-path", "/me", "--samples", "5", "--source", tt.source, "--format", "json")
			t.Logf("audit took %v", time.Since(start))
			if r.code != tt.wantCode {
				t.Errorf("exit %d; want %d\n%s\n%s", r.code, tt.wantCode, r.stderr, r.stdout)
			}
			var doc struct {
				Checks  []jsonCheck
				Summary struct {
					Actions struct{ Immediate []struct{ ID string } }
				}
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("%v\n%s", err, r.stdout)
			}
			got := map[string]jsonCheck{}
			for _, c := range doc.Checks {
				got[c.ID] = c
			}
			kl, wk := got["source-key-live"], got["weak-secret-key"]
			if kl.Status != tt.keyLive || wk.Status != tt.weakKey {
				t.Errorf("source-key-live %s, weak-secret-key %s; want %s, %s\n%s\n%s", kl.Status, wk.Status, tt.keyLive, tt.weakKey, kl.Evidence, wk.Evidence)
			}
			for _, w := range tt.evidence {
				if !strings.Contains(kl.Evidence+" | "+wk.Evidence, w) {
					t.Errorf("evidence lacks %q:\n%s\n%s", w, kl.Evidence, wk.Evidence)
				}
			}
			if kl.Status == "fail" {
				if kl.Severity != "critical" {
					t.Errorf("severity %s", kl.Severity)
				}
				immediate := false
				for _, a := range doc.Summary.Actions.Immediate {
					immediate = immediate || a.ID == "source-key-live"
				}
				if !immediate {
					t.Error("source-key-live is not an immediate action")
				}
			}
			for _, id := range []string{"source-live-config", "source-live-lifetime"} {
				if _, ok := got[id]; !ok {
					t.Errorf("no %s check", id)
				}
			}
			for _, secret := range []string{strongKey, `"changeme"`, "not-the-live-key"} {
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Errorf("the report prints a key (%s)", secret)
				}
			}
		})
	}
}

// TestAuditSourceConfig compares the review of a source with the live
// audit of a real Flask app: the same flaskweak on both sides agrees; a
// source that sets SESSION_COOKIE_SECURE while the running app does not
// (another configuration is in play) fails source-live-config at the
// source's line; a live app safer than its source warns.
func TestAuditSourceConfig(t *testing.T) {
	const secure = "\napp.config[\"SESSION_COOKIE_SECURE\"] = True"
	weak := filepath.Join(targetsDir(t), "flaskweak")
	weakLive := startFlaskApp(t, weak)
	secureDir := flaskweakVariant(t, "changeme", secure)
	secureLive := startFlaskApp(t, secureDir)
	tests := []struct {
		name, url, source string
		want              string
		evidence          []string
		loc               string
	}{
		{"same app", weakLive, weak, "pass", []string{"the review and the live audit agree on cookie-secure, cookie-httponly, cookie-samesite, https-redirect, hsts"}, ""},
		{"source says Secure, live is not", weakLive, secureDir, "fail", []string{"cookie-secure: the source pass but the live application fail", "agree: cookie-httponly"}, "app.py:18"},
		{"live Secure, source is not", secureLive, weak, "warn", []string{"cookie-secure: the live application pass but the source fail (SESSION_COOKIE_SECURE is not set in production"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runAuditCmd(t, map[string]string{"PW": "wonderland"}, tt.url, "--login-path", "/login", "--username", "alice",
				"--password-env", "PW", "--me-path", "/me", "--samples", "5", "--source", tt.source, "--format", "json")
			var doc struct{ Checks []jsonCheck }
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("%v\n%s\n%s", err, r.stdout, r.stderr)
			}
			c := checkOf(t, doc.Checks, "source-live-config")
			wantCheck(t, c, tt.want, tt.evidence)
			var locs []string
			for _, l := range c.Locations {
				locs = append(locs, fmt.Sprintf("%s:%d", l.File, l.Line))
			}
			if got := strings.Join(locs, ","); got != tt.loc {
				t.Errorf("locations %q; want %q", got, tt.loc)
			}
		})
	}
}

// TestAuditSourceLifetime measures a real Flask app's session against the
// lifetime its source sets: a source that ends sessions after 2 seconds
// while the running app keeps an unused one for 6 (another configuration:
// Flask's 31-day default) fails source-live-lifetime; the app that runs
// that source ends it and passes.
func TestAuditSourceLifetime(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for sessions to end")
	}
	short := flaskweakVariant(t, "changeme", "\napp.config[\"PERMANENT_SESSION_LIFETIME\"] = 2")
	weakLive := startFlaskApp(t, filepath.Join(targetsDir(t), "flaskweak"))
	shortLive := startFlaskApp(t, short)
	tests := []struct {
		name, url string
		want      string
		evidence  []string
	}{
		{"live outlives the source", weakLive, "fail", []string{"the source ends sessions after 2s (PERMANENT_SESSION_LIFETIME at app.py:18), but a live session left unused for 6s was still authenticated"}},
		{"live ends in time", shortLive, "pass", []string{"the source ends sessions after 2s (PERMANENT_SESSION_LIFETIME at app.py:18); a live session had ended when checked after 6s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runAuditCmd(t, map[string]string{"PW": "wonderland"}, tt.url, "--login-path", "/login", "--username", "alice",
				"--password-env", "PW", "--me-path", "/me", "--samples", "5", "--idle-wait", "6s", "--source", short, "--format", "json")
			var doc struct{ Checks []jsonCheck }
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("%v\n%s\n%s", err, r.stdout, r.stderr)
			}
			wantCheck(t, checkOf(t, doc.Checks, "source-live-lifetime"), tt.want, tt.evidence)
		})
	}
}

func TestAuditSourceMissing(t *testing.T) {
	r := runAuditCmd(t, nil, "http://127.0.0.1:1/", "--source", filepath.Join(t.TempDir(), "nope"))
	if r.code != 2 || !strings.Contains(r.stderr, "--source") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
