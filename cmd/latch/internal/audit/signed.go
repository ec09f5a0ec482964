package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/latchsec/latch/flask"
)

// forgeMarker is the key the auditor adds to a forged session, so that the
// forged cookie differs from anything the server issued.
const forgeMarker = "_latch_audit"

// signedCookie is a session cookie recognised as a signed-cookie format.
type signedCookie struct {
	// framework names the format: "Flask", "Django" or "Express".
	framework string
	// payload is the readable session data the cookie carries; nil when
	// it carries only a session ID (express-session).
	payload []byte
	// id is the signed session ID when the data stays on the server.
	id string
}

// clientSide reports whether the cookie is the session itself rather than
// a signed reference to a server-side session.
func (s *signedCookie) clientSide() bool { return s.payload != nil }

// recognizeSigned recognises token as a Flask, Django or Express signed
// cookie, or returns nil.
func recognizeSigned(token string) *signedCookie {
	if d, err := ParseDjango(token); err == nil {
		return &signedCookie{framework: "Django", payload: d.Payload}
	}
	if p, err := flask.Unverified(token); err == nil {
		return &signedCookie{framework: "Flask", payload: p.Raw}
	}
	if e, err := ParseExpress(token); err == nil {
		if _, ok := e.JSON(); ok {
			return &signedCookie{framework: "Express", payload: []byte(strings.TrimPrefix(e.Value, "j:"))}
		}
		return &signedCookie{framework: "Express", id: e.Value}
	}
	return nil
}

// sessionIDOf returns the part of a cookie value of the same format as sc
// that is random: the signed ID of an Express cookie (its tag is derived
// from the ID), the value itself otherwise.
func sessionIDOf(sc *signedCookie, value string) string {
	if sc == nil || sc.framework != "Express" || sc.clientSide() {
		return value
	}
	if e, err := ParseExpress(value); err == nil {
		return e.Value
	}
	return value
}

// candidateSource says where candidate i came from without naming it.
func (a *auditor) candidateSource(key string) string {
	if w := a.cfg.sourceKeyWhere(key); w != "" {
		return "the key found in the source " + w
	}
	for i, k := range a.cfg.WeakKeys {
		if k == key {
			return fmt.Sprintf("entry %d of the shipped weak-key list", i+1)
		}
	}
	for i, k := range a.cfg.Wordlist {
		if k == key {
			return fmt.Sprintf("entry %d of the --wordlist file", i+1)
		}
	}
	return "a candidate"
}

