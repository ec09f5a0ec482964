package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

// The device-bound session benchmarks (DBSC, issue 18) measure what a
// bound session costs the server, on memstore, over HTTPS requests as
// httptest makes them (r.TLS set), one request per iteration:
//
//   - read/off: a signed-in session's page view, device-bound sessions off;
//   - read/unbound: the same with them on (DeviceBoundEnforce) for a
//     session that never registered (every browser without DBSC);
//   - read/bound: a registered session's page view with its bound cookie,
//     which latch checks (an HMAC over the key's hash and the expiry);
//   - refresh: a refresh with a proof signed by the registered key over a
//     fresh challenge: an ES256 verification, the challenge checked and
//     spent, a new bound cookie and the next challenge issued;
//   - refresh-challenge: a refresh without a proof, answered 403 with a
//     new challenge (the first step of a browser without one cached);
//   - register: a registration, with a new session each (its login is
//     made before the timer runs).
//
// The proofs are signed before the timer runs: the browser signs, not the
// server.

// dbscApp is a Manager with device-bound sessions as mode says and its
// handler: POST /login logs alice in, GET / answers her theme.
type dbscApp struct {
	m     *latch.Manager
	h     http.Handler
	clock *FakeClock
}

func newDBSCApp(tb testing.TB, mode latch.DeviceBoundMode) *dbscApp {
	tb.Helper()
	store, err := memstore.New(memstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	clock := NewFakeClock(time.Now())
	m, err := latch.New(latch.Config{Store: store, Keys: latchtest.Keys(tb), Logger: slog.New(slog.DiscardHandler),
		DeviceBound: latch.DeviceBound{Mode: mode}, Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Login("alice"); err != nil {
			tb.Fatal(err)
		}
		s.Set("theme", ThemeValue)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, sessionTheme(r)) })
	return &dbscApp{m: m, h: m.Handler(mux), clock: clock}
}

