package audit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// oneYear is the HSTS max-age browsers' preload lists require.
const oneYear = 365 * 24 * time.Hour

// farFuture is a cookie lifetime that amounts to "never expires".
const farFuture = 30 * 24 * time.Hour

// checkTransport runs https-redirect and hsts. first is the response to
// the target URL.
func (a *auditor) checkTransport(ctx context.Context, first *exchange) {
	var secure *exchange
	if a.target.Scheme == "https" {
		secure = first
		httpURL := a.cfg.HTTPURL
		if httpURL == "" {
			u := *a.target
			u.Scheme, u.Host = "http", a.target.Hostname()
			if strings.Contains(u.Host, ":") {
				u.Host = "[" + u.Host + "]"
			}
			httpURL = u.String()
		}
		ex, err := a.newClient().do(ctx, "GET", httpURL, nil)
		switch {
		case err != nil:
			a.add(result(CheckHTTPSRedirect, Warn,
				fmt.Sprintf("could not reach the plain-HTTP entry point %s (%v), so the redirect could not be verified", redactRaw(httpURL), trimErr(err)),
				"Serve plain HTTP only to redirect to HTTPS (301 or 308 to the same host), or pass --http-url to the plain-HTTP entry point."))
		default:
			a.judgeRedirect(ex)
		}
	} else {
		a.judgeRedirect(first)
		if isRedirect(first.Status) {
			if loc, err := first.URL.Parse(first.Location); err == nil && loc.Scheme == "https" && loc.Hostname() == a.target.Hostname() {
				if ex, err := a.newClient().do(ctx, "GET", loc.String(), nil); err == nil {
					secure = ex
				}
			}
		}
	}
	a.judgeHSTS(secure)
}

func (a *auditor) judgeRedirect(ex *exchange) {
	where := fmt.Sprintf("GET %s answered %d", redactURL(ex.URL), ex.Status)
	if !isRedirect(ex.Status) {
		ev := where + " over plain HTTP without redirecting to HTTPS: anything sent there, session cookies included, travels in clear text"
		if isLoopback(ex.URL.Hostname()) {
			ev += " (the target is a loopback address: if a proxy terminates TLS in front of it in production, audit the public https:// URL too)"
		}
		a.add(result(CheckHTTPSRedirect, Fail, ev,
			"Redirect every plain-HTTP request to the same URL on HTTPS with 301 or 308, and set HSTS."))
		return
	}
	loc, err := ex.URL.Parse(ex.Location)
	if err != nil || loc.Scheme != "https" {
		a.add(result(CheckHTTPSRedirect, Fail, fmt.Sprintf("%s, but to %q, which is not HTTPS", where, redactLocation(ex.Location)),
			"Redirect plain HTTP to HTTPS on the same host."))
		return
	}
	if loc.Hostname() != ex.URL.Hostname() {
		a.add(result(CheckHTTPSRedirect, Warn, fmt.Sprintf("%s to HTTPS on another host (%s)", where, loc.Hostname()),
			"Redirect to HTTPS on the same host first, so HSTS is set for the host the user typed."))
		return
	}
	ev := fmt.Sprintf("%s to %s", where, redactURL(loc))
	if ex.Status == 302 || ex.Status == 307 {
		ev += " (a temporary redirect: 301 or 308 lets browsers remember it)"
	}
	a.add(result(CheckHTTPSRedirect, Pass, ev, ""))
}

// hsts is a parsed Strict-Transport-Security header.
type hsts struct {
	maxAge            int64
	includeSubDomains bool
	preload           bool
}

// parseHSTS parses a Strict-Transport-Security value per RFC 6797:
// directives separated by ";", names case-insensitive, values optionally
// quoted, each directive at most once, max-age required.
func parseHSTS(v string) (*hsts, error) {
	h := &hsts{maxAge: -1}
	seen := map[string]bool{}
	for _, d := range strings.Split(v, ";") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		name, val, _ := strings.Cut(d, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.Trim(strings.TrimSpace(val), `"`)
		if seen[name] {
			return nil, fmt.Errorf("audit: HSTS directive %s appears twice", name)
		}
		seen[name] = true
		switch name {
		case "max-age":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("audit: HSTS max-age %q is not a non-negative integer", val)
			}
			h.maxAge = n
		case "includesubdomains":
			h.includeSubDomains = true
		case "preload":
			h.preload = true
		}
	}
	if h.maxAge < 0 {
		return nil, fmt.Errorf("audit: HSTS header has no max-age")
	}
	return h, nil
}

