package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/latchsec/latch"
)

// Device Bound Session Credentials (DBSC) in Debian's Chromium 156,
// against the demo over HTTPS with latch's device-bound sessions on.
//
// What Chromium needs, found by running it (see the report of issue 18):
//
//   - --enable-features=DeviceBoundSessions turns on Chromium's DBSC
//     client (net::features::kDeviceBoundSessions, off by default in 156);
//   - EnableBoundSessionCredentialsSoftwareKeysForManualTesting (same
//     switch) makes the session keys in software: Linux has no TPM
//     provider, and without a key provider Chromium creates no DBSC
//     service at all, so the header is silently ignored;
//   - DeviceBoundSessionsDevTools (same switch) lets DevTools report
//     Network.deviceBoundSessionEventOccurred (creation, refresh,
//     challenge, termination, with results), which the test reads;
//   - --ignore-certificate-errors-spki-list=<base64 SHA-256 of the demo
//     certificate's public key> makes the demo's self-signed certificate
//     valid for Chromium. DBSC needs a secure transport with no
//     certificate error: Chromium ignores Secure-Session-Registration over
//     http://127.0.0.1 and on responses with a certificate error, so
//     --ignore-certificate-errors is not enough.
//
// RequireOriginTrialTokens/false (a parameter of DeviceBoundSessions) made
// no difference for a same-origin navigation in 156, so it is not set.

// dbscFeatures is the --enable-features value.
const dbscFeatures = "DeviceBoundSessions,EnableBoundSessionCredentialsSoftwareKeysForManualTesting,DeviceBoundSessionsDevTools"

// boundCookieName is the demo's bound cookie (latch's default).
const boundCookieName = latch.DefaultDeviceBoundCookieName

// spkiHash returns the base64 SHA-256 of the public key of the demo's
// certificate, as --ignore-certificate-errors-spki-list takes it.
func spkiHash(t *testing.T, d *demoProc) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.Dir, "latch-demo-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("the demo certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// dbscBrowser is a browser with DBSC on and its DevTools DBSC events.
type dbscBrowser struct {
	*browser
	mu     sync.Mutex
	events []*network.EventDeviceBoundSessionEventOccurred
}

func newDBSCBrowser(t *testing.T, d *demoProc) *dbscBrowser {
	t.Helper()
	b := &dbscBrowser{browser: newBrowser(t, d, "",
		chromedp.Flag("enable-features", dbscFeatures),
		chromedp.Flag("ignore-certificate-errors-spki-list", spkiHash(t, d)))}
	if err := chromedp.Listen(b.ctx, func(ev any) {
		if e, ok := ev.(*network.EventDeviceBoundSessionEventOccurred); ok {
			b.mu.Lock()
			b.events = append(b.events, e)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, network.EnableDeviceBoundSessions, network.EnableDeviceBoundSessionsParams{Enable: true}); err != nil {
		t.Fatalf("DevTools refuses Network.enableDeviceBoundSessions (is %s in --enable-features?): %v", dbscFeatures, err)
	}
	return b
}

// waitEvent waits for a DBSC event that match accepts, after the first
// skip events, and returns it and the number of events seen.
func (b *dbscBrowser) waitEvent(what string, skip int, match func(*network.EventDeviceBoundSessionEventOccurred) bool) (*network.EventDeviceBoundSessionEventOccurred, int) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b.mu.Lock()
		evs := b.events
		b.mu.Unlock()
		for i := skip; i < len(evs); i++ {
			if match(evs[i]) {
				return evs[i], i + 1
			}
		}
		if time.Now().After(deadline) {
			var seen []string
			for _, e := range evs {
				j, _ := json.Marshal(e)
				seen = append(seen, string(j))
			}
			b.t.Fatalf("no DevTools DBSC event: %s; events: %s", what, strings.Join(seen, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func isCreation(e *network.EventDeviceBoundSessionEventOccurred) bool {
	return e.CreationEventDetails != nil
}

func isRefresh(e *network.EventDeviceBoundSessionEventOccurred) bool {
	return e.RefreshEventDetails != nil
}

// cookies returns the browser's cookies for the demo by name.
func (b *dbscBrowser) cookies() map[string]*network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.d.URL + "/"}})
	if err != nil {
		b.t.Fatal(err)
	}
	m := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		m[c.Name] = c
	}
	return m
}

// home loads the home page and returns what it says of the device.
func (b *dbscBrowser) home() string {
	b.t.Helper()
	b.do("open the home page", chromedp.Navigate(b.d.URL+"/"), chromedp.WaitVisible(chromedp.ID("device-bound")))
	return b.text("device-bound")
}

