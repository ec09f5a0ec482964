package latch

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/latchsec/latch/driver"
)

// Device Bound Session Credentials (DBSC, W3C WebAppSec draft; Chrome 145
// and later on desktop). See DeviceBound for what it does and the README,
// "Device-bound sessions", for what it protects against.

// DeviceBoundMode turns device-bound sessions on. The zero value is off.
type DeviceBoundMode uint8

const (
	// DeviceBoundOff: no registration is offered and no request is
	// checked (default).
	DeviceBoundOff DeviceBoundMode = iota
	// DeviceBoundEnforce: registration is offered after Login; a request
	// whose session registered a key and that brings no valid bound
	// cookie is treated as signed out (it goes on with a fresh
	// anonymous session), and the bound session is left as it was.
	DeviceBoundEnforce
	// DeviceBoundReportOnly: as DeviceBoundEnforce, but a request
	// without a valid bound cookie only emits EventDeviceCookieMissing
	// and goes on.
	DeviceBoundReportOnly
)

// Defaults of DeviceBound.
const (
	DefaultDeviceBoundCookieName        = "__Host-latch-bound"
	DefaultDeviceBoundCookieLifetime    = 10 * time.Minute
	DefaultDeviceBoundChallengeLifetime = 15 * time.Minute
	DefaultDeviceBoundPath              = "/.latch/dbsc"
)

// boundCookieGrace is how long after the expiry written in a bound cookie
// latch still accepts it. The browser drops the cookie Max-Age seconds
// after it received it, a little later than latch wrote the expiry, so a
// request sent just before the browser's expiry can arrive just after
// latch's; without the grace it would be refused, and the browser, which
// still holds the cookie, would not refresh it.
const boundCookieGrace = 30 * time.Second

// minBoundCookieLifetime is the shortest DeviceBound.CookieLifetime: with
// Chromium's proactive refresh 2 minutes before expiry, a refresh every 3
// minutes at most, 3 signatures in Chromium's quota of 6 per 9 minutes.
const minBoundCookieLifetime = 5 * time.Minute

// registrationWindow is how long the challenge of a registration offer is
// good: Chromium registers as soon as it reads the Login response. It
// also bounds the requests that carryDeviceKey reads the record again
// for (those within the window and a minute after the authentication).
const registrationWindow = 2 * time.Minute

// registrationGrace is how long after a registration a request of the
// session may come without a bound cookie. The browser registers in
// parallel with the requests that follow the login (Chromium 156 sent the
// login's redirect 2 ms after the registration), and those go out before
// the registration's answer has set the bound cookie: refusing them would
// refuse the first page after every login.
const registrationGrace = 30 * time.Second

// DeviceBound configures device-bound sessions (Config.DeviceBound).
//
// When on, the response to Login (and to Reauthenticate of a session not
// yet bound) offers a supporting browser to bind the session to a key pair
// that never leaves the device: a Secure-Session-Registration header naming
// the registration endpoint and a challenge. The browser makes the key,
// signs the challenge, and POSTs the proof to the registration endpoint,
// which the middleware serves: it verifies the proof, keeps the public key
// in the session record (driver.Meta.DeviceKey), and answers with a
// short-lived bound cookie and the session instructions. From then on the
// browser keeps the bound cookie fresh itself: before a request that would
// go out without it, it POSTs a proof signed over a fresh challenge to the
// refresh endpoint, which answers with a new bound cookie. A copy of the
// cookies taken to another machine stops working when the bound cookie
// expires, since that machine cannot sign.
//
// Sessions that never registered (every browser without DBSC) work exactly
// as without it: registration is only offered. Needs a server-side Store
// (Config.Stateless is refused), Secure cookies (Config.InsecureCookie is
// refused), and HTTPS or localhost, where browsers offer DBSC.
type DeviceBound struct {
	// Mode turns it on: DeviceBoundEnforce or DeviceBoundReportOnly.
	// Default DeviceBoundOff.
	Mode DeviceBoundMode
	// CookieName is the bound cookie's name. Default
	// "__Host-latch-bound"; it must start with "__Host-".
	CookieName string
	// CookieLifetime is how long a bound cookie lives: the longest a
	// stolen copy keeps working, and the interval of refreshes. Default
	// 10 minutes; 5 minutes to 24 hours. Chromium refreshes a bound
	// cookie that expires within 2 minutes on the next request, and signs
	// at most 6 times in 9 minutes per site; a shorter lifetime would
	// exhaust that quota, after which the browser sends its requests
	// without the bound cookie and they are refused.
	CookieLifetime time.Duration
	// ChallengeLifetime is how long a refresh challenge may be signed
	// after it was issued (a registration's challenge, from the Login
	// response, is good for 2 minutes: a browser registers at once). Default 15 minutes; at least CookieLifetime (so that
	// the challenge of a refresh's answer is still good at the next
	// refresh), at most 24 hours. A proof over an older challenge is
	// answered with a fresh one (403), which a browser signs and sends
	// again.
	ChallengeLifetime time.Duration
	// Path is the prefix of the endpoints the middleware serves: the
	// registration endpoint Path+"/register" and the refresh endpoint
	// Path+"/refresh". Default "/.latch/dbsc". The middleware answers
	// these two paths itself; the application never sees them.
	Path string
}

