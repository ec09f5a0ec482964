package latch_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/latchtest"
)

// The browser side of device-bound sessions, as the draft and Chromium
// (net/device_bound_sessions, and what Chromium 156 was seen to send, see
// the README) play it: a cookie jar that drops cookies at their Max-Age,
// registration on a Secure-Session-Registration header, challenges cached
// from Secure-Session-Challenge headers that carry an id, and a refresh
// before any request that would go out without a session's bound cookie,
// with up to four signatures per refresh. Proofs are JWTs whose header is
// {"alg","jwk" (registration only),"typ":"dbsc+jwt"} and whose payload is
// {"jti": challenge}, ES256 signatures in the 64-byte r||s form; header
// values are sent bare, as Chromium does, or quoted, as the draft writes
// them.

// dbscKey is a browser's session key.
type dbscKey struct {
	alg    string
	signer crypto.Signer
}

func newES256(t testing.TB) *dbscKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &dbscKey{alg: "ES256", signer: k}
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func newRS256(t testing.TB) *dbscKey {
	t.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return &dbscKey{alg: "RS256", signer: rsaKey}
}

// jwk is the key's public JWK, members in the order Chromium writes them.
func (k *dbscKey) jwk() string {
	switch pub := k.signer.Public().(type) {
	case *ecdsa.PublicKey:
		b, _ := pub.Bytes() // 04 || x || y
		return fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, b64u(b[1:33]), b64u(b[33:]))
	case *rsa.PublicKey:
		return fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, b64u(big.NewInt(int64(pub.E)).Bytes()), b64u(pub.N.Bytes()))
	}
	panic("key type")
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// proof signs a DBSC proof over challenge; withJWK for a registration.
func (k *dbscKey) proof(challenge string, withJWK bool) string {
	hdr := `{"alg":"` + k.alg + `",`
	if withJWK {
		hdr += `"jwk":` + k.jwk() + `,`
	}
	hdr += `"typ":"dbsc+jwt"}`
	payload, _ := json.Marshal(map[string]string{"jti": challenge})
	input := b64u([]byte(hdr)) + "." + b64u(payload)
	return input + "." + b64u(k.sign(input))
}

