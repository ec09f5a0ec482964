package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Every cookie of every credential is a session cookie (see identify.go):
// each is examined on its own, and for each check the weakest result
// decides, since an attacker uses whichever credential is easiest to
// take. Token randomness is the exception: the cookies of one credential
// are guessed together, so the credential is as strong as its strongest
// cookie, and the weakest credential decides. When the identification
// was ambiguous no check passes, and when it confirmed no credential at
// all, nothing fails either: every cookie is examined, and each verdict
// is at most a warning.

// statusRank orders statuses from the least to the most alarming.
var statusRank = map[Status]int{Skip: 0, Pass: 1, Warn: 2, Fail: 3}

// memberResult is one session cookie's result for one check.
type memberResult struct {
	name string
	r    Result
}

// checkSessionCookies runs the cookie checks (attributes, size, signed
// cookie key, token in URLs) on every session cookie, and returns what
// each signed cookie was recognised as.
func (a *auditor) checkSessionCookies(ctx context.Context, s *session, id *identity) map[string]*signedCookie {
	signed := map[string]*signedCookie{}
	var all []memberResult
	for _, name := range id.members {
		// A browser holds one cookie of a name per path and domain, and
		// sends each where it applies: each is judged.
		held := s.c.heldSetCookies(name)
		if len(held) == 0 {
			continue
		}
		var pre *Cookie
		if _, ok := s.pre.value(name); ok {
			pre = firstSetCookie(s.c, name)
		}
		token, _ := s.c.value(name)
		creds := id.credentialsOf(name)
		how := id.how(name, a.cfg.MePath)
		if len(held) > 1 {
			how += fmt.Sprintf(" (the browser holds %d cookies of that name, for different paths or domains, and each is judged)", len(held))
		}
		got := a.collect(func() {
			for _, ck := range held {
				a.checkAttributes(ck, how+", as set at login", pre)
			}
			signed[name] = a.checkSignedCookie(ctx, token, func(forged string) (bool, int, error) {
				names := []string{name}
				if len(creds) > 0 {
					names = creds[0]
				}
				v, err := a.askWith(ctx, stateOf(s.c).only(names).with(name, forged))
				if err != nil || v.ex == nil {
					return false, 0, err
				}
				return v.state == authYes, v.ex.Status, nil
			})
			a.checkSessionInURL(s.c.valuesOf(name), s.c.History)
		})
		for _, r := range got {
			all = append(all, memberResult{name, r})
		}
	}
	a.addWeakest(all, id)
	return signed
}

// firstSetCookie returns the first Set-Cookie for name in c's history.
func firstSetCookie(c *client, name string) *Cookie {
	for _, ex := range c.History {
		for _, sc := range ex.SetCookies {
			if sc.Name == name {
				return sc
			}
		}
	}
	return nil
}

// with returns st with every cookie called name set to value (a new
// host-wide cookie when st holds none).
func (st cookieState) with(name, value string) cookieState {
	out := slices.Clone(st)
	found := false
	for i := range out {
		if out[i].Name == name {
			out[i].Value, found = value, true
		}
	}
	if found {
		return out
	}
	return append(out, cookiePair{Name: name, Value: value})
}

// addWeakest records, for each check in all, the weakest session
// cookie's result.
func (a *auditor) addWeakest(all []memberResult, id *identity) {
	for _, checkID := range checkIDs(all) {
		var rs []memberResult
		for _, m := range all {
			if m.r.ID == checkID {
				rs = append(rs, m)
			}
		}
		worst := rs[0]
		for _, m := range rs[1:] {
			if statusRank[m.r.Status] > statusRank[worst.r.Status] {
				worst = m
			}
		}
		r := worst.r
		if len(rs) > 1 {
			r.Evidence += "; every session cookie was checked and the weakest decides: " + summary(rs)
		}
		a.add(capAmbiguous(r, id))
	}
}

// checkIDs returns the check ids of all in order of first appearance.
func checkIDs(all []memberResult) []string {
	var ids []string
	for _, m := range all {
		if !slices.Contains(ids, m.r.ID) {
			ids = append(ids, m.r.ID)
		}
	}
	return ids
}

// summary renders each cookie's status, `"a" fail, "b" pass`, listing at
// most maxListed cookies of each status.
func summary(rs []memberResult) string {
	var parts []string
	for _, st := range []Status{Fail, Warn, Pass, Skip} {
		var names []string
		for _, m := range rs {
			if m.r.Status == st {
				names = append(names, m.name)
			}
		}
		if len(names) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", listNames(names), st))
		}
	}
	return strings.Join(parts, ", ")
}

