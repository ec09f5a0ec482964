package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tests in this file talk to a real demo process with a plain
// net/http client and no cookie jar: Go's jar would not send a Secure
// cookie over http://, so each request carries the cookie it is given.

func TestLoginCookieHasEverySecureAttribute(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{})
	// A remember-me cookie outlives the browser, but not forever: the
	// demo keeps latch's default remember-me limit of 30 days.
	const rememberLimit = 30 * 24 * time.Hour
	for _, login := range []struct {
		name     string
		form     url.Values
		lifetime func(c *http.Cookie) bool
	}{
		{"without remember me", url.Values{"username": {"alice"}, "password": {"wonderland"}},
			func(c *http.Cookie) bool { return c.MaxAge == 0 && c.Expires.IsZero() }},
		{"with remember me", url.Values{"username": {"alice"}, "password": {"wonderland"}, "remember": {"on"}},
			func(c *http.Cookie) bool {
				return c.MaxAge > 0 && time.Duration(c.MaxAge)*time.Second <= rememberLimit
			}},
	} {
		t.Run(login.name, func(t *testing.T) {
			res := d.do(t, "POST", "/login", "", login.form)
			if res.Status != http.StatusSeeOther {
				t.Fatalf("POST /login = %d, want 303", res.Status)
			}
			var raw string
			for _, v := range res.Header.Values("Set-Cookie") {
				if strings.HasPrefix(v, cookieName+"=") {
					raw = v
				}
			}
			if raw == "" {
				t.Fatalf("no Set-Cookie for %s", cookieName)
			}
			c, err := http.ParseSetCookie(raw)
			if err != nil {
				t.Fatalf("the session Set-Cookie does not parse: %v", err)
			}
			// The attributes, never the value, which is a secret.
			attrs := strings.TrimSpace(raw[strings.IndexByte(raw, ';')+1:])
			for _, tc := range []struct {
				name string
				ok   bool
			}{
				{"name has the __Host- prefix", strings.HasPrefix(c.Name, "__Host-")},
				{"Secure", c.Secure},
				{"HttpOnly", c.HttpOnly},
				{"SameSite=Lax", c.SameSite == http.SameSiteLaxMode},
				{"Path=/", c.Path == "/"},
				{"no Domain", c.Domain == "" && !strings.Contains(strings.ToLower(attrs), "domain=")},
				{"lifetime", login.lifetime(c)},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if !tc.ok {
						t.Errorf("session cookie attributes: %s", attrs)
					}
				})
			}
		})
	}
}

func TestLoginRefusesThePreLoginSessionID(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{})
	// The attacker's own valid session, planted in the victim's browser
	// before the victim signs in: the strongest pre-login id there is.
	planted, _ := d.login(t, "bob", "builder", "")
	victim, _ := d.login(t, "alice", "wonderland", planted)

	if victim == planted {
		t.Fatal("login kept the session id the browser came with")
	}
	if code, user := d.me(t, victim); code != http.StatusOK || user != "alice" {
		t.Fatalf("new session: GET /me = %d %q, want 200 alice", code, user)
	}
	if code, user := d.me(t, planted); code != http.StatusUnauthorized {
		t.Fatalf("pre-login id after login: GET /me = %d %q, want 401", code, user)
	}
}

func TestLogoutReplayIsRefused(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{})
	token, _ := d.login(t, "alice", "wonderland", "")
	if code, _ := d.me(t, token); code != http.StatusOK {
		t.Fatalf("before logout: GET /me = %d, want 200", code)
	}
	res := d.do(t, "POST", "/logout", token, url.Values{})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("POST /logout = %d, want 303", res.Status)
	}
	if c := res.sessionCookie(); c == nil || c.MaxAge >= 0 {
		t.Error("logout did not expire the session cookie")
	}
	// The stolen copy of the cookie, replayed after the user signed out.
	for _, path := range []string{"/me", "/sessions", "/session/status"} {
		t.Run(path, func(t *testing.T) {
			res := d.do(t, "GET", path, token, nil, "Accept", "application/json")
			if res.Status != http.StatusUnauthorized {
				t.Errorf("replay after logout: GET %s = %d, want 401", path, res.Status)
			}
		})
	}
}