// RegisterPath and RefreshPath return the endpoints under d.Path (after
// New filled in the default: read them from Manager.Config).
func (d DeviceBound) RegisterPath() string { return d.Path + "/register" }
func (d DeviceBound) RefreshPath() string  { return d.Path + "/refresh" }

// checkDeviceBound validates cfg.DeviceBound and fills in its defaults.
func checkDeviceBound(cfg *Config) error {
	d := &cfg.DeviceBound
	switch d.Mode {
	case DeviceBoundOff:
		return nil
	case DeviceBoundEnforce, DeviceBoundReportOnly:
	default:
		return fmt.Errorf("latch: unknown DeviceBound.Mode %d", d.Mode)
	}
	if cfg.Stateless != nil {
		return errors.New("latch: DeviceBound needs a server-side Store: its challenges are single-use and its key must stay on the server, and cookie sessions (Config.Stateless) keep no server-side state to make either hold")
	}
	if cfg.InsecureCookie {
		return errors.New("latch: DeviceBound needs Secure cookies (its bound cookie is a __Host- cookie, and browsers offer device-bound sessions only on HTTPS and localhost); unset InsecureCookie")
	}
	if d.CookieName == "" {
		d.CookieName = DefaultDeviceBoundCookieName
	}
	if err := checkCookieName(d.CookieName); err != nil {
		return fmt.Errorf("latch: DeviceBound.CookieName: %w", err)
	}
	if !strings.HasPrefix(d.CookieName, "__Host-") {
		return fmt.Errorf("latch: DeviceBound.CookieName %q must start with __Host- (Secure, Path=/, no Domain)", d.CookieName)
	}
	if d.CookieName == cfg.CookieName || d.CookieName == cfg.CookieName+endedSuffix {
		return fmt.Errorf("latch: DeviceBound.CookieName %q is the name of another latch cookie", d.CookieName)
	}
	if d.CookieLifetime == 0 {
		d.CookieLifetime = DefaultDeviceBoundCookieLifetime
	}
	if d.CookieLifetime < minBoundCookieLifetime || d.CookieLifetime > 24*time.Hour {
		return fmt.Errorf("latch: DeviceBound.CookieLifetime %v is out of range (%v to 24h: Chromium refreshes within 2 minutes of expiry and signs at most 6 times in 9 minutes)", d.CookieLifetime, minBoundCookieLifetime)
	}
	if d.ChallengeLifetime == 0 {
		d.ChallengeLifetime = max(DefaultDeviceBoundChallengeLifetime, d.CookieLifetime)
	}
	if d.ChallengeLifetime < d.CookieLifetime || d.ChallengeLifetime > 24*time.Hour {
		return fmt.Errorf("latch: DeviceBound.ChallengeLifetime %v is out of range (CookieLifetime %v to 24h)", d.ChallengeLifetime, d.CookieLifetime)
	}
	if d.Path == "" {
		d.Path = DefaultDeviceBoundPath
	}
	if !strings.HasPrefix(d.Path, "/") || strings.HasSuffix(d.Path, "/") || len(d.Path) > 200 {
		return fmt.Errorf("latch: DeviceBound.Path %q must start with / and not end with one", d.Path)
	}
	for i := 0; i < len(d.Path); i++ {
		if c := d.Path[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"\?#%;,`, c) >= 0 {
			return fmt.Errorf("latch: DeviceBound.Path %q has the character %q", d.Path, c)
		}
	}
	return nil
}

// dbsc is the Manager's device-bound session machinery, nil when off.
type dbsc struct {
	m        *Manager
	cfg      DeviceBound
	enforce  bool
	register string // the endpoints' paths
	refresh  string
	keys     atomic.Pointer[dbscKeys]
}

func newDBSC(m *Manager) *dbsc {
	d := &dbsc{m: m, cfg: m.cfg.DeviceBound, enforce: m.cfg.DeviceBound.Mode == DeviceBoundEnforce}
	d.register, d.refresh = d.cfg.RegisterPath(), d.cfg.RefreshPath()
	return d
}

// dbscKeys are the keyring's keys derived for DBSC: one HMAC key per
// keyring key for challenges and one for bound cookies.
type dbscKeys struct {
	ring   *Keyring
	chal   map[string][]byte
	cookie map[string][]byte
}

// keysFor returns the derived keys of the keyring in use, deriving them
// once per keyring.
func (d *dbsc) keysFor(r *Keyring) *dbscKeys {
	if k := d.keys.Load(); k != nil && k.ring == r {
		return k
	}
	k := &dbscKeys{ring: r, chal: make(map[string][]byte), cookie: make(map[string][]byte)}
	for _, key := range r.keys {
		c, err1 := r.DeriveKey(key.ID, "dbsc-challenge", sha256.Size)
		b, err2 := r.DeriveKey(key.ID, "dbsc-bound-cookie", sha256.Size)
		if err1 != nil || err2 != nil {
			continue // cannot happen: the id comes from the ring
		}
		k.chal[key.ID], k.cookie[key.ID] = c, b
	}
	d.keys.Store(k)
	return k
}

// Sizes of challenges and bound cookies.
const (
	nonceSize   = 16
	dbscMACSize = 16
)

