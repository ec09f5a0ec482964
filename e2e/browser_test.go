package e2e

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The tests in this file drive the demo in a real headless Chromium, one
// browser process with its own fresh profile per device, the way a person
// would: typing into the forms and clicking the links.

var updateDocs = flag.Bool("update-docs", false, "copy the home and sessions screenshots into ../docs for the README")

// screenshotDir holds every page's screenshot after a run: an artefact of
// the run, ignored by git.
var screenshotDir = filepath.Join("..", "artifacts", "screenshots")

// phoneUA makes the second device look like a phone on the sessions page.
const phoneUA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"

// browser is one device: a Chromium process and its tab.
type browser struct {
	t   *testing.T
	ctx context.Context
	d   *demoProc

	mu       sync.Mutex
	problems []string // script errors and security messages of the pages
}

// newBrowser starts a headless Chromium with a fresh profile for d. Each
// browser is its own process, so two of them share nothing but the server.
// ua, when not empty, replaces the User-Agent; extra are more switches.
func newBrowser(t *testing.T, d *demoProc, ua string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	chromium := requireEnv(t, "LATCH_TEST_CHROMIUM")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1200, 860),
	}
	if ua != "" {
		opts = append(opts, chromedp.UserAgent(ua))
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1200, 860)); err != nil {
		t.Fatalf("start chromium %s: %v", chromium, err)
	}
	b := &browser{t: t, ctx: ctx, d: d}
	b.watchConsole()
	return b
}

// watchConsole records what the pages report as broken: uncaught
// exceptions, console errors and the browser's security messages (a
// Content-Security-Policy violation is one). Responses with an error status
// are left out: the demo answers 401 on purpose. At the end of the test
// every such message is a failure.
func (b *browser) watchConsole() {
	msgs := chromedp.Console(b.ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Source == "network" || (m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException && m.Source != "security") {
				continue
			}
			b.mu.Lock()
			b.problems = append(b.problems, fmt.Sprintf("%s %s: %s (%s)", m.Type, m.Source, m.Text, redactQuery(m.URL)))
			b.mu.Unlock()
		}
	}()
	b.t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			b.t.Errorf("the page reported: %s", p)
		}
	})
}

// do runs actions and fails the test on an error, saying what it was doing.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	b.t.Fatalf("%s: %v (page %s)", what, err, redactQuery(loc))
}

// redactQuery drops the query of a URL: this demo puts nothing secret
// there, but a failure message has no need of it.
func redactQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

// text returns the text of the element with the id, after waiting for it.
func (b *browser) text(id string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		b.fail("read #"+id, err)
	}
	return strings.TrimSpace(s)
}

// path returns the path of the page the browser shows.
func (b *browser) path() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.fail("read the location", err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatalf("location %q: %v", redactQuery(loc), err)
	}
	return u.Path
}

// evalIn evaluates JavaScript in b that may return a promise.
func evalIn[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail("evaluate "+js, err)
	}
	return v
}

// navigate runs trigger, which makes the page load another (a click on a
// link or a submit button), waits until the new page has loaded and shows
// the element with the id waitID, and returns the page's HTTP status.
func (b *browser) navigate(what string, trigger chromedp.Action[chromedp.Void], waitID string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, trigger)
	if err != nil {
		b.fail(what, err)
	}
	b.do(what, chromedp.WaitVisible(chromedp.ID(waitID)))
	return res.Status
}

// waitPath waits until the page, by itself, is at path.
func (b *browser) waitPath(path string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		// Errors are expected while the page unloads: ask again.
		if loc, err := chromedp.Run(b.ctx, chromedp.Location()); err == nil {
			if u, err := url.Parse(loc); err == nil && u.Path == path {
				return
			}
		}
		if time.Now().After(deadline) {
			b.fail("wait for "+path, fmt.Errorf("not there after %v", timeout))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fill types values into the inputs with the ids, id value pairs.
func (b *browser) fill(idValue ...string) {
	b.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for i := 0; i+1 < len(idValue); i += 2 {
		steps = append(steps, chromedp.SendKeys(chromedp.ID(idValue[i]), idValue[i+1]))
	}
	b.do("fill in the form", steps...)
}

// login signs in through the form and waits for the home page.
func (b *browser) login(user, password string) {
	b.t.Helper()
	b.do("open the sign-in page",
		chromedp.Navigate(b.d.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
	)
	b.fill("username", user, "password", password)
	b.navigate("sign in as "+user, chromedp.Click(chromedp.ID("submit")), "user")
	if got := b.text("user"); got != user {
		b.t.Fatalf("signed in as %q, the page says %q", user, got)
	}
}

// click follows a link of the navigation bar, by its href, and waits for
// the element with the id on the page it leads to.
func (b *browser) click(href, waitID string) {
	b.t.Helper()
	b.navigate("follow "+href, chromedp.Click(chromedp.CSS(`a[href="`+href+`"]`)), waitID)
}

// expectSignedOut follows a link on a device whose session was ended from
// elsewhere, and expects the sign-in page with the reason. The page's
// expiry script polls the status route and goes to the sign-in page by
// itself as soon as the server says the session is over; when it got there
// before the click, that counts as well.
func (b *browser) expectSignedOut(href string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`a[href="`+href+`"]`))); err != nil {
		if p := b.path(); p != "/login" {
			b.fail("follow "+href, err)
		}
		b.t.Logf("the page went to the sign-in page by itself before the click on %s", href)
	}
	b.do("wait for the sign-in page", chromedp.WaitVisible(chromedp.ID("login-form")))
	if p := b.path(); p != "/login" {
		b.t.Errorf("the signed-out device is on %s, want /login", p)
	}
	if reason := evalIn[string](b, `(document.getElementById("reason") || {}).innerText || ""`); !strings.Contains(reason, "ended") {
		b.t.Errorf("the sign-in page does not say the session ended (reason %q)", reason)
	}
	if evalIn[bool](b, `!!document.getElementById("user")`) {
		b.t.Errorf("the sign-in page shows %q as signed in", b.text("user"))
	}
}

