package audit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The device-bound-session check: Device Bound Session Credentials (DBSC,
// the W3C webappsec-dbsc draft as Chromium implements it). A login that
// offers DBSC answers with Secure-Session-Registration; the browser then
// makes a key that never leaves the device, registers its public key, and
// from then on holds a short-lived "bound" cookie that only a proof signed
// with that key renews. What a thief copies from the cookie jar (the
// session cookie) is worth nothing once the bound cookie expires, but only
// if the server refuses the session without it.
//
// The auditor does what Chromium does (observed with Chromium 156: the
// registration proof is a JWT with typ "dbsc+jwt", the key as "jwk" and
// the challenge as "jti", sent bare; a 403 from the registration fails
// it; a 403 from the refresh carries a new challenge, signed at most four
// times), then plays the thief: the session's cookies without the bound
// cookie, and the refresh endpoint asked without a proof and with a proof
// signed by another key.

// The DBSC headers.
const (
	hdrRegistration = "Secure-Session-Registration"
	hdrChallenge    = "Secure-Session-Challenge"
	hdrResponse     = "Secure-Session-Response"
	hdrSessionID    = "Sec-Secure-Session-Id"
)

const (
	// maxOffers bounds the registration headers a client keeps.
	maxOffers = 16
	// maxChallenges is how many new challenges a refresh signs before it
	// gives up, as Chromium does.
	maxChallenges = 4
	// maxBoundLife is the longest a bound cookie should live: a thief who
	// copies it with the session cookie keeps the session that long.
	maxBoundLife = time.Hour
	// registrationGrace is how long after the registration the auditor
	// lets the session pass without its bound cookie before it judges:
	// Chromium registers in parallel with the requests that follow the
	// login, which leave without the bound cookie, so a server may let
	// those through for a little while (latch: 30 seconds).
	registrationGrace = 35 * time.Second
)

// dbscOffer is one response's Secure-Session-Registration header.
type dbscOffer struct {
	url   *url.URL
	value string
}

// noteOffer keeps the registration header of ex, if any.
func (c *client) noteOffer(ex *exchange) {
	vs := ex.Header.Values(hdrRegistration)
	if len(vs) == 0 || len(c.offers) >= maxOffers {
		return
	}
	c.offers = append(c.offers, dbscOffer{url: ex.URL, value: strings.Join(vs, ", ")})
}

// dbscRegistration is a usable registration offer.
type dbscRegistration struct {
	endpoint      *url.URL
	algs          []string // ES256 and RS256, in the server's order
	challenge     string
	authorization string
}

// parseRegistration returns the first member of an offer a browser would
// act on, by Chromium's rules: an inner list naming ES256 or RS256, a
// string "path" on the same host over HTTPS (or loopback), and optional
// string "challenge" and "authorization" parameters; any of these of
// another type makes the member void.
func parseRegistration(o dbscOffer, host string) (*dbscRegistration, error) {
	members, err := parseSFList(o.value)
	if err != nil {
		return nil, err
	}
	var why []string
	for _, m := range members {
		r, err := registrationOf(m, o.url, host)
		if err == nil {
			return r, nil
		}
		why = append(why, err.Error())
	}
	if len(why) == 0 {
		return nil, errors.New("the header is an empty list")
	}
	return nil, errors.New(strings.Join(capped(why), "; "))
}

func registrationOf(m sfMember, base *url.URL, host string) (*dbscRegistration, error) {
	if !m.inner {
		return nil, errors.New("a member is not an inner list of algorithms")
	}
	r := &dbscRegistration{}
	for _, it := range m.items {
		if it.kind == sfToken && (it.s == "ES256" || it.s == "RS256") && !slices.Contains(r.algs, it.s) {
			r.algs = append(r.algs, it.s)
		}
	}
	if len(r.algs) == 0 {
		return nil, errors.New("no algorithm Chromium supports (ES256, RS256)")
	}
	path, ok := sfParamOf(m.params, "path")
	if !ok || path.kind != sfString {
		return nil, errors.New(`no string "path" parameter`)
	}
	for _, k := range []string{"challenge", "authorization"} {
		if v, ok := sfParamOf(m.params, k); ok {
			if v.kind != sfString {
				return nil, fmt.Errorf("%q is not a string (Chromium ignores the whole offer)", k)
			}
			if k == "challenge" {
				r.challenge = v.s
			} else {
				r.authorization = v.s
			}
		}
	}
	ep, err := base.Parse(path.s)
	if err != nil {
		return nil, fmt.Errorf("path %q is not a URL", path.s)
	}
	if canonicalHost(ep) != host {
		return nil, fmt.Errorf("path %q leads to another host (%s)", path.s, ep.Hostname())
	}
	if ep.Scheme != "https" && !isLoopback(ep.Hostname()) {
		return nil, fmt.Errorf("path %q is not HTTPS", path.s)
	}
	r.endpoint = ep
	return r, nil
}

// dbscKey is the key a browser makes for one session.
type dbscKey struct {
	alg string
	ec  *ecdsa.PrivateKey
	rs  *rsa.PrivateKey
}

// newDBSCKey makes a key for the first algorithm of algs.
func newDBSCKey(algs []string) (*dbscKey, error) {
	k := &dbscKey{alg: algs[0]}
	var err error
	if k.alg == "ES256" {
		k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		k.rs, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	return k, err
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk is the public key as a JWK.
func (k *dbscKey) jwk() (map[string]string, error) {
	if k.ec != nil {
		pt, err := k.ec.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			return nil, err
		}
		return map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:])}, nil
	}
	return map[string]string{"kty": "RSA", "n": b64(k.rs.N.Bytes()), "e": b64(big.NewInt(int64(k.rs.E)).Bytes())}, nil
}