// Purposes bound into challenge MACs: a registration challenge names the
// session by its hash (it has no key yet), a refresh challenge by its key.
const (
	purposeRegister byte = 'r'
	purposeRefresh  byte = 'f'
)

// challenge returns a new challenge for purpose, bound to subject (the
// session's hash, or its key's hash), issued at now: "KEYID.B64" where B64
// is base64url of the issue time (Unix nanoseconds, 8 bytes), a random
// nonce and the MAC of all of it under the signing key. It is "" when the
// keyring has no key that signs at now.
func (d *dbsc) challenge(purpose byte, subject *[32]byte, now time.Time) string {
	ring := d.m.Keyring()
	sk, err := ring.SigningKey(now)
	if err != nil {
		return ""
	}
	var raw [8 + nonceSize + dbscMACSize]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(now.UnixNano()))
	rand.Read(raw[8 : 8+nonceSize])
	mac := challengeMAC(d.keysFor(ring).chal[sk.ID], sk.ID, purpose, subject, raw[:8+nonceSize])
	copy(raw[8+nonceSize:], mac[:])
	return sk.ID + "." + base64.RawURLEncoding.EncodeToString(raw[:])
}

// challengeMAC is the truncated HMAC of a challenge's body, bound to the
// key id, the purpose and the subject.
func challengeMAC(key []byte, keyID string, purpose byte, subject *[32]byte, body []byte) (mac [dbscMACSize]byte) {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(keyID))
	h.Write([]byte{0, purpose})
	h.Write(subject[:])
	h.Write(body)
	copy(mac[:], h.Sum(nil))
	return mac
}

// Why a challenge is refused.
var (
	errChallengeForged = errors.New("the challenge was not issued for this session")
	errChallengeStale  = errors.New("the challenge is too old (a refresh's lives DeviceBound.ChallengeLifetime, a registration's 2 minutes)")
	errChallengeUsed   = errors.New("the challenge was used already (a replayed proof)")
)

func isChallengeError(err error) bool {
	return errors.Is(err, errChallengeForged) || errors.Is(err, errChallengeStale) || errors.Is(err, errChallengeUsed)
}

// checkChallenge verifies that c is a challenge latch issued for purpose
// and subject, not older than ChallengeLifetime, and not used before; and
// marks it used (useChallenge). An error other than the errChallenge ones
// is the store's.
func (d *dbsc) checkChallenge(ctx context.Context, c string, purpose byte, subject *[32]byte, now time.Time) error {
	kid, enc, ok := strings.Cut(c, ".")
	if !ok || len(enc) != base64.RawURLEncoding.EncodedLen(8+nonceSize+dbscMACSize) {
		return errChallengeForged
	}
	var raw [8 + nonceSize + dbscMACSize]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(enc)); err != nil || n != len(raw) {
		return errChallengeForged
	}
	ring := d.m.Keyring()
	key, ok := d.keysFor(ring).chal[kid]
	if !ok {
		return errChallengeForged
	}
	if k, _ := ring.Lookup(kid); k.Retired(now) {
		return errChallengeForged
	}
	sum := challengeMAC(key, kid, purpose, subject, raw[:8+nonceSize])
	if !hmac.Equal(sum[:], raw[8+nonceSize:]) {
		return errChallengeForged
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8])))
	life := d.cfg.ChallengeLifetime
	if purpose == purposeRegister {
		life = registrationWindow
	}
	if age := now.Sub(issued); age > life || age < -time.Minute {
		return errChallengeStale
	}
	return d.useChallenge(ctx, raw[8:8+nonceSize], issued.Add(life), now)
}

// useChallenge marks the challenge with nonce used, in the store: it
// creates a record under a hash that no session token can name (the
// SHA-256 of a label and the nonce; a session's hash is the SHA-256 of a
// 32-byte ID), living until the challenge would be refused as stale
// anyway. The store's Create is atomic, so of several proofs over one
// challenge, on any number of instances that share the store, exactly one
// succeeds; the others get driver.ErrExists, and errChallengeUsed.
func (d *dbsc) useChallenge(ctx context.Context, nonce []byte, stale, now time.Time) error {
	st, ok := d.m.backend.(*serverBackend)
	if !ok {
		return errors.New("latch: device-bound sessions need a server-side store")
	}
	h := sha256.New()
	h.Write([]byte("latch/v1/dbsc-used-challenge\x00"))
	h.Write(nonce)
	var id driver.Hash
	h.Sum(id[:0])
	life := max(stale.Sub(now), time.Second)
	err := st.store.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: driver.Meta{
		Created: now, LastSeen: now, IdleTimeout: life, AbsoluteTimeout: life,
	}})
	switch {
	case errors.Is(err, driver.ErrExists):
		return errChallengeUsed
	case err != nil:
		return fmt.Errorf("latch: device-bound session: mark the challenge used: %w", err)
	}
	return nil
}

// keyHash is the SHA-256 of a session's DeviceKey: what its refresh
// challenges and bound cookies are bound to.
func keyHash(deviceKey string) [32]byte { return sha256.Sum256([]byte(deviceKey)) }

