// Package audit reviews a live web application's session security from the
// outside, the way a careful reviewer would: it reads every Set-Cookie
// header itself, logs in, finds every session cookie by behaviour
// (identify.go), replays the browser's cookies to test fixation and
// logout, waits out timeouts, samples tokens for their randomness, and
// recognises Flask, Django and Express signed cookies, which it decodes and
// tries against weak keys; when a key is found and the cookie carries the
// session's data, it proves the finding by forging a cookie the
// application accepts. When the login offers device-bound sessions (DBSC),
// it registers a key as Chromium does and checks that the session cookie
// is worth nothing without the bound cookie (dbsc.go).
//
// The target is treated as hostile. Whether a request is authenticated is
// judged against a baseline taken at the start (oracle.go), an answer that
// says nothing (429, 5xx, a timeout) is never taken for one that does, and
// when several cookies carry the session the weakest decides (weakest.go).
// Each of its browsers keeps cookies by the browser's rules, so a Secure
// cookie never travels over plain HTTP (jar.go), and a replay keeps each
// cookie's path and domain; an answer that a session ended is asked again
// before a check passes on it. Credentials given in a URL go only to that
// URL's origin, they and the login's password are never printed, even
// when the target writes them back, and a browser keeps a bounded summary
// of what it saw (client.go). Config.MaxDuration bounds the whole run, and
// a run stopped early, by it or by its context, still returns the report
// of the checks that finished, marked incomplete (bounds.go).
//
// Run performs the audit and returns a Report; the Write* functions render
// it as text, JSON, Markdown, SARIF 2.1.0 or a self-contained HTML page.
// The auditor never prints a token, key or password: evidence names a
// token by its length and a key by where it was found.
package audit

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is what to audit and how.
type Config struct {
	// Target is the application's URL (http or https). Required.
	Target string
	// HTTPURL is the plain-HTTP entry point for the redirect check; default
	// the target's host on port 80.
	HTTPURL string

	// LoginPath, when set with Username, makes the auditor log in by
	// posting UserField and PassField (default "username" and "password")
	// plus any hidden inputs of the login page.
	LoginPath string
	Username  string
	Password  string
	UserField string
	PassField string
	// LoginJSON posts the credentials as a JSON object instead, as a
	// single-page application's login API takes them:
	// {"<UserField>": Username, "<PassField>": Password}.
	LoginJSON bool
	// MePath answers 200 when authenticated, and another status (or, for
	// a single-page application, another page) when not: the run asks it
	// without a cookie and after a wrong password first, and judges every
	// later answer against those (see oracle.go). Required with LoginPath.
	MePath string
	// LogoutPath is posted to log out (a GET is tried when POST is
	// refused with 404 or 405). Default "/logout".
	LogoutPath string

	// IdleWait and AbsoluteWait enable the measured timeout checks.
	IdleWait     time.Duration
	AbsoluteWait time.Duration
	// Samples is the number of tokens collected for the randomness check,
	// and so the budget of logins spent on it. Default 200.
	Samples int
	// WeakKeys are the candidate keys for signed-cookie frameworks (the
	// shipped list); Wordlist adds the user's own.
	WeakKeys []string
	Wordlist []string
	// Source is set when the application's source is reviewed too
	// (--source): the report then has source-key-live, whose verdict
	// says whether one of SourceKeys, the keys found in the source and
	// its history, signs the live session cookie. They are tried first.
	Source     bool
	SourceKeys []SourceKey

	// TLS configures HTTPS (custom roots, or InsecureSkipVerify).
	TLS *tls.Config
	// Timeout bounds every request. Default 15s.
	Timeout time.Duration
	// MaxDuration bounds the whole run, waits for rate limits (Retry-After)
	// included: when it has passed, Run returns what was checked so far,
	// marked incomplete, with ErrIncomplete. Default one hour plus the
	// longer of IdleWait and AbsoluteWait; it must exceed both.
	MaxDuration time.Duration
	// Progress, when set, is told about long phases.
	Progress Progress
	// Now and Sleep are the clock; tests replace them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// dial, when set, replaces the dialer: tests serve a host name from
	// loopback with it.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Progress receives updates on long phases: task names a phase, done and
// total count its steps (seconds for waits). Calls come from several
// goroutines.
type Progress interface {
	Update(task string, done, total int)
}

// MaxSamples caps Config.Samples: more would hammer the target.
const MaxSamples = 20000

func (c *Config) validate() (*url.URL, error) {
	u, err := url.Parse(c.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("audit: target %q is not an http or https URL", redactRaw(c.Target))
	}
	if c.HTTPURL != "" {
		h, err := url.Parse(c.HTTPURL)
		if err != nil || h.Scheme != "http" || h.Host == "" {
			return nil, fmt.Errorf("audit: --http-url %q is not an http URL", redactRaw(c.HTTPURL))
		}
	}
	if c.LoginPath != "" {
		if c.Username == "" {
			return nil, errors.New("audit: a login path needs a username")
		}
		if c.MePath == "" {
			return nil, errors.New("audit: a login path needs --me-path, a page that answers 200 only when logged in")
		}
	}
	if c.Samples < 0 || c.Samples > MaxSamples {
		return nil, fmt.Errorf("audit: samples must be between 0 and %d", MaxSamples)
	}
	if c.IdleWait < 0 || c.AbsoluteWait < 0 || c.MaxDuration < 0 {
		return nil, errors.New("audit: waits must not be negative")
	}
	longest := max(c.IdleWait, c.AbsoluteWait)
	if c.MaxDuration == 0 {
		c.MaxDuration = defaultMaxDuration + longest
	}
	if c.MaxDuration <= longest {
		return nil, fmt.Errorf("audit: --max-duration %s leaves no time for the %s wait", c.MaxDuration, longest)
	}
	if c.UserField == "" {
		c.UserField = "username"
	}
	if c.PassField == "" {
		c.PassField = "password"
	}
	if c.LogoutPath == "" {
		c.LogoutPath = "/logout"
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	return u, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// auditor holds the state of one run.
type auditor struct {
	cfg      Config
	target   *url.URL
	hc       *http.Client
	requests atomic.Int64

	mu      sync.Mutex
	results map[string]Result
	entropy *TokenStats
	// life is what the timeout checks learnt of the session's lifetime.
	life LiveLifetime
	// expressKey is the weak secret found for an Express signed session
	// ID, which the fixation check signs its made-up ID with.
	expressKey string
	// creds are the credentials given in the target URL and the
	// plain-HTTP URL, by origin; target has none.
	creds map[string]*url.Userinfo
	// base tells authenticated answers of MePath from unauthenticated
	// ones; set after the first login, before any check uses it.
	base *baseline
	// sink, when set, collects results instead of recording them (see
	// collect).
	sink *[]Result
	// echoed is set when the target wrote the login's password back
	// (see client.noteEcho).
	echoed atomic.Bool
	// retryWaited is the time spent waiting to ask MePath again, in
	// nanoseconds (see spendRetryWait).
	retryWaited atomic.Int64

	// ctx is the run's context, cancel stops it early with a cause, and
	// deadline is when MaxDuration ends by the auditor's clock (see limit).
	ctx      context.Context
	cancel   context.CancelCauseFunc
	deadline time.Time
}

// RateLimitError reports that the target refused a login for now (429 or
// 503). The auditor waits RetryAfter, when the server gives one of at most
// a minute, instead of insisting.
type RateLimitError struct {
	Status     int
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("audit: login rate-limited (%d, retry after %s)", e.Status, e.RetryAfter)
	}
	return fmt.Sprintf("audit: login rate-limited (%d)", e.Status)
}

// retryAfter parses a Retry-After value: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// ErrNetwork wraps failures to reach the target at all.
var ErrNetwork = errors.New("audit: target unreachable")

// Run audits cfg.Target and returns the report. It returns an error only
// when the audit cannot be carried out: bad configuration, the target
// unreachable, or a login that does not authenticate. When ctx is
// cancelled or cfg.MaxDuration passes, Run returns the report of the
// checks that finished, with Incomplete set, and an error wrapping
// ErrIncomplete.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	u, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	var httpURL *url.URL
	if cfg.HTTPURL != "" {
		httpURL, _ = url.Parse(cfg.HTTPURL)
	}
	a := &auditor{cfg: cfg, target: u, results: map[string]Result{}, creds: credentials(u, httpURL)}
	a.target.User = nil
	a.hc = newHTTPClient(cfg.TLS, cfg.Timeout, cfg.dial)
	rep := &Report{Target: redactURL(a.target), Started: cfg.Now()}
	ctx, stop := a.limit(ctx)
	defer stop()
	err = a.run(ctx)
	// A run stopped early reports what finished before (add keeps no
	// result after the stop, so none rests on a cut-off check).
	rep.Incomplete = a.stopped()
	if err != nil && rep.Incomplete == "" {
		return nil, a.scrubErr(err)
	}
	notRun := "not run"
	if rep.Incomplete != "" {
		notRun = "not finished: the audit " + rep.Incomplete + " before this check finished"
	}
	checks := Checks
	if cfg.Source {
		checks = append(Checks[:len(Checks):len(Checks)], SourceChecks[0])
		rep.Rules = append(Checks[:len(Checks):len(Checks)], SourceChecks...)
	}
	for _, ci := range checks {
		r, ok := a.results[ci.ID]
		if !ok {
			r = result(ci.ID, Skip, notRun, "")
		}
		r.Evidence, r.Recommendation = a.scrub(r.Evidence), a.scrub(r.Recommendation)
		rep.Checks = append(rep.Checks, r)
	}
	rep.Entropy = a.entropy
	rep.Lifetime = a.life
	rep.Requests = a.requests.Load()
	rep.Finished = cfg.Now()
	if rep.Incomplete != "" {
		return rep, fmt.Errorf("%w: the audit %s", ErrIncomplete, rep.Incomplete)
	}
	return rep, nil
}

// add records a result (the first one for an id wins).
func (a *auditor) add(r Result) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sink != nil {
		*a.sink = append(*a.sink, r)
		return
	}
	if a.stopped() != "" {
		return
	}
	if _, ok := a.results[r.ID]; !ok {
		a.results[r.ID] = r
	}
}

