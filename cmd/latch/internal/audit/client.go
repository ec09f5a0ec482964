package audit

import (
	"bytes"
	"context"
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

// maxRedirects bounds the redirects the auditor follows on its own.
const maxRedirects = 5

// exchange is one request and its response, as the checks need them.
type exchange struct {
	Method   string
	URL      *url.URL
	Status   int
	Header   http.Header
	Location string
	// SetCookies are the parsed Set-Cookie headers; BadCookies the ones
	// that could not be parsed, with the reason.
	SetCookies []*Cookie
	BadCookies []string
	Body       []byte
	TLS        bool
	// At is when the response arrived, by the auditor's clock.
	At time.Time
}

// client is one browser: its own cookie jar, which the auditor controls.
// The jar sends every cookie it holds to the target (the audit talks to
// one application) and records the attributes of every Set-Cookie header,
// which net/http's jar would hide.
type client struct {
	hc    *http.Client
	names []string
	jar   map[string]string
	// History is every exchange in order.
	History []*exchange
	count   *atomic.Int64
	origin  *url.URL
	now     func() time.Time
}

// newHTTPClient returns the transport every client shares: timeouts on
// every phase, no automatic redirects, no proxy from the environment (an
// audit goes where it is told).
func newHTTPClient(tlsConfig *tls.Config, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       30 * time.Second,
		MaxIdleConnsPerHost:   4,
		DisableCompression:    true,
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
	return &client{hc: a.hc, jar: map[string]string{}, count: &a.requests, origin: a.target, now: a.cfg.Now}
}

// set puts a cookie in the jar.
func (c *client) set(name, value string) {
	if _, ok := c.jar[name]; !ok {
		c.names = append(c.names, name)
	}
	c.jar[name] = value
}

// del removes a cookie from the jar.
func (c *client) del(name string) {
	if _, ok := c.jar[name]; !ok {
		return
	}
	delete(c.jar, name)
	for i, n := range c.names {
		if n == name {
			c.names = append(c.names[:i:i], c.names[i+1:]...)
			break
		}
	}
}

// cookieHeader renders the jar as a Cookie header.
func (c *client) cookieHeader() string {
	parts := make([]string, 0, len(c.names))
	for _, n := range c.names {
		parts = append(parts, n+"="+c.jar[n])
	}
	return strings.Join(parts, "; ")
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
	u, err := c.origin.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("audit: bad path %q: %w", ref, err)
	}
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
	if h := c.cookieHeader(); h != "" {
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
		return nil, fmt.Errorf("audit: %s %s: %w", method, redactURL(u), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("audit: read %s: %w", redactURL(u), err)
	}
	ex := &exchange{Method: method, URL: u, Status: resp.StatusCode, Header: resp.Header, Body: b,
		Location: resp.Header.Get("Location"), TLS: resp.TLS != nil}
	now := c.now()
	ex.At = now
	for _, h := range resp.Header.Values("Set-Cookie") {
		ck, err := ParseSetCookie(h)
		if err != nil {
			ex.BadCookies = append(ex.BadCookies, err.Error())
			continue
		}
		ex.SetCookies = append(ex.SetCookies, ck)
		if ck.Deletes(now) {
			c.del(ck.Name)
		} else {
			c.set(ck.Name, ck.Value)
		}
	}
	c.History = append(c.History, ex)
	return ex, nil
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
		if err != nil || next.Hostname() != c.origin.Hostname() {
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

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// lastSetCookie returns the last Set-Cookie for name in the client's
// history, or nil.
func (c *client) lastSetCookie(name string) *Cookie {
	for i := len(c.History) - 1; i >= 0; i-- {
		sc := c.History[i].SetCookies
		for j := len(sc) - 1; j >= 0; j-- {
			if sc[j].Name == name {
				return sc[j]
			}
		}
	}
	return nil
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