// statusJS asks the status route, which does not extend the session.
const statusJS = `fetch("/session/status", {headers: {Accept: "application/json"}}).then(r => r.json().then(j => ({code: r.status, idle: j.idle_remaining_seconds})))`

type statusResult struct {
	Code int `json:"code"`
	Idle int `json:"idle"`
}

// screenshot saves the whole page as screenshotDir/name.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail("screenshot "+name, err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		b.t.Fatalf("screenshots: %v", err)
	}
	file := filepath.Join(screenshotDir, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatalf("screenshots: %v", err)
	}
	if *updateDocs && (name == "home" || name == "sessions") {
		if err := os.WriteFile(filepath.Join("..", "docs", name+".png"), png, 0o644); err != nil {
			b.t.Fatalf("docs: %v", err)
		}
	}
	b.t.Logf("screenshot: %s", file)
}

func TestBrowserCannotReadTheSessionCookie(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{})
	b := newBrowser(t, d, "")
	b.do("open the sign-in page", chromedp.Navigate(d.URL+"/"), chromedp.WaitVisible(chromedp.ID("login-form")))
	b.screenshot("login")
	b.login("alice", "wonderland")
	b.screenshot("home")

	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{d.URL + "/"}})
	if err != nil {
		t.Fatalf("read the cookie jar: %v", err)
	}
	var c *network.Cookie
	for _, ck := range res.Cookies {
		if ck.Name == cookieName {
			c = ck
		}
	}
	if c == nil {
		t.Fatalf("the cookie jar has no %s cookie", cookieName)
	}
	host, _ := url.Parse(d.URL)
	scriptCookies := evalIn[string](b, "document.cookie")

	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"document.cookie does not show it", !strings.Contains(scriptCookies, cookieName) && !strings.Contains(scriptCookies, c.Value)},
		{"Secure", c.Secure},
		{"HttpOnly", c.HTTPOnly},
		{"SameSite=Lax", c.SameSite == network.CookieSameSiteLax},
		{"Path=/", c.Path == "/"},
		{"no Domain (host-only)", c.Domain == host.Hostname()},
		{"ends with the browser session", c.Session},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Errorf("cookie in the jar: secure=%v httpOnly=%v sameSite=%q path=%q domain=%q session=%v; document.cookie has %d bytes",
					c.Secure, c.HTTPOnly, c.SameSite, c.Path, c.Domain, c.Session, len(scriptCookies))
			}
		})
	}

	// The page's own requests still carry the cookie.
	if st := evalIn[statusResult](b, statusJS); st.Code != 200 {
		t.Errorf("fetch /session/status from the page = %d, want 200", st.Code)
	}
}

func TestBrowserRevokedDeviceIsSentToLogin(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{})
	laptop := newBrowser(t, d, "")
	phone := newBrowser(t, d, phoneUA)
	phone.login("alice", "wonderland")
	laptop.login("alice", "wonderland")

	laptop.click("/sessions", "sessions")
	rows := evalIn[int](laptop, `document.querySelectorAll("#sessions tbody tr").length`)
	if rows != 2 {
		t.Fatalf("your sessions lists %d sessions, want 2", rows)
	}
	if !strings.Contains(evalIn[string](laptop, `document.querySelector("#sessions tbody tr:not(.current)").innerText`), "iPhone") {
		t.Error("the other session's row does not name the phone")
	}
	laptop.screenshot("sessions")

	laptop.navigate("end the phone's session", chromedp.Click(chromedp.CSS("#sessions tr:not(.current) button.revoke")), "flash")
	if got := laptop.text("flash"); !strings.Contains(got, "1 session ended") {
		t.Errorf("after End: flash %q, want it to say 1 session ended", got)
	}
	if rows := evalIn[int](laptop, `document.querySelectorAll("#sessions tbody tr").length`); rows != 1 {
		t.Errorf("after End: %d sessions listed, want 1", rows)
	}

	// The phone's next click lands on the sign-in page, with the reason.
	phone.expectSignedOut("/sessions")
	// The laptop is still signed in.
	laptop.click("/", "user")
}

