package audit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// servedAs makes the audit reach its loopback target under host, a name
// that is not loopback, so that the cookie rules browsers relax for
// loopback (Secure over plain HTTP) apply in full: the dialer sends every
// connection to 127.0.0.1 on the port asked for.
func servedAs(host string) func(*Config) {
	return func(c *Config) {
		c.Target = rehost(c.Target, host)
		if c.HTTPURL != "" {
			c.HTTPURL = rehost(c.HTTPURL, host)
		}
		c.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		}
	}
}

// rehost returns raw with its host name replaced by host, port kept.
func rehost(raw, host string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	u.Host = net.JoinHostPort(host, u.Port())
	return u.String()
}

// cookieSpy records the Cookie headers a plain-HTTP listener receives.
// It redirects "/" and "/login" to secure (as it should), and serves any
// other page.
type cookieSpy struct {
	secure  string
	mu      sync.Mutex
	cookies []string
}

func (s *cookieSpy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.cookies = append(s.cookies, r.Header.Get("Cookie"))
	s.mu.Unlock()
	if r.URL.Path == "/" || r.URL.Path == "/login" {
		http.Redirect(w, r, s.secure, http.StatusMovedPermanently)
		return
	}
	fmt.Fprint(w, "welcome")
}

func (s *cookieSpy) saw(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.cookies {
		for _, part := range strings.Split(h, ";") {
			if n, _, _ := strings.Cut(strings.TrimSpace(part), "="); n == name {
				return true
			}
		}
	}
	return false
}

// TestSecureCookieNeverSentOverPlainHTTP is the hostile target of issue
// 19 item 5: over HTTPS its login sets a Secure session cookie and a
// plain one, then redirects to plain HTTP on another port of the same
// host. A browser follows the redirect with the plain cookie only; the
// auditor must do the same, and report the downgrade itself.
func TestSecureCookieNeverSentOverPlainHTTP(t *testing.T) {
	spy := &cookieSpy{}
	plain := httptest.NewServer(spy)
	t.Cleanup(plain.Close)
	plainPort := plain.Listener.Addr().(*net.TCPAddr).Port
	var sessions sync.Map
	app := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		switch r.URL.Path {
		case "/login":
			if r.Method != http.MethodPost {
				fmt.Fprint(w, `<form method="post"></form>`)
				return
			}
			if r.PostFormValue("password") != "pw" {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			id := rand.Text()
			sessions.Store(id, true)
			w.Header().Add("Set-Cookie", "__Host-sid="+id+"; Path=/; Secure; HttpOnly; SameSite=Lax")
			w.Header().Add("Set-Cookie", "theme=dark; Path=/")
			http.Redirect(w, r, fmt.Sprintf("http://example.com:%d/welcome", plainPort), http.StatusSeeOther)
		case "/me":
			if c, err := r.Cookie("__Host-sid"); err == nil {
				if _, ok := sessions.Load(c.Value); ok {
					fmt.Fprint(w, "alice")
					return
				}
			}
			http.Error(w, "no", http.StatusUnauthorized)
		case "/logout":
			if c, err := r.Cookie("__Host-sid"); err == nil {
				sessions.Delete(c.Value)
			}
		default:
			fmt.Fprint(w, "home")
		}
	}))
	t.Cleanup(app.Close)
	spy.secure = rehost(app.URL+"/", "example.com")
	clock := newFakeClock()
	cfg := loginConfig(app.URL+"/", plain.URL+"/", app.Client().Transport.(*http.Transport).TLSClientConfig, clock)
	cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 3
	servedAs("example.com")(&cfg)
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if spy.saw("__Host-sid") {
		t.Error("the Secure session cookie was sent over plain HTTP")
	}
	if !spy.saw("theme") {
		t.Error("the plain cookie was not sent over plain HTTP, as a browser sends it: the redirect was not followed")
	}
	r := resultOf(rep, CheckHTTPSRedirect)
	if r.Status != Fail || !strings.Contains(r.Evidence, "POST https://example.com") || !strings.Contains(r.Evidence, "which is plain HTTP") {
		t.Errorf("https-redirect %s: %s; want a failure naming the login's redirect to plain HTTP", r.Status, r.Evidence)
	}
}

func resultOf(rep *Report, id string) Result {
	for _, c := range rep.Checks {
		if c.ID == id {
			return c
		}
	}
	return Result{}
}

// TestSetCookieFloodCostsLinearWork is the hostile target of issue 19
// item 8: every page sets n cookies, then deletes them all, which cost
// the old jar quadratic work (40,000 cookies: 11 s a client). The work is
// counted as bytes allocated over a whole audit, at n and at 4n: linear
// work grows about fourfold, quadratic work sixteenfold.
func TestSetCookieFloodCostsLinearWork(t *testing.T) {
	cost := func(n int) uint64 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			for i := range n {
				h.Add("Set-Cookie", fmt.Sprintf("c%d=v; Path=/", i))
			}
			for i := range n {
				h.Add("Set-Cookie", fmt.Sprintf("c%d=; Path=/; Max-Age=0", i))
			}
			h.Add("Set-Cookie", "sid="+rand.Text()+"; Path=/")
		}))
		defer srv.Close()
		clock := newFakeClock()
		cfg := Config{Target: srv.URL + "/", Samples: 2, Now: clock.Now, Sleep: clock.Sleep}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	const n = 2000
	small, large := cost(n), cost(4*n)
	if ratio := float64(large) / float64(small); ratio > 8 {
		t.Errorf("4x the cookies cost %.1fx the work (%d bytes allocated for %d cookies, %d for %d): more than linear", ratio, large, 4*n, small, n)
	}
}