func (a *auditor) progress(task string, done, total int) {
	if a.cfg.Progress != nil {
		a.cfg.Progress.Update(task, done, total)
	}
}

func (a *auditor) run(ctx context.Context) error {
	probe := a.newClient()
	first, err := probe.do(ctx, "GET", a.target.String(), nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNetwork, err)
	}
	a.checkTransport(ctx, first)

	if a.cfg.LoginPath == "" {
		a.runAnonymous(ctx, probe)
		return nil
	}
	return a.runAuthenticated(ctx)
}

// skipNeedsLogin marks the checks that need an authenticated session.
func (a *auditor) skipNeedsLogin() {
	why := "needs a login: pass --login-path, --username, --password-env and --me-path"
	for _, id := range []string{CheckSessionFixation, CheckLogout, CheckIdleTimeout, CheckAbsoluteTimeout, CheckDeviceBound} {
		a.add(result(id, Skip, why, ""))
	}
}

// runAnonymous audits what an unauthenticated visitor sees.
func (a *auditor) runAnonymous(ctx context.Context, probe *client) {
	// Checks that ran anyway keep their result: add keeps the first.
	defer a.skipNeedsLogin()
	name := guessSessionCookie(probe.seenNames())
	if name == "" {
		why := "the target set no cookie on " + redactURL(a.target) + " and no login was configured"
		for _, id := range []string{CheckCookieSecure, CheckCookieHTTPOnly, CheckCookieSameSite, CheckCookieHostPrefix,
			CheckCookieSize, CheckTokenEntropy, CheckWeakSecretKey, CheckSessionInURL} {
			a.add(result(id, Skip, why, "Configure a login so the session cookie can be examined."))
		}
		return
	}
	ck := probe.lastSetCookie(name)
	how := fmt.Sprintf("cookie %q (chosen by name; no login configured to confirm it by behaviour), as set before login", name)
	// Chosen by name, it may be a decoy (a visitor's cookie, where the
	// login sets the session's): its checks can warn or fail, never pass.
	id := &identity{creds: [][]string{{name}}, members: []string{name},
		ambiguous: "without a login, nothing shows that this cookie carries the session: the one a login sets may be another"}
	if n := len(probe.seenNames()); n > 1 {
		id.ambiguous = fmt.Sprintf("the target set %d cookies and, without a login, which one carries the session cannot be told", n)
	}
	for _, r := range a.collect(func() {
		a.checkAttributes(ck, how, nil)
		a.checkSessionInURL(probe.valuesOf(name), probe.History)
	}) {
		a.add(capAmbiguous(r, id))
	}
	sc := a.checkSignedCookie(ctx, ck.Value, nil)
	if sc != nil && sc.clientSide() {
		a.skipClientSideEntropy(sc)
		return
	}
	a.probeAdoption(ctx, name, ck.Value)
	for _, r := range a.collect(func() {
		a.sampleTokens(ctx, name, sampledWhat(sc, name), func(ctx context.Context) (string, error) {
			c := a.newClient()
			if _, err := c.do(ctx, "GET", a.target.String(), nil); err != nil {
				return "", err
			}
			v, _ := c.value(name)
			return sessionIDOf(sc, v), nil
		})
	}) {
		a.add(capAmbiguous(r, id))
	}
}