// proof signs a DBSC proof over challenge: the key in the header with
// withKey (a registration), authorization in the payload when not "".
func (k *dbscKey) proof(challenge, authorization string, withKey bool) (string, error) {
	hdr := map[string]any{"alg": k.alg, "typ": "dbsc+jwt"}
	if withKey {
		j, err := k.jwk()
		if err != nil {
			return "", err
		}
		hdr["jwk"] = j
	}
	payload := map[string]any{"jti": challenge}
	if authorization != "" {
		payload["authorization"] = authorization
	}
	hb, err := json.Marshal(hdr)
	if err != nil {
		return "", err
	}
	pb, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	signed := b64(hb) + "." + b64(pb)
	sum := sha256.Sum256([]byte(signed))
	var sig []byte
	if k.ec != nil {
		r, s, err := ecdsa.Sign(rand.Reader, k.ec, sum[:])
		if err != nil {
			return "", err
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	} else if sig, err = rsa.SignPKCS1v15(rand.Reader, k.rs, crypto.SHA256, sum[:]); err != nil {
		return "", err
	}
	return signed + "." + b64(sig), nil
}

// dbscInstructions is the JSON a registration (and optionally a refresh)
// answers with.
type dbscInstructions struct {
	SessionID   string `json:"session_identifier"`
	RefreshURL  string `json:"refresh_url"`
	Continue    *bool  `json:"continue"`
	Credentials []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"credentials"`
}

// boundSession is a registered session as the auditor holds it.
type boundSession struct {
	id      string
	refresh *url.URL
	names   []string // the bound cookies
	key     *dbscKey
	// challenge is the one the target sent for the next refresh, if any.
	challenge string
}

// parseInstructions reads a registration's answer by Chromium's rules.
func parseInstructions(ex *exchange, reg *dbscRegistration, host string) (*boundSession, error) {
	var ins dbscInstructions
	if err := json.Unmarshal(ex.Body, &ins); err != nil {
		return nil, fmt.Errorf("its body is not the session instructions JSON (%s)", trimJSONErr(err))
	}
	if ins.SessionID == "" {
		return nil, errors.New(`its JSON has no "session_identifier"`)
	}
	if ins.Continue != nil && !*ins.Continue {
		return nil, errors.New(`its JSON says "continue": false`)
	}
	bs := &boundSession{id: ins.SessionID, refresh: reg.endpoint}
	for _, c := range ins.Credentials {
		if c.Type == "cookie" && c.Name != "" && !slices.Contains(bs.names, c.Name) {
			bs.names = append(bs.names, c.Name)
		}
	}
	if len(bs.names) == 0 {
		return nil, errors.New(`its JSON binds no cookie ("credentials" has no {"type":"cookie","name":...})`)
	}
	if ins.RefreshURL != "" {
		u, err := ex.URL.Parse(ins.RefreshURL)
		if err != nil || canonicalHost(u) != host {
			return nil, fmt.Errorf("its refresh_url %q is not on the target's host", ins.RefreshURL)
		}
		bs.refresh = u
	}
	return bs, nil
}

func trimJSONErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// challengeFor returns the challenge ex sets for session id: a
// Secure-Session-Challenge string whose "id" parameter names it
// (Chromium ignores one without).
func challengeFor(ex *exchange, id string) (string, bool) {
	vs := ex.Header.Values(hdrChallenge)
	if len(vs) == 0 {
		return "", false
	}
	members, err := parseSFList(strings.Join(vs, ", "))
	if err != nil {
		return "", false
	}
	for _, m := range members {
		if m.inner || m.items[0].kind != sfString {
			continue
		}
		if v, ok := sfParamOf(m.params, "id"); ok && v.kind == sfString && v.s == id {
			return m.items[0].s, true
		}
	}
	return "", false
}

// setsBound reports whether ex sets one of names to a value a browser
// keeps (not a deletion).
func setsBound(ex *exchange, names []string, now time.Time) bool {
	for _, ck := range ex.SetCookies {
		if slices.Contains(names, ck.Name) && ck.Value != "" && !ck.Deletes(now) {
			return true
		}
	}
	return false
}

// checkDeviceBound logs in on a fresh client and judges what its login
// offered.
func (a *auditor) checkDeviceBound(ctx context.Context) {
	s, err := a.freshSession(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.add(result(CheckDeviceBound, Warn, "a fresh login for this check failed: "+trimErr(err), ""))
		}
		return
	}
	r, err := a.judgeDeviceBound(ctx, s)
	if err != nil {
		return // the run was stopped
	}
	if r.Status == Pass && a.target.Scheme != "https" {
		r.Status = Warn
		r.Evidence += "; but the target is plain HTTP, where Chromium ignores Secure-Session-Registration (even on localhost): no browser binds these sessions"
		r.Recommendation = "Serve the application over HTTPS so browsers register."
	}
	a.add(r)
}

const dbscAdvice = "Refuse a device-bound session's cookie without its bound cookie (from the registration's answer on), renew the bound cookie only for a proof signed with the registered key over a fresh challenge, and keep the bound cookie short-lived (minutes)."

// judgeDeviceBound registers s's session as a browser would and plays
// the thief. The error is the context's only.
func (a *auditor) judgeDeviceBound(ctx context.Context, s *session) (Result, error) {
	host := canonicalHost(a.target)
	if len(s.c.offers) == 0 {
		return result(CheckDeviceBound, Skip, fmt.Sprintf("no answer of the login (GET and POST %s, its redirects, GET %s) carried %s: the target does not offer device-bound sessions (DBSC), so a stolen session cookie works on any device until the session ends",
			a.cfg.LoginPath, a.cfg.MePath, hdrRegistration),
			"Offering DBSC (Secure-Session-Registration at login) binds sessions to a key that never leaves the device, on browsers that support it."), nil
	}
	var reg *dbscRegistration
	var bad []string
	for _, o := range s.c.offers {
		r, err := parseRegistration(o, host)
		if err == nil {
			reg = r
			break
		}
		bad = append(bad, fmt.Sprintf("%s %q: %v", redactURL(o.url), o.value, err))
	}
	if reg == nil {
		return result(CheckDeviceBound, Warn, "the login offers DBSC, but no Secure-Session-Registration a browser would act on: "+strings.Join(capped(bad), "; "),
			`Send Secure-Session-Registration: (ES256 RS256);path="/your/registration";challenge="<random>" on the login's answer.`), nil
	}

	// Register: one POST with the proof, as Chromium sends it.
	key, err := newDBSCKey(reg.algs)
	if err != nil {
		return result(CheckDeviceBound, Warn, "could not make a key: "+err.Error(), ""), nil
	}
	hdr := http.Header{"Origin": {a.target.Scheme + "://" + a.target.Host}}
	if reg.challenge != "" || reg.authorization != "" {
		tok, err := key.proof(reg.challenge, reg.authorization, true)
		if err != nil {
			return result(CheckDeviceBound, Warn, "could not sign the registration proof: "+err.Error(), ""), nil
		}
		hdr.Set(hdrResponse, tok)
	}
	where := "POST " + redactURL(reg.endpoint)
	ex, err := s.c.sendWith(ctx, "POST", reg.endpoint.String(), "", nil, hdr)
	if cerr := ctx.Err(); cerr != nil {
		return Result{}, cerr
	}
	if err != nil {
		return result(CheckDeviceBound, Warn, fmt.Sprintf("the login offers DBSC, but the registration (%s) failed: %s", where, trimErr(err)), dbscAdvice), nil
	}
	if ex.Status != http.StatusOK {
		note := ""
		if ex.Status == http.StatusForbidden {
			note = " (Chromium fails a registration that answers 403: put the challenge in the Secure-Session-Registration header)"
		}
		return result(CheckDeviceBound, Warn, fmt.Sprintf("the login offers DBSC, but the registration with an %s proof (%s) answered %d%s, so a browser's would fail too and the binding could not be tested",
			key.alg, where, ex.Status, note), dbscAdvice), nil
	}
	bs, err := parseInstructions(ex, reg, host)
	if err != nil {
		return result(CheckDeviceBound, Warn, fmt.Sprintf("the login offers DBSC, but the registration (%s) answered 200 and %v: a browser makes no session of it", where, err), dbscAdvice), nil
	}
	bs.key = key
	bs.challenge, _ = challengeFor(ex, bs.id)
	full := stateOf(s.c)
	for _, n := range bs.names {
		if _, ok := full.value(n); !ok {
			return result(CheckDeviceBound, Warn, fmt.Sprintf("the registration (%s) binds cookie %q but did not set it (a browser would refresh at once)", where, n), dbscAdvice), nil
		}
	}
	var stolen cookieState
	for _, p := range full {
		if !slices.Contains(bs.names, p.Name) {
			stolen = append(stolen, p)
		}
	}
	bound := fmt.Sprintf("bound cookie %q", strings.Join(bs.names, `", "`))
	if len(stolen) == 0 {
		return result(CheckDeviceBound, Warn, fmt.Sprintf("after the registration the %s is the only cookie: there is no session cookie to steal apart from it", bound), ""), nil
	}

	// The owner, with every cookie, is logged in.
	v, err := a.askWith(ctx, full)
	if err != nil {
		return Result{}, err
	}
	if v.state != authYes {
		why := v.why
		if why == "" {
			why = fmt.Sprintf("%s answered %s", a.cfg.MePath, a.answered(v))
		}
		return result(CheckDeviceBound, Warn, fmt.Sprintf("after registering (%s), the session with its %s was not answered as logged in: %s", where, bound, why), dbscAdvice), nil
	}

	// The thief: the session's cookies without the bound one, which is
	// what a stolen cookie jar holds once the bound cookie expired.
	v, err = a.askStolen(ctx, stolen)
	if err != nil {
		return Result{}, err
	}
	theft := fmt.Sprintf("the session's cookies without the %s (%s, what a thief holds once the short-lived bound cookie expired)", bound, strings.Join(stolen.names(), ", "))
	grace := ""
	if v.state == authYes {
		// Perhaps the grace for the browser's first requests: ask again
		// once it is over, keeping the session in use meanwhile as its
		// browser would (an idle timeout may be shorter than the grace).
		first := a.answered(v)
		if r, ok, err := a.outwaitGrace(ctx, full, ex.At); err != nil || !ok {
			return r, err
		}
		if v, err = a.askStolen(ctx, stolen); err != nil {
			return Result{}, err
		}
		if v.state != authYes {
			grace = fmt.Sprintf(" (right after the registration they were still let in, GET %s answered %s: a grace for the requests the browser sends before the registration's answer, over within %s)",
				a.cfg.MePath, first, fmtDuration(registrationGrace))
		}
	}
	switch v.state {
	case authYes:
		return result(CheckDeviceBound, Fail, fmt.Sprintf("the target registered a device-bound session (%s, id %q), but %s were still answered as logged in %s after the registration (GET %s answered %s): the binding is not enforced",
			where, bs.id, theft, fmtDuration(registrationGrace), a.cfg.MePath, a.answered(v)), dbscAdvice), nil
	case authUnknown:
		return result(CheckDeviceBound, Warn, fmt.Sprintf("could not tell whether %s are refused: %s", theft, v.why), dbscAdvice), nil
	}
	ev := []string{fmt.Sprintf("registered with an %s key (%s); %s were refused (GET %s answered %s)%s", key.alg, where, theft, a.cfg.MePath, a.answered(v), grace)}

	// The owner's refresh with the registered key renews the bound cookie.
	owner := a.clientWith(stolen)
	rex, posts, err := a.dbscRefresh(ctx, owner, bs, bs.key)
	if cerr := ctx.Err(); cerr != nil {
		return Result{}, cerr
	}
	renewed := err == nil && rex.Status == http.StatusOK && setsBound(rex, bs.names, a.cfg.Now())
	status := Pass
	if renewed {
		ev = append(ev, fmt.Sprintf("a refresh signed with the registered key renewed it (%d POST %s)", posts, redactURL(bs.refresh)))
	} else {
		status = Warn
		what := "no bound cookie"
		switch {
		case err != nil:
			what = trimErr(err)
		case rex.Status != http.StatusOK:
			what = fmt.Sprintf("status %d", rex.Status)
		}
		ev = append(ev, fmt.Sprintf("but a refresh signed with the registered key got %s after %d POST %s: browsers would lose the session whenever the bound cookie expires", what, posts, redactURL(bs.refresh)))
	}

	// The thief asks the refresh endpoint for a bound cookie: without a
	// proof, then with a proof signed by a key of its own.
	thief := a.clientWith(stolen)
	tex, texErr := thief.sendWith(ctx, "POST", bs.refresh.String(), "", nil, http.Header{hdrSessionID: {bs.id}, "Origin": {a.target.Scheme + "://" + a.target.Host}})
	if cerr := ctx.Err(); cerr != nil {
		return Result{}, cerr
	}
	if texErr == nil && setsBound(tex, bs.names, a.cfg.Now()) {
		return result(CheckDeviceBound, Fail, fmt.Sprintf("POST %s with the session's cookies and its id but no proof answered %d and set the %s: anyone holding the session cookie gets a bound cookie, so the binding protects nothing",
			redactURL(bs.refresh), tex.Status, bound), dbscAdvice), nil
	}
	other, err := newDBSCKey(bs.key.algOnly())
	if err != nil {
		return result(CheckDeviceBound, Warn, "could not make a key: "+err.Error(), ""), nil
	}
	chal := "latch-audit-" + randomToken()
	if texErr == nil {
		if c, ok := challengeFor(tex, bs.id); ok {
			chal = c
		}
	}
	forged, err := other.proof(chal, "", true)
	if err != nil {
		return result(CheckDeviceBound, Warn, "could not sign: "+err.Error(), ""), nil
	}
	fex, fexErr := thief.sendWith(ctx, "POST", bs.refresh.String(), "", nil, http.Header{hdrSessionID: {bs.id}, hdrResponse: {forged},
		"Origin": {a.target.Scheme + "://" + a.target.Host}})
	if cerr := ctx.Err(); cerr != nil {
		return Result{}, cerr
	}
	if fexErr == nil && setsBound(fex, bs.names, a.cfg.Now()) {
		return result(CheckDeviceBound, Fail, fmt.Sprintf("POST %s with a proof signed by another key (its public key in the proof's header) answered %d and set the %s: the refresh does not verify the registered key, so a thief renews the binding from any device",
			redactURL(bs.refresh), fex.Status, bound), dbscAdvice), nil
	}
	ev = append(ev, fmt.Sprintf("the refresh refused a request without proof (%s) and one signed by another key (%s)", statusOf(tex, texErr), statusOf(fex, fexErr)))

	// A long-lived bound cookie is copied with the session cookie.
	for _, ck := range ex.SetCookies {
		if !slices.Contains(bs.names, ck.Name) {
			continue
		}
		life, persistent := ck.Lifetime(a.cfg.Now())
		switch {
		case !persistent:
			status = Warn
			ev = append(ev, fmt.Sprintf("but bound cookie %q has no expiry: it lives as long as the browser, and a thief who copies it with the session cookie keeps the session that long", ck.Name))
		case life > maxBoundLife:
			status = Warn
			ev = append(ev, fmt.Sprintf("but bound cookie %q lives %s: a thief who copies it with the session cookie keeps the session that long (keep it to minutes)", ck.Name, fmtDuration(life)))
		default:
			ev = append(ev, fmt.Sprintf("bound cookie %q lives %s", ck.Name, fmtDuration(life)))
		}
	}
	rec := ""
	if status != Pass {
		rec = dbscAdvice
	}
	return result(CheckDeviceBound, status, strings.Join(ev, "; "), rec), nil
}

