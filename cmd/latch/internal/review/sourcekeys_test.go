package review

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSourceKeys collects the keys of a real git repository's tree, its
// example environment file, the .env it ships (which latch audit --source
// did not try before) and its history, each once, the tree first.
func TestSourceKeys(t *testing.T) {
	r := newGitRepo(t)
	r.commit("old", map[string]string{"app/settings.py": "SECRET_KEY = 'old-committed-key-123456'\n"})
	r.commit("new", map[string]string{
		"app/settings.py": "import os\nSECRET_KEY = os.environ.get('SECRET_KEY', 'dev-fallback-abc')\n",
		"app/__init__.py": "from flask import Flask\napp = Flask(__name__)\napp.secret_key = 'dev-fallback-abc'\n",
		".env.example":    "SECRET_KEY=change-me-please\n",
		".env":            "SECRET_KEY=shipped-dotenv-key-42\n",
	})
	// Not committed: the tree's own version counts.
	if err := os.WriteFile(filepath.Join(r.dir, "app", "local_settings.py"), []byte("SECRET_KEY = \"uncommitted-key\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hist, err := HistoryOf(context.Background(), r.dir)
	if err != nil || hist == nil {
		t.Fatalf("history: %v", err)
	}
	keys, err := SourceKeys(context.Background(), r.dir, hist)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, k.Secret+" "+k.Where)
	}
	want := []string{
		"dev-fallback-abc at app/__init__.py:3 (app.secret_key, hard-coded)",
		"uncommitted-key at app/local_settings.py:1 (SECRET_KEY, hard-coded)",
		"change-me-please at .env.example:1 (SECRET_KEY, example environment file)",
		"shipped-dotenv-key-42 at .env:1 (SECRET_KEY, environment file shipped with the code)",
		"old-committed-key-123456 in its git history: committed in ",
	}
	if len(got) != len(want) {
		t.Fatalf("keys:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("key %d = %q; want prefix %q", i, got[i], want[i])
		}
	}
	// Outside a repository there is no history, and no error.
	plain := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(plain))
	if h, err := HistoryOf(context.Background(), plain); h != nil || err != nil {
		t.Errorf("plain directory: %v, %v", h, err)
	}
}