// skipClientSideEntropy marks token-entropy as not applicable to a cookie
// that carries the session itself.
func (a *auditor) skipClientSideEntropy(sc *signedCookie) {
	a.add(result(CheckTokenEntropy, Skip,
		"the session is a signed "+sc.framework+" cookie: its content is the session, not a random identifier, so identical sessions signed in the same second are identical; what protects it is the key (see weak-secret-key)",
		"Keep the signing key secret and strong; prefer server-side sessions with random identifiers."))
}

// sampledWhat names what the randomness check samples.
func sampledWhat(sc *signedCookie, name string) string {
	if sc != nil && !sc.clientSide() {
		return fmt.Sprintf("the session ID signed inside cookie %q (the tag is computed from it, so it adds no randomness)", name)
	}
	return fmt.Sprintf("cookie %q", name)
}

// probeAdoption is what session-fixation can see without a login: it
// sends the page that gave a new visitor the session cookie a made-up
// token of the same shape. A server that answers with no new cookie (or
// sets the made-up value itself) keeps an ID it never issued, as PHP does
// with session.use_strict_mode=0; whether the login then issues a new ID
// takes a login to see, so the finding is a warning, never a failure.
func (a *auditor) probeAdoption(ctx context.Context, name, token string) {
	needLogin := "Configure a login (--login-path, --username, --password-env, --me-path) to test whether the login issues a new ID."
	fake, how := a.madeUpToken(token)
	c := a.newClient()
	c.set(name, fake)
	ex, err := c.do(ctx, "GET", a.target.String(), nil)
	if err != nil {
		a.add(result(CheckSessionFixation, Skip, "could not present a made-up token: "+trimErr(err), needLogin))
		return
	}
	var set *Cookie
	for _, sc := range ex.SetCookies {
		if sc.Name == name {
			set = sc
		}
	}
	where := fmt.Sprintf("GET %s", redactURL(ex.URL))
	switch {
	case set == nil || (set.Value == fake && !set.Deletes(a.cfg.Now())):
		a.add(result(CheckSessionFixation, Warn, fmt.Sprintf("%s gives a new visitor a %q cookie, but presented with a made-up one%s (never issued by the server) it answered %d and kept it: the server appears to adopt client-chosen session IDs (as PHP's session.use_strict_mode=0 does); unless the login issues a new ID, that is session fixation. No login was configured to test it",
			where, name, how, ex.Status),
			"Never adopt a session ID the server did not issue (PHP: session.use_strict_mode=1), and issue a new ID at login. "+needLogin))
	default:
		a.add(result(CheckSessionFixation, Skip, fmt.Sprintf("%s replaced a made-up %q token%s with a new one: the server did not adopt it; whether the login issues a new ID needs a login to test", where, name, how),
			needLogin))
	}
}