// algOnly is the key's algorithm as a list, for a key of the same kind.
func (k *dbscKey) algOnly() []string { return []string{k.alg} }

func statusOf(ex *exchange, err error) string {
	if err != nil || ex == nil {
		return "no answer"
	}
	return fmt.Sprint(ex.Status)
}

func randomToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return b64(b)
}

// dbscRefresh refreshes bs on c with key as Chromium does: a POST with
// the session id and a proof over the challenge it holds (none when it
// holds none), and on a 403 that carries a new challenge for the session,
// a POST signed over it, at most maxChallenges times. It returns the last
// answer and the number of POSTs.
func (a *auditor) dbscRefresh(ctx context.Context, c *client, bs *boundSession, key *dbscKey) (*exchange, int, error) {
	chal := bs.challenge
	for posts := 1; ; posts++ {
		hdr := http.Header{hdrSessionID: {bs.id}, "Origin": {a.target.Scheme + "://" + a.target.Host}}
		if chal != "" {
			tok, err := key.proof(chal, "", false)
			if err != nil {
				return nil, posts - 1, err
			}
			hdr.Set(hdrResponse, tok)
		}
		ex, err := c.sendWith(ctx, "POST", bs.refresh.String(), "", nil, hdr)
		if err != nil {
			return nil, posts, err
		}
		next, ok := challengeFor(ex, bs.id)
		if ex.Status != http.StatusForbidden || !ok || posts > maxChallenges {
			return ex, posts, nil
		}
		chal = next
	}
}

