package review

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRunHostileTree reviews trees built to trap a reader: symbolic link
// loops, links out of the tree, a FIFO, a huge file, binary files, too
// many files. Each review must finish with the app's own verdicts and a
// note for what it skipped, never follow a link out, never hang on the
// FIFO.
func TestRunHostileTree(t *testing.T) {
	app := "import os\nfrom flask import Flask\napp = Flask(__name__)\napp.config['SECRET_KEY'] = os.environ['SECRET_KEY']\n"
	outside := writeTree(t, map[string]string{"config.py": "SECRET_KEY = 'leaked-outside-key'\n"})
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		lim   Limits
		note  string // a note that must be there
	}{
		{"symlink loop", func(t *testing.T, dir string) {
			must(t, os.Symlink(".", filepath.Join(dir, "loop")))
			must(t, os.Symlink("a.py", filepath.Join(dir, "b.py")))
			must(t, os.Symlink("b.py", filepath.Join(dir, "a.py")))
		}, Limits{}, "b.py: broken or looping symbolic link"},
		{"link out of the tree", func(t *testing.T, dir string) {
			must(t, os.Symlink(filepath.Join(outside, "config.py"), filepath.Join(dir, "config.py")))
			must(t, os.Symlink(outside, filepath.Join(dir, "vendor")))
		}, Limits{}, "config.py: symbolic link out of the project"},
		{"fifo", func(t *testing.T, dir string) {
			must(t, syscall.Mkfifo(filepath.Join(dir, "pipe.py"), 0o644))
		}, Limits{}, ""},
		{"huge file", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "big.py"), []byte("SECRET_KEY = 'x'\n"+strings.Repeat("# pad\n", 1<<16)), 0o644))
		}, Limits{MaxFileSize: 64 << 10, MaxFiles: 100, MaxTotal: 1 << 20}, "big.py: skipped"},
		{"binary settings", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "settings_key.py"), []byte("SECRET_KEY = 'x'\x00\x01\xff"), 0o644))
		}, Limits{}, "settings_key.py: skipped: not Python source"},
		{"too many files", func(t *testing.T, dir string) {
			for i := range 30 {
				must(t, os.WriteFile(filepath.Join(dir, "m"+strings.Repeat("x", i)+".py"), []byte("x = 1\n"), 0o644))
			}
		}, Limits{MaxFileSize: 1 << 20, MaxFiles: 10, MaxTotal: 1 << 20}, "more than 10 Python files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"app.py": app})
			tt.setup(t, dir)
			res, err := Run(context.Background(), dir, Options{Limits: tt.lim})
			if err != nil {
				t.Fatal(err)
			}
			if tt.name != "too many files" {
				if res.Framework != "flask" {
					t.Fatalf("framework %s, want flask (notes %v)", res.Framework, res.Notes)
				}
				for _, c := range res.Report.Checks {
					if c.ID == CheckSecretKeySource && c.Status != "pass" {
						t.Errorf("secret-key-source %s: %s", c.Status, c.Evidence)
					}
				}
			}
			if tt.note != "" && !strings.Contains(strings.Join(res.Notes, "\n"), tt.note) {
				t.Errorf("notes lack %q: %v", tt.note, res.Notes)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSyntaxErrorLine: the note for a file that does not parse names the
// line of the error, also when the parser recovers by inserting a missing
// token (the ")" of "def f(:") rather than by an ERROR node; such files
// used to be reported at line 1.
func TestSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
	}{
		{"missing paren", "import os\nSESSION_COOKIE_SECURE = True\ndef broken(:\n    pass\nSESSION_COOKIE_SECURE = False\n", 3},
		{"stray token", "import os\nX = 1\nY = = 2\n", 3},
		{"unclosed call", "import os\nX = 1\n\nZ = f(1,\n", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parsePython("settings.py", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if !f.broken {
				t.Fatal("not marked broken")
			}
			if got := firstError(f.root); got != tt.line {
				t.Errorf("first error at line %d, want %d", got, tt.line)
			}
		})
	}
}

// TestStringBomb: strings and lists the evaluator builds are bounded. A = A + A
// sixty-three times (and the same through str.format, % and *) was 2^64
// bytes: the review ran out of memory and crashed. Now such a value is not
// followed, and a key made of it warns (it cannot be told).
func TestStringBomb(t *testing.T) {
	step := map[string]string{
		"concatenation": "A%d = A%d + A%d",
		"format":        "A%d = '{}{}'.format(A%d, A%d)",
		"percent":       "A%d = '%%s%%s' %% (A%d, A%d)",
		"list":          "A%d = [A%d] + [A%d] + L + L",
	}
	for name, st := range step {
		t.Run(name, func(t *testing.T) {
			lines := []string{"from flask import Flask", "app = Flask(__name__)", "A0 = 'ab'", "L = [1]"}
			for i := 0; i < 64; i++ {
				lines = append(lines, "L = L + L")
			}
			for i := 1; i < 64; i++ {
				lines = append(lines, fmt.Sprintf(st, i, i-1, i-1))
			}
			lines = append(lines, "app.secret_key = A63", "B = 'x' * 10**12", "app.config['SESSION_COOKIE_SAMESITE'] = B")
			dir := writeTree(t, map[string]string{"app.py": strings.Join(lines, "\n") + "\n"})
			res, err := Run(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Report.Checks {
				if c.ID == CheckSecretKeySource && c.Status != "warn" {
					t.Errorf("secret-key-source %s, want warn: %s", c.Status, c.Evidence)
				}
			}
		})
	}
}