// sessionID is the DBSC session identifier of a key: base64url of the
// first 16 bytes of its hash. It names the binding to the browser, is
// the same across renewals of the latch session, and says nothing of the
// session's ID.
func sessionID(deviceKey string) string {
	h := keyHash(deviceKey)
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// boundCookieValue returns a bound cookie for the key that expires at
// exp: "KEYID.B64", B64 the base64url of exp (Unix seconds, 8 bytes) and
// the MAC of the cookie name, key id, key hash and exp. It names neither
// the session nor its key; only latch can check it.
func (d *dbsc) boundCookieValue(deviceKey string, exp, now time.Time) string {
	ring := d.m.Keyring()
	sk, err := ring.SigningKey(now)
	if err != nil {
		return ""
	}
	var raw [8 + dbscMACSize]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(exp.Unix()))
	kh := keyHash(deviceKey)
	mac := d.cookieMAC(d.keysFor(ring).cookie[sk.ID], sk.ID, &kh, raw[:8])
	copy(raw[8:], mac[:])
	return sk.ID + "." + base64.RawURLEncoding.EncodeToString(raw[:])
}

// cookieMAC is the truncated HMAC of a bound cookie's expiry, bound to
// the cookie name, the key id and the session's key.
func (d *dbsc) cookieMAC(key []byte, keyID string, kh *[32]byte, exp []byte) (mac [dbscMACSize]byte) {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(d.cfg.CookieName))
	h.Write([]byte{0})
	h.Write([]byte(keyID))
	h.Write([]byte{0})
	h.Write(kh[:])
	h.Write(exp)
	copy(mac[:], h.Sum(nil))
	return mac
}

// checkBoundCookie reports why the request's bound cookie does not prove
// the session's key at now, or "" when it does.
func (d *dbsc) checkBoundCookie(r *http.Request, deviceKey string, now time.Time) string {
	v, n := findCookie(r.Header, d.cfg.CookieName)
	switch {
	case n == 0:
		return "missing"
	case n > 1:
		return "duplicate"
	}
	kid, enc, ok := strings.Cut(v, ".")
	var raw [8 + dbscMACSize]byte
	if !ok || len(enc) != base64.RawURLEncoding.EncodedLen(len(raw)) {
		return "malformed"
	}
	if n, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(enc)); err != nil || n != len(raw) {
		return "malformed"
	}
	ring := d.m.Keyring()
	key, ok := d.keysFor(ring).cookie[kid]
	if !ok {
		return "unknown key"
	}
	if k, _ := ring.Lookup(kid); k.Retired(now) {
		return "retired key"
	}
	kh := keyHash(deviceKey)
	sum := d.cookieMAC(key, kid, &kh, raw[:8])
	if !hmac.Equal(sum[:], raw[8:]) {
		return "not this session's" // forged, or another session's
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(raw[:8])), 0)
	if !now.Before(exp.Add(boundCookieGrace)) {
		return "expired"
	}
	return ""
}

// boundCookie returns the Set-Cookie value of a bound cookie, or of its
// deletion with value "".
func (d *dbsc) boundCookie(value string) string {
	var b strings.Builder
	b.WriteString(d.cfg.CookieName)
	b.WriteByte('=')
	b.WriteString(value)
	b.WriteString("; Path=/; Max-Age=")
	if value == "" {
		b.WriteString("0")
	} else {
		b.WriteString(strconv.Itoa(int(d.cfg.CookieLifetime / time.Second)))
	}
	d.m.cookieAttrs(&b)
	return b.String()
}

// credentialAttributes are the attributes of the bound cookie as the
// session instructions state them: those of its Set-Cookie less Max-Age,
// which the browser ignores when it compares them.
func (d *dbsc) credentialAttributes() string {
	var b strings.Builder
	b.WriteString("Path=/")
	d.m.cookieAttrs(&b)
	return b.String()
}

// sessionInstructions is the JSON answer of the registration and refresh
// endpoints (the draft's "JSON session instructions").
type sessionInstructions struct {
	SessionIdentifier string            `json:"session_identifier"`
	RefreshURL        string            `json:"refresh_url,omitempty"`
	Continue          *bool             `json:"continue,omitempty"`
	Scope             *instructionScope `json:"scope,omitempty"`
	Credentials       []instructionCred `json:"credentials,omitempty"`
	AllowedInitiators []string          `json:"allowed_refresh_initiators,omitempty"`
}

type instructionScope struct {
	IncludeSite bool `json:"include_site"`
}

type instructionCred struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	Attributes string `json:"attributes"`
}

func (d *dbsc) instructions(sid string) sessionInstructions {
	return sessionInstructions{
		SessionIdentifier: sid,
		RefreshURL:        d.refresh,
		// The session cookie and the bound cookie are __Host- cookies:
		// the origin that set them, and nothing else, is in scope.
		Scope:       &instructionScope{IncludeSite: false},
		Credentials: []instructionCred{{Type: "cookie", Name: d.cfg.CookieName, Attributes: d.credentialAttributes()}},
		// Chromium refreshes only for requests that the session's own
		// origin initiated, unless another initiator is allowed here: a
		// link followed from another site (an e-mail, a search) after
		// the bound cookie expired would go out without it and be
		// refused. Every initiator may therefore trigger a refresh. The
		// cookies are SameSite Lax or Strict, so the only cross-site
		// requests that carry them, and can need a refresh, are
		// top-level navigations (Lax), whose timing another site cannot
		// read as it could a fetch's: the draft's cross-site leak of the
		// login state through the refresh needs the latter.
		AllowedInitiators: []string{"*"},
	}
}

