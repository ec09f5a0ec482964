package audit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
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
			a.judgePlainLogin(ctx, ex.URL)
		}
	} else {
		a.judgeRedirect(first)
		a.judgePlainLogin(ctx, first.URL)
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

// judgePlainLogin asks the login page at the plain-HTTP entry point
// base too: one that redirects its home page to HTTPS but serves the
// login form in clear text takes passwords in clear text, so the worse
// of the two verdicts stands.
func (a *auditor) judgePlainLogin(ctx context.Context, base *url.URL) {
	if a.cfg.LoginPath == "" {
		return
	}
	u, err := base.Parse(a.cfg.LoginPath)
	if err != nil || u.String() == base.String() {
		return
	}
	ex, err := a.newClient().do(ctx, "GET", u.String(), nil)
	if err != nil {
		return
	}
	for _, r := range a.collect(func() { a.judgeRedirect(ex) }) {
		a.worsen(r)
	}
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

// checkFixation runs session-fixation. It plays the attack: the cookies a
// browser held before login (which an attacker can plant), and on a
// second client made-up values for every session cookie, are each kept
// through a login; then the cookies the attacker knows are replayed: the
// planted ones, plus any the login set to the same value on both logins
// (a "uid=alice" anyone can write). Both ways are always tried, so a
// report names every way an attacker can fix a victim's session (PHP's
// session.use_strict_mode=0, for one, adopts any well-formed ID). A
// session cookie that kept its planted value while the replay was not
// authenticated (the rest of the session was renewed) is a warning: the
// values are compared, never assumed renewed.
func (a *auditor) checkFixation(ctx context.Context, s *session, jar cookieState, id *identity) {
	rec := "Issue a new session ID at login (and on any privilege change), delete the old one on the server, and never adopt an ID the server did not issue."
	var fails, warns, notes []string
	unsure := false
	// The second login, presenting made-up values for every session cookie.
	var fakes cookieState
	how := ""
	for _, n := range id.members {
		v, _ := jar.value(n)
		fake, note := a.madeUpToken(v)
		fakes = append(fakes, cookiePair{Name: n, Value: fake})
		how = note
	}
	g := a.clientWith(fakes)
	var other cookieState
	if _, err := a.login(ctx, g); err != nil {
		notes = append(notes, "logging in while presenting a made-up token failed ("+trimErr(err)+")")
	} else {
		other = stateOf(g)
	}
	if len(s.pre) > 0 {
		f, w, n, u := a.fixedBy(ctx, s.pre, jar, other, id, false, "")
		fails, warns, notes, unsure = append(fails, f...), append(warns, w...), append(notes, n...), unsure || u
	} else {
		notes = append(notes, "no session cookie was issued before login")
	}
	// When the login refused the made-up tokens (other is nil), whether
	// they alone are authenticated is still worth asking.
	f, w, n, u := a.fixedBy(ctx, fakes, other, jar, id, true, how)
	fails, warns, notes, unsure = append(fails, f...), append(warns, w...), append(notes, n...), unsure || u
	switch {
	case len(fails) > 0:
		a.add(result(CheckSessionFixation, Fail, strings.Join(append(append(fails, warns...), notes...), "; "), rec))
	case len(warns) > 0 || unsure:
		a.add(result(CheckSessionFixation, Warn, strings.Join(append(warns, notes...), "; "), rec))
	case id.ambiguous != "":
		a.add(result(CheckSessionFixation, Warn, strings.Join(notes, "; ")+"; but the session's cookies could not be identified for certain ("+id.ambiguous+"), so a cookie the login kept may have been missed", rec))
	default:
		a.add(result(CheckSessionFixation, Pass, strings.Join(notes, "; "), ""))
	}
}

// fixedBy judges one fixation attempt: planted is what the attacker put
// in the victim's browser (made up by the client when madeUp, with how
// saying how), victim what the victim's browser held after logging in
// (nil when that login failed), other another login's cookies. It
// returns evidence of failures, warnings and passes, and whether an
// answer was inconclusive.
func (a *auditor) fixedBy(ctx context.Context, planted, victim, other cookieState, id *identity, madeUp bool, how string) (fails, warns, notes []string, unsure bool) {
	what, kind := "the token issued before login", "pre-login"
	if madeUp {
		what, kind = fmt.Sprintf("a %s token made up by the client (never issued by the server)%s", quoteNames(planted.names()), how), "made-up"
	}
	known := slices.Clone(planted)
	var predictable []string
	for _, p := range victim {
		if _, ok := planted.value(p.Name); ok {
			continue
		}
		if v, ok := other.value(p.Name); ok && v == p.Value {
			known = append(known, p)
			predictable = append(predictable, p.Name)
		}
	}
	var kept []string
	for _, n := range id.members {
		if id.presenceOnly[n] {
			continue // any value will do: keeping it fixes nothing
		}
		pv, ok1 := planted.value(n)
		vv, ok2 := victim.value(n)
		if ok1 && ok2 && pv == vv {
			kept = append(kept, n)
		}
	}
	plus := ""
	if len(predictable) > 0 {
		plus = fmt.Sprintf(" (with %s, which the login set to the same value on two logins)", quoteNames(predictable))
	}
	v, err := a.askWithEnded(ctx, known)
	if err != nil {
		return nil, nil, []string{"could not replay the " + kind + " token: " + trimErr(err)}, true
	}
	if v.state != authYes {
		// Each credential the attacker knows whole is replayed on its own
		// too: among the cookies the attacker knows, one the login
		// deleted (a guest cookie) can mask a session cookie the login
		// kept, and an attacker plants only what works.
		for _, c := range id.creds {
			part := known.only(c)
			if len(part.names()) != len(c) || len(part) == len(known) {
				continue
			}
			w, err := a.askWithEnded(ctx, part)
			if err != nil {
				return nil, nil, []string{"could not replay the " + kind + " token: " + trimErr(err)}, true
			}
			if w.state == authYes || w.state == authUnknown && v.state == authNo {
				v = w
				if w.state == authYes {
					what += fmt.Sprintf(" (%s alone)", cookiesPhrase(c))
					break
				}
			}
		}
	}
	switch v.state {
	case authYes:
		same := ""
		if len(kept) > 0 {
			same = fmt.Sprintf(" (the server kept the same value of %s at login)", listNames(kept))
		}
		if madeUp {
			return []string{fmt.Sprintf("%s%s became authenticated when a login was made with it%s: the server adopts client-chosen session IDs, so an attacker need not even visit the site first", what, plus, same)}, nil, nil, false
		}
		return []string{fmt.Sprintf("%s%s is authenticated after login%s: an attacker who plants a token in a victim's browser is logged in as the victim once the victim logs in", what, plus, same)}, nil, nil, false
	case authUnknown:
		return nil, nil, []string{fmt.Sprintf("could not tell whether %s is authenticated after login: %s", what, v.why)}, true
	}
	if len(kept) > 0 {
		return nil, []string{fmt.Sprintf("%s kept %s value at login; replayed with the cookies the attacker knows%s it was not authenticated (%s answered %s), as other session cookies were set anew, but the session ID was not renewed",
			cookiesPhrase(kept), possessive(kept)+" "+kind, plus, a.cfg.MePath, a.answered(v))}, nil, false
	}
	if madeUp {
		return nil, nil, []string{fmt.Sprintf("a made-up token presented at login%s was not adopted (it answered %s afterwards)", how, a.answered(v))}, false
	}
	if !slices.ContainsFunc(id.members, func(n string) bool { _, ok := planted.value(n); return ok }) {
		return nil, nil, []string{fmt.Sprintf("no session cookie was issued before login (the cookies held then, %s, replayed after login, answered %s)", listNames(planted.names()), a.answered(v))}, false
	}
	return nil, nil, []string{fmt.Sprintf("the token issued before login answered %s on %s after login (a new token was issued)", a.answered(v), a.cfg.MePath)}, false
}

// checkLogout logs out and replays every cookie the browser held before
// logout: any credential among them that still works fails the check.
func (a *auditor) checkLogout(ctx context.Context, s *session, id *identity) {
	rec := "On logout, delete the session on the server (not only the cookie), so a copied token stops working."
	before := stateOf(s.c)
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
	cleared := a.clearedNote(s.c, before, id)
	v, err := a.askWithEnded(ctx, before)
	if err != nil {
		a.add(result(CheckLogout, Warn, "could not replay the old token: "+trimErr(err), rec))
		return
	}
	// Each credential is replayed on its own as well: in the whole state,
	// a cookie the logout invalidated can mask one it did not (an
	// application that ignores a valid remember-me cookie next to a stale
	// session cookie), and an attacker replays only what works.
	var still, unsure []string
	for _, c := range id.creds {
		w, err := a.askWithEnded(ctx, before.only(c))
		if err != nil {
			a.add(result(CheckLogout, Warn, "could not replay the old tokens: "+trimErr(err), rec))
			return
		}
		switch w.state {
		case authYes:
			still = append(still, strings.Join(strings.Split(quoteNames(c), ", "), " with "))
		case authUnknown:
			unsure = append(unsure, fmt.Sprintf("%s on their own: %s", quoteNames(c), w.why))
		}
	}
	switch {
	case v.state == authYes:
		which := ""
		if len(still) > 0 {
			which = " (still authenticated on their own: " + strings.Join(still, "; ") + ")"
		}
		a.add(result(CheckLogout, Fail, fmt.Sprintf("logout (%s) %s, but the old tokens replayed afterwards (every cookie the browser held before logout) are still authenticated on %s%s: anyone holding a copy keeps the session",
			a.cfg.LogoutPath, cleared, a.cfg.MePath, which), rec))
	case len(still) > 0:
		a.add(result(CheckLogout, Fail, fmt.Sprintf("logout (%s) %s; the old tokens replayed together answered %s, but replayed on their own %s %s still authenticated on %s: anyone holding a copy keeps the session",
			a.cfg.LogoutPath, cleared, a.answered(v), strings.Join(still, "; "), map[bool]string{true: "is", false: "are"}[len(still) == 1], a.cfg.MePath), rec))
	case v.state == authUnknown:
		a.add(result(CheckLogout, Warn, fmt.Sprintf("logout (%s) %s, but whether the cookies held before it are still authenticated could not be told: %s", a.cfg.LogoutPath, cleared, v.why), rec))
	case len(unsure) > 0:
		a.add(result(CheckLogout, Warn, fmt.Sprintf("logout (%s) %s; the old tokens replayed together answered %s, but whether each set of session cookies is still authenticated on its own could not be told: %s",
			a.cfg.LogoutPath, cleared, a.answered(v), strings.Join(unsure, "; ")), rec))
	case id.ambiguous != "":
		a.add(result(CheckLogout, Warn, fmt.Sprintf("logout (%s) %s; the old tokens replayed afterwards (every cookie the browser held before logout) answered %s, but the session's cookies could not be identified for certain (%s), so a cookie that outlives logout, masked in the replay by one that does not, may have been missed",
			a.cfg.LogoutPath, cleared, a.answered(v), id.ambiguous), rec))
	default:
		what := "every cookie the browser held before logout"
		if len(id.creds) > 0 {
			what += ", and each set of session cookies on its own"
		}
		a.add(result(CheckLogout, Pass, fmt.Sprintf("logout (%s) %s; the old tokens replayed afterwards (%s) answered %s", a.cfg.LogoutPath, cleared, what, a.answered(v)), ""))
	}
}

// clearedNote says what logout did to the session's cookies in the
// browser.
func (a *auditor) clearedNote(c *client, before cookieState, id *identity) string {
	var order []string
	did := map[string][]string{}
	for _, n := range id.members {
		old, _ := before.value(n)
		now, still := c.value(n)
		what := "left the cookie in place"
		switch {
		case !still:
			what = "deleted the cookie in the browser"
		case now != old:
			what = "replaced the cookie"
		}
		if did[what] == nil {
			order = append(order, what)
		}
		did[what] = append(did[what], n)
	}
	if len(id.members) == 1 {
		return order[0]
	}
	parts := make([]string, len(order))
	for i, what := range order {
		parts[i] = fmt.Sprintf("%s (%s)", what, listNames(did[what]))
	}
	return strings.Join(parts, ", ")
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

// noteLifetime records what a timeout check learnt: the cookie's declared
// lifetime (when persistent), an idle time after which a session was still
// authenticated, or a time by which it had ended (zero: nothing learnt).
// A session kept busy past a lifetime is not recorded as outliving it: a
// lifetime renewed on every request (Flask's permanent sessions) allows
// that.
func (a *auditor) noteLifetime(declared time.Duration, persistent bool, outlived, ended time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if persistent {
		a.life.Declared, a.life.Persistent = declared, true
	}
	a.life.Outlived = max(a.life.Outlived, outlived)
	if ended > 0 && (a.life.Ended == 0 || ended < a.life.Ended) {
		a.life.Ended = ended
	}
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
	a.noteLifetime(life, persistent, 0, 0)
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
	v, err := a.askEnded(ctx, s.c)
	if err != nil {
		return err
	}
	switch v.state {
	case authYes:
		a.noteLifetime(0, false, a.cfg.IdleWait, 0)
		a.add(result(CheckIdleTimeout, Fail, fmt.Sprintf("after %s without a request the session is still authenticated (%s answered %s); %s", fmtDuration(a.cfg.IdleWait), a.cfg.MePath, a.answered(v), ev), rec))
	case authNo:
		a.noteLifetime(0, false, 0, a.cfg.IdleWait)
		a.add(result(CheckIdleTimeout, Pass, fmt.Sprintf("after %s without a request %s answered %s: the session had ended; %s", fmtDuration(a.cfg.IdleWait), a.cfg.MePath, a.answered(v), ev), ""))
	default:
		a.add(result(CheckIdleTimeout, Warn, fmt.Sprintf("after %s without a request, whether the session had ended could not be told: %s; %s", fmtDuration(a.cfg.IdleWait), v.why, ev), rec))
	}
	return nil
}

// checkAbsolute runs absolute-timeout; s is a fresh session, nil without
// a wait.
func (a *auditor) checkAbsolute(ctx context.Context, s *session, ck *Cookie, me *exchange) error {
	rec := "End every session on the server a fixed time after login (for example 12 hours), whatever its activity, from the authentication time kept in the session record."
	ev, life, persistent := a.declared(ck, me, "absolute")
	a.noteLifetime(life, persistent, 0, 0)
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
		v, err := a.askEnded(ctx, s.c)
		if err != nil {
			return err
		}
		requests++
		switch v.state {
		case authNo:
			a.progress("absolute wait", total, total)
			a.noteLifetime(0, false, 0, elapsed)
			a.add(result(CheckAbsoluteTimeout, Pass, fmt.Sprintf("kept busy with a request every %s, the session ended after %s (%s answered %s on request %d); %s",
				fmtDuration(interval), fmtDuration(elapsed), a.cfg.MePath, a.answered(v), requests, ev), ""))
			return nil
		case authUnknown:
			a.progress("absolute wait", total, total)
			a.add(result(CheckAbsoluteTimeout, Warn, fmt.Sprintf("kept busy with a request every %s, after %s (request %d) whether the session had ended could not be told: %s; %s",
				fmtDuration(interval), fmtDuration(elapsed), requests, v.why, ev), rec))
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
	sm := a.collectSamples(ctx, func(ctx context.Context) (cookieState, error) {
		v, err := get(ctx)
		if err != nil || v == "" {
			return nil, err
		}
		return cookieState{{Name: name, Value: v}}, nil
	})
	st := a.judgeTokens(name, what, sm, func(v string) string { return v })
	a.mu.Lock()
	a.entropy = st
	a.mu.Unlock()
}

// samples is what collectSamples gathered: the cookies of each attempt
// that succeeded, and the attempts that failed.
type samples struct {
	states   []cookieState
	n        int
	failures int
	lastErr  error
}

// collectSamples calls get cfg.Samples times (default 200), stopping early
// when more than a tenth fail.
func (a *auditor) collectSamples(ctx context.Context, get func(context.Context) (cookieState, error)) *samples {
	sm := &samples{n: a.cfg.Samples}
	if sm.n == 0 {
		sm.n = 200
	}
	for i := range sm.n {
		a.progress("sampling tokens", i, sm.n)
		st, err := get(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			sm.failures++
			sm.lastErr = err
			if sm.failures > sm.n/10+1 {
				break
			}
			continue
		}
		sm.states = append(sm.states, st)
	}
	a.progress("sampling tokens", sm.n, sm.n)
	return sm
}

// judgeTokens runs token-entropy on the values of cookie name in sm (each
// reduced by id to its random part), adds the result and returns the
// statistics, nil when too few tokens were collected.
func (a *auditor) judgeTokens(name, what string, sm *samples, id func(string) string) *TokenStats {
	var tokens []string
	failures, lastErr, n := sm.failures, sm.lastErr, sm.n
	for _, st := range sm.states {
		if v, ok := st.value(name); ok && v != "" {
			tokens = append(tokens, id(v))
		} else {
			failures++
			lastErr = fmt.Errorf("no %q cookie was set", name)
		}
	}
	rec := "Generate session IDs from a CSPRNG with at least 128 bits (latch uses 256), encoded without structure."
	if len(tokens) < 2 {
		why := fmt.Sprintf("collected %d tokens for cookie %q", len(tokens), name)
		if lastErr != nil {
			why += " (last error: " + trimErr(lastErr) + ")"
		}
		a.add(result(CheckTokenEntropy, Skip, why, ""))
		return nil
	}
	st := AnalyzeTokens(tokens)
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
	return st
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

// checkSessionInURL looks for any value the session cookie had (tokens),
// or a session parameter, in every URL the target sent: redirect
// locations and links in pages.
func (a *auditor) checkSessionInURL(tokens []string, history []*exchange) {
	rec := "Keep the session ID in a cookie only; never put it in URLs, where it leaks through logs, history and Referer headers."
	var urls []string
	trimmed := 0
	for _, ex := range history {
		if ex.Location != "" {
			urls = append(urls, "redirect "+ex.Location)
		}
		for _, l := range ex.Links {
			urls = append(urls, "link "+l)
		}
		trimmed += ex.Trimmed
	}
	for _, u := range urls {
		kind, raw, _ := strings.Cut(u, " ")
		for _, token := range tokens {
			if len(token) >= 6 && (strings.Contains(raw, token) || strings.Contains(raw, url.QueryEscape(token))) {
				a.add(result(CheckSessionInURL, Fail, fmt.Sprintf("the session token appears in a %s URL: %s", kind, redactLocation(strings.ReplaceAll(raw, token, "<session token>"))), rec))
				return
			}
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
	if trimmed > 0 {
		a.add(result(CheckSessionInURL, Warn, fmt.Sprintf("%d redirect and link URLs examined, none carries the session token or a session parameter; but the target sent more links and cookies than the audit keeps (%d not examined)", len(urls), trimmed), rec))
		return
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
