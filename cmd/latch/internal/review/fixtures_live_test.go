package review

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/latchsec/latch"
)

// The verdicts in testdata/fixtures/*/expect.json were decided by hand. The
// tests in this file hold them to real Flask and Django: each fixture's
// production app is built (Flask) or its production settings loaded
// (Django) by Debian's python3 packages, and what the framework really does
// (the Set-Cookie header of a session, Strict-Transport-Security, the answer
// to plain HTTP, the lifetime, and the key the app ends up with when the
// environment holds none) must give the statuses the fixture expects. A
// fixture the framework cannot run here (a module Debian does not package,
// a key file that does not exist, a file that does not parse) is skipped
// with the reason; warn verdicts ("decided by the environment", "could not
// be read") are not compared. The engine is not involved: this checks the
// ground truth, not the review.

const livePython = "/usr/bin/python3"

type liveExpect struct {
	Framework string `json:"framework"`
	Checks    map[string]struct {
		Status string `json:"status"`
	} `json:"checks"`
}

func liveRequire(t *testing.T, modules string) {
	t.Helper()
	if err := exec.Command(livePython, "-c", "import "+modules).Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3 cannot import %s: scripts/test must install the Debian packages", modules)
		}
		t.Skipf("python3 cannot import %s", modules)
	}
}

// liveFixtures returns the fixtures whose expect.json names framework.
func liveFixtures(t *testing.T, framework string) map[string]liveExpect {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "fixtures", "*", "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]liveExpect{}
	for _, p := range dirs {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var e liveExpect
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if e.Framework == framework {
			out[filepath.Dir(p)] = e
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s fixtures", framework)
	}
	return out
}

// liveCopy copies the regular files of a fixture into a scratch directory
// (the probes import the code, and Flask-Session writes beside it);
// symlinks are left out.
func liveCopy(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// liveProbe runs a probe script and decodes the JSON object it prints.
func liveProbe(t *testing.T, script string, args ...string) map[string]any {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("testdata", "live", script))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(livePython, append([]string{abs}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("%s %v printed %q: %v", script, args, out, err)
	}
	return m
}

// liveKey runs the key probe twice and says what the production key is
// when the environment holds none: "none" (no key, or the app refuses to
// start without the variable), "random" (made at start: two runs differ)
// or "literal", with its bytes.
func liveKey(t *testing.T, probe func() map[string]any) (kind string, key []byte, skip string) {
	t.Helper()
	a := probe()
	if e, ok := a["error"]; ok {
		return "", nil, fmt.Sprint(e)
	}
	if _, ok := a["key_error"]; ok {
		return "none", nil, ""
	}
	if a["key"] == nil {
		return "none", nil, ""
	}
	ka, _ := a["key"].(string)
	kb, _ := probe()["key"].(string)
	if ka != kb {
		return "random", nil, ""
	}
	key, err := hex.DecodeString(ka)
	if err != nil {
		t.Fatal(err)
	}
	return "literal", key, ""
}

// liveCompare adds a mismatch when the fixture expects something other than
// got for check; warn expectations are not compared.
func liveCompare(bad *[]string, e liveExpect, check, got, why string) {
	want := e.Checks[check].Status
	if want == "warn" || want == got {
		return
	}
	*bad = append(*bad, fmt.Sprintf("%s: the framework gives %s (%s), expect.json says %s", check, got, why, want))
}

func liveKeyVerdicts(bad *[]string, e liveExpect, kind string, key []byte) {
	switch kind {
	case "literal":
		liveCompare(bad, e, "secret-key-source", "fail", "with no secret in the environment the app runs with a fixed key")
		if err := latch.CheckKey(key); err != nil {
			liveCompare(bad, e, "secret-key-weak", "fail", "CheckKey refuses it: "+err.Error())
		} else {
			liveCompare(bad, e, "secret-key-weak", "pass", "CheckKey accepts it")
		}
	default:
		liveCompare(bad, e, "secret-key-source", "pass", "with no secret in the environment the app has no fixed key ("+kind+")")
		liveCompare(bad, e, "secret-key-weak", "skip", "no literal key")
	}
}

// liveLifetime classifies a server-side session lifetime by the thresholds
// in testdata/README.md.
func liveLifetime(secs float64) string {
	switch {
	case secs <= 12*3600:
		return "pass"
	case secs <= 30*24*3600:
		return "warn"
	}
	return "fail"
}

var liveMaxAge = regexp.MustCompile(`(?i)max-age=(\d+)`)

func liveHSTS(header string) string {
	if header == "" {
		return "fail"
	}
	m := liveMaxAge.FindStringSubmatch(header)
	if m == nil {
		return "fail"
	}
	age, _ := strconv.Atoi(m[1])
	switch {
	case age == 0:
		return "fail"
	case age < 31536000 || !strings.Contains(strings.ToLower(header), "includesubdomains"):
		return "warn"
	}
	return "pass"
}

// liveSourceHas reports whether any Python file of the fixture contains s.
func liveSourceHas(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasSuffix(path, ".py") {
			if data, err := os.ReadFile(path); err == nil && bytes.Contains(data, []byte(s)) {
				found = true
			}
		}
		return nil
	})
	return found
}

