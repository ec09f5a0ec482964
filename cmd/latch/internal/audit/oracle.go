package audit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// How the auditor tells an authenticated answer from an unauthenticated
// one: by a baseline taken at the start, never by "200 or not". MePath is
// asked without any cookie and after a login with a wrong password (the
// "not authenticated" answers), and after the configured login (the
// "authenticated" one). Any later answer is judged against those: one
// that matches neither, a rate limit (429), a server error (5xx) or a
// network failure is inconclusive, is retried a few times (waiting what
// Retry-After asks, within the run's deadline), and is then reported as
// such, never counted as a session that ended.

// authState is what one question to MePath showed.
type authState int

const (
	authUnknown authState = iota // inconclusive
	authNo                       // answered as without a valid session
	authYes                      // answered as with the login's session
)

// answer is one MePath response reduced to what tells sessions apart: the
// status, where a redirect points (path only), and a digest of the body
// with its volatile parts (numbers, long tokens) blanked.
type answer struct {
	status   int
	location string
	body     [sha256.Size]byte
}

// blankVolatile replaces what changes between two answers of the same
// kind with "#": long token-like runs (CSRF tokens) and numbers (times,
// counters). It gives what the regular expression
// [A-Za-z0-9_+/=-]{16,}|[0-9]+ replaced by "#" gives, in one pass: that
// expression costs about 0.15 s per MiB, and MePath is asked all through
// the timeout waits, however large the target makes it.
func blankVolatile(body []byte) []byte {
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		if !isTokenByte(body[i]) {
			out = append(out, body[i])
			i++
			continue
		}
		j := i
		for j < len(body) && isTokenByte(body[j]) {
			j++
		}
		if j-i >= 16 {
			out = append(out, '#')
			i = j
			continue
		}
		for i < j {
			if body[i] < '0' || body[i] > '9' {
				out = append(out, body[i])
				i++
				continue
			}
			for i < j && body[i] >= '0' && body[i] <= '9' {
				i++
			}
			out = append(out, '#')
		}
	}
	return out
}

func isTokenByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("_+/=-", c) >= 0
}

func answerOf(ex *exchange) answer {
	an := answer{status: ex.Status, body: sha256.Sum256(blankVolatile(ex.Body))}
	if isRedirect(ex.Status) {
		if u, err := ex.URL.Parse(ex.Location); err == nil {
			an.location = u.Host + u.Path
		}
	}
	return an
}

func (an answer) sameStatus(b answer) bool { return an.status == b.status && an.location == b.location }

func (an answer) String() string {
	if an.location != "" {
		return fmt.Sprintf("%d to %s", an.status, an.location)
	}
	return fmt.Sprint(an.status)
}

// inconclusiveStatus reports statuses that say nothing about the session:
// the server is busy, limiting or failing.
func inconclusiveStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooEarly || code == http.StatusTooManyRequests || code >= 500
}

// baseline is what MePath answers with and without a valid session.
type baseline struct {
	yes answer
	no  []answer
	// byBody is set when a status alone does not tell the two apart (a
	// single-page application that answers 200 to everyone): then the
	// whole answer, body included, must match.
	byBody bool
}

// unauthenticated is an answer given without a valid session, and how it
// was obtained.
type unauthenticated struct {
	answer
	how string // "without a cookie", "after a login with a wrong password"
}

// newBaseline builds the baseline from the login's answer and the
// unauthenticated ones, or says why MePath cannot tell them apart.
func newBaseline(yes answer, no []unauthenticated) (*baseline, error) {
	b := &baseline{yes: yes}
	for _, n := range no {
		b.no = append(b.no, n.answer)
		if n.sameStatus(yes) {
			b.byBody = true
		}
	}
	if b.byBody {
		for _, n := range no {
			if n.answer == yes {
				return nil, fmt.Errorf("answers the same after the configured login as %s (%s, same page)", n.how, yes)
			}
		}
	}
	return b, nil
}