// registrationHeader is the Secure-Session-Registration value offering
// the algorithms latch verifies, the endpoint and a challenge.
func (d *dbsc) registrationHeader(challenge string) string {
	return "(" + proofAlgs[0] + " " + proofAlgs[1] + `);path="` + d.register + `";challenge="` + challenge + `"`
}

// challengeHeader is a Secure-Session-Challenge value: the challenge and
// the DBSC session it is for (without "id" Chromium ignores it).
func challengeHeader(challenge, sid string) string {
	return `"` + challenge + `";id="` + sid + `"`
}

// secureRequest reports whether browsers may run DBSC for r: HTTPS (as
// the request or a proxy's header says), or a loopback host.
func secureRequest(r *http.Request) bool {
	if r == nil {
		return false
	}
	if r.TLS != nil || claimsHTTPS(r.Header, XForwardedProto) || claimsHTTPS(r.Header, Forwarded) {
		return true
	}
	host, _, _ := splitHost(r.Host)
	return isLoopback(host)
}

// onCommit adds the DBSC headers of a response that carries a session:
// the registration offer after Login (Session.offerDevice), and, when a
// renewal gave a bound session a new cookie, nothing: the binding and its
// bound cookie follow the session, which they name by its key. Called
// from commitHeader with s.mu held.
func (d *dbsc) onCommit(s *Session, h http.Header, now time.Time) {
	if !s.offerDevice || !s.stored || s.meta.UserID == "" || s.meta.DeviceKey != "" {
		return
	}
	s.offerDevice = false
	if !secureRequest(s.rw.r) {
		return
	}
	// Issued as of the authentication (Login, Reauthenticate: the
	// moment the offer was decided), so that a registration can land only
	// within registrationWindow after AuthTime, the window carryDeviceKey
	// covers.
	if c := d.challenge(purposeRegister, (*[32]byte)(&s.hash), s.meta.AuthTime); c != "" {
		h.Set("Secure-Session-Registration", d.registrationHeader(c))
	}
}

// intercept serves the DBSC endpoints and enforces the binding of the
// request's session. It reports whether it answered the request.
func (d *dbsc) intercept(s *Session, w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case d.register:
		d.serveRegister(s, w, r)
		return true
	case d.refresh:
		d.serveRefresh(s, w, r)
		return true
	}
	s.mu.Lock()
	key, stored, user, hash, boundAt, renewed := s.meta.DeviceKey, s.stored, s.meta.UserID, s.hash, s.meta.DeviceBoundAt, s.renewed
	s.mu.Unlock()
	if !stored && !renewed.IsZero() && d.enforce {
		d.checkRenewed(s, r, renewed)
		return false
	}
	if !stored || key == "" {
		return false
	}
	now := d.m.now()
	why := d.checkBoundCookie(r, key, now)
	if why == "missing" && now.Sub(boundAt) < registrationGrace && !now.Before(boundAt) {
		return false // sent before the registration's answer arrived
	}
	if why == "" {
		s.mu.Lock()
		s.deviceProved = true
		s.mu.Unlock()
		return false
	}
	reason := "bound cookie " + why
	if skipped := r.Header.Get("Secure-Session-Skipped"); skipped != "" {
		reason += "; the browser skipped the refresh: " + printable(clip(skipped))
	}
	if !d.enforce {
		d.m.emit(s.ctx, Event{Kind: EventDeviceCookieMissing, Handle: hash.Handle(), UserID: user, Client: s.clientAddr(), Reason: reason + " (report only)"})
		return false
	}
	d.m.emit(s.ctx, Event{Kind: EventDeviceCookieMissing, Handle: hash.Handle(), UserID: user, Client: s.clientAddr(), Reason: reason + "; refused: the request goes on signed out"})
	// Refused: the request goes on with a fresh anonymous session, as if
	// it had brought no session cookie, so that a browser that lost its
	// key can use the public pages and sign in again at once. The bound
	// session is left as it is: not read, not changed, not ended, not
	// extended (reset also drops what load prepared: the re-issue of a
	// cookie under a fallback key, and its touch), its cookie not
	// expired (a browser whose refresh failed for a moment keeps it).
	//
	// A browser that says it skipped the refresh (Secure-Session-Skipped:
	// the refresh endpoint failed, say while the store was down) still
	// holds its key: its session cookie must outlive this request, so
	// no anonymous session is created that would replace it (values the
	// handler sets are not kept; a Login still starts a new session).
	// Without that header the browser has lost its key (or is a thief's),
	// and a fresh session may replace the cookie so that sign-in works.
	s.mu.Lock()
	s.reset()
	s.ended, s.holdCookie = ReasonDevice, r.Header.Get("Secure-Session-Skipped") != ""
	s.mu.Unlock()
	hd := w.Header()
	if why != "missing" {
		// A cookie the browser holds but latch refuses (a revoked key,
		// another session's): drop it, so that the browser's next
		// request goes out without it and the browser refreshes first.
		hd.Add("Set-Cookie", d.boundCookie(""))
	}
	if c := d.challenge(purposeRefresh, ptr(keyHash(key)), now); c != "" {
		hd.Set("Secure-Session-Challenge", challengeHeader(c, sessionID(key)))
	}
	hd.Set("Cache-Control", "no-store")
	return false
}