func TestIdleSessionExpires(t *testing.T) {
	t.Parallel()
	const idle = 2 * time.Second
	d := startDemo(t, demoOptions{Args: []string{"--idle-timeout", idle.String()}})
	loginStart := time.Now() // the session was last seen no earlier
	token, _ := d.login(t, "alice", "wonderland", "")
	// Activity inside the timeout keeps the session (judged by the clock:
	// on a loaded machine the request may come too late to say)...
	time.Sleep(time.Second)
	code, _ := d.me(t, token)
	if took := time.Since(loginStart); took < idle && code != http.StatusOK {
		t.Fatalf("%v after login with a %v idle timeout: GET /me = %d, want 200", took.Round(time.Millisecond), idle, code)
	}
	// ...and more than the timeout without any ends it on the server.
	time.Sleep(idle + time.Second)
	res := d.do(t, "GET", "/me", token, nil, "Accept", "application/json")
	if res.Status != http.StatusUnauthorized {
		t.Fatalf("%v idle with a %v idle timeout: GET /me = %d, want 401", idle+time.Second, idle, res.Status)
	}
	t.Logf("ended: %q", jsonField(t, res.Body, "ended"))
}

func TestForgedAndJunkCookiesAreRefused(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{})
	token, _ := d.login(t, "alice", "wonderland", "")
	keyID, body, ok := strings.Cut(token, ".")
	if !ok {
		t.Fatalf("the session token has no key id: %d bytes", len(token))
	}

	flip := []byte(body)
	if flip[len(flip)-1] == 'A' {
		flip[len(flip)-1] = 'B'
	} else {
		flip[len(flip)-1] = 'A'
	}
	for _, tc := range []struct {
		name   string
		cookie string
	}{
		{"MAC changed in its last character", keyID + "." + string(flip)},
		{"random id under the real key id", keyID + "." + randomB64(t, len(body)*3/4)},
		{"real id under an unknown key id", "nokey." + body},
		{"id without a key id", body},
		{"truncated", token[:len(token)-10]},
		{"1 KB of random base64url", randomB64(t, 768)},
		{"1 KB of random cookie characters", randomCookieChars(t, 1024)},
		{"the real token twice", token + token},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := d.do(t, "GET", "/me", tc.cookie, nil, "Accept", "application/json")
			if res.Status != http.StatusUnauthorized {
				t.Errorf("GET /me = %d, want 401", res.Status)
			}
			if strings.Contains(res.Body, tc.cookie) {
				t.Error("the response echoes the cookie")
			}
		})
	}

	if !d.alive() {
		t.Fatal("the demo process died")
	}
	if code, user := d.me(t, token); code != http.StatusOK || user != "alice" {
		t.Fatalf("the real session after the attacks: GET /me = %d %q, want 200 alice", code, user)
	}
	if strings.Contains(d.Output(), body) {
		t.Error("the demo's log holds the session token")
	}
}

func TestTLSServesHSTSAndRedirectsHTTP(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{TLS: true, HTTPAddr: true})
	u, _ := url.Parse(d.URL)

	res := d.do(t, "GET", "/", "", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET / over HTTPS = %d, want 200", res.Status)
	}
	hsts := res.Header.Get("Strict-Transport-Security")
	maxAge := -1
	for f := range strings.SplitSeq(hsts, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(f), "max-age="); ok {
			maxAge, _ = strconv.Atoi(v)
		}
	}
	if maxAge < 180*24*3600 {
		t.Errorf("Strict-Transport-Security %q: want a max-age of 180 days or more", hsts)
	}

	token, _ := d.login(t, "alice", "wonderland", "")
	if code, _ := d.me(t, token); code != http.StatusOK {
		t.Fatalf("GET /me over HTTPS = %d, want 200", code)
	}

	for _, path := range []string{"/", "/sessions?x=1"} {
		t.Run("redirect "+path, func(t *testing.T) {
			res := doRequest(t, newClient(nil), "GET", d.HTTPURL+path, "", nil)
			if res.Status != http.StatusMovedPermanently && res.Status != http.StatusPermanentRedirect {
				t.Fatalf("GET %s over HTTP = %d, want 301 or 308", path, res.Status)
			}
			want := "https://" + u.Host + path
			if got := res.Header.Get("Location"); got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			if res.Header.Get("Set-Cookie") != "" {
				t.Error("the HTTP redirect sets a cookie")
			}
		})
	}
}

