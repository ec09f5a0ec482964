package review

import (
	"context"
	"testing"
)

// TestRunIgnoresTests: what a test module does to the app (turn Secure
// off, log a user in without renewing the session, build its own app)
// says nothing of production.
func TestRunIgnoresTests(t *testing.T) {
	app := `import os
from flask import Flask, session
app = Flask(__name__)
app.config.update(SECRET_KEY=os.environ["SECRET_KEY"], SESSION_COOKIE_SECURE=True)

@app.post("/login")
def login():
    session.clear()
    session["user_id"] = 1
    return ""
`
	tests := map[string]string{
		"tests/conftest.py": "from app import app\napp.config['SESSION_COOKIE_SECURE'] = False\napp.config['SECRET_KEY'] = 'test-key'\n",
		"test_login.py":     "from flask import Flask, session\ndef test_login():\n    session['user_id'] = 2\n",
	}
	files := map[string]string{"app.py": app}
	for k, v := range tests {
		files[k] = v
	}
	res, err := Run(context.Background(), writeTree(t, files), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{CheckSecretKeySource: "pass", CheckSecretKeyWeak: "skip", CheckCookieSecure: "pass", CheckSessionRegeneration: "pass"}
	for _, c := range res.Report.Checks {
		if w, ok := want[c.ID]; ok && string(c.Status) != w {
			t.Errorf("%s: %s, want %s (%s)", c.ID, c.Status, w, c.Evidence)
		}
	}
}