// checkRenewed handles a request whose cookie names a session that
// another request renewed: Logout follows the renewal (for a browser whose
// logout raced it), which must not let a copy of the old cookie without
// the bound cookie end a bound session. When the session it was renewed
// into is bound and the request brings no valid bound cookie for it, or
// the store cannot say, the request no longer follows the renewal.
func (d *dbsc) checkRenewed(s *Session, r *http.Request, h driver.Hash) {
	st, ok := d.m.backend.(*serverBackend)
	if !ok {
		return
	}
	key, err := "", errTooManyHops
	for range maxForwardHops {
		rec, lerr := st.store.Load(s.ctx, h)
		var re *driver.RenewedError
		if errors.As(lerr, &re) {
			h = re.To
			continue
		}
		if lerr == nil {
			key = rec.DeviceKey
		}
		err = lerr
		break
	}
	if errors.Is(err, ErrNotFound) || (err == nil && (key == "" || d.checkBoundCookie(r, key, d.m.now()) == "")) {
		return
	}
	s.mu.Lock()
	s.renewed = driver.Hash{}
	s.mu.Unlock()
}

func ptr[T any](v T) *T { return &v }

// printable replaces the bytes of s that a log line should not carry.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// refuseDevice emits EventDeviceRefused.
func (d *dbsc) refuseDevice(s *Session, what, why string) {
	s.mu.Lock()
	h, user := s.hash, s.meta.UserID
	s.mu.Unlock()
	d.m.emit(s.ctx, Event{Kind: EventDeviceRefused, Handle: h.Handle(), UserID: user, Client: s.clientAddr(), Reason: what + ": " + why})
}

// endpointPreamble answers what every DBSC endpoint answers the same way:
// a method other than POST. It reports whether the request may go on.
// The answers are never cached, framed or read by another origin (the
// draft's advice: a refresh endpoint could otherwise leak the login state
// across sites); no CORS header is ever sent.
func endpointPreamble(s *Session, w http.ResponseWriter, r *http.Request) bool {
	// The endpoints write the session only to bind it (bindDevice):
	// not a touch, and not the re-issue of a cookie under a fallback key
	// that load prepared, which would extend the session and hand a
	// fresh cookie to a client whose proof is refused.
	s.mu.Lock()
	s.noTouch, s.metaSet, s.sendCookie = true, false, false
	s.mu.Unlock()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff") // the JSON echoes a client's session id
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only.", http.StatusMethodNotAllowed)
		return false
	}
	return true
}

// serveRegister serves the registration endpoint: it verifies the proof
// over the challenge of the Login response and binds the session to the
// proof's key. Any refusal is a 4xx, which ends the registration in the
// browser; the session goes on unbound.
func (d *dbsc) serveRegister(s *Session, w http.ResponseWriter, r *http.Request) {
	if !endpointPreamble(s, w, r) {
		return
	}
	now := d.m.now()
	s.mu.Lock()
	stored, user, hash, bound := s.stored, s.meta.UserID, s.hash, s.meta.DeviceKey != ""
	s.mu.Unlock()
	switch {
	case !stored || user == "":
		d.refuseDevice(s, "registration", "no signed-in session")
		http.Error(w, "No signed-in session to bind.", http.StatusUnauthorized)
		return
	case bound:
		d.refuseDevice(s, "registration", "the session is bound to a key already")
		http.Error(w, "The session is bound already.", http.StatusForbidden)
		return
	}
	tok, err := parseSFString(r.Header.Get("Secure-Session-Response"))
	if err != nil {
		d.refuseDevice(s, "registration", "no readable Secure-Session-Response: "+err.Error())
		http.Error(w, "A Secure-Session-Response proof is required.", http.StatusBadRequest)
		return
	}
	p, err := verifyProof(tok, nil)
	if err != nil {
		d.refuseDevice(s, "registration", "proof refused: "+printable(err.Error()))
		http.Error(w, "The proof does not verify.", http.StatusBadRequest)
		return
	}
	if err := d.checkChallenge(s.ctx, p.jti, purposeRegister, (*[32]byte)(&hash), now); err != nil {
		if !isChallengeError(err) {
			d.m.cfg.ErrorHandler(w, r, d.m.storeError(s.ctx, err))
			return
		}
		d.refuseDevice(s, "registration", err.Error())
		http.Error(w, "The challenge is not valid for this session.", http.StatusForbidden)
		return
	}
	enc, err := encodeDeviceKey(p.key)
	if err != nil {
		d.refuseDevice(s, "registration", "key: "+err.Error())
		http.Error(w, "Unsupported key.", http.StatusBadRequest)
		return
	}
	if err := s.bindDevice(enc, now); err != nil {
		if errors.Is(err, errBoundAlready) {
			d.refuseDevice(s, "registration", "the session is bound to a key already")
			http.Error(w, "The session is bound already.", http.StatusForbidden)
			return
		}
		if errors.Is(err, ErrNotFound) {
			d.refuseDevice(s, "registration", "the session ended or was renewed during the registration")
			http.Error(w, "The session ended.", http.StatusForbidden)
			return
		}
		d.m.cfg.ErrorHandler(w, r, err)
		return
	}
	sid := sessionID(enc)
	d.answer(w, enc, sid, now)
	d.m.emit(s.ctx, Event{Kind: EventDeviceRegistered, Handle: hash.Handle(), UserID: user, Client: s.clientAddr(), Reason: p.alg + " key, session " + sid})
}

