package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Finding the session's cookies by behaviour. A credential is a set of
// cookies that keeps the client authenticated on its own and is minimal:
// without any one of its cookies it no longer does. An application may
// have several (a session cookie and a remember-me cookie), and one may
// take several cookies (a session ID and a user cookie). Every cookie of
// every credential is a session cookie: each gets the cookie checks, and
// the weakest decides.
//
// The search asks MePath with subsets of the cookies the browser holds.
// One credential among n cookies is found by bisection (Junker's
// QuickXplain): about 2·k·log2(n/k) questions for k cookies in it, not n.
// The next is searched among the cookies that avoid one cookie of each
// credential found, until none is left, within a budget of questions. The
// search assumes that more cookies never log a client out; a target that
// breaks that, answers inconclusively, or needs more questions than the
// budget leaves the identification ambiguous, which no check may turn
// into a pass.

// cookiePair is one cookie a browser holds: its name and value, and
// where the browser sends it. A browser may hold several cookies of one
// name (for different paths or domains) and sends each where it applies,
// so a replay keeps them apart and keeps their scope: a cookie on another
// path never reaches MePath, as in the browser. Path "" is "/", and Domain
// "" a host-only cookie of the target's host.
type cookiePair struct {
	Name, Value  string
	Path, Domain string
	Secure       bool
}

// cookieState is the cookies a browser holds, in the order it got them.
type cookieState []cookiePair

// stateOf returns the cookies c holds for the target's host, every one of
// them, several of one name included.
func stateOf(c *client) cookieState {
	held := c.cookies.held(canonicalHost(c.origin))
	st := make(cookieState, 0, len(held))
	for _, e := range held {
		p := cookiePair{Name: e.name, Value: e.value, Path: e.path, Secure: e.secure}
		if !e.hostOnly {
			p.Domain = e.domain
		}
		st = append(st, p)
	}
	return st
}

// clientWith returns a fresh client holding exactly the cookies of st,
// each with its own scope.
func (a *auditor) clientWith(st cookieState) *client {
	c := a.newClient()
	for _, p := range st {
		c.cookies.put(c.origin, p)
	}
	return c
}

