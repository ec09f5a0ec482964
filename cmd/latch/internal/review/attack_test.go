package review

import (
	"context"
	"strings"
	"testing"
)

// TestUnseenConfigFileSaysSo: a Flask app that loads a config file the
// review cannot read after its own settings (from_envvar, an instance
// file the project does not ship) keeps the code's verdicts, as an
// environment variable's default does, but every pass says the file may
// override it and points at the load; before, the pass was silent.
func TestUnseenConfigFileSaysSo(t *testing.T) {
	head := "import os\nfrom datetime import timedelta\nfrom flask import Flask\napp = Flask(__name__)\n" +
		"app.config['SECRET_KEY'] = os.environ['SECRET_KEY']\napp.config['SESSION_COOKIE_SECURE'] = True\n"
	tests := []struct {
		name, load string
	}{
		{"from_envvar", "app.config.from_envvar('APP_SETTINGS')\n"},
		{"instance file not shipped", "app.config.from_pyfile('production.cfg', silent=True)\n"},
		{"file name not known", "app.config.from_pyfile(os.environ['CFG'])\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"app.py": head + tt.load})
			res, err := Run(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Report.Checks {
				if c.ID != CheckCookieSecure {
					continue
				}
				if c.Status != "pass" {
					t.Fatalf("cookie-secure %s, want pass: %s", c.Status, c.Evidence)
				}
				if !strings.Contains(c.Evidence, "which may override it") {
					t.Errorf("the pass does not say the file may override it: %s", c.Evidence)
				}
				found := false
				for _, l := range res.Locations[c.ID] {
					if l.File == "app.py" && l.Line == 7 {
						found = true
					}
				}
				if !found {
					t.Errorf("locations %v lack app.py:7, the load", res.Locations[c.ID])
				}
			}
		})
	}
}

// TestLineEnds: Python reads "\n", "\r\n" and a lone "\r" as line ends
// (universal newlines). A Flask app written with old Mac line ends was
// one unparsable line to tree-sitter: the review found no framework and
// skipped every check although the key is hard-coded.
func TestLineEnds(t *testing.T) {
	lines := []string{"import os", "from flask import Flask", "app = Flask(__name__)", "app.secret_key = 'dev'", ""}
	for _, tt := range []struct{ name, eol string }{{"lf", "\n"}, {"crlf", "\r\n"}, {"cr", "\r"}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"app.py": strings.Join(lines, tt.eol)})
			res, err := Run(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Framework != "flask" {
				t.Fatalf("framework %q, want flask (notes %v)", res.Framework, res.Notes)
			}
			for _, c := range res.Report.Checks {
				if c.ID == CheckSecretKeySource {
					if c.Status != "fail" {
						t.Errorf("secret-key-source %s, want fail: %s", c.Status, c.Evidence)
					}
					if l := res.Locations[c.ID]; len(l) == 0 || l[0].Line != 4 {
						t.Errorf("locations %v, want app.py:4", l)
					}
				}
			}
		})
	}
}
