package review

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitRepo is a real git repository in a temporary directory.
type gitRepo struct {
	t    *testing.T
	dir  string
	tick int
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	date := fmt.Sprintf("2020-01-01T00:%02d:%02dZ", r.tick/60, r.tick%60)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "GIT_CONFIG_NOSYSTEM=1", "HOME="+r.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files ("" deletes one) and commits them; it returns the
// commit id.
func (r *gitRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, body := range files {
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		if body == "" {
			r.git("rm", "-q", name)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			r.t.Fatal(err)
		}
		r.git("add", name)
	}
	r.tick++
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func fingerprint(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

func TestScanHistory(t *testing.T) {
	r := newGitRepo(t)
	const (
		removedKey = "first-committed-key-0123456789"
		headKey    = "still-here-key-abcdefghijklmnop"
		envKey     = "dotenv-secret-value-zzz"
		branchKey  = "only-on-a-branch-key-9876"
		testKey    = "tests-only-key"
		fallback   = "dev-fallback-key"
	)
	c1 := r.commit("first", map[string]string{
		"app/config.py": "import os\n\nclass Config:\n    DEBUG = False\n    SECRET_KEY = '" + removedKey + "'\n",
		"app/views.py":  "def index():\n    return 'hi'\n",
		"README.md":     "SECRET_KEY = 'not python, not read'\n",
	})
	c2 := r.commit("use the environment", map[string]string{
		"app/config.py": "import os\n\nclass Config:\n    DEBUG = False\n    SECRET_KEY = os.environ['SECRET_KEY']\n",
	})
	c3 := r.commit("dotenv and settings", map[string]string{
		".env":                 "# local\nexport DEBUG=1\nSECRET_KEY=\"" + envKey + "\"\n",
		".env.example":         "SECRET_KEY=change-me\n",
		"proj/settings.py":     "SECRET_KEY = os.environ.get('SECRET_KEY', '" + fallback + "')\n",
		"app/__init__.py":      "from flask import Flask\napp = Flask(__name__)\napp.secret_key = '" + headKey + "'\n",
		"tests/settings.py":    "SECRET_KEY = '" + testKey + "'\n",
		"app/copy_settings.py": "SECRET_KEY = '" + headKey + "'\n", // the same key again: one entry, two versions
	})
	r.commit("drop the dotenv", map[string]string{".env": ""})
	r.git("checkout", "-q", "-b", "experiment")
	c5 := r.commit("branch key", map[string]string{"app/local_settings.py": "SECRET_KEY = \"" + branchKey + "\"\n"})
	r.git("checkout", "-q", "main")

	h, err := ScanHistory(context.Background(), r.dir, HistoryLimits{})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		commit, path    string
		line            int
		kind            LiteralKind
		inHead, example bool
		test            bool
		versions        int
	}
	wants := map[string]want{
		removedKey:  {c1, "app/config.py", 5, HardCoded, false, false, false, 1},
		envKey:      {c3, ".env", 3, EnvFile, false, false, false, 1},
		"change-me": {c3, ".env.example", 1, EnvFile, true, true, false, 1},
		fallback:    {c3, "proj/settings.py", 1, EnvFallback, true, false, false, 1},
		headKey:     {c3, "app/__init__.py", 3, HardCoded, true, false, false, 2},
		testKey:     {c3, "tests/settings.py", 1, HardCoded, true, false, true, 1},
		branchKey:   {c5, "app/local_settings.py", 1, HardCoded, false, false, false, 1},
	}
	if len(h.Keys) != len(wants) {
		t.Errorf("%d keys; want %d: %+v", len(h.Keys), len(wants), h.Keys)
	}
	_ = c2
	byFP := map[string]CommittedKey{}
	for _, k := range h.Keys {
		byFP[k.Fingerprint] = k
	}
	for secret, w := range wants {
		t.Run(w.path, func(t *testing.T) {
			k, ok := byFP[fingerprint(secret)]
			if !ok {
				t.Fatalf("key of %s not found", w.path)
			}
			got := want{k.Commit, k.Path, k.Line, k.Kind, k.InHEAD, k.Example, k.Test, k.Versions}
			if got != w {
				t.Errorf("got %+v\nwant %+v", got, w)
			}
			if k.Removed == k.InHEAD || k.Length != len(secret) || k.Secret() != secret {
				t.Errorf("removed %v, length %d", k.Removed, k.Length)
			}
			ev := k.Evidence()
			if strings.Contains(ev, secret) || !strings.Contains(ev, "committed in "+w.commit[:7]+" "+fmt.Sprintf("%s:%d", w.path, w.line)) || !strings.Contains(ev, k.Fingerprint) {
				t.Errorf("evidence %q", ev)
			}
			if !k.InHEAD && !strings.Contains(ev, "removed since") {
				t.Errorf("evidence of a removed key %q", ev)
			}
		})
	}
	// Earliest first.
	if h.Keys[0].Fingerprint != fingerprint(removedKey) || h.Keys[len(h.Keys)-1].Fingerprint != fingerprint(branchKey) {
		t.Errorf("order: first %s, last %s", h.Keys[0].Path, h.Keys[len(h.Keys)-1].Path)
	}
	// views.py mentions no key: read but not parsed; README is no candidate.
	if h.Parsed >= h.Read || h.Candidates != h.Read || h.Skipped != 0 || h.Truncated != "" {
		t.Errorf("candidates %d, read %d, parsed %d, skipped %d, truncated %q", h.Candidates, h.Read, h.Parsed, h.Skipped, h.Truncated)
	}
}

func TestScanHistorySubdirectory(t *testing.T) {
	r := newGitRepo(t)
	c := r.commit("two apps", map[string]string{
		"svc/web/settings.py":   "SECRET_KEY = 'web-key-1234567890'\n",
		"svc/other/settings.py": "SECRET_KEY = 'other-key-123456789'\n",
	})
	h, err := ScanHistory(context.Background(), filepath.Join(r.dir, "svc", "web"), HistoryLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Keys) != 1 || h.Keys[0].Path != "settings.py" || h.Keys[0].Commit != c || h.Keys[0].Fingerprint != fingerprint("web-key-1234567890") {
		t.Errorf("keys %+v", h.Keys)
	}
}

func TestScanHistoryLimits(t *testing.T) {
	r := newGitRepo(t)
	big := "SECRET_KEY = 'in-a-big-file-key'\n" + strings.Repeat("# padding\n", 2000)
	r.commit("one", map[string]string{"a/settings.py": "SECRET_KEY = 'key-number-one-1'\n", "b/settings.py": "SECRET_KEY = 'key-number-two-2'\n"})
	r.commit("big", map[string]string{"c/settings.py": big})
	tests := []struct {
		name            string
		lim             HistoryLimits
		keys, skipped   int
		truncated       bool
		truncatedPrefix string
	}{
		{"no limit reached", HistoryLimits{MaxBlobs: 100, MaxBytes: 1 << 20, MaxBlobSize: 1 << 20}, 3, 0, false, ""},
		{"a blob over the size limit", HistoryLimits{MaxBlobs: 100, MaxBytes: 1 << 20, MaxBlobSize: 1000}, 2, 1, false, ""},
		{"one blob at most", HistoryLimits{MaxBlobs: 1, MaxBytes: 1 << 20, MaxBlobSize: 1 << 20}, 1, 2, true, "read the first 1 of 3"},
		{"bytes run out", HistoryLimits{MaxBlobs: 100, MaxBytes: 40, MaxBlobSize: 1 << 20}, 1, 2, true, "stopped after 32 bytes of file versions (the limit), 1 of 3 read"},
		// The clock moves a second each time it is read: the start, then
		// once per blob; the third blob is past two seconds.
		{"time runs out", HistoryLimits{MaxDuration: 2 * time.Second, Now: steppingClock()}, 2, 1, true, "stopped after 2s (the limit), 2 of 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ScanHistory(context.Background(), r.dir, tt.lim)
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Keys) != tt.keys || h.Skipped != tt.skipped || (h.Truncated != "") != tt.truncated || !strings.HasPrefix(h.Truncated, tt.truncatedPrefix) {
				t.Errorf("%d keys, %d skipped, truncated %q", len(h.Keys), h.Skipped, h.Truncated)
			}
			if tt.lim.MaxBytes > 0 && h.Bytes > tt.lim.MaxBytes {
				t.Errorf("read %d bytes over the limit %d", h.Bytes, tt.lim.MaxBytes)
			}
		})
	}
}

