package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchsec/latch"
)

// cookieName is the demo's session cookie.
const cookieName = "__Host-session"

// TestMain removes the latch binary that the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	latchBin  string
	buildErr  error
)

// latchBinary builds the latch command once per test run and returns its
// path. It builds from cmd/latch, so it works with and without go.work.
// LATCH_E2E_LATCH names a binary to test instead, such as a release build.
func latchBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if bin := os.Getenv("LATCH_E2E_LATCH"); bin != "" {
			latchBin, buildErr = filepath.Abs(bin)
			return
		}
		binDir, buildErr = os.MkdirTemp("", "latch-e2e-")
		if buildErr != nil {
			return
		}
		latchBin = filepath.Join(binDir, "latch")
		cmd := exec.Command("go", "build", "-o", latchBin, ".")
		cmd.Dir = filepath.Join("..", "cmd", "latch")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("e2e: go build ./cmd/latch: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return latchBin
}

// requireEnv returns the value of an environment variable that names a test
// server or tool. When it is unset the test is skipped, or fails under CI.
func requireEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not set: scripts/test must start or install it", name)
		}
		t.Skipf("%s not set (scripts/test sets it)", name)
	}
	return v
}

// newKeys returns a fresh LATCH_KEYS value: one strong key, so that several
// demo processes given the same value share sessions.
func newKeys(t *testing.T) string {
	t.Helper()
	k := latch.Key{ID: "e2e", Secret: latch.GenerateKey()}
	if _, err := latch.NewKeyring(k); err != nil {
		t.Fatalf("a generated key was refused: %v", err)
	}
	return k.SecretEntry()
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syncBuffer collects a process's output for the test to read while the
// process runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// demoOptions says how to start one demo process.
type demoOptions struct {
	// Args are extra flags after "demo --addr ADDR".
	Args []string
	// Keys is LATCH_KEYS; empty lets the demo make its own keyring file.
	Keys string
	// KeysFile, when not empty, is LATCH_KEYS_FILE.
	KeysFile string
	// TLS adds --tls, and the client trusts the demo's certificate.
	TLS bool
	// HTTPAddr, with TLS, adds --http-addr on a fresh port.
	HTTPAddr bool
}

// demoProc is a running "latch demo" process.
type demoProc struct {
	// URL is the base URL, without a trailing slash.
	URL string
	// HTTPURL is the plain-HTTP redirect listener's URL (HTTPAddr only).
	HTTPURL string
	// Dir is the process's working directory, where its data lives.
	Dir string
	// Client talks to it: no cookie jar, no redirects followed.
	Client *http.Client

	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}

	mu      sync.Mutex
	secrets []string // keys and session tokens that must never show in the output
}

// remember notes a secret that the process's output must not contain.
func (d *demoProc) remember(secret string) {
	if len(secret) < 16 {
		return // too short to search for without false alarms
	}
	d.mu.Lock()
	d.secrets = append(d.secrets, secret)
	d.mu.Unlock()
}

// keySecrets returns the KEY fields of a LATCH_KEYS value or keyring file,
// staged entries included.
func keySecrets(entries string) []string {
	var out []string
	for _, e := range strings.FieldsFunc(entries, func(r rune) bool { return r == ',' || r == '\n' }) {
		e = strings.TrimSpace(e)
		if e == "" || strings.HasPrefix(e, "#") {
			continue
		}
		// "ID:KEY[:DATE] [activate=TIME] [retire=TIME]": KEY ends at the
		// next colon or space.
		if parts := strings.Split(strings.Fields(e)[0], ":"); len(parts) >= 2 {
			out = append(out, parts[1])
		}
	}
	return out
}

// demoEnv is the environment of a demo process: the test's, without any
// key settings, plus LATCH_KEYS when given.
func demoEnv(keys string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, latch.EnvKeys+"=") || strings.HasPrefix(kv, latch.EnvKeysFile+"=") {
			continue
		}
		env = append(env, kv)
	}
	if keys != "" {
		env = append(env, latch.EnvKeys+"="+keys)
	}
	return env
}

