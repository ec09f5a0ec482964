package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// maxBody bounds how much of a response body the auditor reads.
const maxBody = 1 << 20

// maxHeaderBytes bounds a response's headers. Browsers refuse far less
// (Chrome: 256 KiB); net/http's default would be 10 MiB.
const maxHeaderBytes = 1 << 20

// What a client keeps of its exchanges (see record): at most maxHistory
// exchanges, and at most historyBudget bytes of link URLs and Set-Cookie
// headers across them. Beyond that it keeps counts, so that memory stays
// bounded however long a wait polls the target and whatever it answers.
const (
	maxHistory    = 256
	historyBudget = 1 << 20
)

// maxRedirects bounds the redirects the auditor follows on its own.
const maxRedirects = 5

// exchange is one request and its response, as the checks need them.
type exchange struct {
	Method   string
	URL      *url.URL
	Status   int
	Header   http.Header
	Location string
	// SetCookies are the parsed Set-Cookie headers, whether the jar kept
	// them or not; BadCookies the ones that could not be parsed, with the
	// reason; Refused the ones a browser would refuse (see jar), with the
	// reason.
	SetCookies []*Cookie
	BadCookies []string
	Refused    []string
	// Body is the response body (at most maxBody) in the exchange a
	// request returns, and nil in History, which keeps instead the body's
	// length, its SHA-256 and the URLs of its links.
	Body    []byte
	BodyLen int
	BodySum [sha256.Size]byte
	Links   []string
	// Trimmed counts the links and Set-Cookie headers History did not
	// keep, once a client's history reached its budget.
	Trimmed int
	TLS     bool
	// At is when the response arrived, by the auditor's clock.
	At time.Time
}

// client is one browser: its own cookie jar, which follows the browser's
// cookie rules (see jar) and keeps the attributes of every Set-Cookie
// header, which net/http's jar would hide.
type client struct {
	hc      *http.Client
	cookies *jar
	// History is a summary of every exchange in order, up to maxHistory
	// (see record); Dropped counts the exchanges beyond.
	History []*exchange
	Dropped int
	kept    int             // bytes of links and Set-Cookie headers in History
	links   map[string]bool // the links in History
	count   *atomic.Int64
	origin  *url.URL
	now     func() time.Time
	// downgrade is told about an HTTPS response that redirects to plain
	// HTTP on the target's host.
	downgrade func(from *exchange, to *url.URL)
	// creds are the Basic credentials given in URLs, by origin.
	creds map[string]*url.Userinfo
	// password is the login's; echoed is set when the target wrote it
	// back (see noteEcho).
	password string
	echoed   *atomic.Bool
	// offers are the Secure-Session-Registration headers the target
	// sent this client, at most maxOffers (see dbsc.go).
	offers []dbscOffer
}

