package review

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// sameAs maps a review check to the live audit's check that judges the
// same thing: the cookie attributes and the transport checks have the
// same ids; secret-key-weak is the live weak-secret-key (a key the
// review finds weak is one the live audit cracks, and a key made at
// random is one neither can judge).
var sameAs = map[string]string{
	CheckCookieSecure:   "cookie-secure",
	CheckCookieHTTPOnly: "cookie-httponly",
	CheckCookieSameSite: "cookie-samesite",
	CheckHTTPSRedirect:  "https-redirect",
	CheckHSTS:           "hsts",
	CheckSecretKeyWeak:  "weak-secret-key",
}

// TestReviewAgreesWithLiveAudit reviews the source of every target app
// under testdata/targets and compares each check the review and the live
// audit both make with the live verdicts in its expect.json, which the
// audit's own tests hold to the running app.
func TestReviewAgreesWithLiveAudit(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..", "testdata", "targets")
	for _, name := range []string{"flaskweak", "flasksession", "djangoweak"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(root, name, "expect.json"))
			if err != nil {
				t.Fatal(err)
			}
			var live map[string]string
			if err := json.Unmarshal(raw, &live); err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), filepath.Join(root, name, "app.py"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Report.Checks {
				id, ok := sameAs[c.ID]
				if !ok {
					continue
				}
				if want := live[id]; string(c.Status) != want {
					t.Errorf("%s: review says %s, the live audit's %s says %s\n  evidence: %s", c.ID, c.Status, id, want, c.Evidence)
				}
			}
		})
	}
}
