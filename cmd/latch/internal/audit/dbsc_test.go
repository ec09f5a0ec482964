package audit

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// The device-bound-session check against small DBSC targets: one honest
// (it verifies every proof with the registered key and refuses the
// session cookie without the bound cookie), and hostile ones that offer
// DBSC and then do not enforce it, or renew the bound cookie for anyone.
// The targets verify real ES256 and RS256 signatures: the auditor's
// proofs must be what a server checks.

// dbscTarget is the behaviour of one test target.
type dbscTarget struct {
	// offer is the Secure-Session-Registration value; %s is replaced by
	// the challenge. "" offers no DBSC.
	offer string
	// enforce refuses a bound session's cookie without its bound cookie.
	enforce bool
	// regStatus, when not 0, answers the registration with it.
	regStatus int
	// regBody, when not "", replaces the registration's JSON.
	regBody string
	// refreshGrants renews the bound cookie for any refresh, proof or not.
	refreshGrants bool
	// trustHeaderKey verifies a refresh proof with the key in its own
	// header, not the registered one.
	trustHeaderKey bool
	// refreshFails answers every refresh 500.
	refreshFails bool
	// boundAttrs are the bound cookie's attributes after its value.
	boundAttrs string
	// challengeOnRegistration sends the first refresh's challenge with
	// the registration's answer.
	challengeOnRegistration bool
	// refuseWith is the status of a bound session's request without its
	// bound cookie (default 401, the status without a session).
	refuseWith int
	// meRedirects answers /me without a session with a redirect to the
	// login, as the demo does.
	meRedirects bool
	// grace lets a bound session without its bound cookie in for that
	// long after the registration, as latch does for the browser's
	// first requests.
	grace time.Duration
	// life, when not 0, ends a session that long after its login.
	life time.Duration
}

type dbscSess struct {
	login     time.Time
	boundAt   time.Time
	user      string
	challenge string
	id        string
	key       crypto.PublicKey
	bound     string // the current bound cookie value
}

type dbscServer struct {
	t     *testing.T
	clock *fakeClock
	opt   dbscTarget
	mu    sync.Mutex
	s     map[string]*dbscSess // by session cookie
	// refreshes counts the refresh POSTs, registrations the registrations.
	refreshes, registrations int
}

func (d *dbscServer) sess(r *http.Request) *dbscSess {
	c, err := r.Cookie("__Host-sid")
	if err != nil {
		return nil
	}
	return d.s[c.Value]
}