func (b *baseline) classify(ex *exchange) authState {
	if inconclusiveStatus(ex.Status) {
		return authUnknown
	}
	an := answerOf(ex)
	match := answer.sameStatus
	if b.byBody {
		match = func(x, y answer) bool { return x == y }
	}
	if match(an, b.yes) {
		return authYes
	}
	for _, n := range b.no {
		if match(an, n) {
			return authNo
		}
	}
	return authUnknown
}

// describe says what the baseline is, for evidence.
func (b *baseline) describe(me string) string {
	s := fmt.Sprintf("%s answers %s with a session", me, b.yes)
	for i, n := range b.no {
		if i == 0 {
			s += " and " + n.String()
		} else {
			s += " or " + n.String()
		}
	}
	s += " without one"
	if b.byBody {
		s += " (told apart by the page, as the status is the same)"
	}
	return s
}

// maxAskTries bounds how often one question to MePath is asked while the
// answers are inconclusive.
const maxAskTries = 3

// maxRetryWait is the longest Retry-After the auditor honours.
const maxRetryWait = time.Minute

// maxRetryWaits bounds the time one run spends waiting before asking
// again, so a target that keeps answering 429 cannot stretch the run by
// minutes on every question.
const maxRetryWaits = 3 * time.Minute

// verdict is the outcome of asking MePath: the state and, when it is
// inconclusive, why.
type verdict struct {
	state authState
	ex    *exchange
	why   string
	// relapsed is set when MePath answered as without a session first,
	// and then, asked again with the same cookies, otherwise (see
	// confirmEnded).
	relapsed bool
}

// ask requests MePath on c and judges the answer against the baseline,
// retrying inconclusive answers. The error is the context's only: a
// network failure is an inconclusive verdict.
func (a *auditor) ask(ctx context.Context, c *client) (verdict, error) {
	return a.askBy(ctx, c, a.base.classify)
}

// askBy is ask with judge deciding the answers that are not a busy or
// failing server's.
func (a *auditor) askBy(ctx context.Context, c *client, judge func(*exchange) authState) (verdict, error) {
	for try := 1; ; try++ {
		ex, err := c.do(ctx, "GET", a.cfg.MePath, nil)
		if cerr := ctx.Err(); cerr != nil {
			return verdict{}, cerr
		}
		v := verdict{ex: ex}
		wait := time.Second
		switch {
		case err != nil:
			v.why = trimErr(err)
		case !inconclusiveStatus(ex.Status):
			if v.state = judge(ex); v.state == authUnknown {
				// Not a busy server: asking again will not help.
				v.why = fmt.Sprintf("%s answered %d, which matches neither the authenticated nor the unauthenticated baseline (%s)",
					a.cfg.MePath, ex.Status, a.base.describe(a.cfg.MePath))
			}
			return v, nil
		default:
			v.why = fmt.Sprintf("%s answered %d", a.cfg.MePath, ex.Status)
			if d := retryAfter(ex.Header.Get("Retry-After"), a.cfg.Now()); d > 0 {
				wait = d
			}
		}
		if try >= maxAskTries || wait > maxRetryWait || !fitsDeadline(ctx, wait) || !a.spendRetryWait(wait) {
			v.why += fmt.Sprintf(" (asked %d times)", try)
			return v, nil
		}
		if err := a.cfg.Sleep(ctx, wait); err != nil {
			return verdict{}, err
		}
	}
}

// answered renders what MePath answered, for evidence: the status, and
// which page when the baseline tells the two apart by the page.
func (a *auditor) answered(v verdict) string {
	if v.ex == nil {
		return "nothing"
	}
	s := fmt.Sprint(v.ex.Status)
	if a.base != nil && a.base.byBody {
		switch v.state {
		case authYes:
			s += " with the page it shows with a session"
		case authNo:
			s += " with the page it shows without one"
		}
	}
	if v.relapsed && v.state == authYes {
		s += " when asked again with the same cookies, after it had answered once as without a session (a session that had ended would stay ended)"
	}
	return s
}