// checkSignedCookie runs weak-secret-key on token. prove, when non-nil,
// tells whether a forged cookie is accepted as authenticated. It returns
// what it recognised, or nil when token is not a signed cookie.
func (a *auditor) checkSignedCookie(ctx context.Context, token string, prove func(forged string) (bool, int, error)) *signedCookie {
	sc := recognizeSigned(token)
	if sc == nil {
		a.add(result(CheckWeakSecretKey, Skip, fmt.Sprintf("the session cookie (%d bytes) is not a Flask, Django or Express signed cookie; it looks like an opaque identifier", len(token)), ""))
		a.addSource(result(CheckSourceKeyLive, Skip, "the live session cookie is not a signed cookie: no key of the source can sign it", ""))
		return nil
	}
	fw := sc.framework
	seen := map[string]bool{}
	var cands []string
	srcKeys := a.cfg.sourceKeyCandidates()
	for _, k := range append(append(append([]string(nil), srcKeys...), a.cfg.WeakKeys...), a.cfg.Wordlist...) {
		if k != "" && !seen[k] {
			seen[k] = true
			cands = append(cands, k)
		}
	}
	var readable string
	switch {
	case sc.clientSide():
		readable = fmt.Sprintf("%s signed session cookie; its payload is readable by anyone who holds it (signed, not encrypted): %s", fw, redactPayload(sc.payload))
	default:
		readable = fmt.Sprintf("%s signed cookie (cookie-signature, HMAC-SHA256 over a %d-byte session ID; the session data stays on the server)", fw, len(sc.id))
	}
	var (
		key   string
		found bool
		tried int
		err   error
	)
	a.progress("trying keys", 0, len(cands))
	switch fw {
	case "Django":
		key, found, tried, err = CrackDjango(ctx, token, cands, 0)
	case "Express":
		key, found, tried, err = CrackExpress(ctx, token, cands, 0)
	default:
		key, found, tried, err = flask.Crack(ctx, token, cands, 0)
	}
	a.progress("trying keys", len(cands), len(cands))
	rec := "Generate the secret key from a CSPRNG (at least 32 bytes), load it from the environment or a secrets store, never from code, and rotate it now: every session signed with the old key can be forged."
	if fw == "Express" {
		rec = "Generate the secret from a CSPRNG (at least 32 bytes), load it from the environment or a secrets store, never from code, and rotate it now (express-session takes an array: the new secret first, the old one only until its sessions expire)."
	}
	if err != nil {
		a.add(result(CheckWeakSecretKey, Warn, readable+"; trying keys failed: "+trimErr(err), rec))
		a.addSource(result(CheckSourceKeyLive, Warn, readable+"; trying the source's keys failed: "+trimErr(err), rec))
		return sc
	}
	if !found {
		pass := ""
		if sc.clientSide() {
			pass = "Keep secrets out of the session: the cookie is signed, not encrypted."
		}
		from := ""
		if a.cfg.Source {
			from = fmt.Sprintf("%d from --source, ", len(srcKeys))
		}
		a.add(result(CheckWeakSecretKey, Pass, fmt.Sprintf("%s; none of %d candidate keys (%s%d shipped, %d from --wordlist) verifies its signature",
			readable, tried, from, len(a.cfg.WeakKeys), len(a.cfg.Wordlist)), pass))
		if len(srcKeys) == 0 {
			a.addSource(result(CheckSourceKeyLive, Skip, "the review found no secret key written in the source or its git history to try", ""))
		} else {
			a.addSource(result(CheckSourceKeyLive, Pass, fmt.Sprintf("none of the %d keys found in the source and its git history verifies the live %s session cookie: production uses another key", len(srcKeys), fw), ""))
		}
		return sc
	}
	if len(srcKeys) == 0 {
		a.addSource(result(CheckSourceKeyLive, Skip, "the review found no secret key written in the source or its git history to try", ""))
	} else if a.cfg.sourceKeyWhere(key) == "" {
		a.addSource(result(CheckSourceKeyLive, Pass, fmt.Sprintf("none of the %d keys found in the source and its git history verifies the live %s session cookie (another weak key does: see %s)", len(srcKeys), fw, CheckWeakSecretKey), ""))
	}
	ev := fmt.Sprintf("%s; its signing key is %s (%d characters)", readable, a.candidateSource(key), len(key))
	if !sc.clientSide() {
		// The cookie names a server-side session: a forged cookie can
		// only name a session ID, which the server would not know, so
		// there is nothing to prove by replay. An HMAC-SHA256 match does
		// not happen by chance.
		ev += "; the key verifies the cookie's HMAC-SHA256 tag, so anyone can sign a session ID of their choosing (the signature no longer stops guessed or planted IDs) and forge every other cookie the application signs with this secret, such as cookie-parser's signed cookies"
		r := result(CheckWeakSecretKey, Fail, ev, rec)
		// Not critical: the session's data cannot be forged with the
		// key, only the ID that names it.
		r.Severity = High
		a.add(r)
		a.sourceKeyFound(key, ev)
		a.mu.Lock()
		a.expressKey = key
		a.mu.Unlock()
		return sc
	}
	forged, ferr := a.forge(fw, key, token)
	switch {
	case ferr != nil:
		ev += "; the key verifies the cookie's signature, but a forged cookie could not be built: " + trimErr(ferr)
	case prove == nil:
		ev += "; the key verifies the cookie's signature (no login configured to prove a forged cookie is accepted)"
	default:
		ok, st, perr := prove(forged)
		switch {
		case perr != nil:
			ev += "; the forged cookie could not be tried: " + trimErr(perr)
		case ok:
			ev += fmt.Sprintf("; proven: a cookie forged with this key (session data changed, fresh timestamp) was accepted, %s answered 200", a.cfg.MePath)
		default:
			ev += fmt.Sprintf("; a cookie forged with this key was refused (%s answered %d), but the key verifies the signature", a.cfg.MePath, st)
		}
	}
	a.add(result(CheckWeakSecretKey, Fail, ev, rec))
	a.sourceKeyFound(key, ev)
	return sc
}