func (a *auditor) judgeHSTS(ex *exchange) {
	rec := "Send Strict-Transport-Security: max-age=63072000; includeSubDomains on every HTTPS response (add preload once every subdomain is HTTPS)."
	if ex == nil {
		a.add(result(CheckHSTS, Fail, "no HTTPS response to examine: the application is served over plain HTTP, where browsers ignore HSTS", "Serve the application over HTTPS only. "+rec))
		return
	}
	vals := ex.Header.Values("Strict-Transport-Security")
	if len(vals) == 0 {
		a.add(result(CheckHSTS, Fail, fmt.Sprintf("GET %s over HTTPS has no Strict-Transport-Security header", redactURL(ex.URL)), rec))
		return
	}
	h, err := parseHSTS(vals[0])
	ev := fmt.Sprintf("Strict-Transport-Security: %s", vals[0])
	if len(vals) > 1 {
		ev += fmt.Sprintf(" (%d headers; browsers use only the first)", len(vals))
	}
	if err != nil {
		a.add(result(CheckHSTS, Fail, ev+": "+strings.TrimPrefix(err.Error(), "audit: ")+", so browsers ignore it", rec))
		return
	}
	age := time.Duration(h.maxAge) * time.Second
	switch {
	case h.maxAge == 0:
		a.add(result(CheckHSTS, Fail, ev+": max-age=0 tells browsers to forget HSTS", rec))
	case age < oneYear:
		a.add(result(CheckHSTS, Warn, fmt.Sprintf("%s: max-age is %s, less than one year", ev, fmtDuration(age)), rec))
	case !h.includeSubDomains:
		a.add(result(CheckHSTS, Warn, ev+": no includeSubDomains, so a sibling host over HTTP can still plant cookies", rec))
	default:
		if h.preload {
			ev += " (preload: eligible for browsers' preload lists)"
		} else {
			ev += " (info: no preload directive)"
		}
		a.add(result(CheckHSTS, Pass, ev, ""))
	}
}

// redactedHeader renders a Set-Cookie header with the value replaced by
// its length.
func redactedHeader(c *Cookie) string {
	rest := ""
	if i := strings.IndexByte(c.Raw, ';'); i >= 0 {
		rest = c.Raw[i:]
	}
	return fmt.Sprintf("%s=<%d-byte value>%s", c.Name, len(c.Value), rest)
}