// startDemo starts a demo process in a new temporary directory, waits until
// it answers, and stops it when the test ends. A port taken by someone else
// between the pick and the start is retried with another.
func startDemo(t *testing.T, o demoOptions) *demoProc {
	t.Helper()
	bin := latchBinary(t)
	var last error
	for range 3 {
		d, err := tryStartDemo(t, bin, o)
		if err == nil {
			return d
		}
		last = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatal(last)
	return nil
}

func tryStartDemo(t *testing.T, bin string, o demoOptions) (*demoProc, error) {
	t.Helper()
	addr := freeAddr(t)
	args := []string{"demo", "--addr", addr}
	scheme := "http"
	var httpURL string
	if o.TLS {
		scheme = "https"
		args = append(args, "--tls")
		if o.HTTPAddr {
			plain := freeAddr(t)
			args = append(args, "--http-addr", plain)
			httpURL = "http://" + plain
		}
	}
	args = append(args, o.Args...)
	d := &demoProc{
		URL:     scheme + "://" + addr,
		HTTPURL: httpURL,
		Dir:     t.TempDir(),
		out:     &syncBuffer{},
		done:    make(chan struct{}),
	}
	for _, k := range keySecrets(o.Keys) {
		d.remember(k)
	}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Dir = d.Dir
	d.cmd.Env = demoEnv(o.Keys)
	if o.KeysFile != "" {
		d.cmd.Env = append(d.cmd.Env, latch.EnvKeysFile+"="+o.KeysFile)
	}
	d.cmd.Stdout = d.out
	d.cmd.Stderr = d.out
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("e2e: start latch demo: %w", err)
	}
	go func() {
		d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() { d.stop(t) })

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-d.done:
			return nil, fmt.Errorf("e2e: latch demo %s exited before answering (%v):\n%s", strings.Join(args, " "), d.cmd.ProcessState, d.out)
		default:
		}
		if o.TLS && d.Client == nil {
			// The certificate is written before the server listens.
			if c, err := tlsClient(filepath.Join(d.Dir, "latch-demo-cert.pem")); err == nil {
				d.Client = c
			}
		}
		if !o.TLS && d.Client == nil {
			d.Client = newClient(nil)
		}
		if d.Client != nil {
			if res, err := d.Client.Get(d.URL + "/"); err == nil {
				res.Body.Close()
				return d, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("e2e: latch demo %s did not answer within 30 s:\n%s", strings.Join(args, " "), d.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the process: SIGTERM for a clean shutdown, SIGKILL when it
// does not end in 5 seconds. Then it checks that the output holds none of
// the keys and session tokens the test saw, and on failure logs it.
func (d *demoProc) stop(t *testing.T) {
	select {
	case <-d.done:
	default:
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
		}
	}
	if b, err := os.ReadFile(filepath.Join(d.Dir, "latch-demo.keys")); err == nil {
		for _, k := range keySecrets(string(b)) {
			d.remember(k)
		}
	}
	out := d.out.String()
	d.mu.Lock()
	leaked := 0
	for _, s := range d.secrets {
		if strings.Contains(out, s) {
			leaked++
		}
	}
	d.mu.Unlock()
	if leaked > 0 {
		// Say so without logging the output, which now holds a secret.
		t.Errorf("the output of latch demo in %s holds %d secret key(s) or session token(s)", d.Dir, leaked)
		return
	}
	if t.Failed() {
		t.Logf("output of latch demo in %s:\n%s", d.Dir, d.out)
	}
}

// alive reports whether the process is still running.
func (d *demoProc) alive() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// Output is what the process wrote so far, stdout and stderr together.
func (d *demoProc) Output() string { return d.out.String() }

func newClient(tr *http.Transport) *http.Client {
	if tr == nil {
		tr = &http.Transport{}
	}
	tr.DisableKeepAlives = true
	return &http.Client{
		Transport: tr,
		Timeout:   15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// tlsClient trusts exactly the certificate in file.
func tlsClient(file string) (*http.Client, error) {
	pemBytes, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, errors.New("e2e: no certificate in " + file)
	}
	return newClient(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}), nil
}

// response is what a request returned, body read.
type response struct {
	Status int
	Header http.Header
	Body   string
	res    *http.Response
}

// sessionCookie returns the session cookie the response set, or nil.
func (r *response) sessionCookie() *http.Cookie {
	for _, c := range r.res.Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

// do sends one request with token, when not empty, as the session cookie.
// form, when not nil, is sent as a POST body. hdr are header name, value
// pairs.
func (d *demoProc) do(t *testing.T, method, path, token string, form url.Values, hdr ...string) *response {
	t.Helper()
	res := doRequest(t, d.Client, method, d.URL+path, token, form, hdr...)
	if c := res.sessionCookie(); c != nil {
		d.remember(c.Value)
	}
	return res
}

func doRequest(t *testing.T, c *http.Client, method, u, token string, form url.Values, hdr ...string) *response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Cookie", cookieName+"="+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: string(b), res: res}
}

// login signs in and returns the new session token and the response. The
// token given, when not empty, is sent as the cookie the browser had.
func (d *demoProc) login(t *testing.T, user, password, token string) (string, *response) {
	t.Helper()
	res := d.do(t, "POST", "/login", token, url.Values{"username": {user}, "password": {password}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("POST /login as %s: status %d, want 303", user, res.Status)
	}
	c := res.sessionCookie()
	if c == nil || c.Value == "" {
		t.Fatalf("POST /login as %s set no %s cookie", user, cookieName)
	}
	return c.Value, res
}

// me asks GET /me with the token and returns the status and the user.
func (d *demoProc) me(t *testing.T, token string) (int, string) {
	t.Helper()
	res := d.do(t, "GET", "/me", token, nil, "Accept", "application/json")
	var user string
	if res.Status == http.StatusOK {
		user = jsonField(t, res.Body, "user")
	}
	return res.Status, user
}

// jsonField returns the string field name of the JSON object body.
func jsonField(t *testing.T, body, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not a JSON object (%v): %.200s", err, body)
	}
	s, _ := m[name].(string)
	return s
}
