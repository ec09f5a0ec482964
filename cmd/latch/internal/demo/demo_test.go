package demo

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

type client struct {
	t      *testing.T
	h      http.Handler
	token  string            // the session cookie
	others map[string]string // every other cookie the app set, as a browser keeps them
	ua     string
}

func newApp(t *testing.T, idle time.Duration) (http.Handler, *latchtest.Clock) {
	t.Helper()
	return newAppWith(t, latch.Config{IdleTimeout: idle})
}

// newAppWith runs the demo on a Manager with cfg's timeouts.
func newAppWith(t *testing.T, cfg latch.Config) (http.Handler, *latchtest.Clock) {
	t.Helper()
	clk := latchtest.NewClock(time.Now())
	st, err := memstore.New(memstore.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := latch.NewKeyring(latch.Key{ID: "k", Secret: latch.GenerateKey()})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	m, err := latch.New(latch.Config{Store: st, Keys: keys, IdleTimeout: cfg.IdleTimeout, AbsoluteTimeout: cfg.AbsoluteTimeout, Now: clk.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Manager: m, PasswordIterations: 1000, Logger: logger}).Handler(), clk
}

// do sends a request with the client's cookie and keeps what it sets.
func (c *client) do(method, path string, form url.Values, header ...string) *http.Response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if c.ua != "" {
		req.Header.Set("User-Agent", c.ua)
	}
	if c.token != "" {
		req.AddCookie(&http.Cookie{Name: "__Host-session", Value: c.token})
	}
	for name, v := range c.others {
		req.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	res := rec.Result()
	for _, sc := range res.Cookies() {
		v := sc.Value
		if sc.MaxAge < 0 {
			v = ""
		}
		switch {
		case sc.Name == "__Host-session":
			c.token = v
		case v == "":
			delete(c.others, sc.Name)
		default:
			if c.others == nil {
				c.others = map[string]string{}
			}
			c.others[sc.Name] = v
		}
	}
	return res
}

// follow sends a GET, and follows redirects as a browser does. It
// returns the path it ended at and that page's body.
func (c *client) follow(path string, header ...string) (string, string) {
	c.t.Helper()
	for range 5 {
		res := c.do("GET", path, nil, header...)
		if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusFound {
			b, _ := io.ReadAll(res.Body)
			return path, string(b)
		}
		path = res.Header.Get("Location")
	}
	c.t.Fatalf("too many redirects from %s", path)
	return "", ""
}

func (c *client) login(user, pw string) *http.Response {
	return c.do("POST", "/login", url.Values{"username": {user}, "password": {pw}})
}

func TestDemoContract(t *testing.T) {
	h, clk := newApp(t, 30*time.Minute)
	c := &client{t: t, h: h}

	if res := c.do("GET", "/me", nil); res.StatusCode != 401 {
		t.Fatalf("GET /me anonymous: %d", res.StatusCode)
	}
	if res := c.login("alice", "wrong"); res.StatusCode != 401 || c.token != "" {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	c.do("GET", "/", nil)
	pre := c.token
	res := c.login("alice", "wonderland")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	sc := res.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-session=", "Path=/", "Secure", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("login cookie %q lacks %s", sc, want)
		}
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if res.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	if pre != "" && pre == c.token {
		t.Fatal("login kept the pre-login token")
	}
	res = c.do("GET", "/me", nil)
	var me struct {
		User     string    `json:"user"`
		Idle     time.Time `json:"idle_expires_at"`
		Absolute time.Time `json:"absolute_expires_at"`
	}
	json.NewDecoder(res.Body).Decode(&me)
	if res.StatusCode != 200 || me.User != "alice" || me.Idle.IsZero() || me.Absolute.IsZero() {
		t.Fatalf("GET /me: %d %+v", res.StatusCode, me)
	}
	if res := c.do("GET", "/session/status", nil); res.StatusCode != 200 {
		t.Fatalf("status: %d", res.StatusCode)
	}

	stolen := c.token
	if res := c.do("POST", "/logout", url.Values{}); res.StatusCode != http.StatusSeeOther || c.token != "" {
		t.Fatalf("logout: %d, cookie kept", res.StatusCode)
	}
	thief := &client{t: t, h: h, token: stolen}
	if res := thief.do("GET", "/me", nil); res.StatusCode != 401 {
		t.Fatalf("replay after logout: %d", res.StatusCode)
	}
	forged := &client{t: t, h: h, token: "k." + strings.Repeat("Q", 64)}
	if res := forged.do("GET", "/me", nil); res.StatusCode != 401 {
		t.Fatalf("forged cookie: %d", res.StatusCode)
	}
	junk := &client{t: t, h: h, token: strings.Repeat("\x01z", 512)}
	if res := junk.do("GET", "/me", nil); res.StatusCode != 401 {
		t.Fatalf("1 KB junk cookie: %d", res.StatusCode)
	}

	c.login("alice", "wonderland")
	clk.Advance(31 * time.Minute)
	if res := c.do("GET", "/me", nil); res.StatusCode != 401 {
		t.Fatalf("after the idle timeout: %d", res.StatusCode)
	}
}

func TestDemoSessionsAndPassword(t *testing.T) {
	h, _ := newApp(t, 30*time.Minute)
	laptop := &client{t: t, h: h, ua: "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0"}
	phone := &client{t: t, h: h, ua: "Mozilla/5.0 (iPhone) Safari/604.1"}
	laptop.login("alice", "wonderland")
	phone.login("alice", "wonderland")

	res := laptop.do("GET", "/sessions", nil, "Accept", "application/json")
	var list []latch.SessionInfo
	json.NewDecoder(res.Body).Decode(&list)
	if len(list) != 2 {
		t.Fatalf("sessions: %d entries", len(list))
	}
	var other string
	current := 0
	for _, s := range list {
		if s.Current {
			current++
		} else {
			other = s.Handle
		}
	}
	if current != 1 {
		t.Fatalf("%d sessions marked current", current)
	}
	page := laptop.do("GET", "/sessions", nil)
	body, _ := io.ReadAll(page.Body)
	if !strings.Contains(string(body), "Safari on iPhone") || !strings.Contains(string(body), "this session") {
		t.Fatalf("sessions page lacks the devices: %s", body)
	}
	if res := laptop.do("POST", "/sessions/revoke", url.Values{"handle": {other}}, "Accept", "application/json"); res.StatusCode != 200 {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if res := phone.do("GET", "/me", nil); res.StatusCode != 401 {
		t.Fatalf("revoked phone still signed in: %d", res.StatusCode)
	}

	phone.login("alice", "wonderland")
	if res := laptop.do("POST", "/password", url.Values{"current": {"nope"}, "new": {"looking-glass"}}); res.StatusCode != 401 {
		t.Fatalf("wrong current password: %d", res.StatusCode)
	}
	before := laptop.token
	if res := laptop.do("POST", "/password", url.Values{"current": {"wonderland"}, "new": {"looking-glass"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("change password: %d", res.StatusCode)
	}
	if laptop.token == before {
		t.Error("password change did not renew the session")
	}
	if res := phone.do("GET", "/me", nil); res.StatusCode != 401 {
		t.Fatalf("other session survived the password change: %d", res.StatusCode)
	}
	if res := laptop.do("GET", "/me", nil); res.StatusCode != 200 {
		t.Fatalf("current session ended by the password change: %d", res.StatusCode)
	}
	if res := phone.login("alice", "looking-glass"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with the new password: %d", res.StatusCode)
	}
	if res := laptop.do("POST", "/sessions/revoke", url.Values{"all": {"others"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke others: %d", res.StatusCode)
	}
	if res := phone.do("GET", "/me", nil); res.StatusCode != 401 {
		t.Fatal("revoke others left the phone signed in")
	}
}

func TestDemoSensitiveAndCrossOrigin(t *testing.T) {
	h, clk := newApp(t, 30*time.Minute)
	c := &client{t: t, h: h}
	c.login("bob", "builder")
	if res := c.do("GET", "/sensitive", nil); res.StatusCode != 200 {
		t.Fatalf("sensitive right after login: %d", res.StatusCode)
	}
	clk.Advance(6 * time.Minute)
	if res := c.do("GET", "/sensitive", nil); res.StatusCode != 401 {
		t.Fatalf("sensitive 6 min after login: %d; want the password page", res.StatusCode)
	}
	if res := c.do("POST", "/reauth", url.Values{"password": {"builder"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reauth: %d", res.StatusCode)
	}
	if res := c.do("GET", "/sensitive", nil); res.StatusCode != 200 {
		t.Fatalf("sensitive after reauth: %d", res.StatusCode)
	}
	if res := c.do("POST", "/logout", url.Values{}, "Sec-Fetch-Site", "cross-site"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d; want 403", res.StatusCode)
	}
}

// TestDemoSignInPageSaysWhy: after each kind of ending, a page behind
// RequireLogin sends the browser to the sign-in page, which says why the
// session ended. The reason comes from latch (Session.Ended on that next
// request), not from the URL, which anyone can write.
func TestDemoSignInPageSaysWhy(t *testing.T) {
	tests := []struct {
		name string
		end  func(c, other *client, clk *latchtest.Clock)
		want string
	}{
		{"idle timeout", func(c, _ *client, clk *latchtest.Clock) { clk.Advance(31 * time.Minute) }, "after a period of inactivity"},
		{"absolute timeout", func(c, _ *client, clk *latchtest.Clock) {
			for range 2 {
				clk.Advance(20 * time.Minute)
				c.do("GET", "/sessions", nil) // activity: the idle deadline moves
			}
			clk.Advance(21 * time.Minute) // 61 minutes since sign-in, 21 idle
		}, "reached its maximum lifetime"},
		{"revoked from another device", func(c, other *client, _ *latchtest.Clock) {
			other.login("alice", "wonderland")
			if res := other.do("POST", "/sessions/revoke", url.Values{"all": {"others"}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("revoke others: %d", res.StatusCode)
			}
		}, "revoked from another device"},
		{"signed out", func(c, _ *client, _ *latchtest.Clock) { c.do("POST", "/logout", url.Values{}) }, "You have signed out."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, clk := newAppWith(t, latch.Config{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: time.Hour})
			c := &client{t: t, h: h}
			other := &client{t: t, h: h, ua: "Mozilla/5.0 (iPhone) Safari/604.1"}
			if res := c.login("alice", "wonderland"); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: %d", res.StatusCode)
			}
			tt.end(c, other, clk)
			path := "/sessions"
			if tt.name == "signed out" {
				path = "/login?reason=logout" // where the sign-out button leads
			}
			at, body := c.follow(path)
			if p, _, _ := strings.Cut(at, "?"); p != "/login" || !strings.Contains(body, `id="reason"`) || !strings.Contains(body, tt.want) {
				t.Fatalf("sign-in page %s does not say %q:\n%s", at, tt.want, body)
			}
			if _, body := c.follow("/login?reason=idle"); tt.name == "signed out" && strings.Contains(body, `id="reason"`) {
				t.Fatalf("the sign-in page takes an ending from its URL (cookies %v):\n%s", c.others, body)
			}
			c.login("alice", "wonderland")
			if _, body := c.follow("/login"); strings.Contains(body, `id="reason"`) {
				t.Fatalf("after signing in again the sign-in page still gives a reason:\n%s", body)
			}
		})
	}
}