// checkAttributes judges the session cookie's attributes. ck is the cookie
// as set at login (or the only one seen); pre, when non-nil, the
// pre-login Set-Cookie of the same name.
func (a *auditor) checkAttributes(ck *Cookie, how string, pre *Cookie) {
	base := how + ". Set-Cookie: " + redactedHeader(ck)
	preNote := func(bad bool, what string) (Status, string) {
		if pre != nil && bad {
			return Warn, fmt.Sprintf("; but the pre-login Set-Cookie (%s) lacks %s", redactedHeader(pre), what)
		}
		return Pass, ""
	}
	if ck.Secure {
		st, note := preNote(!pre.secureOK(), "Secure")
		if a.target.Scheme == "http" {
			note += "; " + a.secureOverHTTPNote()
		}
		a.add(result(CheckCookieSecure, st, base+note, "Set Secure on the session cookie every time it is sent."))
	} else {
		a.add(result(CheckCookieSecure, Fail, base+": no Secure attribute, so the browser also sends the cookie over plain HTTP, where anyone on the path can read it",
			"Serve the application over HTTPS and set Secure on the session cookie."))
	}
	if ck.HttpOnly {
		st, note := preNote(pre != nil && !pre.HttpOnly, "HttpOnly")
		a.add(result(CheckCookieHTTPOnly, st, base+note, "Set HttpOnly on the session cookie every time it is sent."))
	} else {
		a.add(result(CheckCookieHTTPOnly, Fail, base+": no HttpOnly attribute, so any script in the page (including injected ones) can read the token",
			"Set HttpOnly on the session cookie."))
	}
	rec := "Set SameSite=Lax (or Strict) on the session cookie."
	switch mode := ck.SameSiteMode(); mode {
	case "Lax", "Strict":
		st, note := preNote(pre != nil && pre.SameSiteMode() != "Lax" && pre.SameSiteMode() != "Strict", "SameSite=Lax or Strict")
		a.add(result(CheckCookieSameSite, st, base+": SameSite="+mode+note, rec))
	case "":
		a.add(result(CheckCookieSameSite, Fail, base+": no SameSite attribute; browsers without a Lax default send the cookie on cross-site requests (CSRF)", rec))
	case "None":
		a.add(result(CheckCookieSameSite, Fail, base+": SameSite=None sends the cookie on every cross-site request (CSRF)", rec))
	default:
		a.add(result(CheckCookieSameSite, Fail, fmt.Sprintf("%s: SameSite=%q is not a value browsers know, so they ignore it", base, ck.SameSite), rec))
	}
	a.checkScope(ck, base)
	size := len(ck.Name) + len(ck.Value)
	switch {
	case size > 4096:
		a.add(result(CheckCookieSize, Fail, fmt.Sprintf("%s: name and value are %d bytes, over the 4096 bytes browsers keep, so the cookie is dropped", base, size),
			"Keep session data on the server and send only an identifier."))
	case size > 3072:
		a.add(result(CheckCookieSize, Warn, fmt.Sprintf("%s: name and value are %d bytes, close to the 4096-byte limit; more session data will make browsers drop it", base, size),
			"Keep session data on the server and send only an identifier."))
	default:
		a.add(result(CheckCookieSize, Pass, fmt.Sprintf("cookie %q: name and value are %d bytes (limit 4096)", ck.Name, size), ""))
	}
}

func (c *Cookie) secureOK() bool { return c == nil || c.Secure }

// secureOverHTTPNote explains what a Secure cookie set over plain HTTP
// means: browsers accept one only from a host they count as a secure
// context.
func (a *auditor) secureOverHTTPNote() string {
	if isLoopback(a.target.Hostname()) {
		return "the target is served over plain HTTP on a loopback address, which browsers count as a secure context, so they keep and send this cookie; see https-redirect and hsts for the transport"
	}
	return "the target is served over plain HTTP, and browsers refuse a Secure cookie set over plain HTTP by a host other than loopback, so a browser gets no session here: serve the application over HTTPS (see https-redirect)"
}

// isLoopback reports whether host (a URL's Hostname) is one browsers treat
// as a potentially trustworthy origin over plain HTTP: localhost and its
// subdomains, 127.0.0.0/8 and ::1.
func isLoopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback()
}

// checkScope judges cookie-host-prefix: prefix rules and Domain scope.
func (a *auditor) checkScope(ck *Cookie, base string) {
	host := strings.ToLower(a.target.Hostname())
	rec := "Name the session cookie with the __Host- prefix (which requires Secure, Path=/ and no Domain)."
	switch {
	case strings.HasPrefix(ck.Name, "__Host-"):
		var bad []string
		if !ck.Secure {
			bad = append(bad, "Secure is missing")
		}
		if ck.Path != "/" {
			bad = append(bad, fmt.Sprintf("Path is %q, not /", ck.Path))
		}
		if ck.Domain != "" {
			bad = append(bad, "Domain is set")
		}
		if len(bad) > 0 {
			a.add(result(CheckCookieHostPrefix, Fail, base+": __Host- prefix but "+strings.Join(bad, ", ")+"; browsers reject the cookie", rec))
			return
		}
		a.add(result(CheckCookieHostPrefix, Pass, base+": __Host- prefix with Secure, Path=/ and no Domain: only this host can set or read it", ""))
	case ck.Domain != "" && ck.Domain != host:
		a.add(result(CheckCookieHostPrefix, Fail, fmt.Sprintf("%s: Domain=%s scopes the cookie to every host under %s, not just %s", base, ck.Domain, ck.Domain, host),
			"Drop the Domain attribute so the cookie stays on this host; "+rec))
	case ck.Domain != "":
		a.add(result(CheckCookieHostPrefix, Warn, fmt.Sprintf("%s: Domain=%s also sends the cookie to every subdomain of %s", base, ck.Domain, host),
			"Drop the Domain attribute; "+rec))
	case strings.HasPrefix(ck.Name, "__Secure-"):
		if !ck.Secure {
			a.add(result(CheckCookieHostPrefix, Fail, base+": __Secure- prefix without Secure; browsers reject the cookie", rec))
			return
		}
		a.add(result(CheckCookieHostPrefix, Warn, base+": __Secure- prefix; __Host- would also lock the cookie to this host and path", rec))
	default:
		a.add(result(CheckCookieHostPrefix, Warn, base+": host-only cookie (no Domain), but without the __Host- prefix a sibling subdomain can still plant a cookie of the same name", rec))
	}
}

