package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// boundedApp is a login application for the bounded-work tests: a
// Secure session cookie, a /me page of meBody bytes when logged in, and
// every login after the first answered 429 (Retry-After: 60) on three
// attempts out of four when slowLogins is set.
type boundedApp struct {
	meBody     int
	slowLogins bool

	mu       sync.Mutex
	sessions map[string]bool
	logins   int
	meHits   int
}

func (h *boundedApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w.Header().Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	c, _ := r.Cookie("__Host-sid")
	switch r.URL.Path {
	case "/login":
		if r.Method != http.MethodPost {
			fmt.Fprint(w, `<form method="post"></form>`)
			return
		}
		h.logins++
		if h.slowLogins && h.logins > 1 && h.logins%4 != 0 {
			w.Header().Set("Retry-After", "60")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		if r.PostFormValue("password") != "pw" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		id := rand.Text()
		h.sessions[id] = true
		w.Header().Add("Set-Cookie", "__Host-sid="+id+"; Path=/; Secure; HttpOnly; SameSite=Lax")
		http.Redirect(w, r, "/me", http.StatusSeeOther)
	case "/me":
		if c == nil || !h.sessions[c.Value] {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		h.meHits++
		w.Write(bytes.Repeat([]byte("a"), max(h.meBody, 5)))
	case "/logout":
		if c != nil {
			delete(h.sessions, c.Value)
		}
	default:
		fmt.Fprint(w, "home")
	}
}

func startBounded(t *testing.T, h *boundedApp) (*httptest.Server, Config, *fakeClock) {
	t.Helper()
	h.sessions = map[string]bool{}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	clock := newFakeClock()
	cfg := loginConfig(srv.URL+"/", "", srv.Client().Transport.(*http.Transport).TLSClientConfig, clock)
	cfg.HTTPURL = "http://127.0.0.1:1/"
	return srv, cfg, clock
}

// TestPollingKeepsBoundedMemory is the hostile target of issue 19 item 8:
// a 1 MiB /me, polled all through the absolute-timeout wait. The old
// history kept every body (177 MB after 30 s of polling); the heap in use
// during the wait must stay bounded whatever the number of polls.
func TestPollingKeepsBoundedMemory(t *testing.T) {
	app := &boundedApp{meBody: 1 << 20}
	_, cfg, clock := startBounded(t, app)
	cfg.IdleWait, cfg.Samples = 0, 2
	cfg.AbsoluteWait = 2 * time.Hour // a poll a minute: 120 polls
	var base, peak uint64
	sleeps := 0
	cfg.Sleep = func(ctx context.Context, d time.Duration) error {
		sleeps++
		if sleeps%10 == 1 {
			var m runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m)
			if base == 0 {
				base = m.HeapAlloc
			}
			peak = max(peak, m.HeapAlloc)
		}
		return clock.Sleep(ctx, d)
	}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if app.meHits < 100 {
		t.Fatalf("/me was polled %d times; the test needs at least 100", app.meHits)
	}
	if grew := peak - base; grew > 16<<20 {
		t.Errorf("the heap grew %d MiB over %d polls of a 1 MiB page: the responses are kept", grew>>20, app.meHits)
	}
}

// TestRetryAfterIsBoundedByMaxDuration is the hostile target of issue 19
// item 8: every sample's login is rate-limited three times with
// Retry-After: 60 before it succeeds, so 200 samples would wait 10 hours.
// --max-duration stops the run on time, and the report of what finished
// comes back marked incomplete.
func TestRetryAfterIsBoundedByMaxDuration(t *testing.T) {
	app := &boundedApp{slowLogins: true}
	_, cfg, clock := startBounded(t, app)
	cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 200
	cfg.MaxDuration = 30 * time.Minute
	start := clock.Now()
	rep, err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrIncomplete) || rep == nil {
		t.Fatalf("Run = %v, %v; want a report and ErrIncomplete", rep, err)
	}
	if waited := clock.Now().Sub(start); waited > cfg.MaxDuration {
		t.Errorf("the audit waited %s, beyond --max-duration %s", waited, cfg.MaxDuration)
	}
	if !strings.Contains(rep.Incomplete, "max-duration") {
		t.Errorf("Incomplete = %q", rep.Incomplete)
	}
	if r := resultOf(rep, CheckCookieSecure); r.Status != Pass {
		t.Errorf("cookie-secure, checked before the stop, is %s: %s", r.Status, r.Evidence)
	}
	if r := resultOf(rep, CheckTokenEntropy); r.Status != Skip || !strings.Contains(r.Evidence, "not finished") {
		t.Errorf("token-entropy, cut off by the stop, is %s: %s", r.Status, r.Evidence)
	}
}