// answer writes the success of a registration or refresh: a new bound
// cookie, the next challenge and the session instructions.
func (d *dbsc) answer(w http.ResponseWriter, key, sid string, now time.Time) {
	h := w.Header()
	h.Add("Set-Cookie", d.boundCookie(d.boundCookieValue(key, now.Add(d.cfg.CookieLifetime), now)))
	if c := d.challenge(purposeRefresh, ptr(keyHash(key)), now); c != "" {
		h.Set("Secure-Session-Challenge", challengeHeader(c, sid))
	}
	h.Set("Content-Type", "application/json")
	body, _ := json.Marshal(d.instructions(sid))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// endBrowserSession answers a refresh of a DBSC session that latch no
// longer has: the draft's "continue": false, which makes the browser drop
// its session with that identifier.
func endBrowserSession(w http.ResponseWriter, sid string) {
	f := false
	body, _ := json.Marshal(sessionInstructions{SessionIdentifier: sid, Continue: &f})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// serveRefresh serves the refresh endpoint.
func (d *dbsc) serveRefresh(s *Session, w http.ResponseWriter, r *http.Request) {
	if !endpointPreamble(s, w, r) {
		return
	}
	now := d.m.now()
	sid, err := parseSFString(r.Header.Get("Sec-Secure-Session-Id"))
	if err != nil || len(sid) > maxHeaderString {
		http.Error(w, "A Sec-Secure-Session-Id header is required.", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	stored, key, ended := s.stored, s.meta.DeviceKey, s.ended
	s.mu.Unlock()
	switch {
	case !stored && ended == ReasonRenewed:
		// Another request renewed the session and the browser has
		// its new cookie, or will have it soon: 403 makes it try
		// again, with the cookies it holds then.
		http.Error(w, "The session was renewed; try again.", http.StatusForbidden)
		return
	case !stored || key == "" || sessionID(key) != sid:
		// Logged out, expired, or bound to another key since (a new
		// login): the browser's device-bound session is over.
		endBrowserSession(w, sid)
		return
	}
	kh := keyHash(key)
	retry := func() {
		if c := d.challenge(purposeRefresh, &kh, now); c != "" {
			w.Header().Set("Secure-Session-Challenge", challengeHeader(c, sid))
		}
		http.Error(w, "Sign the new challenge.", http.StatusForbidden)
	}
	hv := r.Header.Get("Secure-Session-Response")
	if hv == "" {
		retry() // the browser had no challenge to sign: the usual first step
		return
	}
	tok, err := parseSFString(hv)
	if err != nil {
		d.refuseDevice(s, "refresh", "unreadable Secure-Session-Response: "+err.Error())
		retry()
		return
	}
	pub, err := decodeDeviceKey(key)
	if err != nil {
		d.m.cfg.ErrorHandler(w, r, d.m.storeError(s.ctx, fmt.Errorf("latch: device-bound session: %w", err)))
		return
	}
	p, err := verifyProof(tok, pub)
	if err != nil {
		d.refuseDevice(s, "refresh", "proof refused: "+printable(err.Error()))
		retry()
		return
	}
	if err := d.checkChallenge(s.ctx, p.jti, purposeRefresh, &kh, now); err != nil {
		if !isChallengeError(err) {
			d.m.cfg.ErrorHandler(w, r, d.m.storeError(s.ctx, err))
			return
		}
		if !errors.Is(err, errChallengeStale) {
			d.refuseDevice(s, "refresh", err.Error())
		}
		retry()
		return
	}
	d.answer(w, key, sid, now)
	s.mu.Lock()
	s.deviceProved = true
	h, user := s.hash, s.meta.UserID
	s.mu.Unlock()
	d.m.emit(s.ctx, Event{Kind: EventDeviceRefreshed, Handle: h.Handle(), UserID: user, Client: s.clientAddr(), Reason: "session " + sid})
}

// bindDevice records key as the session's device key, in the store now.
// It is a plain commit of the metadata; see Session.carryDeviceKey for the
// requests that loaded the session before it.
func (s *Session) bindDevice(key string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkHeaders("device registration"); err != nil {
		return err
	}
	// First the marker (see boundMarker), created atomically: of two
	// registrations of one session only one gets this far.
	st, ok := s.m.backend.(*serverBackend)
	if !ok {
		return errors.New("latch: device-bound sessions need a server-side store")
	}
	marker := boundMarker(s.hash)
	life := boundMarkerLife
	err := st.store.Commit(s.ctx, &driver.Commit{ID: marker, Create: true, Meta: driver.Meta{
		Created: now, LastSeen: now, IdleTimeout: life, AbsoluteTimeout: life, DeviceKey: key, DeviceBoundAt: now,
	}})
	switch {
	case errors.Is(err, driver.ErrExists):
		return errBoundAlready
	case err != nil:
		return s.m.storeError(s.ctx, fmt.Errorf("latch: device-bound session: mark the registration: %w", err))
	}
	undo := s.snapshot()
	s.meta.DeviceKey, s.meta.DeviceBoundAt = key, now
	s.metaSet = true
	s.keepLastSeen = true
	err = s.write(now, false)
	s.keepLastSeen = false
	if err != nil {
		undo()
		st.store.Delete(s.ctx, marker) // best effort: it expires anyway
	}
	return err
}

// errBoundAlready is bindDevice's error when another registration of the
// session came first.
var errBoundAlready = errors.New("latch: the session is bound to a key already")

// boundMarkerLife is how long a registration's marker lives: longer than
// any request spends between carryDeviceKey's re-read and its commit.
const boundMarkerLife = 5 * time.Minute

// boundMarker is the hash of the record a registration of the session
// under h creates before it writes the key to the session's record: the
// SHA-256 of a label and h, which no token can name. It carries the key,
// so that a concurrent request whose commit erased the key (it re-read
// the record just before the registration wrote it) finds it and writes
// it back (repairDeviceKey).
func boundMarker(h driver.Hash) driver.Hash {
	sum := sha256.New()
	sum.Write([]byte("latch/v1/dbsc-bound\x00"))
	sum.Write(h[:])
	var id driver.Hash
	sum.Sum(id[:0])
	return id
}

// repairDeviceKey runs after a commit for which carryDeviceKey re-read
// the record under id and found no key: a registration that wrote the key
// between that re-read and the commit left its marker, and the key it
// wrote, which the commit erased, is written back. Called with s.mu held,
// after the commit was adopted.
func (s *Session) repairDeviceKey(id driver.Hash, now time.Time) {
	st, ok := s.m.backend.(*serverBackend)
	if !ok || s.meta.DeviceKey != "" {
		return
	}
	rec, err := st.store.Load(s.ctx, boundMarker(id))
	if err != nil || rec.DeviceKey == "" || rec.DeviceBoundAt.Before(s.meta.AuthTime) {
		return // none, or a registration from before a later login
	}
	s.meta.DeviceKey, s.meta.DeviceBoundAt = rec.DeviceKey, rec.DeviceBoundAt
	s.metaSet = true
	s.keepLastSeen = true
	if err := s.write(now, false); err != nil && !errors.Is(err, ErrNotFound) {
		s.m.storeError(s.ctx, fmt.Errorf("latch: device-bound session: restore the key a concurrent commit erased: %w", err))
	}
	s.keepLastSeen = false
}

// carryDeviceKey runs before a plain commit of a session that this
// request loaded without a device key, in the window after a login in
// which a registration may land (registrationWindow, and a minute for the
// requests in flight): it reads the record again and keeps a key that a registration wrote
// meanwhile, which the commit's metadata, loaded before, would otherwise
// erase. It returns the hash it re-read when it found no key there, for
// repairDeviceKey after the commit (a registration may still land between
// the re-read and the commit); zero otherwise. Called with s.mu held.
func (s *Session) carryDeviceKey(ctx context.Context, c *driver.Commit) (reread driver.Hash) {
	d := s.m.dbsc
	if d == nil || s.base == nil || s.base.DeviceKey != "" || c.Meta.DeviceKey != "" || c.Meta.UserID == "" {
		return reread
	}
	// A registration lands within registrationWindow after AuthTime
	// (onCommit issues its challenge as of AuthTime): a request that
	// loaded the session later saw its key. The load time counts, not
	// now: a request may take as long as its client likes (a slow
	// upload) before it commits.
	if s.loaded.Sub(c.Meta.AuthTime) > registrationWindow+time.Minute {
		return reread
	}
	st, ok := s.m.backend.(*serverBackend)
	if !ok {
		return reread
	}
	id := c.ID
	if c.Create {
		id = c.From // a renewal: the record is still under the old hash
	}
	if id.IsZero() {
		return reread
	}
	rec, err := st.store.Load(ctx, id)
	if err == nil && rec.UserID == c.Meta.UserID && rec.DeviceKey != "" {
		c.Meta.DeviceKey, c.Meta.DeviceBoundAt = rec.DeviceKey, rec.DeviceBoundAt
		return reread
	}
	return id
}

// DeviceBound reports whether the session is bound to a device: it
// registered a key (Config.DeviceBound). In DeviceBoundEnforce mode, a
// bound session reaches the application only in a request with a valid
// bound cookie (see DeviceVerified); without one the request's session is
// a fresh anonymous one.
func (s *Session) DeviceBound() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.meta.DeviceKey != ""
}

// DeviceVerified reports whether this request proved the session's device:
// the session is bound and the request brought a valid bound cookie. In
// DeviceBoundReportOnly mode a bound session's request may reach the
// application without one; then DeviceBound is true and DeviceVerified
// false.
func (s *Session) DeviceVerified() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deviceProved && s.meta.DeviceKey != ""
}