func TestWeakKeysStopTheDemoBeforeListening(t *testing.T) {
	t.Parallel()
	bin := latchBinary(t)
	b64 := base64.RawURLEncoding.EncodeToString
	random16 := make([]byte, 16)
	rand.Read(random16)
	for _, tc := range []struct {
		name string
		keys string
		rule string
	}{
		{"changeme", "k1:changeme", "known-key"},
		{"16 random bytes", "k1:" + b64(random16), "too-short"},
		{"32 copies of one byte", "k1:" + b64([]byte(strings.Repeat("\x07", 32))), "few-distinct-bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := freeAddr(t)
			cmd := exec.Command(bin, "demo", "--addr", addr, "--store", "memory")
			cmd.Dir = t.TempDir()
			cmd.Env = demoEnv(tc.keys)
			out := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatalf("start latch demo: %v", err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var err error
			select {
			case err = <-exited:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-exited
				t.Fatalf("latch demo with a weak key still ran after 20 s:\n%s", out)
			}
			if err == nil {
				t.Fatalf("latch demo with a weak key exited 0:\n%s", out)
			}
			text := out.String()
			if !strings.Contains(text, "refused") || !strings.Contains(text, tc.rule) {
				t.Errorf("output does not give the reason (%s):\n%s", tc.rule, text)
			}
			if strings.Contains(text, "latch demo on") {
				t.Errorf("the demo announced it was listening:\n%s", text)
			}
			secret := strings.SplitN(tc.keys, ":", 2)[1]
			if strings.Contains(text, secret) {
				t.Error("the output holds the key")
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("something listens on %s after the demo exited", addr)
			}
		})
	}
}

// randomB64 returns n random bytes in base64url without padding.
func randomB64(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomCookieChars returns n random characters that a Cookie header may
// carry in a value (RFC 6265 cookie-octet).
func randomCookieChars(t *testing.T, n int) string {
	t.Helper()
	var alphabet []byte
	for c := byte(0x21); c < 0x7f; c++ {
		if c != '"' && c != ',' && c != ';' && c != '\\' {
			alphabet = append(alphabet, c)
		}
	}
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func TestPagesCarrySecurityHeaders(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{})
	token, _ := d.login(t, "alice", "wonderland", "")
	for _, page := range []struct {
		path, token string
	}{
		{"/", ""},
		{"/login", ""},
		{"/", token},
		{"/sessions", token},
		{"/password", token},
		{"/sensitive", token},
	} {
		name := page.path
		if page.token != "" {
			name += " signed in"
		}
		t.Run(name, func(t *testing.T) {
			res := d.do(t, "GET", page.path, page.token, nil)
			if res.Status != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", page.path, res.Status)
			}
			csp := res.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %s", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("Content-Security-Policy %q allows inline or eval'd script", csp)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}
}

func TestCrossOriginFormPostIsRefused(t *testing.T) {
	t.Parallel()
	d := startDemo(t, demoOptions{})
	token, _ := d.login(t, "alice", "wonderland", "")
	evil := []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/logout", url.Values{}},
		{"/sessions/revoke", url.Values{"all": {"others"}}},
		{"/password", url.Values{"current": {"wonderland"}, "new": {"attacker's choice"}}},
		{"/login", url.Values{"username": {"bob"}, "password": {"builder"}}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res := d.do(t, "POST", tc.path, token, tc.form, evil...)
			if res.Status != http.StatusForbidden {
				t.Errorf("cross-site POST %s = %d, want 403", tc.path, res.Status)
			}
			if res.sessionCookie() != nil {
				t.Errorf("cross-site POST %s set the session cookie", tc.path)
			}
		})
	}
	// Nothing happened: the session is alive and the password unchanged.
	if code, user := d.me(t, token); code != http.StatusOK || user != "alice" {
		t.Fatalf("after the cross-site posts: GET /me = %d %q, want 200 alice", code, user)
	}
	d.login(t, "alice", "wonderland", "")
}