func TestFlaskFixturesMatchFlask(t *testing.T) {
	liveRequire(t, "flask, flask_login, flask_talisman, flask_session")
	for dir, e := range liveFixtures(t, "flask") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			if req, err := os.ReadFile(filepath.Join(dir, "requirements.txt")); err == nil && bytes.Contains(req, []byte("flask-talisman==")) {
				t.Skip("pins a flask-talisman version other than Debian's")
			}
			work := liveCopy(t, dir)
			kind, key, skip := liveKey(t, func() map[string]any { return liveProbe(t, "flask_probe.py", work, "key") })
			if skip != "" {
				t.Skip("Flask cannot build this fixture here: " + skip)
			}
			live := liveProbe(t, "flask_probe.py", work, "live")
			if msg, ok := live["error"]; ok {
				t.Skip("Flask cannot serve this fixture here: ", msg)
			}
			var bad []string
			liveKeyVerdicts(&bad, e, kind, key)
			cookie, _ := live["set_cookie"].(string)
			attrs := strings.ToLower(cookie)
			// A login with remember=True adds Flask-Login's remember-me
			// cookie, which the probe (no login) does not see; the review
			// judges the weaker of the two cookies, so there a pass of
			// the session cookie may be a fail, never the reverse.
			remember := liveSourceHas(t, work, "remember=True")
			cmpCookie := func(check, got, why string) {
				if remember && got == "pass" && e.Checks[check].Status == "fail" {
					return
				}
				liveCompare(&bad, e, check, got, why)
			}
			flag := func(check, attr string) {
				got := "fail"
				if strings.Contains(attrs, "; "+attr) {
					got = "pass"
				}
				cmpCookie(check, got, "Set-Cookie: "+cookie)
			}
			flag("cookie-secure", "secure")
			flag("cookie-httponly", "httponly")
			same := "fail"
			if strings.Contains(attrs, "samesite=lax") || strings.Contains(attrs, "samesite=strict") {
				same = "pass"
			}
			cmpCookie("cookie-samesite", same, "Set-Cookie: "+cookie)
			hsts, _ := live["hsts"].(string)
			liveCompare(&bad, e, "hsts", liveHSTS(hsts), fmt.Sprintf("Strict-Transport-Security: %q", hsts))
			status, _ := live["http_status"].(float64)
			loc, _ := live["http_location"].(string)
			redirect := "fail"
			if status >= 300 && status < 400 && strings.HasPrefix(loc, "https://") {
				redirect = "pass"
			}
			liveCompare(&bad, e, "https-redirect", redirect, fmt.Sprintf("plain HTTP gets %.0f %s", status, loc))
			// Flask-Login's remember cookie outlives the session; the
			// probe does not log in, so those fixtures are not compared.
			if !liveSourceHas(t, work, "remember") {
				secs, _ := live["lifetime"].(float64)
				liveCompare(&bad, e, "session-lifetime", liveLifetime(secs), fmt.Sprintf("PERMANENT_SESSION_LIFETIME is %.0f s", secs))
			}
			if len(bad) > 0 {
				t.Errorf("%s:\n  %s", dir, strings.Join(bad, "\n  "))
			}
		})
	}
}

var liveSettingsModule = regexp.MustCompile(`DJANGO_SETTINGS_MODULE",\s*"([\w.]+)"`)