// newHTTPClient returns the transport every client shares: timeouts on
// every phase, no automatic redirects, no proxy from the environment (an
// audit goes where it is told). dial, when not nil, replaces the dialer
// (tests use it to give loopback servers a host name).
func newHTTPClient(tlsConfig *tls.Config, timeout time.Duration, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	tr := &http.Transport{
		DialContext:            dial,
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        30 * time.Second,
		MaxIdleConnsPerHost:    4,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func (a *auditor) newClient() *client {
	return &client{hc: a.hc, cookies: newJar(a.cfg.Now), count: &a.requests, origin: a.target, now: a.cfg.Now,
		downgrade: a.noteDowngrade, creds: a.creds, password: a.cfg.Password, echoed: &a.echoed}
}

// set plants a cookie in the jar, as the target would have set it (see
// jar.plant).
func (c *client) set(name, value string) { c.cookies.plant(c.origin, name, value) }

// value returns the value of the cookie called name that the client holds
// for the target's host (the one stored last, when several paths or
// domains hold one of that name).
func (c *client) value(name string) (string, bool) {
	if e := c.latest(name); e != nil {
		return e.value, true
	}
	return "", false
}

func (c *client) latest(name string) *jarCookie {
	var best *jarCookie
	for _, e := range c.cookies.held(canonicalHost(c.origin)) {
		if e.name == name && (best == nil || e.stored > best.stored) {
			best = e
		}
	}
	return best
}

// cookieNames returns the names of the cookies the client holds for the
// target's host, each once, oldest first.
func (c *client) cookieNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, e := range c.cookies.held(canonicalHost(c.origin)) {
		if !seen[e.name] {
			seen[e.name] = true
			names = append(names, e.name)
		}
	}
	return names
}

// seenNames returns the names of the cookies the client holds for the
// target's host, then those of cookies the target set that a browser
// refused (so the checks can still judge their Set-Cookie headers), each
// once.
func (c *client) seenNames() []string {
	names := c.cookieNames()
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	for _, ex := range c.History {
		for _, ck := range ex.SetCookies {
			if !seen[ck.Name] {
				seen[ck.Name] = true
				names = append(names, ck.Name)
			}
		}
	}
	return names
}

// refusedNote names the cookies a browser refused in the client's
// history, for an error that would otherwise not say why a login left no
// session: "" when there were none.
func (c *client) refusedNote() string {
	var why []string
	for _, ex := range c.History {
		why = append(why, ex.Refused...)
	}
	if len(why) == 0 {
		return ""
	}
	const show = 4
	more := ""
	if len(why) > show {
		more = fmt.Sprintf(" and %d more", len(why)-show)
		why = why[:show]
	}
	return "; browsers refuse cookies the target set: " + strings.Join(why, ", ") + more
}

// do sends one request to ref (resolved against the target), with form as
// its body when it is not nil, and records it. It never follows redirects.
func (c *client) do(ctx context.Context, method, ref string, form url.Values) (*exchange, error) {
	if form == nil {
		return c.send(ctx, method, ref, "", nil)
	}
	return c.send(ctx, method, ref, "application/x-www-form-urlencoded", []byte(form.Encode()))
}

// send is do with a body of any type: none when contentType is "".
func (c *client) send(ctx context.Context, method, ref, contentType string, body []byte) (*exchange, error) {
	return c.sendWith(ctx, method, ref, contentType, body, nil)
}

// sendWith is send with extra request headers.
func (c *client) sendWith(ctx context.Context, method, ref, contentType string, body []byte, extra http.Header) (*exchange, error) {
	u, err := c.origin.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("audit: bad path %q: %w", redactRaw(ref), err)
	}
	// Credentials in a URL go only where they were given (see
	// credentials): net/http would send a URL's user info to any URL,
	// a redirect's Location included.
	u.User = nil
	var rd io.Reader
	if contentType != "" {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	req.Header.Set("User-Agent", "latch-audit/1 (+https://github.com/latchsec/latch)")
	req.Header.Set("Accept", "text/html,application/json;q=0.9,*/*;q=0.8")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Origin", u.Scheme+"://"+u.Host)
		req.Header.Set("Referer", u.String())
	}
	for k, vs := range extra {
		req.Header[k] = vs
	}
	if ui := c.creds[originOf(u)]; ui != nil {
		pass, _ := ui.Password()
		req.SetBasicAuth(ui.Username(), pass)
	}
	if h := c.cookies.header(u); h != "" {
		req.Header.Set("Cookie", h)
	}
	c.count.Add(1)
	resp, err := c.hc.Do(req)
	if err != nil {
		// *url.Error repeats the whole URL, query string (and so any token
		// in it) included; report the redacted URL instead.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		c.noteEcho([]byte(err.Error()))
		return nil, fmt.Errorf("audit: %s %s: %w", method, redactURL(u), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		c.noteEcho([]byte(err.Error()))
		return nil, fmt.Errorf("audit: read %s: %w", redactURL(u), err)
	}
	for k, vs := range resp.Header {
		c.noteEcho([]byte(k))
		for _, v := range vs {
			c.noteEcho([]byte(v))
		}
	}
	c.noteEcho(b)
	ex := &exchange{Method: method, URL: u, Status: resp.StatusCode, Header: resp.Header, Body: b,
		Location: resp.Header.Get("Location"), TLS: resp.TLS != nil}
	ex.At = c.now()
	c.noteOffer(ex)
	for _, h := range resp.Header.Values("Set-Cookie") {
		ck, err := ParseSetCookie(h)
		if err != nil {
			ex.BadCookies = append(ex.BadCookies, err.Error())
			continue
		}
		ex.SetCookies = append(ex.SetCookies, ck)
		if why := c.cookies.store(u, ck); why != "" {
			ex.Refused = append(ex.Refused, fmt.Sprintf("cookie %q: %s", ck.Name, why))
		}
	}
	if ex.TLS && isRedirect(ex.Status) && c.downgrade != nil {
		if next, err := u.Parse(ex.Location); err == nil && next.Scheme == "http" && canonicalHost(next) == canonicalHost(c.origin) {
			c.downgrade(ex, next)
		}
	}
	c.record(ex)
	return ex, nil
}

// record adds a summary of ex to the history: no headers, and for the
// body its length, hash and link URLs (each distinct URL once). Links and
// Set-Cookie headers beyond historyBudget bytes, and exchanges beyond
// maxHistory, are counted, not kept.
func (c *client) record(ex *exchange) {
	if len(c.History) >= maxHistory {
		c.Dropped++
		return
	}
	h := *ex
	h.Header, h.Body, h.BodyLen, h.BodySum = nil, nil, len(ex.Body), sha256.Sum256(ex.Body)
	h.SetCookies, h.Links = nil, nil
	for _, ck := range ex.SetCookies {
		if c.kept+len(ck.Raw) > historyBudget {
			h.Trimmed++
			continue
		}
		c.kept += len(ck.Raw)
		h.SetCookies = append(h.SetCookies, ck)
	}
	if c.links == nil {
		c.links = map[string]bool{}
	}
	for _, raw := range links(ex.Body, maxLinks) {
		l := htmlUnescape(raw)
		if c.links[l] {
			continue
		}
		if c.kept+len(l) > historyBudget {
			h.Trimmed++
			continue
		}
		c.links[l] = true
		c.kept += len(l)
		h.Links = append(h.Links, l)
	}
	h.BadCookies, h.Refused = capped(ex.BadCookies), capped(ex.Refused)
	c.History = append(c.History, &h)
}

// maxLinks bounds the links read from one page, and maxLinkLen the
// length of one.
const (
	maxLinks   = 500
	maxLinkLen = 1000
)

// links returns the values of the href, src, action and formaction
// attributes in an HTML page (at most limit of them, each quoted and of
// 1 to maxLinkLen bytes), as the pattern
// (?i)(?:href|src|action|formaction)\s*=\s*["']([^"']{1,1000})["'] would
// find them, but in time linear in the page: it jumps from one "=" to the
// next, where a regular expression costs about 0.1 s per MiB, which a
// target polled for an hour would multiply.
func links(body []byte, limit int) []string {
	var out []string
	for i := 0; len(out) < limit; {
		eq := bytes.IndexByte(body[i:], '=')
		if eq < 0 {
			break
		}
		eq += i
		i = eq + 1
		name := bytes.TrimRight(body[:eq], " \t\r\n\f")
		if !hasSuffixFold(name, "href") && !hasSuffixFold(name, "src") && !hasSuffixFold(name, "action") {
			continue
		}
		j := eq + 1
		for j < len(body) && isSpace(body[j]) {
			j++
		}
		if j >= len(body) || body[j] != '"' && body[j] != '\'' {
			continue
		}
		end := bytes.IndexAny(body[j+1:min(len(body), j+2+maxLinkLen)], `"'`)
		if end < 1 {
			continue
		}
		out = append(out, string(body[j+1:j+1+end]))
		i = j + 2 + end
	}
	return out
}

func hasSuffixFold(b []byte, suffix string) bool {
	return len(b) >= len(suffix) && strings.EqualFold(string(b[len(b)-len(suffix):]), suffix)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' }

// capped keeps the first 8 reasons of a list and counts the rest.
func capped(why []string) []string {
	const keep = 8
	if len(why) <= keep {
		return why
	}
	return append(why[:keep:keep], fmt.Sprintf("and %d more", len(why)-keep))
}

// follow follows up to maxRedirects redirects from ex that stay on the
// target's host (any scheme or port), as a browser would after a login
// form, and returns the last exchange.
func (c *client) follow(ctx context.Context, ex *exchange) (*exchange, error) {
	for range maxRedirects {
		if !isRedirect(ex.Status) || ex.Location == "" {
			return ex, nil
		}
		next, err := ex.URL.Parse(ex.Location)
		if err != nil || canonicalHost(next) != canonicalHost(c.origin) {
			return ex, nil
		}
		method := http.MethodGet
		if ex.Status == http.StatusTemporaryRedirect || ex.Status == http.StatusPermanentRedirect {
			if ex.Method != http.MethodGet {
				return ex, nil // would need to resend a body; stop here
			}
		}
		ex, err = c.do(ctx, method, next.String(), nil)
		if err != nil {
			return nil, err
		}
	}
	return ex, nil
}

// noteDowngrade records an HTTPS response that redirects to plain HTTP on
// the target's host as a failure of https-redirect, whatever the
// plain-HTTP entry point does: a browser following it sends the page's
// request, and every cookie without Secure, in clear text, and a network
// attacker can keep the user on HTTP from there (SSL stripping).
func (a *auditor) noteDowngrade(from *exchange, to *url.URL) {
	a.worsen(result(CheckHTTPSRedirect, Fail,
		fmt.Sprintf("%s %s over HTTPS answered %d to %s, which is plain HTTP: a browser following it sends the request, and every cookie without Secure, in clear text, and an attacker on the network can keep the user on HTTP from there",
			from.Method, redactURL(from.URL), from.Status, redactURL(to)),
		"Keep every redirect on HTTPS: build redirect URLs with the https scheme (behind a proxy, trust its X-Forwarded-Proto), and set HSTS."))
}

// severity orders statuses for worsen: a failure outweighs a warning,
// which outweighs a pass or a skip.
var severity = map[Status]int{Skip: 0, Pass: 1, Warn: 2, Fail: 3}

// worsen records r, replacing an earlier result for the same check unless
// that one is at least as bad: for findings seen in passing, which must
// not be lost because the check's own test passed first.
func (a *auditor) worsen(r Result) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped() != "" {
		return
	}
	if old, ok := a.results[r.ID]; !ok || severity[r.Status] > severity[old.Status] {
		a.results[r.ID] = r
	}
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// heldSetCookies returns the Set-Cookie header of every cookie called
// name that the client holds for the target's host (one per path and
// domain, oldest first), or else lastSetCookie's, or nil.
func (c *client) heldSetCookies(name string) []*Cookie {
	var out []*Cookie
	for _, e := range c.cookies.held(canonicalHost(c.origin)) {
		if e.name == name && e.set != nil {
			out = append(out, e.set)
		}
	}
	if len(out) == 0 {
		if ck := c.lastSetCookie(name); ck != nil {
			out = append(out, ck)
		}
	}
	return out
}

// maxValues bounds the values of one cookie valuesOf returns.
const maxValues = 32

// valuesOf returns the values the client holds for cookie name, then the
// value each exchange in its history left it (the last Set-Cookie for
// name in the response, as a browser keeps), newest first, each once and
// at most maxValues: a session cookie whose value changes on every answer
// has had several, and a URL may carry any of them. One value per
// exchange, and so a bound far above the few exchanges of a login, keeps
// the search linear in what the target sent, however many Set-Cookie
// headers one response repeats.
func (c *client) valuesOf(name string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		if v != "" && !seen[v] && len(out) < maxValues {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, e := range c.cookies.held(canonicalHost(c.origin)) {
		if e.name == name {
			add(e.value)
		}
	}
	for i := len(c.History) - 1; i >= 0; i-- {
		if sc := c.History[i].lastSetCookie(name); sc != nil {
			add(sc.Value)
		}
	}
	return out
}

// lastSetCookie returns the Set-Cookie header that stored the cookie
// value(name) returns, or else the last Set-Cookie for name in the
// client's history, or nil.
func (c *client) lastSetCookie(name string) *Cookie {
	if e := c.latest(name); e != nil && e.set != nil {
		return e.set
	}
	for i := len(c.History) - 1; i >= 0; i-- {
		if sc := c.History[i].lastSetCookie(name); sc != nil {
			return sc
		}
	}
	return nil
}

// lastSetCookie returns the exchange's last Set-Cookie for name (the one a
// browser keeps), or nil.
func (e *exchange) lastSetCookie(name string) *Cookie {
	for j := len(e.SetCookies) - 1; j >= 0; j-- {
		if e.SetCookies[j].Name == name {
			return e.SetCookies[j]
		}
	}
	return nil
}

// credentials returns the user info of each URL by its origin, for
// Basic authentication to that origin and no other: not to the other
// scheme or port of the same host, nor to a redirect's target.
func credentials(us ...*url.URL) map[string]*url.Userinfo {
	m := map[string]*url.Userinfo{}
	for _, u := range us {
		if u != nil && u.User != nil {
			m[originOf(u)] = u.User
		}
	}
	return m
}

// originOf renders u's origin, scheme://host:port with the default port
// written out, so that https://h and https://h:443 compare equal.
func originOf(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(canonicalHost(u), port)
}

// scrub removes the passwords the auditor sends from s, text that may
// echo what the target saw (a target can write what it was sent into a
// cookie's attributes, a link or an error page): the user info of the
// URLs as written, and each password, the login's and those given in
// URLs, as sent and URL-escaped, when it has at least 4 characters (a
// shorter one would blank out ordinary words; it still never reaches a
// report from the auditor's own text, which never prints it).
func (a *auditor) scrub(s string) string {
	for _, ui := range a.creds {
		if raw := ui.String(); raw != "" {
			s = strings.ReplaceAll(s, raw, "…")
		}
		if pass, ok := ui.Password(); ok {
			s = scrubSecret(s, pass)
		}
	}
	if a.echoed.Load() {
		s = scrubSecret(s, a.cfg.Password)
	}
	return s
}

// noteEcho records whether text the target sent (headers, a body, an
// error its answer caused) holds the login's password, as sent or
// escaped: only then does scrub blank it, so that a password that is an
// ordinary word ("wrong") does not blank the auditor's own text, and show
// where it was, when the target never wrote it back.
func (c *client) noteEcho(texts ...[]byte) {
	if c.echoed == nil || c.echoed.Load() || len(c.password) < 4 {
		return
	}
	for _, t := range texts {
		for _, v := range []string{c.password, url.QueryEscape(c.password), url.PathEscape(c.password)} {
			if bytes.Contains(t, []byte(v)) {
				c.echoed.Store(true)
				return
			}
		}
	}
}

// scrubSecret replaces secret in s, as written, query-escaped and
// path-escaped, by "…", unless it is shorter than 4 bytes.
func scrubSecret(s, secret string) string {
	if len(secret) < 4 {
		return s
	}
	for _, v := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		s = strings.ReplaceAll(s, v, "…")
	}
	return s
}

// scrubbedError is an error whose text went through scrub; errors.Is and
// errors.As still see the original.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func (a *auditor) scrubErr(err error) error {
	if err == nil {
		return nil
	}
	if msg := a.scrub(err.Error()); msg != err.Error() {
		return &scrubbedError{msg: msg, err: err}
	}
	return err
}

// redactRaw removes user info ("user:pass@") from a URL that may not
// parse, for error messages.
func redactRaw(s string) string {
	rest, scheme := s, ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, rest = s[:i+3], s[i+3:]
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		return scheme + "…@" + rest[at+1:]
	}
	return s
}

// redactURL renders u without its query string, which may hold a token.
func redactURL(u *url.URL) string {
	v := *u
	if v.RawQuery != "" {
		v.RawQuery = "…"
	}
	v.User = nil
	return v.String()
}

var (
	inputRe = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	attrRe  = regexp.MustCompile(`(?is)([a-z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))`)
)

// hiddenInputs returns the name and value of every hidden input in an HTML
// page: anti-CSRF tokens a login or logout form needs.
func hiddenInputs(body []byte) url.Values {
	v := url.Values{}
	for _, tag := range inputRe.FindAll(body, 200) {
		attrs := map[string]string{}
		for _, m := range attrRe.FindAllSubmatch(tag, -1) {
			attrs[strings.ToLower(string(m[1]))] = htmlUnescape(string(m[2]) + string(m[3]) + string(m[4]))
		}
		if strings.EqualFold(attrs["type"], "hidden") && attrs["name"] != "" {
			v.Set(attrs["name"], attrs["value"])
		}
	}
	return v
}

func htmlUnescape(s string) string {
	r := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&#x27;", "'")
	return r.Replace(s)
}

// ErrLogin is returned when the configured login does not authenticate,
// or authenticates without a session cookie to audit.
var ErrLogin = errors.New("audit: login failed")
