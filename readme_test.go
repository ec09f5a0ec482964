package latch_test

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestREADMEQuickStart builds the README's quick-start program exactly as
// written, except for its two ports (replaced by free ones, so the test
// never depends on 8080 and 8443 being free), runs it as the README says
// (a key in LATCH_KEYS, ALICE_PASSWORD, a certificate from Go's
// generate_cert.go) and makes the README's requests: plain HTTP is
// redirected to the HTTPS port, and alice signs in over HTTPS.
func TestREADMEQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the quick start: %v", err)
	}
	httpPort, httpsPort := freePort(t), freePort(t)
	src := quickStartSource(t, httpPort, httpsPort)

	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module quickstart\n\ngo " + goVersion(t) + "\n\nrequire github.com/latchsec/latch v0.0.0\n\nreplace github.com/latchsec/latch => " + root + "\n"
	writeFile(t, filepath.Join(dir, "go.mod"), gomod)
	writeFile(t, filepath.Join(dir, "main.go"), src)
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local")
	run(t, dir, env, goBin, "build", "-o", "quickstart", ".")
	goroot := strings.TrimSpace(run(t, dir, env, goBin, "env", "GOROOT"))
	run(t, dir, env, goBin, "run", filepath.Join(goroot, "src", "crypto", "tls", "generate_cert.go"), "--host", "localhost")

	secret := make([]byte, 32)
	rand.Read(secret)
	cmd := exec.Command(filepath.Join(dir, "quickstart"))
	cmd.Dir = dir
	cmd.Env = append(env, "LATCH_KEYS=k1:"+base64.RawURLEncoding.EncodeToString(secret), "ALICE_PASSWORD=wonderland")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("quick start output:\n%s", out.String())
		}
	})
	waitListening(t, "localhost:"+httpsPort)

	pem, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := "https://localhost:" + httpsPort

	res, _ := get(t, c, "GET", "http://localhost:"+httpPort+"/", nil)
	if want := base + "/"; res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != want {
		t.Fatalf("plain HTTP: %d Location %q; want 308 %q", res.StatusCode, res.Header.Get("Location"), want)
	}
	res, body := get(t, c, "GET", base+"/", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(body, "not signed in") || res.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("HTTPS home: %d %q HSTS %q", res.StatusCode, body, res.Header.Get("Strict-Transport-Security"))
	}
	if res, _ := get(t, c, "POST", base+"/login", url.Values{"username": {"alice"}, "password": {"wrong"}}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	res, _ = get(t, c, "POST", base+"/login", url.Values{"username": {"alice"}, "password": {"wonderland"}})
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Set-Cookie"), "__Host-session=") {
		t.Fatalf("login: %d Set-Cookie %q", res.StatusCode, res.Header.Get("Set-Cookie"))
	}
	if _, body := get(t, c, "GET", base+"/", nil); body != "signed in as alice\n" {
		t.Fatalf("home after login: %q", body)
	}
}

// quickStartSource returns the README's quick-start program with its
// ports replaced. It fails when the README has no such program or its
// ports are not the ones this test replaces.
func quickStartSource(t *testing.T, httpPort, httpsPort string) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Quick start\n")
	if !ok {
		t.Fatal(`README.md has no "## Quick start" section`)
	}
	_, src, ok := strings.Cut(section, "\n```go\n")
	src, _, closed := strings.Cut(src, "\n```\n")
	if !ok || !closed || !strings.HasPrefix(src, "package main\n") {
		t.Fatal("README.md's quick start has no whole Go program (```go ... ``` starting with package main)")
	}
	for _, r := range []struct{ old, new string }{
		{`":8080"`, `":` + httpPort + `"`},
		{`":8443"`, `":` + httpsPort + `"`},
		{`HTTPSPort: "8443"`, `HTTPSPort: "` + httpsPort + `"`},
	} {
		if n := strings.Count(src, r.old); n != 1 {
			t.Fatalf("README.md's quick start has %s %d times; this test replaces it once", r.old, n)
		}
		src = strings.Replace(src, r.old, r.new, 1)
	}
	return src + "\n"
}

func goVersion(t *testing.T) string {
	b, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return v
		}
	}
	t.Fatal("go.mod has no go line")
	return ""
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func writeFile(t *testing.T, path, s string) {
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitListening waits until addr accepts connections: the program is up.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the quick start did not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}