// ask sends GET /me from another client (a thief's machine) with exactly
// the cookies given, name=value pairs, and returns the status.
func ask(t *testing.T, d *demoProc, cookies ...string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.URL+"/me", nil)
	req.Header.Set("Accept", "application/json")
	if len(cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	res, err := d.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// events counts the latch events of a kind in the demo's log.
func events(d *demoProc, kind string) int {
	return strings.Count(d.out.String(), "event="+kind+" ")
}

// waitLog waits until the demo logged at least n events of kind.
func waitLog(t *testing.T, d *demoProc, kind string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for events(d, kind) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the demo logged %d %s events, want %d", events(d, kind), kind, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sessionAndBound returns the session cookie and the bound cookie the
// browser holds, and has d keep their values out of its log; without both
// the test ends.
func (b *dbscBrowser) sessionAndBound(t *testing.T, d *demoProc) (session, bound *network.Cookie) {
	t.Helper()
	jar := b.cookies()
	session, bound = jar[cookieName], jar[boundCookieName]
	if session == nil || bound == nil {
		t.Fatalf("the browser holds %v; want %s and %s", jar, cookieName, boundCookieName)
	}
	d.remember(session.Value)
	d.remember(bound.Value)
	return session, bound
}

// TestBrowserDeviceBoundSession signs in with Chromium on the demo over
// HTTPS: Chromium registers a key, latch binds the session, the home page
// says so; when the bound cookie is gone Chromium holds the request back,
// refreshes with a proof signed by its key, and only then sends it; a copy
// of the session cookie on another client is refused without the bound
// cookie, and cannot get one from the refresh endpoint without the key.
func TestBrowserDeviceBoundSession(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{TLS: true})
	b := newDBSCBrowser(t, d)
	b.login("alice", "wonderland")

	// Registration: Chromium's creation event and latch's.
	created, seen := b.waitEvent("a session created", 0, isCreation)
	if !created.Succeeded || created.CreationEventDetails.FetchResult != network.DeviceBoundSessionFetchResultSuccess {
		j, _ := json.Marshal(created)
		t.Fatalf("Chromium's registration failed: %s", j)
	}
	sid := created.SessionID
	waitLog(t, d, "device-registered", 1)
	if got := b.home(); !strings.HasPrefix(got, "yes") {
		t.Fatalf("after the registration the home page says %q; want it bound and verified", got)
	}
	b.screenshot("dbsc-home")
	b.click("/sessions", "sessions")
	if n := evalIn[int](b.browser, `document.querySelectorAll("tr.current .device-bound").length`); n != 1 {
		t.Errorf("the sessions page marks this session device-bound %d times; want once", n)
	}
	session, bound := b.sessionAndBound(t, d)
	if !bound.Secure || !bound.HTTPOnly || bound.Session || bound.Expires-float64(time.Now().Unix()) > latch.DefaultDeviceBoundCookieLifetime.Seconds()+5 {
		t.Errorf("bound cookie: secure %v httponly %v session %v expires in %.0fs; want Secure, HttpOnly, at most %v",
			bound.Secure, bound.HTTPOnly, bound.Session, bound.Expires-float64(time.Now().Unix()), latch.DefaultDeviceBoundCookieLifetime)
	}

	// The bound cookie gone (as when it expires): Chromium defers the
	// next request, refreshes, and sends it with the new bound cookie.
	refreshed := events(d, "device-refreshed")
	if _, err := chromedp.Call(b.ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: boundCookieName, URL: d.URL + "/"}); err != nil {
		t.Fatal(err)
	}
	if got := b.home(); !strings.HasPrefix(got, "yes") {
		t.Errorf("after the bound cookie was deleted the home page says %q; want the request refreshed first, then verified", got)
	}
	ref, _ := b.waitEvent("a refresh", seen, func(e *network.EventDeviceBoundSessionEventOccurred) bool {
		return isRefresh(e) && !e.RefreshEventDetails.WasFullyProactiveRefresh
	})
	if !ref.Succeeded || ref.RefreshEventDetails.RefreshResult != network.RefreshEventDetailsRefreshResultRefreshed {
		j, _ := json.Marshal(ref)
		t.Errorf("Chromium's refresh: %s", j)
	}
	waitLog(t, d, "device-refreshed", refreshed+1)
	if got := b.cookies()[boundCookieName]; got == nil {
		t.Errorf("the refresh did not give the browser a bound cookie")
	}

	// A thief with the session cookie asks the refresh endpoint for a
	// bound cookie, without a proof and with one signed by its own key
	// over latch's challenge. (What the copied cookies themselves are
	// worth, and for how long: TestBrowserDeviceBoundCookieExpires.)
	refused := events(d, "device-refused")
	chal, code, setBound := refreshAsThief(t, d, session.Value, sid, "")
	if code != http.StatusForbidden || chal == "" || setBound {
		t.Errorf("refresh without a proof: %d, challenge %v, bound cookie set %v; want 403 with a challenge and no cookie", code, chal != "", setBound)
	}
	_, code, setBound = refreshAsThief(t, d, session.Value, sid, chal)
	if code != http.StatusForbidden || setBound {
		t.Errorf("refresh signed by another key: %d, bound cookie set %v; want 403 and no cookie", code, setBound)
	}
	waitLog(t, d, "device-refused", refused+1)
	if got := b.home(); !strings.HasPrefix(got, "yes") {
		t.Errorf("after the thief's attempts the owner's home page says %q; want bound and verified", got)
	}
}