// steppingClock returns a clock that moves one second each time it is
// read.
func steppingClock() func() time.Time {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		now = now.Add(time.Second)
		return now
	}
}

func TestScanHistoryNotRepository(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	// A repository above the directory must not count: stop the search.
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	if _, err := ScanHistory(context.Background(), dir, HistoryLimits{}); !errors.Is(err, ErrNotRepository) {
		t.Errorf("plain directory: %v", err)
	}
	// An empty repository has no history and no keys.
	r := newGitRepo(t)
	h, err := ScanHistory(context.Background(), r.dir, HistoryLimits{})
	if err != nil || len(h.Keys) != 0 {
		t.Errorf("empty repository: %v, %+v", err, h)
	}
	// A cancelled scan says so.
	r.commit("one", map[string]string{"settings.py": "SECRET_KEY = 'abcdefghijkl'\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ScanHistory(ctx, r.dir, HistoryLimits{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestEnvLiterals(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // value@line
	}{
		{"bare", "SECRET_KEY=abc\n", []string{"abc@1"}},
		{"export and quotes", "A=1\nexport SECRET_KEY='x y z'\nDJANGO_SECRET_KEY=\"q#r\" # c\n", []string{"x y z@2", "q#r@3"}},
		{"comment after a bare value", "SECRET_KEY=abc # the key\n", []string{"abc@1"}},
		{"comments and empties", "# SECRET_KEY=no\nSECRET_KEY=\nSECRET_KEY=''\n\n", nil},
		{"unterminated quote", "SECRET_KEY=\"abc\n", nil},
		{"other names", "SECRET=abc\nMY_SECRET_KEY_FILE=/x\n", nil},
		{"crlf", "SECRET_KEY=abc\r\n", []string{"abc@1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, l := range envLiterals([]byte(tt.src)) {
				got = append(got, fmt.Sprintf("%s@%d", l.Value, l.Line))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

// TestScanHistoryManyCommits times a scan of a repository of 5,000
// commits made with git fast-import: a settings file changed in every
// commit (a key in one of them, removed in the next), and other Python
// files.
func TestScanHistoryManyCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 5,000-commit repository")
	}
	r := newGitRepo(t)
	const commits = 5000
	var b strings.Builder
	for i := 1; i <= commits; i++ {
		settings := fmt.Sprintf("import os\nSECRET_KEY = os.environ['SECRET_KEY']\nVERSION = %d\n", i)
		if i == 1234 {
			settings = fmt.Sprintf("SECRET_KEY = 'leaked-in-commit-1234-key'\nVERSION = %d\n", i)
		}
		view := fmt.Sprintf("def view_%d():\n    return %d\n", i, i)
		fmt.Fprintf(&b, "commit refs/heads/main\nmark :%d\ncommitter t <t@example.com> %d +0000\ndata 0\n", i, 1577836800+i)
		if i > 1 {
			fmt.Fprintf(&b, "from :%d\n", i-1)
		}
		fmt.Fprintf(&b, "M 644 inline proj/settings.py\ndata %d\n%s\n", len(settings), settings)
		fmt.Fprintf(&b, "M 644 inline proj/views/v%d.py\ndata %d\n%s\n", i%200, len(view), view)
	}
	cmd := exec.Command("git", "-C", r.dir, "fast-import", "--quiet")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fast-import: %v\n%s", err, out)
	}
	start := time.Now()
	h, err := ScanHistory(context.Background(), r.dir, HistoryLimits{})
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	t.Logf("%d commits: %d objects, %d candidates, %d read (%d bytes), %d parsed, %d keys in %v", commits, h.Objects, h.Candidates, h.Read, h.Bytes, h.Parsed, len(h.Keys), el)
	if len(h.Keys) != 1 || h.Keys[0].Fingerprint != fingerprint("leaked-in-commit-1234-key") || h.Keys[0].InHEAD {
		t.Fatalf("keys %+v", h.Keys)
	}
	if want := r.git("rev-parse", "main~3766"); h.Keys[0].Commit != want {
		t.Errorf("commit %s; want %s (the 1234th)", h.Keys[0].Commit, want)
	}
	if el > 60*time.Second {
		t.Errorf("scan took %v", el)
	}
}

// TestScanHistoryRealRepository times a scan of the git work tree named by
// LATCH_HISTORY_REPO (a clone of a real project), and prints what it found
// without the keys.
func TestScanHistoryRealRepository(t *testing.T) {
	dir := os.Getenv("LATCH_HISTORY_REPO")
	if dir == "" {
		t.Skip("LATCH_HISTORY_REPO is not set")
	}
	h, err := ScanHistory(context.Background(), dir, DefaultHistoryLimits)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d objects, %d candidates, %d read (%d bytes), %d parsed, %d skipped, truncated %q: %d keys in %v",
		dir, h.Objects, h.Candidates, h.Read, h.Bytes, h.Parsed, h.Skipped, h.Truncated, len(h.Keys), h.Elapsed)
	for _, k := range h.Keys {
		t.Log(k.Evidence())
	}
}

func TestMentionsSecret(t *testing.T) {
	tests := []struct {
		name, src string
		want      bool
	}{
		{"assignment", "SECRET_KEY = 'x'", true},
		{"attribute", "app.secret_key='x'", true},
		{"item", "app.config[\"SECRET_KEY\"] = 'x'", true},
		{"keyword", "dict(SECRET_KEY='x')", true},
		{"pair", "{'SECRET_KEY': 'x'}", true},
		{"annotated", "SECRET_KEY: str = 'x'", true},
		{"env file", "Secret_Key=x", true},
		{"comparison", "if app.secret_key == 'x': pass", false},
		{"lookup", "os.environ.get('SECRET_KEY', 'dev')", false},
		{"read", "key = app.secret_key\nprint(key)", false},
		{"other name", "MY_SECRET_KEYS = 1", false},
		{"at the end", "x.secret_key", false},
		{"line continuation", "SECRET_KEY \\\n = 1", true},
		{"nothing", "import os", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mentionsSecret([]byte(tt.src)); got != tt.want {
				t.Errorf("mentionsSecret(%q) = %v", tt.src, got)
			}
		})
	}
}