// TestLoginWithRefusedCookieSaysWhy: a login whose session cookie every
// browser refuses (a __Host- cookie without Secure) leaves no session, and
// the error says which cookie was refused and why.
func TestLoginWithRefusedCookieSaysWhy(t *testing.T) {
	clock := newFakeClock()
	target, httpURL, tc := startApp(t, appOptions{cookieName: "__Host-id", attrs: "; Path=/; HttpOnly"}, true, clock)
	cfg := loginConfig(target, httpURL, tc, clock)
	_, err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrLogin) || !strings.Contains(err.Error(), `cookie "__Host-id": __Host- prefix without Secure`) {
		t.Errorf("error %v; want ErrLogin naming the refused cookie", err)
	}
}

// dialMapping sends connections for port 80 to port80 and every other
// connection to the port asked for, all on 127.0.0.1: the target's
// default plain-HTTP entry point becomes a listener of the test's.
func dialMapping(port80 int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if port == "80" {
			port = fmt.Sprint(port80)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
}

// TestURLCredentialsStayWithTheirOrigin is the hostile target of issue 19
// item 6: the target URL carries Basic credentials. They must reach the
// target on every request, and nothing else: not the plain-HTTP probe of
// port 80, not the login's redirect to another port. The target echoes the
// password in a header the report quotes; no format of the report, and no
// error, may show it.
func TestURLCredentialsStayWithTheirOrigin(t *testing.T) {
	const user, pass = "alice", "s3cret-pw"
	var mu sync.Mutex
	var leaked, missing []string
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header.Get("Authorization"); h != "" {
			mu.Lock()
			leaked = append(leaked, r.URL.Path)
			mu.Unlock()
		}
		fmt.Fprint(w, "plain")
	}))
	t.Cleanup(plain.Close)
	plainPort := plain.Listener.Addr().(*net.TCPAddr).Port
	var sessions sync.Map
	app := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			mu.Lock()
			missing = append(missing, r.Method+" "+r.URL.Path)
			mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			http.Error(w, "who", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Strict-Transport-Security", "max-age=600; x="+p)
		switch r.URL.Path {
		case "/login":
			if r.Method != http.MethodPost {
				fmt.Fprint(w, `<form method="post"></form>`)
				return
			}
			if r.PostFormValue("password") != "pw" {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			id := rand.Text()
			sessions.Store(id, true)
			w.Header().Add("Set-Cookie", "__Host-sid="+id+"; Path=/; Secure; HttpOnly; SameSite=Lax")
			http.Redirect(w, r, fmt.Sprintf("http://example.com:%d/welcome", plainPort), http.StatusSeeOther)
		case "/me":
			if c, err := r.Cookie("__Host-sid"); err == nil {
				if _, ok := sessions.Load(c.Value); ok {
					fmt.Fprint(w, "alice")
					return
				}
			}
			http.Error(w, "no", http.StatusUnauthorized)
		default:
			fmt.Fprint(w, "home")
		}
	}))
	t.Cleanup(app.Close)
	clock := newFakeClock()
	target := fmt.Sprintf("https://%s:%s@example.com:%d/", user, pass, app.Listener.Addr().(*net.TCPAddr).Port)
	cfg := loginConfig(target, "", app.Client().Transport.(*http.Transport).TLSClientConfig, clock)
	cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 3
	cfg.dial = dialMapping(plainPort)
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(leaked) > 0 {
		t.Errorf("credentials sent over plain HTTP to %v", leaked)
	}
	if len(missing) > 0 {
		t.Errorf("credentials missing on requests to the target: %v", missing)
	}
	if r := resultOf(rep, CheckHSTS); !strings.Contains(r.Evidence, "max-age=600") {
		t.Errorf("hsts evidence %q does not quote the header; the test shows nothing", r.Evidence)
	}
	for _, f := range Formats {
		var b strings.Builder
		if err := Write(&b, rep, f, false); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), pass) || strings.Contains(b.String(), user+":") {
			t.Errorf("the %s report shows the credentials", f)
		}
	}
	for _, raw := range []string{
		fmt.Sprintf("ftp://%s:%s@example.com/", user, pass),
		fmt.Sprintf("http://%s:%s@127.0.0.1:1/", user, pass),
	} {
		_, err := Run(context.Background(), Config{Target: raw, Now: clock.Now, Sleep: clock.Sleep})
		if err == nil || strings.Contains(err.Error(), pass) {
			t.Errorf("Run with credentials in the URL: error %v shows the password", err)
		}
	}
}
