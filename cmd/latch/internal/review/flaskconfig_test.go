package review

import (
	"context"
	"strings"
	"testing"
)

// TestFlaskPrefixedEnvKey: from_prefixed_env() reads SECRET_KEY from
// <prefix>_SECRET_KEY and keeps what was set before when it is unset;
// setdefault of a key Flask's config holds changes nothing.
func TestFlaskPrefixedEnvKey(t *testing.T) {
	head := "import os\nfrom flask import Flask\napp = Flask(__name__)\n"
	tests := []struct {
		name, body, status, evidence string
	}{
		{"default prefix", "app.config.from_prefixed_env()\n", "pass", "FLASK_SECRET_KEY with no literal fallback"},
		{"positional prefix", "app.config.from_prefixed_env('SHOP')\n", "pass", "SHOP_SECRET_KEY with no literal fallback"},
		{"keyword prefix", "app.config.from_prefixed_env(prefix='SHOP')\n", "pass", "SHOP_SECRET_KEY with no literal fallback"},
		{"prefix not known", "app.config.from_prefixed_env(os.environ['P'])\n", "warn", "no SECRET_KEY assignment found"},
		{"literal set before", "app.secret_key = 'dev'\napp.config.from_prefixed_env()\n", "fail", "FLASK_SECRET_KEY, but falls back to"},
		{"literal set after", "app.config.from_prefixed_env()\napp.secret_key = 'dev'\n", "fail", "is hard-coded"},
		{"setdefault after", "app.config.from_prefixed_env()\napp.config.setdefault('SECRET_KEY', 'dev')\n", "pass", "FLASK_SECRET_KEY with no literal fallback"},
		{"setdefault alone", "app.config.setdefault('SECRET_KEY', 'dev')\n", "warn", "no SECRET_KEY assignment found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"app.py": head + tt.body})
			res, err := Run(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Report.Checks {
				if c.ID != CheckSecretKeySource {
					continue
				}
				if string(c.Status) != tt.status || !strings.Contains(c.Evidence, tt.evidence) {
					t.Errorf("secret-key-source %s: %s\nwant %s containing %q", c.Status, c.Evidence, tt.status, tt.evidence)
				}
				return
			}
			t.Fatal("no secret-key-source check")
		})
	}
}