// liveDjangoModule names the production settings module as the README's
// rule does: a production.py or prod.py beside the module wsgi.py names,
// else that module.
func liveDjangoModule(t *testing.T, dir string) string {
	t.Helper()
	// A Dockerfile's ENV DJANGO_SETTINGS_MODULE is in the environment
	// before wsgi.py's os.environ.setdefault runs, so it wins. The
	// fixtures that have one make it the weaker module.
	if src, err := os.ReadFile(filepath.Join(dir, "Dockerfile")); err == nil {
		if m := regexp.MustCompile(`DJANGO_SETTINGS_MODULE=([\w.]+)`).FindSubmatch(src); m != nil {
			return string(m[1])
		}
	}
	wsgi, _ := filepath.Glob(filepath.Join(dir, "*", "wsgi.py"))
	if len(wsgi) != 1 {
		t.Fatalf("%s: want one */wsgi.py, found %v", dir, wsgi)
	}
	src, err := os.ReadFile(wsgi[0])
	if err != nil {
		t.Fatal(err)
	}
	m := liveSettingsModule.FindSubmatch(src)
	if m == nil {
		t.Fatalf("%s names no settings module", wsgi[0])
	}
	mod := string(m[1])
	pkg := mod[:strings.LastIndexByte(mod, '.')+1]
	for _, name := range []string{"production", "prod"} {
		p := filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(pkg, ".", "/")), name+".py")
		if _, err := os.Stat(p); err == nil && pkg != "" {
			return pkg + name
		}
	}
	return mod
}

func TestDjangoFixturesMatchDjango(t *testing.T) {
	liveRequire(t, "django, decouple, environ")
	for dir, e := range liveFixtures(t, "django") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			work := liveCopy(t, dir)
			mod := liveDjangoModule(t, work)
			kind, key, skip := liveKey(t, func() map[string]any { return liveProbe(t, "django_probe.py", work, mod, "key") })
			if skip != "" {
				t.Skip("Django cannot load these settings here: " + skip)
			}
			live := liveProbe(t, "django_probe.py", work, mod, "live")
			if msg, ok := live["error"]; ok {
				t.Skip("Django cannot load these settings here: ", msg)
			}
			var bad []string
			liveKeyVerdicts(&bad, e, kind, key)
			if sessions, _ := live["sessions"].(bool); !sessions {
				for _, c := range []string{"cookie-secure", "cookie-httponly", "cookie-samesite", "session-lifetime", "session-regeneration"} {
					liveCompare(&bad, e, c, "skip", "no django.contrib.sessions and no SessionMiddleware")
				}
			} else {
				pf := func(b bool) string {
					if b {
						return "pass"
					}
					return "fail"
				}
				secure, _ := live["secure"].(bool)
				httponly, _ := live["httponly"].(bool)
				samesite, _ := live["samesite"].(string)
				liveCompare(&bad, e, "cookie-secure", pf(secure), fmt.Sprintf("SESSION_COOKIE_SECURE is %v", secure))
				liveCompare(&bad, e, "cookie-httponly", pf(httponly), fmt.Sprintf("SESSION_COOKIE_HTTPONLY is %v", httponly))
				s := strings.ToLower(samesite)
				liveCompare(&bad, e, "cookie-samesite", pf(s == "lax" || s == "strict"), fmt.Sprintf("SESSION_COOKIE_SAMESITE is %q", samesite))
				// A login view may shorten the session (set_expiry);
				// loading settings cannot see that.
				if !liveSourceHas(t, work, "set_expiry") {
					age, _ := live["age"].(float64)
					liveCompare(&bad, e, "session-lifetime", liveLifetime(age), fmt.Sprintf("SESSION_COOKIE_AGE is %.0f", age))
				}
			}
			redirect, _ := live["ssl_redirect"].(bool)
			got := "fail"
			if redirect {
				got = "pass"
			}
			liveCompare(&bad, e, "https-redirect", got, fmt.Sprintf("SECURE_SSL_REDIRECT is %v", redirect))
			secs, _ := live["hsts_seconds"].(float64)
			sub, _ := live["hsts_subdomains"].(bool)
			header := ""
			if secs > 0 {
				header = fmt.Sprintf("max-age=%d", int(secs))
				if sub {
					header += "; includeSubDomains"
				}
			}
			liveCompare(&bad, e, "hsts", liveHSTS(header), fmt.Sprintf("SECURE_HSTS_SECONDS %.0f, SECURE_HSTS_INCLUDE_SUBDOMAINS %v", secs, sub))
			if len(bad) > 0 {
				t.Errorf("%s:\n  %s", dir, strings.Join(bad, "\n  "))
			}
		})
	}
}