// capAmbiguous turns a pass into a warning when the identification was
// ambiguous, and a failure too when it confirmed no credential (the
// failing cookie may not be a session cookie at all).
func capAmbiguous(r Result, id *identity) Result {
	if id.ambiguous == "" || r.Status == Skip || r.Status == Warn {
		return r
	}
	if r.Status == Fail && id.verified() {
		return r
	}
	note := "; the session's cookies could not be identified for certain (" + id.ambiguous + "), so this cannot pass"
	if r.Status == Fail {
		note = "; but the session's cookies could not be identified for certain (" + id.ambiguous + "), so this cookie may not be one of them"
	}
	rec := r.Recommendation
	if rec == "" {
		rec = "Audit again when the target answers consistently, or examine the cookies listed by hand."
	}
	return result(r.ID, Warn, r.Evidence+note, rec)
}

// sampleSessionTokens runs token-entropy: one login per sample gives a
// token of every session cookie. A cookie that carries the session
// itself (a signed client-side session) is not sampled.
func (a *auditor) sampleSessionTokens(ctx context.Context, id *identity, signed map[string]*signedCookie) {
	var sampled []string
	per := map[string]Result{}
	for _, n := range id.members {
		if sc := signed[n]; sc != nil && sc.clientSide() {
			per[n] = a.collect(func() { a.skipClientSideEntropy(sc) })[0]
			continue
		}
		sampled = append(sampled, n)
	}
	stats := map[string]*TokenStats{}
	if len(sampled) > 0 {
		sm := a.collectSamples(ctx, func(ctx context.Context) (cookieState, error) {
			s, err := a.login(ctx, a.newClient())
			if err != nil {
				return nil, err
			}
			return stateOf(s.c), nil
		})
		for _, n := range sampled {
			sc := signed[n]
			got := a.collect(func() {
				stats[n] = a.judgeTokens(n, sampledWhat(sc, n), sm, func(v string) string { return sessionIDOf(sc, v) })
			})
			per[n] = got[0]
		}
	}
	decider := a.addEntropy(per, id)
	a.mu.Lock()
	a.entropy = stats[decider]
	a.mu.Unlock()
}

// addEntropy records token-entropy from each session cookie's result: a
// credential is as strong as its strongest cookie, and the weakest
// credential decides. It returns the cookie whose result decided.
func (a *auditor) addEntropy(per map[string]Result, id *identity) string {
	creds := id.creds
	if !id.verified() {
		// Nothing confirmed: every cookie stands alone.
		for _, n := range id.members {
			creds = append(creds, []string{n})
		}
	}
	var decider memberResult
	var all []memberResult
	for _, c := range creds {
		// A cookie whose value the target does not check vouches for
		// nothing, however random it looks; when every cookie of the
		// credential is such, the weakest stands for it.
		vouch := slices.DeleteFunc(slices.Clone(c), func(n string) bool { return id.presenceOnly[n] })
		var best memberResult
		for _, n := range c {
			r, ok := per[n]
			if !ok {
				continue
			}
			all = append(all, memberResult{n, r})
			switch {
			case len(vouch) > 0 && !slices.Contains(vouch, n):
			case best.name == "",
				len(vouch) > 0 && strongerEntropy(r.Status, best.r.Status),
				len(vouch) == 0 && statusRank[r.Status] > statusRank[best.r.Status]:
				best = memberResult{n, r}
			}
		}
		if best.name == "" {
			continue
		}
		if decider.name == "" || statusRank[best.r.Status] > statusRank[decider.r.Status] {
			decider = best
		}
	}
	if decider.name == "" {
		return ""
	}
	r := decider.r
	if len(all) > 1 {
		r.Evidence += "; every session cookie was sampled: a set of cookies that together keep the client authenticated is as strong as its strongest, and the weakest set decides: " + summary(all)
	}
	a.add(capAmbiguous(r, id))
	return decider.name
}

// strongerEntropy reports whether x is a stronger verdict than y for one
// cookie of a credential: pass over warn over fail, and a skip (not
// sampled) only over nothing.
func strongerEntropy(x, y Status) bool {
	order := map[Status]int{Skip: 0, Fail: 1, Warn: 2, Pass: 3}
	return order[x] > order[y]
}