// sessionNames are cookie names frameworks use for sessions, matched as
// substrings of the lower-cased name.
var sessionNames = []string{"sess", "sid", "phpsessid", "jsessionid", "connect.sid", "auth", "token", "login"}

// guessSessionCookie picks the most session-like name, or "" when there is
// no cookie.
func guessSessionCookie(names []string) string {
	for _, want := range sessionNames {
		for _, n := range names {
			if strings.Contains(strings.ToLower(n), want) {
				return n
			}
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return ""
}

// session is an authenticated client and what its login showed.
type session struct {
	c *client
	// pre is the cookies the client held before login.
	pre cookieState
	// me is the authenticated page's response.
	me *exchange
}

// maxRateLimitWaits bounds how often one login waits out a rate limit.
const maxRateLimitWaits = 3

// login runs the configured login on c and checks that MePath answers as
// authenticated afterwards: 200 for the first login, the baseline's
// authenticated answer for every later one. When the target rate-limits
// the login and says for how long (at most a minute), login waits that
// long and tries again, rather than hammer it.
func (a *auditor) login(ctx context.Context, c *client) (*session, error) {
	for attempt := 0; ; attempt++ {
		s, post, err := a.loginOnce(ctx, c, a.cfg.Password)
		if err == nil {
			err = a.checkLoggedIn(ctx, s, post)
		}
		var rl *RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > time.Minute || attempt >= maxRateLimitWaits {
			if err != nil {
				return nil, err
			}
			return s, nil
		}
		if err := a.wait(ctx, "rate-limited, waiting", rl.RetryAfter); err != nil {
			return nil, err
		}
	}
}

// loginOnce posts the login with password on c, follows its redirects
// and requests MePath; it does not judge the answer.
func (a *auditor) loginOnce(ctx context.Context, c *client, password string) (*session, *exchange, error) {
	// The login page first, for the cookies a visitor has before login
	// (and a form's hidden inputs).
	page, err := c.do(ctx, "GET", a.cfg.LoginPath, nil)
	if err != nil {
		return nil, nil, err
	}
	s := &session{c: c, pre: stateOf(c)}
	var post *exchange
	if a.cfg.LoginJSON {
		body, _ := json.Marshal(map[string]string{a.cfg.UserField: a.cfg.Username, a.cfg.PassField: password})
		post, err = c.send(ctx, "POST", a.cfg.LoginPath, "application/json", body)
	} else {
		form := url.Values{}
		if page.Status == 200 {
			form = hiddenInputs(page.Body)
		}
		form.Set(a.cfg.UserField, a.cfg.Username)
		form.Set(a.cfg.PassField, password)
		post, err = c.do(ctx, "POST", a.cfg.LoginPath, form)
	}
	if err != nil {
		return nil, nil, err
	}
	if post.Status == http.StatusTooManyRequests || post.Status == http.StatusServiceUnavailable {
		return nil, nil, &RateLimitError{Status: post.Status, RetryAfter: retryAfter(post.Header.Get("Retry-After"), a.cfg.Now())}
	}
	if _, err := c.follow(ctx, post); err != nil {
		return nil, nil, err
	}
	v, err := a.plainAsk(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if v.ex == nil || inconclusiveStatus(v.ex.Status) {
		return nil, nil, fmt.Errorf("%w: after POST %s, %s", ErrLogin, a.cfg.LoginPath, v.why)
	}
	s.me = v.ex
	return s, post, nil
}

// checkLoggedIn judges the answer of MePath after a login.
func (a *auditor) checkLoggedIn(ctx context.Context, s *session, post *exchange) error {
	hint := "check --username, --password-env, --user-field, --pass-field, --login-json and --me-path"
	if a.base == nil {
		if s.me.Status != 200 {
			return fmt.Errorf("%w: POST %s answered %d, then GET %s answered %d%s; %s",
				ErrLogin, a.cfg.LoginPath, post.Status, a.cfg.MePath, s.me.Status, s.c.refusedNote(), hint)
		}
		return nil
	}
	switch a.base.classify(s.me) {
	case authYes:
		return nil
	case authNo:
		return fmt.Errorf("%w: POST %s answered %d, then GET %s answered as without a valid session (%s)",
			ErrLogin, a.cfg.LoginPath, post.Status, a.cfg.MePath, a.base.describe(a.cfg.MePath))
	}
	v, err := a.ask(ctx, s.c)
	if err != nil {
		return err
	}
	if v.state != authYes {
		return fmt.Errorf("%w: POST %s answered %d, then it could not be told whether the login worked: %s", ErrLogin, a.cfg.LoginPath, post.Status, v.why)
	}
	s.me = v.ex
	return nil
}

// firstLogin logs in on c and takes the baseline: what MePath answers
// with the login's session, without a cookie and after a wrong password.
// An application whose MePath answers the same either way (a single-page
// application that answers 200 with the same page to everyone) cannot be
// audited: no answer would show whether a session is authenticated.
func (a *auditor) firstLogin(ctx context.Context, c *client) (*session, error) {
	s, err := a.login(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := a.needCookies(c); err != nil {
		return nil, err
	}
	no, err := a.unauthenticatedAnswers(ctx)
	if err != nil {
		return nil, err
	}
	b, err := newBaseline(answerOf(s.me), no)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s %v: there is no telling whether the configured login, or any session, is authenticated (a page every visitor gets, or a login that accepts any password); pass a --me-path that answers differently when logged in",
			ErrLogin, a.cfg.MePath, err)
	}
	a.base = b
	return s, nil
}

// collect runs fn and returns the results it adds instead of recording
// them. Only for the sequential part of the run: no other goroutine may
// add results meanwhile.
func (a *auditor) collect(fn func()) []Result {
	var got []Result
	a.mu.Lock()
	a.sink = &got
	a.mu.Unlock()
	fn()
	a.mu.Lock()
	a.sink = nil
	a.mu.Unlock()
	return got
}

func (a *auditor) runAuthenticated(ctx context.Context) error {
	main := a.newClient()
	if _, err := main.do(ctx, "GET", a.target.String(), nil); err != nil {
		return fmt.Errorf("%w: %w", ErrNetwork, err)
	}
	s, err := a.firstLogin(ctx, main)
	if err != nil {
		return err
	}
	id, err := a.identify(ctx, s)
	if err != nil {
		return err
	}
	jar := stateOf(main)
	var cks []*Cookie
	for _, n := range id.members {
		cks = append(cks, main.heldSetCookies(n)...)
	}
	ck := longestLived(cks, a.cfg.Now())
	signed := a.checkSessionCookies(ctx, s, id)
	a.checkFixation(ctx, s, jar, id)
	a.checkLogout(ctx, s, id)
	a.sampleSessionTokens(ctx, id, signed)

	// The device-bound check may wait out a grace after its registration:
	// it runs beside the timeout waits. Both timeout sessions log in
	// before either wait starts, then wait side by side, so the run takes
	// the longest wait, not the sum.
	var idleS, absS *session
	if a.cfg.IdleWait > 0 {
		if idleS, err = a.freshSession(ctx); err != nil {
			return err
		}
	}
	if a.cfg.AbsoluteWait > 0 {
		if absS, err = a.freshSession(ctx); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	var idleErr, absErr error
	wg.Add(3)
	go func() { defer wg.Done(); a.checkDeviceBound(ctx) }()
	go func() { defer wg.Done(); idleErr = a.checkIdle(ctx, idleS, ck, s.me) }()
	go func() { defer wg.Done(); absErr = a.checkAbsolute(ctx, absS, ck, s.me) }()
	wg.Wait()
	return errors.Join(idleErr, absErr)
}

// longestLived returns the cookie the browser keeps longest (a
// persistent one over a browser-session one), which decides what the
// session's cookies declare about its lifetime.
func longestLived(cks []*Cookie, now time.Time) *Cookie {
	var best *Cookie
	var bestLife time.Duration
	bestPersistent := false
	for _, ck := range cks {
		life, persistent := ck.Lifetime(now)
		if best == nil || persistent && (!bestPersistent || life > bestLife) {
			best, bestLife, bestPersistent = ck, life, persistent
		}
	}
	return best
}