// askStolen asks MePath with the stolen cookies. A binding refuses them
// with 401 or 403 even where a request without any session gets another
// answer (a redirect to the login), so either counts as refused unless
// the baseline takes it for a session; a refusal is asked again, as
// confirmEnded does, since a refusal once and a session after is none.
func (a *auditor) askStolen(ctx context.Context, st cookieState) (verdict, error) {
	judge := func(ex *exchange) authState {
		s := a.base.classify(ex)
		if s == authUnknown && (ex.Status == http.StatusUnauthorized || ex.Status == http.StatusForbidden) {
			return authNo
		}
		return s
	}
	v, err := a.askBy(ctx, a.clientWith(st), judge)
	if err != nil || v.state != authNo {
		return v, err
	}
	w, err := a.askBy(ctx, a.clientWith(st), judge)
	if err != nil {
		return verdict{}, err
	}
	if w.state != authNo {
		w.relapsed = true
	}
	return w, nil
}

// outwaitGrace waits until registrationGrace has passed since registered,
// asking MePath with the owner's cookies about every second, as a browser
// in use would. It reports false, with the result to give, when the
// session ended meanwhile: then nothing tells a grace from no binding.
func (a *auditor) outwaitGrace(ctx context.Context, owner cookieState, registered time.Time) (Result, bool, error) {
	const task = "device-bound session: waiting out a registration grace"
	total := int(registrationGrace / time.Second)
	for {
		elapsed := a.cfg.Now().Sub(registered)
		if elapsed >= registrationGrace {
			a.progress(task, total, total)
			return Result{}, true, nil
		}
		a.progress(task, int(elapsed/time.Second), total)
		if err := a.cfg.Sleep(ctx, min(registrationGrace-elapsed, time.Second)); err != nil {
			return Result{}, false, ctx.Err()
		}
		v, err := a.askWith(ctx, owner)
		if err != nil {
			return Result{}, false, err
		}
		if v.state != authYes {
			return result(CheckDeviceBound, Warn, fmt.Sprintf("right after the registration the session's cookies without the bound cookie were still let in, and the session itself ended %s after the registration (GET %s with every cookie answered %s), before %s, the longest grace the auditor waits out for the browser's first requests: whether the binding is enforced cannot be told",
				fmtDuration(a.cfg.Now().Sub(registered).Round(time.Second)), a.cfg.MePath, a.answered(v), fmtDuration(registrationGrace)),
				"Audit with session timeouts longer than a minute to test the binding."), false, nil
		}
	}
}