func TestBrowserPasswordChangeSignsOutOtherDevices(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{})
	a := newBrowser(t, d, "")
	b := newBrowser(t, d, phoneUA)
	a.login("bob", "builder")
	b.login("bob", "builder")

	const newPassword = "correct horse battery"
	a.click("/password", "password-form")
	a.screenshot("password")
	a.fill("current", "builder", "new", newPassword)
	a.navigate("change the password", chromedp.Click(chromedp.ID("change")), "flash")
	if got := a.text("flash"); !strings.Contains(got, "1 other session ended") {
		t.Errorf("after the change: flash %q, want it to say 1 other session ended", got)
	}
	if got := a.text("user"); got != "bob" {
		t.Errorf("the device that changed the password shows user %q, want bob", got)
	}

	b.expectSignedOut("/password")

	// The old password no longer works; the new one does.
	b.fill("username", "bob", "password", "builder")
	if code := b.navigate("sign in with the old password", chromedp.Click(chromedp.ID("submit")), "error"); code != 401 {
		t.Errorf("sign-in with the old password answered %d, want 401", code)
	}
	b.login("bob", newPassword)
}

func TestBrowserExpiryBannerWarnsExtendsAndEnds(t *testing.T) {
	t.Parallel()
	// 20 s of idle time: the banner shows at 10 s left.
	d := startDemo(t, demoOptions{Args: []string{"--idle-timeout", "20s"}})
	b := newBrowser(t, d, "")
	b.login("alice", "wonderland")
	if st := evalIn[statusResult](b, statusJS); st.Code != 200 || st.Idle > 20 || st.Idle < 15 {
		t.Fatalf("status after sign-in: %+v, want 200 with 15 to 20 s left", st)
	}

	b.do("wait for the expiry banner", chromedp.WaitVisible(chromedp.ID("expiry-banner")))
	left := strings.TrimSuffix(b.text("expiry-countdown"), " s")
	if n, err := strconv.Atoi(left); err != nil || n < 1 || n > 10 {
		t.Errorf("banner countdown %q, want 1 to 10 s", left)
	}
	b.screenshot("expiry-banner")

	b.do("stay signed in",
		chromedp.Click(chromedp.ID("stay")),
		chromedp.WaitNotVisible(chromedp.ID("expiry-banner")),
	)
	stayed := time.Now()
	if st := evalIn[statusResult](b, statusJS); st.Code != 200 || st.Idle < 15 {
		t.Fatalf("status after stay signed in: %+v, want 200 with 15 s or more left", st)
	}

	// Left alone, the page goes to the sign-in page with the reason.
	b.waitPath("/login", 40*time.Second)
	b.do("wait for the sign-in page", chromedp.WaitVisible(chromedp.ID("reason")))
	if took := time.Since(stayed); took < 15*time.Second {
		t.Errorf("the session ended %v after stay signed in, want about 20 s", took.Round(time.Second))
	}
	if p := b.path(); p != "/login" {
		t.Errorf("after expiry the page is %s, want /login", p)
	}
	if got := b.text("reason"); !strings.Contains(got, "inactivity") {
		t.Errorf("sign-in page reason %q, want it to name inactivity", got)
	}
	b.screenshot("expired")
	// The page said the session ended: the server must agree, and the
	// page must not show anyone signed in.
	if st := evalIn[statusResult](b, statusJS); st.Code != 401 {
		t.Errorf("the page says the session ended, but /session/status = %d with %d s of idle time left", st.Code, st.Idle)
	}
	if evalIn[bool](b, `!!document.getElementById("user")`) {
		t.Errorf("the sign-in page after expiry shows %q as signed in", b.text("user"))
	}
}

func TestBrowserSensitiveActionAsksForPasswordWhenSignInIsOld(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{Args: []string{"--reauth-window", "3s"}})
	b := newBrowser(t, d, "")
	b.login("alice", "wonderland")

	b.click("/sensitive", "sensitive-ready")
	b.screenshot("sensitive")

	time.Sleep(3500 * time.Millisecond)
	if code := b.navigate("open the sensitive page again", chromedp.Click(chromedp.CSS(`a[href="/sensitive"]`)), "reauth-needed"); code != 401 {
		t.Errorf("the sensitive page with an old sign-in answered %d, want 401", code)
	}
	b.screenshot("reauth")

	b.fill("reauth-password", "not her password")
	if code := b.navigate("confirm with a wrong password", chromedp.Click(chromedp.ID("confirm")), "error"); code != 401 {
		t.Errorf("a wrong password answered %d, want 401", code)
	}
	if evalIn[bool](b, `!!document.getElementById("sensitive-ready")`) {
		t.Fatal("a wrong password opened the sensitive page")
	}
	b.fill("reauth-password", "wonderland")
	b.navigate("confirm with the password", chromedp.Click(chromedp.ID("confirm")), "sensitive-ready")
	b.navigate("do the sensitive thing", chromedp.Click(chromedp.ID("do-sensitive")), "flash")
	if got := b.text("flash"); !strings.Contains(got, "carried out") {
		t.Errorf("after the sensitive action: flash %q", got)
	}
}
