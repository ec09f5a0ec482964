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

// signedFramework recognises token as a Flask or Django signed session
// cookie and returns the framework's name and the readable payload.
func signedFramework(token string) (name string, payload []byte) {
	if d, err := ParseDjango(token); err == nil {
		return "Django", d.Payload
	}
	if p, err := flask.Unverified(token); err == nil {
		return "Flask", p.Raw
	}
	return "", nil
}

// candidateSource says where candidate i came from without naming it.
func (a *auditor) candidateSource(key string) string {
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
// the framework's name, or "" when token is not a signed-cookie session.
func (a *auditor) checkSignedCookie(ctx context.Context, token string, prove func(forged string) (bool, int, error)) string {
	fw, payload := signedFramework(token)
	if fw == "" {
		a.add(result(CheckWeakSecretKey, Skip, fmt.Sprintf("the session cookie (%d bytes) is not a Flask or Django signed cookie; it looks like an opaque identifier", len(token)), ""))
		return ""
	}
	seen := map[string]bool{}
	var cands []string
	for _, k := range append(append([]string(nil), a.cfg.WeakKeys...), a.cfg.Wordlist...) {
		if k != "" && !seen[k] {
			seen[k] = true
			cands = append(cands, k)
		}
	}
	readable := fmt.Sprintf("%s signed session cookie; its payload is readable by anyone who holds it (signed, not encrypted): %s", fw, redactPayload(payload))
	var (
		key   string
		found bool
		tried int
		err   error
	)
	a.progress("trying keys", 0, len(cands))
	if fw == "Django" {
		key, found, tried, err = CrackDjango(ctx, token, cands, 0)
	} else {
		key, found, tried, err = flask.Crack(ctx, token, cands, 0)
	}
	a.progress("trying keys", len(cands), len(cands))
	rec := "Generate the secret key from a CSPRNG (at least 32 bytes), load it from the environment or a secrets store, never from code, and rotate it now: every session signed with the old key can be forged."
	if err != nil {
		a.add(result(CheckWeakSecretKey, Warn, readable+"; trying keys failed: "+trimErr(err), rec))
		return fw
	}
	if !found {
		a.add(result(CheckWeakSecretKey, Pass, fmt.Sprintf("%s; none of %d candidate keys (%d shipped, %d from --wordlist) verifies its signature",
			readable, tried, len(a.cfg.WeakKeys), len(a.cfg.Wordlist)),
			"Keep secrets out of the session: the cookie is signed, not encrypted."))
		return fw
	}
	ev := fmt.Sprintf("%s; its signing key is %s (%d characters)", readable, a.candidateSource(key), len(key))
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
	return fw
}

// forge re-signs token's session with key, adding forgeMarker and a fresh
// timestamp.
func (a *auditor) forge(fw, key, token string) (string, error) {
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