// refreshAsThief POSTs the refresh endpoint with the session cookie and
// the DBSC session id, and a proof over challenge signed by a new key when
// challenge is not "". It returns the challenge of the answer, its status
// and whether it set a bound cookie.
func refreshAsThief(t *testing.T, d *demoProc, session, sid, challenge string) (string, int, bool) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, d.URL+"/.latch/dbsc/refresh", nil)
	req.Header.Set("Cookie", cookieName+"="+session)
	req.Header.Set("Sec-Secure-Session-Id", sid)
	req.Header.Set("Origin", d.URL)
	if challenge != "" {
		req.Header.Set("Secure-Session-Response", thiefProof(t, challenge))
	}
	res, err := d.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	setBound := false
	for _, c := range res.Cookies() {
		setBound = setBound || (c.Name == boundCookieName && c.Value != "")
	}
	next := res.Header.Get("Secure-Session-Challenge")
	if v, _, ok := strings.Cut(next, ";"); ok {
		next = strings.Trim(v, `"`)
	}
	return next, res.StatusCode, setBound
}

// thiefProof is a DBSC refresh proof over challenge, as Chromium makes
// one, signed by a key latch never saw.
func thiefProof(t *testing.T, challenge string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	signed := enc([]byte(`{"alg":"ES256","typ":"dbsc+jwt"}`)) + "." + enc([]byte(fmt.Sprintf(`{"jti":%q}`, challenge)))
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + enc(sig)
}

// TestBrowserDeviceBoundCopiedCookies copies the cookies of a bound
// session to another client, as malware reading the browser's cookie store
// would. With the bound cookie the copy works: that is the window, the
// bound cookie's lifetime (10 minutes by default, at least 5). Without it,
// which is what the copy holds once its bound cookie expired (a browser
// drops an expired cookie, and latch refuses one past its expiry:
// TestDeviceBoundStolenCookies shows that on a fake clock), it is signed
// out once latch's 30 seconds of grace for the browser's own first
// requests are over, and it cannot renew it (TestBrowserDeviceBoundSession).
// Meanwhile Chromium, which has the key, goes on. The 31-second wait is
// real time: the demo is another process, with the real clock.
func TestBrowserDeviceBoundCopiedCookies(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{TLS: true})
	b := newDBSCBrowser(t, d)
	b.login("alice", "wonderland")
	b.waitEvent("a session created", 0, func(e *network.EventDeviceBoundSessionEventOccurred) bool {
		return isCreation(e) && e.Succeeded
	})
	waitLog(t, d, "device-registered", 1)
	registered := time.Now()
	session, bound := b.sessionAndBound(t, d)
	both := []string{cookieName + "=" + session.Value, boundCookieName + "=" + bound.Value}
	if code := ask(t, d, both...); code != http.StatusOK {
		t.Fatalf("both cookies copied: GET /me answered %d; want 200 while the bound cookie is valid", code)
	}
	until := registered.Add(31 * time.Second)
	t.Logf("waiting %v, past latch's grace after the registration", time.Until(until).Round(time.Second))
	time.Sleep(time.Until(until))
	missing := events(d, "device-cookie-missing")
	if code := ask(t, d, both[0]); code != http.StatusUnauthorized {
		t.Errorf("the session cookie alone on another client: GET /me answered %d; want 401 (signed out)", code)
	}
	waitLog(t, d, "device-cookie-missing", missing+1)
	if code := ask(t, d); code != http.StatusUnauthorized {
		t.Errorf("no cookie: GET /me answered %d; want 401", code)
	}
	if code := ask(t, d, both...); code != http.StatusOK {
		t.Errorf("both cookies copied, the bound cookie still valid: GET /me answered %d; want 200 (the window)", code)
	}
	if got := b.home(); !strings.HasPrefix(got, "yes") {
		t.Errorf("the owner's browser: the home page says %q; want bound and verified", got)
	}
}