// serve sends one request with the cookies and headers (name, value
// pairs) and returns the response.
func (a *dbscApp) serve(method, path, cookies string, hdr ...string) *http.Response {
	r := httptest.NewRequest(method, "https://app.test"+path, nil)
	if cookies != "" {
		r.Header.Set("Cookie", cookies)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w.Result()
}

// login signs alice in and returns the session cookie and the
// registration challenge offered (none with DBSC off).
func (a *dbscApp) login(tb testing.TB) (cookie, challenge string) {
	tb.Helper()
	res := a.serve("POST", "/login", "")
	for _, c := range res.Cookies() {
		if c.Name == a.m.CookieName() {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		tb.Fatal("login set no session cookie")
	}
	if reg := res.Header.Get("Secure-Session-Registration"); reg != "" {
		_, rest, _ := strings.Cut(reg, `challenge="`)
		challenge, _, _ = strings.Cut(rest, `"`)
	}
	return cookie, challenge
}

// browserKey is the key a browser makes, and signs proofs with.
type browserKey struct{ k *ecdsa.PrivateKey }

func newBrowserKey(tb testing.TB) *browserKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &browserKey{k}
}

// proof is a DBSC proof over challenge as Chromium makes one: the key in
// the header at registration.
func (k *browserKey) proof(tb testing.TB, challenge string, withKey bool) string {
	enc := base64.RawURLEncoding.EncodeToString
	hdr := map[string]any{"alg": "ES256", "typ": "dbsc+jwt"}
	if withKey {
		pt, err := k.k.PublicKey.Bytes()
		if err != nil {
			tb.Fatal(err)
		}
		hdr["jwk"] = map[string]string{"kty": "EC", "crv": "P-256", "x": enc(pt[1:33]), "y": enc(pt[33:])}
	}
	hb, _ := json.Marshal(hdr)
	pb, _ := json.Marshal(map[string]string{"jti": challenge})
	signed := enc(hb) + "." + enc(pb)
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, k.k, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + enc(sig)
}

// bound is a registered session: its cookies, DBSC id and key.
type bound struct {
	cookies string // session and bound cookie
	session string // the session cookie alone
	id      string
	key     *browserKey
}

// challengeOf reads `"c";id="sid"`.
func challengeOf(res *http.Response) string {
	v := res.Header.Get("Secure-Session-Challenge")
	c, _, _ := strings.Cut(v, ";")
	return strings.Trim(c, `"`)
}

// register logs in and registers a key.
func (a *dbscApp) register(tb testing.TB) *bound {
	tb.Helper()
	cookie, chal := a.login(tb)
	key := newBrowserKey(tb)
	res := a.serve("POST", a.m.Config().DeviceBound.RegisterPath(), cookie, "Secure-Session-Response", key.proof(tb, chal, true))
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("registration answered %d", res.StatusCode)
	}
	var ins struct {
		ID string `json:"session_identifier"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ins); err != nil || ins.ID == "" {
		tb.Fatalf("registration answer: %v", err)
	}
	b := &bound{session: cookie, id: ins.ID, key: key}
	for _, c := range res.Cookies() {
		if c.Name == latch.DefaultDeviceBoundCookieName {
			b.cookies = cookie + "; " + c.Name + "=" + c.Value
		}
	}
	if b.cookies == "" {
		tb.Fatal("registration set no bound cookie")
	}
	return b
}

// refreshedCookies is the Cookie header after a refresh: the session
// cookie and the bound cookie res sets; empty when res sets none.
func refreshedCookies(session string, res *http.Response) string {
	var fresh string
	for _, c := range res.Cookies() {
		if c.Name == latch.DefaultDeviceBoundCookieName {
			fresh = session + "; " + c.Name + "=" + c.Value
		}
	}
	return fresh
}

// checkRead fails unless res is the signed-in page.
func checkRead(tb testing.TB, what string, res *http.Response) {
	tb.Helper()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != ThemeValue {
		tb.Fatalf("%s: %d %q", what, res.StatusCode, body)
	}
}

// checkSignedOut fails unless res is the page of a request without
// alice's session: latch treats a bound session's request without its
// bound cookie as signed out.
func checkSignedOut(tb testing.TB, res *http.Response) {
	tb.Helper()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != "none" {
		tb.Fatalf("the session cookie alone: %d %q; want the signed-out page", res.StatusCode, body)
	}
}

func BenchmarkDeviceBound(b *testing.B) {
	b.Run("read/off", func(b *testing.B) {
		a := newDBSCApp(b, latch.DeviceBoundOff)
		cookie, _ := a.login(b)
		serveLoop(b, "read/off", a.h, cookie, ThemeValue)
	})
	b.Run("read/unbound", func(b *testing.B) {
		a := newDBSCApp(b, latch.DeviceBoundEnforce)
		cookie, _ := a.login(b)
		serveLoop(b, "read/unbound", a.h, cookie, ThemeValue)
	})
	b.Run("read/bound", func(b *testing.B) {
		a := newDBSCApp(b, latch.DeviceBoundEnforce)
		s := a.register(b)
		// Past latch's grace for the browser's first requests, when a
		// request without the bound cookie is refused.
		a.clock.Advance(31 * time.Second)
		checkRead(b, "bound read", a.serve("GET", "/", s.cookies))
		checkSignedOut(b, a.serve("GET", "/", s.session))
		serveLoop(b, "read/bound", a.h, s.cookies, ThemeValue)
	})
	b.Run("refresh-challenge", func(b *testing.B) {
		a := newDBSCApp(b, latch.DeviceBoundEnforce)
		s := a.register(b)
		path := a.m.Config().DeviceBound.RefreshPath()
		var res *http.Response
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			res = a.serve("POST", path, s.session, "Sec-Secure-Session-Id", s.id)
		}
		b.StopTimer()
		reportCPU(b, cpu)
		if res.StatusCode != http.StatusForbidden || challengeOf(res) == "" {
			b.Fatalf("refresh without proof: %d, challenge %q", res.StatusCode, challengeOf(res))
		}
	})
	b.Run("refresh", func(b *testing.B) {
		a := newDBSCApp(b, latch.DeviceBoundEnforce)
		s := a.register(b)
		path := a.m.Config().DeviceBound.RefreshPath()
		// One fresh challenge and its proof per iteration, made first:
		// challenges are single-use, and any number may be outstanding.
		proofs := make([]string, b.N)
		for i := range proofs {
			res := a.serve("POST", path, s.session, "Sec-Secure-Session-Id", s.id)
			proofs[i] = s.key.proof(b, challengeOf(res), false)
		}
		var res *http.Response
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			res = a.serve("POST", path, s.session, "Sec-Secure-Session-Id", s.id, "Secure-Session-Response", proofs[i])
		}
		b.StopTimer()
		reportCPU(b, cpu)
		if res.StatusCode != http.StatusOK {
			b.Fatalf("refresh: %d", res.StatusCode)
		}
		checkRead(b, "read after refresh", a.serve("GET", "/", refreshedCookies(s.session, res)))
	})
	b.Run("register", func(b *testing.B) {
		a := newDBSCApp(b, latch.DeviceBoundEnforce)
		type reg struct{ cookie, proof string }
		regs := make([]reg, b.N)
		for i := range regs {
			cookie, chal := a.login(b)
			regs[i] = reg{cookie, newBrowserKey(b).proof(b, chal, true)}
		}
		path := a.m.Config().DeviceBound.RegisterPath()
		var res *http.Response
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			res = a.serve("POST", path, regs[i].cookie, "Secure-Session-Response", regs[i].proof)
		}
		b.StopTimer()
		reportCPU(b, cpu)
		if res.StatusCode != http.StatusOK {
			b.Fatalf("register: %d", res.StatusCode)
		}
	})
}

// reportCPU reports the CPU time per iteration since cpu, as serveLoop
// does.
func reportCPU(b *testing.B, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	}
}

// TestDeviceBound checks once what BenchmarkDeviceBound measures, since
// the benchmarks do not run with the tests: each request answers as the
// benchmark expects it to.
func TestDeviceBound(t *testing.T) {
	a := newDBSCApp(t, latch.DeviceBoundEnforce)
	cookie, chal := a.login(t)
	if chal == "" {
		t.Fatal("the login over HTTPS offered no registration")
	}
	checkRead(t, "unbound read", a.serve("GET", "/", cookie))
	s := a.register(t)
	a.clock.Advance(31 * time.Second)
	checkRead(t, "bound read", a.serve("GET", "/", s.cookies))
	checkSignedOut(t, a.serve("GET", "/", s.session))
	path := a.m.Config().DeviceBound.RefreshPath()
	res := a.serve("POST", path, s.session, "Sec-Secure-Session-Id", s.id)
	if res.StatusCode != http.StatusForbidden || challengeOf(res) == "" {
		t.Fatalf("refresh without proof: %d, challenge %q", res.StatusCode, challengeOf(res))
	}
	res = a.serve("POST", path, s.session, "Sec-Secure-Session-Id", s.id, "Secure-Session-Response", s.key.proof(t, challengeOf(res), false))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d", res.StatusCode)
	}
	checkRead(t, "read after refresh", a.serve("GET", "/", refreshedCookies(s.session, res)))
	off := newDBSCApp(t, latch.DeviceBoundOff)
	if c, chal := off.login(t); chal != "" {
		t.Errorf("with device-bound sessions off the login offered a registration")
	} else {
		checkRead(t, "read, off", off.serve("GET", "/", c))
	}
}
