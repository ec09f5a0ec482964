package audit

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// echoApp is a target that writes the password it was sent back into what
// the auditor quotes: an attribute of the session cookie, a link, and
// (with refuse) the Domain of the only cookie the login sets, which a
// browser refuses, so that the login's error quotes it.
func echoApp(h *hostileApp, refuse bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		switch r.URL.Path {
		case "/login":
			if r.Method != http.MethodPost {
				fmt.Fprint(w, "form")
				return
			}
			pw := r.PostFormValue("password")
			if refuse {
				w.Header().Add("Set-Cookie", "sid=1; Domain="+pw+".example")
				http.Redirect(w, r, "/me", http.StatusSeeOther)
				return
			}
			if r.PostFormValue("username") != "alice" || pw != "correct-horse" {
				http.Error(w, "wrong password "+pw, http.StatusUnauthorized)
				return
			}
			sid := randomValue()
			h.users[sid] = "alice"
			w.Header().Add("Set-Cookie", "sid="+sid+"; Path=/; Comment="+pw+"; "+url.QueryEscape(pw)+"; HttpOnly")
			http.Redirect(w, r, "/me?from="+url.QueryEscape(pw), http.StatusSeeOther)
		case "/me":
			h.mes.Add(1)
			if h.user(r, "sid") == "" {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			fmt.Fprintf(w, `{"user":"alice"} <a href="/p/%s">you typed %s</a>`, url.PathEscape(r.URL.Query().Get("from")), r.URL.Query().Get("from"))
		default:
			fmt.Fprint(w, "home")
		}
	})
}

// TestPasswordEchoedByTargetNeverPrinted: the login password, like a
// password in the target URL, never reaches the report or an error, in
// any format, whatever the target echoes.
func TestPasswordEchoedByTargetNeverPrinted(t *testing.T) {
	const pw = "correct-horse"
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("refuse=%v", refuse), func(t *testing.T) {
			clock := newFakeClock()
			srv := httptest.NewServer(echoApp(newHostileApp(clock), refuse))
			t.Cleanup(srv.Close)
			cfg := loginConfig(srv.URL+"/", "", nil, clock)
			cfg.Password = pw
			cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 4
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := Run(ctx, cfg)
			if refuse {
				if err == nil {
					t.Fatal("Run succeeded; want a login error")
				}
				if strings.Contains(err.Error(), "horse") {
					t.Errorf("the error quotes the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			for _, f := range Formats {
				var b bytes.Buffer
				if err := Write(&b, rep, f, false); err != nil {
					t.Fatal(err)
				}
				if i := strings.Index(b.String(), "horse"); i >= 0 {
					t.Errorf("the %s report quotes the password: %q", f, excerpt(b.String(), i))
				}
			}
		})
	}
}

// TestPlainHTTPLoginIsNotHiddenBehindARedirectedHome: the plain-HTTP
// entry point redirects its home page to HTTPS but serves the login form
// (and takes the password) in clear text.
func TestPlainHTTPLoginIsNotHiddenBehindARedirectedHome(t *testing.T) {
	clock := newFakeClock()
	app := &fakeApp{opt: secureApp, clock: clock, s: map[string]*fakeSession{}}
	srv := httptest.NewTLSServer(app)
	t.Cleanup(srv.Close)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, srv.URL+"/", http.StatusMovedPermanently)
			return
		}
		app.ServeHTTP(w, r)
	}))
	t.Cleanup(plain.Close)
	cfg := loginConfig(srv.URL+"/", plain.URL+"/", srv.Client().Transport.(*http.Transport).TLSClientConfig, clock)
	cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 4
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r := resultOf(rep, CheckHTTPSRedirect); r.Status != Fail || !strings.Contains(r.Evidence, "/login") {
		t.Errorf("https-redirect = %s (%s); want fail naming /login", r.Status, r.Evidence)
	}
}
