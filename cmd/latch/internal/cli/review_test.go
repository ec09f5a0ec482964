package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeProject writes a small project (slash paths to contents) in a new
// directory.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const hardenedFlask = `import os
from datetime import timedelta
from flask import Flask, session
from flask_talisman import Talisman

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=8)
Talisman(app)

@app.post("/login")
def login():
    session.clear()
    session["user_id"] = 1
    return ""
`

const weakFlask = `from flask import Flask
app = Flask(__name__)
app.secret_key = "changeme"
`

func TestReviewCommand(t *testing.T) {
	good := writeProject(t, map[string]string{"app.py": hardenedFlask})
	weak := writeProject(t, map[string]string{"app.py": weakFlask})
	empty := writeProject(t, map[string]string{"tool.py": "print('hello')\n"})
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings
		stderr   []string
		noSecret bool // the weak key must not be printed
	}{
		{"hardened project passes", []string{"--no-history", good}, 0, []string{"latch review", "grade A", "PASS  secret-key-source", "PASS  session-regeneration"}, nil, false},
		{"weak key fails", []string{"--no-history", weak}, 1, []string{"FAIL  secret-key-source", "FAIL  secret-key-weak", "known-key", "at app.py:3"}, nil, true},
		{"json has locations", []string{"--no-history", "--format", "json", weak}, 1, []string{`"locations"`, `"file": "app.py"`, `"line": 3`}, nil, true},
		{"markdown", []string{"--no-history", "--format", "markdown", weak}, 1, []string{"# latch review"}, nil, true},
		{"sarif", []string{"--no-history", "--format", "sarif", weak}, 1, []string{`"uri": "app.py"`, `"startLine": 3`, `"latch review"`}, nil, true},
		{"html", []string{"--no-history", "--format", "html", weak}, 1, []string{"<!DOCTYPE html>"}, nil, true},
		{"flags after the path", []string{weak, "--no-history", "--format", "json"}, 1, []string{`"secret-key-weak"`}, nil, true},
		{"no framework", []string{"--no-history", empty}, 2, []string{"SKIP"}, []string{"no Flask or Django project found"}, false},
		{"missing path", []string{"--no-history", filepath.Join(empty, "nope")}, 2, nil, []string{"latch review:"}, false},
		{"bad format", []string{"--format", "yaml", weak}, 2, nil, []string{"unknown format"}, false},
		{"no path", nil, 2, nil, []string{"usage: latch review"}, false},
		{"help", []string{"-h"}, 0, nil, []string{"usage: latch review", "secret-key-source", "Exit status", "virtual environments"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), append([]string{"review"}, tt.args...), strings.NewReader(""), &out, &errb)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			for _, s := range tt.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errb.String())
				}
			}
			if tt.noSecret && strings.Contains(out.String()+errb.String(), "changeme") {
				t.Error("the report prints the secret key")
			}
		})
	}
}

// TestReviewOutFile writes the report to --out and the one-line summary
// to stderr, and the JSON exit code matches the report's failures.
func TestReviewOutFile(t *testing.T) {
	dir := writeProject(t, map[string]string{"app.py": weakFlask})
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"review", "--no-history", "--format", "json", "-o", out, dir}, strings.NewReader(""), &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout not empty: %s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "report written to "+out) {
		t.Errorf("stderr: %s", stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Checks []struct {
			ID, Status string
			Locations  []struct {
				File string
				Line int
			}
		}
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Checks) != 9 {
		t.Fatalf("%d checks, want 9", len(rep.Checks))
	}
	fails := 0
	for _, c := range rep.Checks {
		if c.Status == "fail" {
			fails++
		}
		if c.ID == "secret-key-source" && (len(c.Locations) == 0 || c.Locations[0].File != "app.py" || c.Locations[0].Line != 3) {
			t.Errorf("secret-key-source locations %+v, want app.py:3", c.Locations)
		}
	}
	if fails == 0 {
		t.Error("no failed check, but exit 1")
	}
}