func (k *dbscKey) sign(input string) []byte {
	d := sha256.Sum256([]byte(input))
	switch s := k.signer.(type) {
	case *ecdsa.PrivateKey:
		r, ss, err := ecdsa.Sign(rand.Reader, s, d[:])
		if err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		ss.FillBytes(out[32:])
		return out
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(rand.Reader, s, crypto.SHA256, d[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
	panic("key type")
}

type jarCookie struct {
	value   string
	expires time.Time // zero: until the browser closes
}

// browserSession is a DBSC session as the browser keeps it.
type browserSession struct {
	key                                *dbscKey
	id, refreshURL, cookie, attributes string
	challenge                          string // cached, "" when none
}

// browser is a client with a cookie jar and, when key is set, DBSC.
type browser struct {
	t     testing.TB
	app   http.Handler
	clock *latchtest.Clock
	key   *dbscKey // nil: a browser without DBSC
	quote bool     // send sf-strings quoted (the draft) instead of bare (Chromium)

	mu        sync.Mutex
	jar       map[string]jarCookie
	sessions  map[string]*browserSession
	refreshes int      // refreshes that got a new bound cookie
	proofs    []string // every proof sent to the refresh endpoint
}

func newBrowser(t testing.TB, app http.Handler, clock *latchtest.Clock, key *dbscKey) *browser {
	return &browser{t: t, app: app, clock: clock, key: key, jar: map[string]jarCookie{}, sessions: map[string]*browserSession{}}
}

// copyCookies returns a browser without DBSC holding a copy of b's
// cookies: the thief's machine.
func (b *browser) copyCookies(key *dbscKey) *browser {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := newBrowser(b.t, b.app, b.clock, key)
	for k, v := range b.jar {
		c.jar[k] = v
	}
	return c
}

func (b *browser) sfString(v string) string {
	if b.quote {
		return `"` + v + `"`
	}
	return v
}

// cookieHeader is the Cookie header the jar sends now; keepExpired
// sends cookies past their Max-Age too (a thief's client need not drop
// them).
func (b *browser) cookieHeader(keepExpired bool) string {
	now := b.clock.Now()
	var parts []string
	for name, c := range b.jar {
		if !keepExpired && !c.expires.IsZero() && !now.Before(c.expires) {
			delete(b.jar, name)
			continue
		}
		parts = append(parts, name+"="+c.value)
	}
	return strings.Join(parts, "; ")
}

// roundTrip sends one request as it is and processes the response's
// cookies and DBSC headers. It does not refresh first.
func (b *browser) roundTrip(method, path string, hdr http.Header, body string, keepExpired bool) *http.Response {
	res := b.send(newRequest(method, path, hdr, body), keepExpired)
	if b.key != nil {
		b.processChallenges(res)
		if reg := res.Header.Get("Secure-Session-Registration"); reg != "" {
			b.register(reg)
		}
	}
	return res
}

// newRequest is a request over HTTPS to the application, with hdr and,
// when body is not empty, a form body.
func newRequest(method, path string, hdr http.Header, body string) *http.Request {
	r := httptest.NewRequest(method, "https://app.example"+path, strings.NewReader(body))
	r.TLS = &tls.ConnectionState{}
	for k, v := range hdr {
		r.Header[k] = v
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return r
}

// send serves r with b's cookies (the expired ones too when keepExpired)
// and keeps the cookies the response sets.
func (b *browser) send(r *http.Request, keepExpired bool) *http.Response {
	b.mu.Lock()
	if c := b.cookieHeader(keepExpired); c != "" {
		r.Header.Set("Cookie", c)
	}
	b.mu.Unlock()
	rec := httptest.NewRecorder()
	b.app.ServeHTTP(rec, r)
	res := rec.Result()
	b.mu.Lock()
	b.store(res)
	b.mu.Unlock()
	return res
}

func (b *browser) store(res *http.Response) {
	for _, c := range res.Cookies() {
		switch {
		case c.MaxAge < 0:
			delete(b.jar, c.Name)
		case c.MaxAge > 0:
			b.jar[c.Name] = jarCookie{c.Value, b.clock.Now().Add(time.Duration(c.MaxAge) * time.Second)}
		default:
			b.jar[c.Name] = jarCookie{value: c.Value}
		}
	}
}

// do is a request as a DBSC browser makes it: first a refresh of every
// session whose bound cookie is missing.
func (b *browser) do(method, path string, form url.Values) *http.Response {
	b.t.Helper()
	if b.key != nil {
		b.mu.Lock()
		var need []*browserSession
		b.cookieHeader(false) // drop expired cookies
		for _, s := range b.sessions {
			if _, ok := b.jar[s.cookie]; !ok {
				need = append(need, s)
			}
		}
		b.mu.Unlock()
		for _, s := range need {
			b.refresh(s)
		}
	}
	var body string
	if form != nil {
		body = form.Encode()
	}
	return b.roundTrip(method, path, nil, body, false)
}

// processChallenges caches each challenge that names a session of the
// browser (a challenge without id is ignored, as Chromium does).
func (b *browser) processChallenges(res *http.Response) {
	for _, v := range res.Header.Values("Secure-Session-Challenge") {
		c, params, ok := parseSFItem(v)
		if !ok {
			continue
		}
		b.mu.Lock()
		if s := b.sessions[params["id"]]; s != nil {
			s.challenge = c
		}
		b.mu.Unlock()
	}
}

// register runs a registration as Chromium does on the header.
func (b *browser) register(header string) {
	b.t.Helper()
	algs, params, ok := parseRegistration(header)
	if !ok || !strings.Contains(" "+algs+" ", " "+b.key.alg+" ") {
		b.t.Fatalf("browser: registration header %q does not offer %s", header, b.key.alg)
	}
	// Chromium makes a new key for every registration (an RSA key is
	// reused here, as making one is slow).
	key := b.key
	if key.alg == "ES256" {
		key = newES256(b.t)
	}
	hdr := http.Header{"Secure-Session-Response": {b.sfString(key.proof(params["challenge"], true))}}
	res := b.roundTrip("POST", params["path"], hdr, "", false)
	if res.StatusCode != http.StatusOK {
		return // the registration failed: no session
	}
	var ins instructions
	if err := json.NewDecoder(res.Body).Decode(&ins); err != nil {
		b.t.Fatalf("browser: registration answer: %v", err)
	}
	if ins.SessionIdentifier == "" || len(ins.Credentials) != 1 {
		b.t.Fatalf("browser: registration answer %+v lacks an identifier or a credential", ins)
	}
	s := &browserSession{key: key, id: ins.SessionIdentifier, refreshURL: ins.RefreshURL, cookie: ins.Credentials[0].Name, attributes: ins.Credentials[0].Attributes}
	if s.refreshURL == "" {
		s.refreshURL = params["path"]
	}
	b.mu.Lock()
	b.sessions[s.id] = s
	b.mu.Unlock()
	b.processChallenges(res) // the challenge of the registration answer
}

// refresh refreshes s: it signs the cached challenge (or sends no proof
// when it has none), and on a 403 signs the new challenge, at most four
// signatures in all. It reports whether the bound cookie was renewed.
func (b *browser) refresh(s *browserSession) bool {
	signed := 0
	for attempt := 0; attempt < 8; attempt++ {
		hdr := http.Header{"Sec-Secure-Session-Id": {b.sfString(s.id)}}
		b.mu.Lock()
		challenge := s.challenge
		b.mu.Unlock()
		if challenge != "" {
			if signed == 4 {
				return false
			}
			p := s.key.proof(challenge, false)
			signed++
			b.mu.Lock()
			b.proofs = append(b.proofs, p)
			b.mu.Unlock()
			hdr.Set("Secure-Session-Response", b.sfString(p))
		}
		res := b.roundTrip("POST", s.refreshURL, hdr, "", false)
		switch {
		case res.StatusCode == http.StatusForbidden:
			b.mu.Lock()
			same := s.challenge == challenge
			b.mu.Unlock()
			if same && challenge != "" {
				return false
			}
			continue
		case res.StatusCode >= 400 && res.StatusCode < 500:
			b.terminate(s)
			return false
		case res.StatusCode != http.StatusOK:
			return false
		}
		var ins instructions
		if err := json.NewDecoder(res.Body).Decode(&ins); err == nil && ins.Continue != nil && !*ins.Continue {
			b.terminate(s)
			return false
		}
		b.mu.Lock()
		b.refreshes++
		b.mu.Unlock()
		return true
	}
	return false
}

func (b *browser) terminate(s *browserSession) {
	b.mu.Lock()
	delete(b.sessions, s.id)
	b.mu.Unlock()
}

func (b *browser) session() *browserSession {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.sessions {
		return s
	}
	return nil
}

// instructions are the JSON session instructions.
type instructions struct {
	SessionIdentifier string `json:"session_identifier"`
	RefreshURL        string `json:"refresh_url"`
	Continue          *bool  `json:"continue"`
	Scope             *struct {
		IncludeSite *bool `json:"include_site"`
	} `json:"scope"`
	Credentials []struct {
		Type       string `json:"type"`
		Name       string `json:"name"`
		Attributes string `json:"attributes"`
	} `json:"credentials"`
}

// parseSFItem parses `"value";k="v";...` (an sf-string with string
// parameters), enough for the headers latch sends.
func parseSFItem(v string) (string, map[string]string, bool) {
	v = strings.TrimSpace(v)
	val, rest, ok := sfQuoted(v)
	if !ok {
		return "", nil, false
	}
	params, ok := sfParams(rest)
	return val, params, ok
}

func sfQuoted(v string) (string, string, bool) {
	if !strings.HasPrefix(v, `"`) {
		return "", "", false
	}
	end := strings.IndexByte(v[1:], '"')
	if end < 0 || strings.ContainsAny(v[1:1+end], `\`) {
		return "", "", false
	}
	return v[1 : 1+end], v[2+end:], true
}

func sfParams(rest string) (map[string]string, bool) {
	params := map[string]string{}
	for rest != "" {
		if rest[0] != ';' {
			return nil, false
		}
		k, after, ok := strings.Cut(rest[1:], "=")
		if !ok {
			return nil, false
		}
		val, r, ok := sfQuoted(after)
		if !ok {
			return nil, false
		}
		params[k], rest = val, r
	}
	return params, true
}

// parseRegistration parses `(ALG ALG);path="...";challenge="..."`.
func parseRegistration(v string) (algs string, params map[string]string, ok bool) {
	if !strings.HasPrefix(v, "(") {
		return "", nil, false
	}
	end := strings.IndexByte(v, ')')
	if end < 0 {
		return "", nil, false
	}
	params, ok = sfParams(v[end+1:])
	return v[1:end], params, ok
}