// addSource records a result of the comparison with the source, when
// there is one.
func (a *auditor) addSource(r Result) {
	if a.cfg.Source {
		a.add(r)
	}
}

// sourceKeyFound records source-key-live once key, found by
// weak-secret-key (whose evidence is ev), is known to sign the live
// cookie: a failure when the source holds it.
func (a *auditor) sourceKeyFound(key, ev string) {
	if a.cfg.sourceKeyWhere(key) == "" {
		return
	}
	a.addSource(result(CheckSourceKeyLive, Fail, "a key written in the source signs the live session cookie, so production runs with a hard-coded key: "+ev,
		"Rotate the key now: generate a new one from a CSPRNG, give it to production through the environment or a secrets store, and remove the literal from the source. The old key stays in every clone and in the git history: it is compromised for good."))
}

// forge re-signs token's session with key, adding forgeMarker and a fresh
// timestamp.
func (a *auditor) forge(fw, key, token string) (string, error) {
	if fw == "Express" {
		e, err := ParseExpress(token)
		if err != nil {
			return "", err
		}
		m, ok := e.JSON()
		if !ok {
			return "", fmt.Errorf("audit: the Express cookie carries no JSON session to change")
		}
		m[forgeMarker] = "forged"
		b, err := json.Marshal(m)
		if err != nil {
			return "", fmt.Errorf("audit: forge Express cookie: %w", err)
		}
		return SignExpress(key, "j:"+string(b)), nil
	}
	if fw == "Flask" {
		p, err := flask.Unverified(token)
		if err != nil {
			return "", fmt.Errorf("audit: %w", err)
		}
		data := map[string]any{}
		for k, v := range p.Data {
			data[k] = v
		}
		data[forgeMarker] = "forged"
		s := flask.New(key)
		s.Now = a.cfg.Now
		out, err := s.Encode(data)
		if err != nil {
			return "", fmt.Errorf("audit: forge Flask cookie: %w", err)
		}
		return out, nil
	}
	d, err := ParseDjango(token)
	if err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(d.Payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return "", fmt.Errorf("audit: the Django session is not JSON (a pickle serializer?): %w", err)
	}
	m[forgeMarker] = "forged"
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("audit: forge Django cookie: %w", err)
	}
	return SignDjango(key, d.Algorithm(), b, a.cfg.Now(), d.Compressed)
}

var secretish = regexp.MustCompile(`(?i)csrf|token|pass|secret|key|nonce|otp`)

// redactPayload renders a session payload for a report: values under keys
// that look secret are replaced, and the result is cut at 300 bytes.
func redactPayload(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	out := string(b)
	if err := dec.Decode(&m); err == nil {
		for k := range m {
			if secretish.MatchString(k) {
				m[k] = "<redacted>"
			}
		}
		if j, err := json.Marshal(m); err == nil {
			out = string(j)
		}
	} else {
		out = "(not JSON, " + fmt.Sprint(len(b)) + " bytes)"
	}
	if len(out) > 300 {
		out = out[:300] + "…"
	}
	return strings.ToValidUTF8(out, "?")
}