// FuzzSecretFilter checks that the byte test before a parse never drops a
// Python source (one that parses without error) that assigns a key: whatever SecretLiterals finds,
// mentionsSecret lets through. Neither panics on any input.
func FuzzSecretFilter(f *testing.F) {
	for _, s := range []string{
		"SECRET_KEY = 'abc'\n", "app.secret_key='x'", "app.config['SECRET_KEY'] = \"x\"", "dict(SECRET_KEY='x')",
		"{'SECRET_KEY': 'x'}", "SECRET_KEY: str = 'x'", "SECRET_KEY \\\n = 'x'", "import os\nSECRET_KEY = os.environ.get('K', 'dev')\n",
		"class C:\n    SECRET_KEY = 'a' 'b'\n", "if x:\n    SECRET_KEY = 'p'\nelse:\n    SECRET_KEY = 'q'\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if pf, err := parsePython("settings.py", data); err != nil || pf.broken {
			return // not Python: what the parser recovers is no assignment a reviewer reads
		}
		lits, err := SecretLiterals("settings.py", data)
		if err == nil && len(lits) > 0 && !mentionsSecret(data) {
			t.Errorf("SecretLiterals finds %s at line %d but mentionsSecret drops the file", lits[0].Name, lits[0].Line)
		}
	})
}