// TestInterruptedRunReportsWhatFinished cancels the run (as Ctrl-C does)
// at the first logout: the checks finished before keep their verdicts,
// the logout check, cut off half way, is not finished rather than judged
// on a cancelled request, and every format says the report is incomplete.
func TestInterruptedRunReportsWhatFinished(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app := &boundedApp{}
	srv, cfg, _ := startBounded(t, app)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/logout" {
			cancel()
		}
		app.ServeHTTP(w, r)
	})
	cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 3
	rep, err := Run(ctx, cfg)
	if !errors.Is(err, ErrIncomplete) || rep == nil {
		t.Fatalf("Run = %v, %v; want a report and ErrIncomplete", rep, err)
	}
	if rep.Incomplete != "was interrupted" {
		t.Errorf("Incomplete = %q", rep.Incomplete)
	}
	for id, want := range map[string]Status{CheckCookieSecure: Pass, CheckSessionFixation: Pass, CheckLogout: Skip, CheckTokenEntropy: Skip} {
		if r := resultOf(rep, id); r.Status != want {
			t.Errorf("%s = %s (%s); want %s", id, r.Status, r.Evidence, want)
		}
	}
	marks := map[string]string{"text": "INCOMPLETE", "json": `"incomplete": "was interrupted"`, "markdown": "**Incomplete**",
		"sarif": `"executionSuccessful": false`, "html": `class="incomplete"`}
	for _, f := range Formats {
		var b strings.Builder
		if err := Write(&b, rep, f, false); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), marks[f]) {
			t.Errorf("the %s report does not say it is incomplete (%q)", f, marks[f])
		}
	}
}

// linkPattern is what links must find, as a regular expression.
var linkPattern = regexp.MustCompile(`(?i)(?:href|src|action|formaction)\s*=\s*["']([^"']{1,1000})["']`)

// FuzzLinks checks the linear link scanner against the regular
// expression it replaces.
func FuzzLinks(f *testing.F) {
	for _, s := range []string{
		`<a href="/home">x</a><img SRC='/i.png'><form action = "/pay?PHPSESSID=x">`,
		`<a href=="/x"> href="" src='a"b' formaction="/f" xhref="/y"`,
		`<a href="/a?x=1&y=2">` + strings.Repeat("=", 50) + `src="/z"`,
		`href="` + strings.Repeat("a", 1001) + `"`,
		"href\t=\n'/tab'",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want []string
		for _, m := range linkPattern.FindAllSubmatch(body, maxLinks) {
			want = append(want, string(m[1]))
		}
		got := links(body, maxLinks)
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Errorf("links(%q) = %q; want %q", body, got, want)
		}
	})
}

// volatilePattern is what blankVolatile must replace, as a regular
// expression.
var volatilePattern = regexp.MustCompile(`[A-Za-z0-9_+/=-]{16,}|[0-9]+`)

// FuzzBlankVolatile checks the one-pass blanking of MePath's answers
// against the regular expression it replaces.
func FuzzBlankVolatile(f *testing.F) {
	for _, s := range []string{
		`{"user":"alice","at":"2026-03-01T12:00:00Z","csrf":"Zx81ab7QpLmNqq00aa_-+/="}`,
		"ab12cd 123456789012345 1234567890123456 x9y",
		"\xff\xfe0123456789abcdefg\x00",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want := volatilePattern.ReplaceAll(body, []byte("#"))
		if got := blankVolatile(body); !bytes.Equal(got, want) {
			t.Errorf("blankVolatile(%q) = %q; want %q", body, got, want)
		}
	})
}