// value returns the value of the first cookie called name in st.
func (st cookieState) value(name string) (string, bool) {
	for _, p := range st {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// only returns the cookies of st named in names.
func (st cookieState) only(names []string) cookieState {
	var out cookieState
	for _, p := range st {
		if slices.Contains(names, p.Name) {
			out = append(out, p)
		}
	}
	return out
}

// names returns the names of the cookies of st, each once.
func (st cookieState) names() []string {
	var out []string
	for _, p := range st {
		if !slices.Contains(out, p.Name) {
			out = append(out, p.Name)
		}
	}
	return out
}

// identity is what the search found.
type identity struct {
	// creds are the credentials found, each in jar order.
	creds [][]string
	// members is every cookie of a credential, in jar order; when the
	// search found none (ambiguous), every cookie the browser holds.
	members []string
	// ambiguous says why the evidence is ambiguous; "" when it is not.
	ambiguous string
	// presenceOnly are the cookies of a credential of several whose value
	// the target does not check: a made-up value does as well. Such a
	// cookie vouches for nothing (see addEntropy and fixedBy).
	presenceOnly map[string]bool
}

// verified reports whether at least one credential was found and checked.
func (id *identity) verified() bool { return len(id.creds) > 0 }

// Budgets of the search.
const (
	maxIdentifyQuestions = 160
	maxCredentials       = 8
	maxSearchNodes       = 32
)

type cookieSearch struct {
	a         *auditor
	ctx       context.Context
	jar       cookieState
	asked     map[string]bool
	questions int
	nodes     int
	seen      map[string]bool // blocked sets explored
	id        identity
	err       error // the context's
}

// identify finds the credentials among the cookies s holds after login.
// It returns an error when the login set no cookie or when replaying
// every cookie on a fresh client is not authenticated, as then no cookie
// check can be made.
func (a *auditor) identify(ctx context.Context, s *session) (*identity, error) {
	jar := stateOf(s.c)
	if err := a.needCookies(s.c); err != nil {
		return nil, err
	}
	v, err := a.askWith(ctx, jar)
	if err != nil {
		return nil, err
	}
	switch v.state {
	case authNo:
		return nil, fmt.Errorf("%w: replaying every cookie the browser holds (%d) on a fresh client is not authenticated on %s: the session is not carried by cookies alone, so its cookies cannot be examined",
			ErrLogin, len(jar), a.cfg.MePath)
	case authUnknown:
		return &identity{members: jar.names(), ambiguous: "replaying every cookie the browser holds was inconclusive: " + v.why}, nil
	}
	sr := &cookieSearch{a: a, ctx: ctx, jar: jar, asked: map[string]bool{}, seen: map[string]bool{}}
	sr.explore(nil)
	if sr.err != nil {
		return nil, sr.err
	}
	sr.checkValues()
	if sr.err != nil {
		return nil, sr.err
	}
	id := sr.id
	for _, n := range jar.names() {
		for _, c := range id.creds {
			if slices.Contains(c, n) {
				id.members = append(id.members, n)
				break
			}
		}
	}
	if len(id.members) == 0 {
		id.members = jar.names()
		if id.ambiguous == "" {
			id.ambiguous = "no set of cookies could be confirmed to keep the client authenticated"
		}
	}
	return &id, nil
}

// needCookies returns an error when the browser holds no cookie after the
// login: there is no cookie session to audit.
func (a *auditor) needCookies(c *client) error {
	if len(c.cookieNames()) > 0 {
		return nil
	}
	hint := ""
	if a.target.Scheme == "http" {
		hint = " (an application whose session cookie is Secure may refuse to set it over plain HTTP, as express-session with cookie.secure does: audit its https:// URL)"
	}
	return fmt.Errorf("%w: the login set no cookie, so there is no cookie session to audit%s%s", ErrLogin, hint, c.refusedNote())
}

// checkValues asks, for each cookie of a credential of several, whether
// the credential still works with a made-up value in that cookie. One
// whose value is not checked (any value will do) is presence-only; an
// inconclusive answer counts as presence-only too, so that it never
// vouches for the credential.
func (sr *cookieSearch) checkValues() {
	sr.id.presenceOnly = map[string]bool{}
	for _, c := range sr.id.creds {
		if len(c) < 2 {
			continue
		}
		st := sr.jar.only(c)
		for _, n := range c {
			v, _ := st.value(n)
			// A refusal is what lets the cookie vouch, so it is
			// confirmed (see confirmEnded): a target that refuses a
			// made-up value once and then takes it is not checking it.
			w, err := sr.a.askWithEnded(sr.ctx, st.with(n, fabricate(v)))
			if err != nil {
				sr.err = err
				return
			}
			if w.state != authNo {
				sr.id.presenceOnly[n] = true
			}
		}
	}
}

// ambiguity records the first reason the evidence is ambiguous.
func (sr *cookieSearch) ambiguity(why string) {
	if sr.id.ambiguous == "" {
		sr.id.ambiguous = why
	}
}

// auth asks whether the cookies named (with the jar's values) keep a
// client authenticated; sure is false when the answer was inconclusive
// or the budget is spent.
func (sr *cookieSearch) auth(names []string) (ok, sure bool) {
	if sr.err != nil || sr.id.ambiguous != "" {
		return false, false
	}
	if len(names) == 0 {
		return false, true // the baseline: no cookie, no session
	}
	key := setKey(names)
	if ok, done := sr.asked[key]; done {
		return ok, true
	}
	return sr.ask(names)
}

// ask is auth past the cache: it asks, and records the answer.
func (sr *cookieSearch) ask(names []string) (ok, sure bool) {
	if sr.err != nil || sr.id.ambiguous != "" {
		return false, false
	}
	key := setKey(names)
	if sr.questions >= maxIdentifyQuestions {
		sr.ambiguity(fmt.Sprintf("the search for the session's cookies among %d needed more than %d requests", len(sr.jar), maxIdentifyQuestions))
		return false, false
	}
	sr.questions++
	v, err := sr.a.askWith(sr.ctx, sr.jar.only(names))
	if err != nil {
		sr.err = err
		return false, false
	}
	if v.state == authUnknown {
		sr.ambiguity(fmt.Sprintf("while finding the session's cookies, %s with %d of the %d cookies was inconclusive: %s", sr.a.cfg.MePath, len(names), len(sr.jar), v.why))
		return false, false
	}
	sr.asked[key] = v.state == authYes
	return v.state == authYes, true
}

// setKey is the key of a set of cookie names, whatever their order, in
// the search's caches.
func setKey(names []string) string {
	return strings.Join(slices.Sorted(slices.Values(names)), "\x00")
}

// explore finds the credentials that avoid every cookie in blocked.
func (sr *cookieSearch) explore(blocked []string) {
	key := setKey(blocked)
	if sr.seen[key] || sr.err != nil || sr.id.ambiguous != "" {
		return
	}
	sr.seen[key] = true
	if sr.nodes >= maxSearchNodes || len(sr.id.creds) > maxCredentials {
		sr.ambiguity(fmt.Sprintf("the cookies allow more ways to stay authenticated than the %d the search examines", maxCredentials))
		return
	}
	sr.nodes++
	var avail []string
	for _, n := range sr.jar.names() {
		if !slices.Contains(blocked, n) {
			avail = append(avail, n)
		}
	}
	cred := sr.known(blocked)
	if cred == nil {
		if len(avail) == 0 {
			return
		}
		if len(blocked) > 0 {
			ok, sure := sr.auth(avail)
			if !sure {
				return
			}
			if !ok {
				// This answer alone decides that no other credential
				// avoids blocked, so it is asked again, past the cache:
				// a target that denies a second way in once, to the one
				// question that would find it, contradicts itself.
				if again, sure := sr.ask(avail); sure && again {
					sr.ambiguity(fmt.Sprintf("the answers contradict each other: cookies %s were not authenticated, then, asked again, were", listNames(avail)))
				}
				return
			}
		}
		m, sure := sr.minimal(nil, avail, false)
		if !sure || !sr.confirm(m) {
			return
		}
		cred = m
		sr.id.creds = append(sr.id.creds, m)
	}
	for _, c := range cred {
		sr.explore(append(slices.Clone(blocked), c))
	}
}

// known returns a credential already found that avoids blocked.
func (sr *cookieSearch) known(blocked []string) []string {
	for _, c := range sr.id.creds {
		if !slices.ContainsFunc(c, func(n string) bool { return slices.Contains(blocked, n) }) {
			return c
		}
	}
	return nil
}

// minimal returns a minimal subset x of cand such that base and x
// together keep a client authenticated, given that base and cand do
// (QuickXplain). askBase says whether base alone must be asked first.
func (sr *cookieSearch) minimal(base, cand []string, askBase bool) ([]string, bool) {
	if askBase {
		ok, sure := sr.auth(base)
		if !sure {
			return nil, false
		}
		if ok {
			return nil, true
		}
	}
	if len(cand) == 1 {
		return cand, true
	}
	c1, c2 := cand[:len(cand)/2], cand[len(cand)/2:]
	x2, sure := sr.minimal(concat(base, c1), c2, true)
	if !sure {
		return nil, false
	}
	x1, sure := sr.minimal(concat(base, x2), c1, len(x2) > 0)
	if !sure {
		return nil, false
	}
	return concat(x1, x2), true
}

func concat(a, b []string) []string { return append(slices.Clone(a), b...) }

// confirm checks what the bisection concluded: m keeps a client
// authenticated and none of its cookies can be dropped. A target whose
// answers contradict that makes the identification ambiguous.
func (sr *cookieSearch) confirm(m []string) bool {
	if len(m) == 0 {
		sr.ambiguity("the answers contradict each other: the cookies keep the client authenticated, yet no subset does")
		return false
	}
	ok, sure := sr.auth(m)
	if !sure {
		return false
	}
	if !ok {
		sr.ambiguity(fmt.Sprintf("the answers contradict each other: cookies %s were found to keep the client authenticated, but alone they do not (more cookies log the client out?)", quoteNames(m)))
		return false
	}
	if len(m) == 1 {
		return true
	}
	for _, c := range m {
		rest := slices.DeleteFunc(slices.Clone(m), func(n string) bool { return n == c })
		ok, sure := sr.auth(rest)
		if !sure {
			return false
		}
		if ok {
			sr.ambiguity(fmt.Sprintf("the answers contradict each other: cookies %s stay authenticated without %q", quoteNames(rest), c))
			return false
		}
	}
	return true
}

// quoteNames renders cookie names as "a", "b".
func quoteNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// maxListed bounds how many cookie names evidence lists.
const maxListed = 8

// listNames renders at most maxListed cookie names, quoted, and how many
// more there are.
func listNames(names []string) string {
	if len(names) <= maxListed {
		return quoteNames(names)
	}
	return fmt.Sprintf("%s and %d more", quoteNames(names[:maxListed]), len(names)-maxListed)
}

// cookiesPhrase renders names as the subject of a sentence: `cookie "a"`
// or `cookies "a", "b"`.
func cookiesPhrase(names []string) string {
	if len(names) == 1 {
		return "cookie " + quoteNames(names)
	}
	return "cookies " + listNames(names)
}

// possessive is "its" for one cookie, "their" for several.
func possessive(names []string) string {
	if len(names) == 1 {
		return "its"
	}
	return "their"
}

// credentialsOf returns the credentials cookie name belongs to.
func (id *identity) credentialsOf(name string) [][]string {
	var out [][]string
	for _, c := range id.creds {
		if slices.Contains(c, name) {
			out = append(out, c)
		}
	}
	return out
}

// how says how cookie name was identified, for evidence.
func (id *identity) how(name, me string) string {
	if !id.verified() {
		return fmt.Sprintf("cookie %q, one of %d cookies the browser holds, none confirmed by behaviour (%s)", name, len(id.members), id.ambiguous)
	}
	var ways []string
	for _, c := range id.credentialsOf(name) {
		if len(c) == 1 {
			ways = append(ways, "on its own it keeps "+me+" authenticated")
		} else {
			others := slices.DeleteFunc(slices.Clone(c), func(n string) bool { return n == name })
			ways = append(ways, fmt.Sprintf("with %s it keeps %s authenticated, and without it they do not", quoteNames(others), me))
		}
	}
	s := fmt.Sprintf("cookie %q, identified by behaviour: %s", name, strings.Join(ways, "; "))
	if len(id.creds) > 1 {
		s += fmt.Sprintf(" (one of %d sets of cookies that each keep the client authenticated)", len(id.creds))
	}
	if id.ambiguous != "" {
		s += " (the search was incomplete: " + id.ambiguous + ")"
	}
	return s
}