// spendRetryWait takes d from the run's budget of waits before asking
// again, and reports whether it was there to take.
func (a *auditor) spendRetryWait(d time.Duration) bool {
	for {
		spent := a.retryWaited.Load()
		if time.Duration(spent)+d > maxRetryWaits {
			return false
		}
		if a.retryWaited.CompareAndSwap(spent, spent+int64(d)) {
			return true
		}
	}
}

// fitsDeadline reports whether waiting d leaves the run inside its
// context's deadline.
func fitsDeadline(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d
}

// askEnded is ask for a verdict that may pass a check: when MePath
// answers as without a session, the answer is confirmed (see
// confirmEnded) with the cookies c held before asking.
func (a *auditor) askEnded(ctx context.Context, c *client) (verdict, error) {
	st := stateOf(c)
	v, err := a.ask(ctx, c)
	if err != nil {
		return verdict{}, err
	}
	return a.confirmEnded(ctx, st, v)
}

// askWithEnded is askWith for a verdict that may pass a check (see
// confirmEnded).
func (a *auditor) askWithEnded(ctx context.Context, st cookieState) (verdict, error) {
	v, err := a.askWith(ctx, st)
	if err != nil {
		return verdict{}, err
	}
	return a.confirmEnded(ctx, st, v)
}

// confirmEnded asks MePath again, on a fresh client holding st, after v
// said the session had ended, and returns the second verdict: a session
// that ended stays ended, so a target that answers "logged out" once (to
// the first question after a pause, or to the first replay of a cookie)
// and then lets the cookie in again has not ended it. The fresh client
// keeps a cookie the first answer deleted in the browser.
func (a *auditor) confirmEnded(ctx context.Context, st cookieState, v verdict) (verdict, error) {
	if v.state != authNo {
		return v, nil
	}
	w, err := a.askWith(ctx, st)
	if err != nil {
		return verdict{}, err
	}
	if w.state != authNo {
		w.relapsed = true
		if w.state == authUnknown {
			w.why = fmt.Sprintf("%s answered %s as without a session, then, asked again with the same cookies, %s", a.cfg.MePath, a.answered(v), w.why)
		}
	}
	return w, nil
}

// askWith asks MePath on a fresh client that holds exactly the cookies
// of st: the whole state a browser would hold, or the part under test.
func (a *auditor) askWith(ctx context.Context, st cookieState) (verdict, error) {
	return a.ask(ctx, a.clientWith(st))
}

// wrongPassword is a password that is not the configured one.
func (a *auditor) wrongPassword() string {
	for {
		b := make([]byte, 8)
		rand.Read(b)
		if pw := "latch-audit-wrong-" + hex.EncodeToString(b); pw != a.cfg.Password {
			return pw
		}
	}
}

// unauthenticatedAnswers asks MePath without any cookie and after a login
// with a wrong password, for the baseline. A question whose answers stay
// inconclusive is left out; when both are, the baseline cannot be taken.
func (a *auditor) unauthenticatedAnswers(ctx context.Context) ([]unauthenticated, error) {
	var out []unauthenticated
	var why []string
	anon, err := a.plainAsk(ctx, a.newClient())
	if err != nil {
		return nil, err
	}
	if anon.why == "" {
		out = append(out, unauthenticated{answerOf(anon.ex), "without a cookie"})
	} else {
		why = append(why, "without a cookie: "+anon.why)
	}
	c := a.newClient()
	if _, err := c.do(ctx, "GET", a.target.String(), nil); err == nil {
		switch wrong, _, err := a.loginOnce(ctx, c, a.wrongPassword()); {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			why = append(why, "after a wrong password: "+trimErr(err))
		default:
			out = append(out, unauthenticated{answerOf(wrong.me), "after a login with a wrong password"})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: cannot tell what %s answers without a valid session (%v)", ErrLogin, a.cfg.MePath, why)
	}
	return out, nil
}

// plainAsk requests MePath before there is a baseline: any answer but an
// inconclusive status or a failure counts (as authNo), retried as ask
// does.
func (a *auditor) plainAsk(ctx context.Context, c *client) (verdict, error) {
	return a.askBy(ctx, c, func(*exchange) authState { return authNo })
}