func (d *dbscServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	const attrs = "; Path=/; Secure; HttpOnly; SameSite=Lax"
	switch r.URL.Path {
	case "/", "/login":
		if r.Method != http.MethodPost {
			fmt.Fprint(w, "<form>login</form>")
			return
		}
		if !goodPassword(r) {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		id := randomValue()
		s := &dbscSess{user: "alice", challenge: randomValue(), login: d.clock.Now()}
		d.s[id] = s
		w.Header().Add("Set-Cookie", "__Host-sid="+id+attrs)
		if d.opt.offer != "" {
			w.Header().Set(hdrRegistration, strings.ReplaceAll(d.opt.offer, "%s", s.challenge))
		}
		http.Redirect(w, r, "/me", http.StatusSeeOther)
	case "/me":
		s := d.sess(r)
		if s != nil && d.opt.life > 0 && d.clock.Now().Sub(s.login) > d.opt.life {
			s.user = ""
		}
		if s == nil || s.user == "" {
			if d.opt.meRedirects {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		if s.key != nil && d.opt.enforce {
			c, err := r.Cookie("__Host-bound")
			inGrace := err != nil && d.clock.Now().Sub(s.boundAt) < d.opt.grace
			if !inGrace && (err != nil || c.Value != s.bound) {
				http.Error(w, "bound cookie missing", cmp.Or(d.opt.refuseWith, http.StatusUnauthorized))
				return
			}
		}
		fmt.Fprint(w, "hello alice")
	case "/logout":
		if s := d.sess(r); s != nil {
			s.user = ""
		}
		fmt.Fprint(w, "bye")
	case "/dbsc/start":
		d.registrations++
		s := d.sess(r)
		if s == nil || r.Method != http.MethodPost {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		if d.opt.regStatus != 0 {
			w.Header().Set(hdrChallenge, fmt.Sprintf(`"%s"`, randomValue()))
			w.WriteHeader(d.opt.regStatus)
			return
		}
		tok := r.Header.Get(hdrResponse)
		jti, key, err := verifyTestProof(tok, nil)
		if err != nil || jti != s.challenge {
			d.t.Logf("registration proof refused: %v (jti %q)", err, jti)
			http.Error(w, "bad proof", http.StatusBadRequest)
			return
		}
		s.key, s.id, s.bound, s.challenge, s.boundAt = key, "s-"+randomValue()[:8], randomValue(), "", d.clock.Now()
		w.Header().Add("Set-Cookie", "__Host-bound="+s.bound+attrs+d.opt.boundAttrs)
		if d.opt.challengeOnRegistration {
			s.challenge = randomValue()
			w.Header().Set(hdrChallenge, fmt.Sprintf(`"%s";id="%s"`, s.challenge, s.id))
		}
		body := d.opt.regBody
		if body == "" {
			body = fmt.Sprintf(`{"session_identifier":%q,"refresh_url":"/dbsc/refresh","scope":{"include_site":false},"credentials":[{"type":"cookie","name":"__Host-bound","attributes":"Path=/; Secure; HttpOnly; SameSite=Lax"}]}`, s.id)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	case "/dbsc/refresh":
		d.refreshes++
		s := d.sess(r)
		if s == nil || s.key == nil || r.Header.Get(hdrSessionID) != s.id {
			http.Error(w, "no such session", http.StatusUnauthorized)
			return
		}
		if d.opt.refreshFails {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		grant := d.opt.refreshGrants
		if tok := r.Header.Get(hdrResponse); tok != "" && !grant {
			var key crypto.PublicKey = s.key
			if d.opt.trustHeaderKey {
				key = nil
			}
			jti, _, err := verifyTestProof(tok, key)
			grant = err == nil && jti == s.challenge && s.challenge != ""
		}
		if !grant {
			s.challenge = randomValue()
			w.Header().Set(hdrChallenge, fmt.Sprintf(`"%s";id="%s"`, s.challenge, s.id))
			w.WriteHeader(http.StatusForbidden)
			return
		}
		s.bound, s.challenge = randomValue(), randomValue()
		w.Header().Set(hdrChallenge, fmt.Sprintf(`"%s";id="%s"`, s.challenge, s.id))
		w.Header().Add("Set-Cookie", "__Host-bound="+s.bound+attrs+d.opt.boundAttrs)
	default:
		http.NotFound(w, r)
	}
}

// verifyTestProof verifies a DBSC proof with key, or with the key of its
// header when key is nil, and returns its jti and the key.
func verifyTestProof(tok string, key crypto.PublicKey) (string, crypto.PublicKey, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", nil, errors.New("not a JWT")
	}
	var hdr struct {
		Alg, Typ string
		JWK      map[string]string `json:"jwk"`
	}
	var payload struct{ JTI string }
	for i, v := range []any{&hdr, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return "", nil, err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return "", nil, err
		}
	}
	if hdr.Typ != "dbsc+jwt" {
		return "", nil, fmt.Errorf("typ %q", hdr.Typ)
	}
	if key == nil {
		if key = jwkKey(hdr.JWK); key == nil {
			return "", nil, errors.New("no usable jwk")
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if hdr.Alg != "ES256" || len(sig) != 64 || !ecdsa.Verify(k, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return "", nil, errors.New("ES256 signature does not verify")
		}
	case *rsa.PublicKey:
		if hdr.Alg != "RS256" || rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) != nil {
			return "", nil, errors.New("RS256 signature does not verify")
		}
	}
	return payload.JTI, key, nil
}

const goodOffer = `(ES256 RS256);path="/dbsc/start";challenge="%s"`

func TestDeviceBoundSession(t *testing.T) {
	tests := []struct {
		name string
		opt  dbscTarget
		want Status
		// evidence must appear in the result's evidence.
		evidence string
		// registrations and refreshes, when not -1, are the POSTs the
		// target must have seen.
		registrations, refreshes int
	}{
		{"no DBSC offered", dbscTarget{}, Skip, "does not offer device-bound sessions", 0, 0},
		{"enforced, ES256", dbscTarget{offer: goodOffer, enforce: true, boundAttrs: "; Max-Age=600"}, Pass,
			"were refused", 1, -1},
		{"enforced, RS256 only", dbscTarget{offer: `(RS256);path="/dbsc/start";challenge="%s"`, enforce: true, boundAttrs: "; Max-Age=600"}, Pass,
			"registered with an RS256 key", 1, -1},
		{"enforced, first refresh's challenge sent with the registration", dbscTarget{offer: goodOffer, enforce: true, boundAttrs: "; Max-Age=600", challengeOnRegistration: true}, Pass,
			"renewed it (1 POST", 1, -1},
		{"enforced with 403 where no session redirects", dbscTarget{offer: goodOffer, enforce: true, boundAttrs: "; Max-Age=600", refuseWith: http.StatusForbidden, meRedirects: true}, Pass,
			"were refused (GET /me answered 403)", 1, -1},
		{"enforced after a 30 s grace, as latch", dbscTarget{offer: goodOffer, enforce: true, boundAttrs: "; Max-Age=600", grace: 30 * time.Second}, Pass,
			"a grace for the requests the browser sends", 1, -1},
		{"a grace, and a session that ends before it", dbscTarget{offer: goodOffer, enforce: true, boundAttrs: "; Max-Age=600", grace: 30 * time.Second, life: 6 * time.Second}, Warn,
			"cannot be told", 1, 0},
		{"a grace longer than the auditor waits", dbscTarget{offer: goodOffer, enforce: true, boundAttrs: "; Max-Age=600", grace: 10 * time.Minute}, Fail,
			"the binding is not enforced", 1, 0},
		{"offered, not enforced", dbscTarget{offer: goodOffer, boundAttrs: "; Max-Age=600"}, Fail, "the binding is not enforced", 1, 0},
		{"offered, not enforced where no session redirects", dbscTarget{offer: goodOffer, boundAttrs: "; Max-Age=600", meRedirects: true}, Fail, "the binding is not enforced", 1, 0},
		{"refresh grants a bound cookie without proof", dbscTarget{offer: goodOffer, enforce: true, refreshGrants: true, boundAttrs: "; Max-Age=600"}, Fail,
			"no proof", 1, -1},
		{"refresh trusts the key in the proof", dbscTarget{offer: goodOffer, enforce: true, trustHeaderKey: true, boundAttrs: "; Max-Age=600"}, Fail,
			"signed by another key", 1, -1},
		{"refresh always fails", dbscTarget{offer: goodOffer, enforce: true, refreshFails: true, boundAttrs: "; Max-Age=600"}, Warn,
			"browsers would lose the session", 1, -1},
		{"bound cookie lives a day", dbscTarget{offer: goodOffer, enforce: true, boundAttrs: "; Max-Age=86400"}, Warn, "lives 24h0m0s", 1, -1},
		{"bound cookie without expiry", dbscTarget{offer: goodOffer, enforce: true}, Warn, "has no expiry", 1, -1},
		{"registration answers 403", dbscTarget{offer: goodOffer, enforce: true, regStatus: http.StatusForbidden}, Warn,
			"Chromium fails a registration that answers 403", 1, 0},
		{"registration answers no JSON", dbscTarget{offer: goodOffer, enforce: true, regBody: "<html>ok</html>"}, Warn,
			"not the session instructions JSON", 1, 0},
		{"registration binds no cookie", dbscTarget{offer: goodOffer, enforce: true, regBody: `{"session_identifier":"x","credentials":[]}`}, Warn,
			"binds no cookie", 1, 0},
		{"registration ends the session", dbscTarget{offer: goodOffer, enforce: true, regBody: `{"session_identifier":"x","continue":false}`}, Warn,
			`"continue": false`, 1, 0},
		{"offer names no supported algorithm", dbscTarget{offer: `(EdDSA);path="/dbsc/start";challenge="%s"`, enforce: true}, Warn,
			"no algorithm Chromium supports", 0, 0},
		{"offer is not an inner list", dbscTarget{offer: `ES256;path="/dbsc/start"`, enforce: true}, Warn, "not an inner list", 0, 0},
		{"offer's path on another host", dbscTarget{offer: `(ES256);path="https://evil.example/dbsc";challenge="%s"`, enforce: true}, Warn,
			"another host", 0, 0},
		{"offer's challenge is a token", dbscTarget{offer: `(ES256);path="/dbsc/start";challenge=abc`, enforce: true}, Warn,
			"not a string", 0, 0},
		{"offer is not a structured field", dbscTarget{offer: `(ES256;path="/dbsc/start`, enforce: true}, Warn,
			"not a structured-field list", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			d := &dbscServer{t: t, clock: clock, opt: tt.opt, s: map[string]*dbscSess{}}
			rep := quickAuditTLS(t, d, clock, nil)
			r := resultOf(rep, CheckDeviceBound)
			if r.Status != tt.want || !strings.Contains(r.Evidence, tt.evidence) {
				t.Errorf("%s = %s with evidence %q; want %s with %q", CheckDeviceBound, r.Status, r.Evidence, tt.want, tt.evidence)
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if tt.registrations >= 0 && d.registrations != tt.registrations {
				t.Errorf("the target saw %d registrations; want %d", d.registrations, tt.registrations)
			}
			if tt.refreshes >= 0 && d.refreshes != tt.refreshes {
				t.Errorf("the target saw %d refreshes; want %d", d.refreshes, tt.refreshes)
			}
		})
	}
}

// TestDeviceBoundSessionOverHTTP checks that an enforced binding over
// plain HTTP is no pass: Chromium ignores the registration header there.
func TestDeviceBoundSessionOverHTTP(t *testing.T) {
	clock := newFakeClock()
	d := &dbscServer{t: t, clock: clock, opt: dbscTarget{offer: goodOffer, enforce: true, boundAttrs: "; Max-Age=600"}, s: map[string]*dbscSess{}}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	cfg := loginConfig(srv.URL+"/", "", nil, clock)
	cfg.IdleWait, cfg.AbsoluteWait, cfg.Samples = 0, 0, 4
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := resultOf(rep, CheckDeviceBound)
	if r.Status != Warn || !strings.Contains(r.Evidence, "Chromium ignores Secure-Session-Registration") {
		t.Errorf("%s = %s (%s); want warn naming plain HTTP", CheckDeviceBound, r.Status, r.Evidence)
	}
}

func TestParseRegistration(t *testing.T) {
	base, _ := url.Parse("https://app.test/login")
	tests := []struct {
		name, value string
		// endpoint, challenge and algs are what must be found; errText
		// what the error says when none is.
		endpoint, challenge, algs, errText string
	}{
		{"Chromium's form", `(ES256 RS256);path="/dbsc/start";challenge="c1"`, "https://app.test/dbsc/start", "c1", "ES256 RS256", ""},
		{"relative path", `(RS256);path="start";challenge="c"`, "https://app.test/start", "c", "RS256", ""},
		{"unknown algorithm skipped", `(EdDSA ES256);path="/s";challenge="c"`, "https://app.test/s", "c", "ES256", ""},
		{"no challenge", `(ES256);path="/s"`, "https://app.test/s", "", "ES256", ""},
		{"second member usable", `(EdDSA);path="/x", (ES256);path="/s";challenge="c"`, "https://app.test/s", "c", "ES256", ""},
		{"escaped quote in challenge", `(ES256);path="/s";challenge="a\"b"`, "https://app.test/s", `a"b`, "ES256", ""},
		{"duplicate key, last wins", `(ES256);path="/a";path="/s";challenge="c"`, "https://app.test/s", "c", "ES256", ""},
		{"no path", `(ES256);challenge="c"`, "", "", "", `no string "path"`},
		{"path a token", `(ES256);path=start`, "", "", "", `no string "path"`},
		{"plain HTTP path", `(ES256);path="http://app.test/s"`, "", "", "", "not HTTPS"},
		{"other host", `(ES256);path="https://evil.test/s"`, "", "", "", "another host"},
		{"empty", ``, "", "", "", "empty list"},
		{"unterminated string", `(ES256);path="/s`, "", "", "", "unterminated string"},
		{"control character", "(ES256);path=\"/s\x01\"", "", "", "", "control or non-ASCII"},
		{"trailing comma", `(ES256);path="/s",`, "", "", "", "trailing comma"},
		{"upper-case key", `(ES256);Path="/s"`, "", "", "", "lowercase letter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseRegistration(dbscOffer{url: base, value: tt.value}, "app.test")
			if tt.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("error %v; want one containing %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.endpoint.String() != tt.endpoint || r.challenge != tt.challenge || strings.Join(r.algs, " ") != tt.algs {
				t.Errorf("got %s %q %v; want %s %q %s", r.endpoint, r.challenge, r.algs, tt.endpoint, tt.challenge, tt.algs)
			}
		})
	}
}

func TestChallengeFor(t *testing.T) {
	tests := []struct {
		name, value, id, want string
		ok                    bool
	}{
		{"for the session", `"c1";id="s1"`, "s1", "c1", true},
		{"for another session", `"c1";id="s2"`, "s1", "", false},
		{"without id (Chromium ignores it)", `"c1"`, "s1", "", false},
		{"second of a list", `"c0";id="s0", "c1";id="s1"`, "s1", "c1", true},
		{"a token, not a string", `c1;id="s1"`, "s1", "", false},
		{"malformed", `"c1;id="s1"`, "s1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &exchange{Header: http.Header{hdrChallenge: {tt.value}}}
			got, ok := challengeFor(ex, tt.id)
			if got != tt.want || ok != tt.ok {
				t.Errorf("challengeFor(%q, %q) = %q, %v; want %q, %v", tt.value, tt.id, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestDBSCProofVerifies checks the auditor's proofs against an
// independent verification: the signature over the JWS input, the key in
// the header at registration only, the claims Chromium sends.
func TestDBSCProofVerifies(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			k, err := newDBSCKey([]string{alg})
			if err != nil {
				t.Fatal(err)
			}
			reg, err := k.proof("chal", "auth", true)
			if err != nil {
				t.Fatal(err)
			}
			jti, key, err := verifyTestProof(reg, nil)
			if err != nil || jti != "chal" {
				t.Fatalf("registration proof: jti %q, %v", jti, err)
			}
			ref, err := k.proof("next", "", false)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := verifyTestProof(ref, nil); err == nil {
				t.Error("a refresh proof carries its key; want none")
			}
			if jti, _, err := verifyTestProof(ref, key); err != nil || jti != "next" {
				t.Errorf("refresh proof: jti %q, %v", jti, err)
			}
			other, _ := newDBSCKey([]string{alg})
			otherKey, _ := other.jwk()
			if _, _, err := verifyTestProof(ref, jwkKey(otherKey)); err == nil {
				t.Error("the proof verifies with another key")
			}
		})
	}
}

// jwkKey is the public key of a JWK as Chromium sends it (P-256 or RSA),
// or nil when it is neither or malformed.
func jwkKey(j map[string]string) crypto.PublicKey {
	b64 := func(s string) []byte {
		b, _ := base64.RawURLEncoding.DecodeString(s)
		return b
	}
	switch j["kty"] {
	case "EC":
		x, y := b64(j["x"]), b64(j["y"])
		if len(x) != 32 || len(y) != 32 {
			return nil
		}
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil
		}
		return k
	case "RSA":
		return &rsa.PublicKey{N: new(big.Int).SetBytes(b64(j["n"])), E: int(new(big.Int).SetBytes(b64(j["e"])).Int64())}
	}
	return nil
}

// FuzzParseSFList checks that no header value makes the parser panic or
// run past its input.
func FuzzParseSFList(f *testing.F) {
	for _, s := range []string{`(ES256 RS256);path="/s";challenge="c"`, `"c";id="s"`, `(a b);x=?1;y=-1.5;z=:AQ==:`, `((`, `"\`, `a, b, `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		members, err := parseSFList(s)
		if err == nil {
			for _, m := range members {
				if len(m.items) == 0 && !m.inner {
					t.Fatalf("%q: an item member without an item", s)
				}
			}
		}
	})
}
