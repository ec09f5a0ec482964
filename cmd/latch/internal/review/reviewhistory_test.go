package review

import (
	"context"
	"strings"
	"testing"
)

// TestRunWithHistory: a key committed once and replaced by an environment
// lookup fails secret-key-source, though the code no longer holds it; a
// key only ever in tests or example environment files does not.
func TestRunWithHistory(t *testing.T) {
	const env = "import os\nfrom flask import Flask\napp = Flask(__name__)\napp.config['SECRET_KEY'] = os.environ['SECRET_KEY']\n"
	tests := []struct {
		name    string
		history []map[string]string
		want    string
		says    string
	}{
		{"key removed since", []map[string]string{
			{"app.py": "from flask import Flask\napp = Flask(__name__)\napp.config['SECRET_KEY'] = 'an-old-committed-key-0123456789abcdef'\n"},
			{"app.py": env},
		}, "fail", "removed since, but still in the history"},
		{"only in tests and examples", []map[string]string{
			{"app.py": env, "tests/test_app.py": "SECRET_KEY = 'a-test-only-key'\n", ".env.example": "SECRET_KEY=changeme\n"},
		}, "pass", "no literal fallback"},
		{"never a key", []map[string]string{{"app.py": env}}, "pass", "no literal fallback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newGitRepo(t)
			for _, files := range tt.history {
				r.commit("step", files)
			}
			h, err := HistoryOf(context.Background(), r.dir)
			if err != nil || h == nil {
				t.Fatalf("HistoryOf: %v, %v", h, err)
			}
			res, err := Run(context.Background(), r.dir, Options{History: h})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Report.Checks {
				if c.ID != CheckSecretKeySource {
					continue
				}
				if string(c.Status) != tt.want || !strings.Contains(c.Evidence, tt.says) {
					t.Errorf("%s: %s, want %s with %q", c.Evidence, c.Status, tt.want, tt.says)
				}
				if strings.Contains(c.Evidence, "an-old-committed-key") {
					t.Error("the evidence prints the key")
				}
			}
		})
	}
}