// fabricate returns a token of the same shape as tok (each letter or digit
// replaced by a random one of the same kind) that the server never issued.
// Percent-escapes (a URL-encoded ":" in "s%3A...") are kept, so the token
// still decodes the same way. A token with nothing to replace gets a digit
// appended.
func fabricate(tok string) string {
	var pos []int
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c == '%' && i+2 < len(tok) && isHex(tok[i+1]) && isHex(tok[i+2]) {
			i += 2
			continue
		}
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			pos = append(pos, i)
		}
	}
	if len(pos) == 0 {
		return tok + strconv.Itoa(rand.IntN(10))
	}
	b := []byte(tok)
	for {
		for _, i := range pos {
			switch c := b[i]; {
			case c >= '0' && c <= '9':
				b[i] = byte('0' + rand.IntN(10))
			case c >= 'a' && c <= 'z':
				b[i] = byte('a' + rand.IntN(26))
			default:
				b[i] = byte('A' + rand.IntN(26))
			}
		}
		if string(b) != tok {
			return string(b)
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// madeUpToken returns a token the server never issued, shaped like tok.
// For an Express signed cookie whose secret was found, the made-up ID is
// signed with it, so the token passes the signature check and the test
// asks what matters: whether the server adopts an ID it did not issue.
func (a *auditor) madeUpToken(tok string) (fake, note string) {
	a.mu.Lock()
	key := a.expressKey
	a.mu.Unlock()
	if e, err := ParseExpress(tok); err == nil && e.Value != "" {
		if key != "" {
			return SignExpress(key, fabricate(e.Value)), " (signed with the weak secret found, so it passed the signature check)"
		}
		return fabricate(tok), " (its signature is not valid, as the secret is unknown, so this shows only that a bad signature is refused)"
	}
	return fabricate(tok), ""
}

// checkFixation runs session-fixation: it replays the token issued before
// login, and logs in on a fresh client presenting a token the server never
// issued. Both are always tried, so a report names every way an attacker
// can fix a victim's session: planting a token the server issued to the
// attacker, or planting one the attacker made up (PHP's
// session.use_strict_mode=0, for one, adopts any well-formed ID).
func (a *auditor) checkFixation(ctx context.Context, s *session, name string) {
	rec := "Issue a new session ID at login (and on any privilege change), delete the old one on the server, and never adopt an ID the server did not issue."
	post, _ := s.c.value(name)
	var fails, notes []string
	unsure := false
	if pre, ok := s.pre[name]; ok && pre != "" {
		auth, st, err := a.authenticated(ctx, map[string]string{name: pre})
		switch {
		case err != nil:
			unsure = true
			notes = append(notes, "could not replay the pre-login token: "+trimErr(err))
		case auth:
			same := ""
			if pre == post {
				same = " (the server kept the same value at login)"
			}
			fails = append(fails, fmt.Sprintf("the %q token issued before login is authenticated after login%s: an attacker who plants a token in a victim's browser is logged in as the victim once the victim logs in", name, same))
		default:
			notes = append(notes, fmt.Sprintf("the token issued before login answered %d on %s after login (a new token was issued)", st, a.cfg.MePath))
		}
	} else {
		notes = append(notes, "no session cookie was issued before login")
	}
	fake, how := a.madeUpToken(post)
	g := a.newClient()
	g.set(name, fake)
	if _, err := a.login(ctx, g); err != nil {
		notes = append(notes, "logging in while presenting a made-up token failed ("+trimErr(err)+")")
	}
	auth, st, err := a.authenticated(ctx, map[string]string{name: fake})
	switch {
	case err != nil:
		unsure = true
		notes = append(notes, "could not test a made-up token: "+trimErr(err))
	case auth:
		fails = append(fails, fmt.Sprintf("a %q token made up by the client (never issued by the server)%s became authenticated when a login was made with it: the server adopts client-chosen session IDs, so an attacker need not even visit the site first", name, how))
	default:
		notes = append(notes, fmt.Sprintf("a made-up token presented at login%s was not adopted (it answered %d afterwards)", how, st))
	}
	switch {
	case len(fails) > 0:
		a.add(result(CheckSessionFixation, Fail, strings.Join(append(fails, notes...), "; "), rec))
	case unsure:
		a.add(result(CheckSessionFixation, Warn, strings.Join(notes, "; "), rec))
	default:
		a.add(result(CheckSessionFixation, Pass, strings.Join(notes, "; "), ""))
	}
}

func (a *auditor) checkLogout(ctx context.Context, s *session, name string) {
	rec := "On logout, delete the session on the server (not only the cookie), so a copied token stops working."
	old, _ := s.c.value(name)
	form := url.Values{}
	if home, err := s.c.do(ctx, "GET", a.target.String(), nil); err == nil && home.Status == 200 {
		form = hiddenInputs(home.Body)
	}
	ex, err := s.c.do(ctx, "POST", a.cfg.LogoutPath, form)
	if err == nil && (ex.Status == 404 || ex.Status == 405) {
		ex, err = s.c.do(ctx, "GET", a.cfg.LogoutPath, nil)
	}
	if err == nil {
		ex, err = s.c.follow(ctx, ex)
	}
	if err != nil {
		a.add(result(CheckLogout, Warn, "logout request failed: "+trimErr(err), rec))
		return
	}
	if ex.Status >= 400 {
		a.add(result(CheckLogout, Skip, fmt.Sprintf("%s %s answered %d, so logout could not be tested", ex.Method, a.cfg.LogoutPath, ex.Status),
			"Pass --logout-path to the application's logout endpoint."))
		return
	}
	cleared := "left the cookie in place"
	if now, still := s.c.value(name); !still {
		cleared = "deleted the cookie in the browser"
	} else if now != old {
		cleared = "replaced the cookie"
	}
	auth, st, err := a.authenticated(ctx, map[string]string{name: old})
	if err != nil {
		a.add(result(CheckLogout, Warn, "could not replay the old token: "+trimErr(err), rec))
		return
	}
	if auth {
		a.add(result(CheckLogout, Fail, fmt.Sprintf("logout (%s) %s, but the old %q token replayed afterwards is still authenticated on %s: anyone holding a copy keeps the session", a.cfg.LogoutPath, cleared, name, a.cfg.MePath), rec))
		return
	}
	a.add(result(CheckLogout, Pass, fmt.Sprintf("logout (%s) %s; the old token replayed afterwards answered %d", a.cfg.LogoutPath, cleared, st), ""))
}

// declared describes what the cookie and the authenticated page say about
// the session's lifetime.
func (a *auditor) declared(ck *Cookie, me *exchange, key string) (string, time.Duration, bool) {
	now := a.cfg.Now()
	life, persistent := ck.Lifetime(now)
	ev := "the cookie is a browser-session cookie (no Max-Age or Expires)"
	if persistent {
		ev = fmt.Sprintf("the cookie asks the browser to keep it for %s", fmtDuration(life))
	}
	if me != nil {
		if m := deadlineRe(key).FindSubmatch(me.Body); m != nil {
			if t, err := time.Parse(time.RFC3339Nano, string(m[2])); err == nil {
				ev += fmt.Sprintf("; %s declares %s = %s (%s after login)", a.cfg.MePath, m[1], m[2], fmtDuration(t.Sub(me.At)))
			}
		}
	}
	return ev, life, persistent
}

func deadlineRe(key string) *regexp.Regexp {
	return regexp.MustCompile(`"([a-z_]*` + key + `[a-z_]*(?:expires?|deadline)[a-z_]*)"\s*:\s*"([^"]+)"`)
}

// freshSession logs in on a fresh client.
func (a *auditor) freshSession(ctx context.Context) (*session, error) {
	return a.login(ctx, a.newClient())
}

// wait sleeps d in steps of at most a second, reporting progress.
func (a *auditor) wait(ctx context.Context, task string, d time.Duration) error {
	start := a.cfg.Now()
	total := int(d.Round(time.Second) / time.Second)
	for {
		left := d - a.cfg.Now().Sub(start)
		if left <= 0 {
			a.progress(task, total, total)
			return nil
		}
		a.progress(task, int(a.cfg.Now().Sub(start)/time.Second), total)
		if err := a.cfg.Sleep(ctx, min(left, time.Second)); err != nil {
			return fmt.Errorf("audit: %s: %w", task, err)
		}
	}
}

// checkIdle runs idle-timeout; s is a fresh session, nil without a wait.
func (a *auditor) checkIdle(ctx context.Context, s *session, ck *Cookie, me *exchange) error {
	rec := "End sessions on the server after an idle period (OWASP suggests 15 to 30 minutes for most applications), from a last-seen time kept in the session record."
	ev, life, persistent := a.declared(ck, me, "idle")
	if s == nil {
		if persistent && life > farFuture {
			a.add(result(CheckIdleTimeout, Warn, ev+": far in the future; not measured (pass --idle-wait D to measure)", rec))
			return nil
		}
		a.add(result(CheckIdleTimeout, Skip, ev+"; not measured: pass --idle-wait D to wait D and check the session has ended", ""))
		return nil
	}
	if err := a.wait(ctx, "idle wait", a.cfg.IdleWait); err != nil {
		return err
	}
	ex, err := s.c.do(ctx, "GET", a.cfg.MePath, nil)
	if err != nil {
		return err
	}
	if ex.Status == 200 {
		a.add(result(CheckIdleTimeout, Fail, fmt.Sprintf("after %s without a request the session is still authenticated (%s answered 200); %s", fmtDuration(a.cfg.IdleWait), a.cfg.MePath, ev), rec))
		return nil
	}
	a.add(result(CheckIdleTimeout, Pass, fmt.Sprintf("after %s without a request %s answered %d: the session had ended; %s", fmtDuration(a.cfg.IdleWait), a.cfg.MePath, ex.Status, ev), ""))
	return nil
}

// checkAbsolute runs absolute-timeout; s is a fresh session, nil without
// a wait.
func (a *auditor) checkAbsolute(ctx context.Context, s *session, ck *Cookie, me *exchange) error {
	rec := "End every session on the server a fixed time after login (for example 12 hours), whatever its activity, from the authentication time kept in the session record."
	ev, life, persistent := a.declared(ck, me, "absolute")
	if s == nil {
		if persistent && life > farFuture {
			a.add(result(CheckAbsoluteTimeout, Warn, ev+": far in the future; not measured (pass --absolute-wait D to measure)", rec))
			return nil
		}
		a.add(result(CheckAbsoluteTimeout, Skip, ev+"; not measured: pass --absolute-wait D to keep a session busy for D and check it ends", ""))
		return nil
	}
	interval := min(max(a.cfg.AbsoluteWait/30, 500*time.Millisecond), time.Minute)
	if a.cfg.IdleWait > 0 {
		interval = max(min(interval, a.cfg.IdleWait/4), 250*time.Millisecond)
	}
	start := a.cfg.Now()
	total := int(a.cfg.AbsoluteWait.Round(time.Second) / time.Second)
	requests := 0
	for {
		elapsed := a.cfg.Now().Sub(start)
		a.progress("absolute wait", int(elapsed/time.Second), total)
		ex, err := s.c.do(ctx, "GET", a.cfg.MePath, nil)
		if err != nil {
			return err
		}
		requests++
		if ex.Status != 200 {
			a.progress("absolute wait", total, total)
			a.add(result(CheckAbsoluteTimeout, Pass, fmt.Sprintf("kept busy with a request every %s, the session ended after %s (%s answered %d on request %d); %s",
				fmtDuration(interval), fmtDuration(elapsed), a.cfg.MePath, ex.Status, requests, ev), ""))
			return nil
		}
		if elapsed >= a.cfg.AbsoluteWait {
			a.progress("absolute wait", total, total)
			a.add(result(CheckAbsoluteTimeout, Fail, fmt.Sprintf("kept busy with a request every %s, the session was still authenticated after %s (%d requests); %s",
				fmtDuration(interval), fmtDuration(elapsed), requests, ev), rec))
			return nil
		}
		if err := a.cfg.Sleep(ctx, min(interval, a.cfg.AbsoluteWait-elapsed)); err != nil {
			return fmt.Errorf("audit: absolute wait: %w", err)
		}
	}
}

// sampleTokens collects cfg.Samples tokens of cookie name with get and
// judges them; what names them in the evidence.
func (a *auditor) sampleTokens(ctx context.Context, name, what string, get func(context.Context) (string, error)) {
	n := a.cfg.Samples
	if n == 0 {
		n = 200
	}
	var tokens []string
	failures := 0
	var lastErr error
	for i := range n {
		a.progress("sampling tokens", i, n)
		v, err := get(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			lastErr = err
			if failures > n/10+1 {
				break
			}
			continue
		}
		if v == "" {
			failures++
			lastErr = fmt.Errorf("no %q cookie was set", name)
			continue
		}
		tokens = append(tokens, v)
	}
	a.progress("sampling tokens", n, n)
	rec := "Generate session IDs from a CSPRNG with at least 128 bits (latch uses 256), encoded without structure."
	if len(tokens) < 2 {
		why := fmt.Sprintf("collected %d tokens for cookie %q", len(tokens), name)
		if lastErr != nil {
			why += " (last error: " + trimErr(lastErr) + ")"
		}
		a.add(result(CheckTokenEntropy, Skip, why, ""))
		return
	}
	st := AnalyzeTokens(tokens)
	a.mu.Lock()
	a.entropy = st
	a.mu.Unlock()
	ev := fmt.Sprintf("%d tokens: %s (%d distinct, length %d-%d, %s alphabet): estimated min-entropy %.1f bits (sum of per-position most-common-value estimates), capacity %.1f bits; ",
		st.Samples, what, st.Distinct, st.MinLen, st.MaxLen, st.Alphabet, st.Estimate, st.Capacity)
	if failures > 0 {
		ev = fmt.Sprintf("%d of %d attempts to get a token failed (last: %s); ", failures, n, trimErr(lastErr)) + ev
	}
	if st.FIPS != nil {
		ev += fmt.Sprintf("FIPS 140-2 on %d bits: monobit %s (%d ones), poker %s (X=%.2f), runs %s, long run %s (longest %d)",
			FIPSBits, passWord(st.FIPS.Monobit), st.FIPS.Ones, passWord(st.FIPS.Poker), st.FIPS.PokerX, passWord(st.FIPS.Runs), passWord(st.FIPS.LongRun), st.FIPS.LongestRun)
	} else {
		ev += "FIPS 140-2 tests not run: " + st.FIPSReason
	}
	switch {
	case st.Duplicates > 0:
		a.add(result(CheckTokenEntropy, Fail, fmt.Sprintf("%d of %d tokens were duplicates; ", st.Duplicates, st.Samples)+ev, rec))
	case st.Sequential:
		a.add(result(CheckTokenEntropy, Fail, fmt.Sprintf("tokens are sequential: consecutive tokens differ by a median of %d, so the next one can be guessed; ", st.MedianStep)+ev, rec))
	case st.Capacity < MinEntropyBits:
		a.add(result(CheckTokenEntropy, Fail, fmt.Sprintf("the varying part of the token can carry at most %.1f bits, below %d; ", st.Capacity, MinEntropyBits)+ev, rec))
	case st.FIPS != nil && !st.FIPS.Passed():
		a.add(result(CheckTokenEntropy, Fail, "the token bits fail the FIPS 140-2 statistical tests"+detail(st.FIPS)+"; "+ev, rec))
	case st.Estimate >= MinEntropyBits:
		a.add(result(CheckTokenEntropy, Pass, ev+"; per-position statistics cannot see structure across positions (a hashed counter looks random)", ""))
	case st.Estimate >= 0.85*st.UniformEstimate:
		a.add(result(CheckTokenEntropy, Warn, fmt.Sprintf("sample too small to prove %d bits: a uniform source with this layout would show %.1f bits at %d samples, and the tokens show %.1f; ", MinEntropyBits, st.UniformEstimate, st.Samples, st.Estimate)+ev,
			"Run again with more --samples to prove at least 64 bits; "+rec))
	default:
		a.add(result(CheckTokenEntropy, Fail, fmt.Sprintf("estimated %.1f bits, below %d, and below the %.1f bits a uniform source would show at this sample size; ", st.Estimate, MinEntropyBits, st.UniformEstimate)+ev, rec))
	}
}

func detail(f *FIPSResult) string {
	var parts []string
	if !f.Monobit {
		parts = append(parts, fmt.Sprintf("monobit: %d ones of %d", f.Ones, FIPSBits))
	}
	if !f.Poker {
		parts = append(parts, fmt.Sprintf("poker: X=%.2f", f.PokerX))
	}
	if !f.Runs {
		parts = append(parts, "runs: "+f.RunsDetail)
	}
	if !f.LongRun {
		parts = append(parts, fmt.Sprintf("long run: %d equal bits", f.LongestRun))
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func passWord(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

// sessionParams are query parameter names that carry session IDs.
var sessionParams = map[string]bool{"sid": true, "session": true, "sessionid": true, "session_id": true,
	"jsessionid": true, "phpsessid": true, "sess": true, "token": true, "auth": true, "s": false}

var linkRe = regexp.MustCompile(`(?i)(?:href|src|action|formaction)\s*=\s*["']([^"']{1,1000})["']`)

// checkSessionInURL looks for the token, or a session parameter, in every
// URL the target sent: redirect locations and links in pages.
func (a *auditor) checkSessionInURL(token string, history []*exchange) {
	rec := "Keep the session ID in a cookie only; never put it in URLs, where it leaks through logs, history and Referer headers."
	var urls []string
	for _, ex := range history {
		if ex.Location != "" {
			urls = append(urls, "redirect "+ex.Location)
		}
		for _, m := range linkRe.FindAllSubmatch(ex.Body, 500) {
			urls = append(urls, "link "+htmlUnescape(string(m[1])))
		}
	}
	for _, u := range urls {
		kind, raw, _ := strings.Cut(u, " ")
		if len(token) >= 6 && (strings.Contains(raw, token) || strings.Contains(raw, url.QueryEscape(token))) {
			a.add(result(CheckSessionInURL, Fail, fmt.Sprintf("the session token appears in a %s URL: %s", kind, redactLocation(strings.ReplaceAll(raw, token, "<session token>"))), rec))
			return
		}
		if strings.Contains(strings.ToLower(raw), ";jsessionid=") {
			a.add(result(CheckSessionInURL, Fail, fmt.Sprintf("a %s URL carries ;jsessionid=: %s", kind, redactLocation(raw)), rec))
			return
		}
		if p, err := url.Parse(raw); err == nil {
			for k := range p.Query() {
				if sessionParams[strings.ToLower(k)] {
					a.add(result(CheckSessionInURL, Fail, fmt.Sprintf("a %s URL carries a session parameter %q: %s", kind, k, redactLocation(raw)), rec))
					return
				}
			}
		}
	}
	a.add(result(CheckSessionInURL, Pass, fmt.Sprintf("%d redirect and link URLs examined; none carries the session token or a session parameter", len(urls)), ""))
}

// redactLocation replaces query values with "…" except the marker the
// caller put in.
func redactLocation(s string) string {
	p, err := url.Parse(s)
	if err != nil || p.RawQuery == "" {
		return s
	}
	q := p.Query()
	for k, vs := range q {
		for i, v := range vs {
			if v != "<session token>" {
				vs[i] = "…"
			}
		}
		q[k] = vs
	}
	p.RawQuery = strings.NewReplacer("%3Csession+token%3E", "<session token>", "%E2%80%A6", "…").Replace(q.Encode())
	return p.String()
}

func trimErr(err error) string { return strings.TrimPrefix(err.Error(), "audit: ") }

// fmtDuration renders d compactly: "90d", "12h0m0s", "4s", "500ms".
func fmtDuration(d time.Duration) string {
	if d >= 72*time.Hour || d <= -72*time.Hour {
		return fmt.Sprintf("%dd", int64(d/(24*time.Hour)))
	}
	if d < 10*time.Second && d > -10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
