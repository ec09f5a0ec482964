package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to write from the command's goroutine
// while the test reads it.
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

// TestDemoMetrics runs `latch demo --metrics-addr`, signs alice in and out
// of the demo, and scrapes /metrics as Prometheus would: the login, the
// logout and the store's operations are counted under their OpenTelemetry
// names, and nothing names the user.
func TestDemoMetrics(t *testing.T) {
	t.Parallel() // the demo hashes its users' passwords with PBKDF2: seconds under -race
	secret := make([]byte, 32)
	rand.Read(secret)
	keys := "k1:" + base64.RawURLEncoding.EncodeToString(secret)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- RunEnv(ctx, &Env{
			Args:   []string{"demo", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--store", "memory"},
			Stdin:  strings.NewReader(""),
			Stdout: &out, Stderr: &errOut,
			Getenv: func(k string) string { return map[string]string{"LATCH_KEYS": keys}[k] },
		})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exit %d: %s", code, errOut.String())
		}
	}()
	appURL, metricsURL := demoURLs(t, &out, done)

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.PostForm(appURL+"/login", url.Values{"username": {"alice"}, "password": {"wonderland"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "__Host-session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("login set no session cookie: %v", res.Header["Set-Cookie"])
	}
	req, _ := http.NewRequest("POST", appURL+"/logout", nil)
	req.AddCookie(cookie)
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.StatusCode)
	}

	res, err = http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	text := string(body)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^latch_logins_total\{[^}]*\} 1$`),
		regexp.MustCompile(`(?m)^latch_logouts_total\{[^}]*\} 1$`),
		regexp.MustCompile(`(?m)^latch_sessions_created_total\{[^}]*latch_session_authenticated="true"[^}]*\} 1$`),
		regexp.MustCompile(`(?m)^latch_events_total\{[^}]*latch_event_kind="logout"[^}]*\} 1$`),
		regexp.MustCompile(`(?m)^db_client_operation_duration_seconds_count\{[^}]*db_operation_name="Commit"[^}]*\} [1-9]`),
		regexp.MustCompile(`(?m)^db_client_operation_duration_seconds_count\{[^}]*db_operation_name="Delete"[^}]*\} 1$`),
		regexp.MustCompile(`(?m)^# TYPE db_client_operation_duration_seconds histogram$`),
		regexp.MustCompile(`(?m)^target_info\{[^}]*service_name="latch-demo"`),
	} {
		if !want.MatchString(text) {
			t.Errorf("/metrics has no line matching %s", want)
		}
	}
	for _, secret := range []string{"alice", cookie.Value, "wonderland"} {
		if strings.Contains(text, secret) {
			t.Errorf("/metrics holds %q", secret)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}

// demoURLs waits for the demo to print where it serves the application and
// the metrics.
func demoURLs(t *testing.T, out *syncBuffer, done chan int) (app, metrics string) {
	t.Helper()
	appRe := regexp.MustCompile(`latch demo on (http://\S+) `)
	metricsRe := regexp.MustCompile(`metrics on (http://\S+/metrics)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		a, m := appRe.FindStringSubmatch(out.String()), metricsRe.FindStringSubmatch(out.String())
		if a != nil && m != nil {
			return a[1], m[1]
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("demo ended with %d: %s", code, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("demo printed no addresses: %q", out.String())
	return "", ""
}
