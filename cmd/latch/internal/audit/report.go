package audit

import "time"

// Status is the verdict of one check.
type Status string

// The statuses a check can have.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Warn Status = "warn"
	Skip Status = "skip"
)

// Severity says how much a failed or warned check matters.
type Severity string

// The severities, most serious first.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Info     Severity = "info"
)

// The check ids, fixed by the command's contract.
const (
	CheckHTTPSRedirect    = "https-redirect"
	CheckHSTS             = "hsts"
	CheckCookieSecure     = "cookie-secure"
	CheckCookieHTTPOnly   = "cookie-httponly"
	CheckCookieSameSite   = "cookie-samesite"
	CheckCookieHostPrefix = "cookie-host-prefix"
	CheckSessionFixation  = "session-fixation"
	CheckLogout           = "logout-invalidation"
	CheckIdleTimeout      = "idle-timeout"
	CheckAbsoluteTimeout  = "absolute-timeout"
	CheckTokenEntropy     = "token-entropy"
	CheckWeakSecretKey    = "weak-secret-key"
	CheckSessionInURL     = "session-in-url"
	CheckCookieSize       = "cookie-size"
	CheckDeviceBound      = "device-bound-session"
)

// CheckInfo describes a check independently of any run: its title, the
// severity a failure has, and what the check verifies (used for SARIF
// rules and report legends).
type CheckInfo struct {
	ID          string
	Title       string
	Severity    Severity
	Description string
}

// Checks lists every check in report order.
var Checks = []CheckInfo{
	{CheckHTTPSRedirect, "Plain HTTP redirects to HTTPS", Medium, "A request over plain HTTP is redirected to HTTPS on the same host before any session cookie is sent, and no HTTPS response the audit sees (the login's redirects included) sends the browser back to plain HTTP."},
	{CheckHSTS, "Strict-Transport-Security", Medium, "HTTPS responses carry HSTS with max-age of at least one year and includeSubDomains."},
	{CheckCookieSecure, "Session cookie is Secure", High, "The session cookie has the Secure attribute, so it never travels over plain HTTP."},
	{CheckCookieHTTPOnly, "Session cookie is HttpOnly", Medium, "The session cookie has the HttpOnly attribute, so page scripts (and XSS) cannot read it."},
	{CheckCookieSameSite, "Session cookie SameSite", Medium, "The session cookie has SameSite=Lax or Strict, so cross-site requests do not carry it."},
	{CheckCookieHostPrefix, "Session cookie scope (__Host- prefix)", Low, "The session cookie uses the __Host- prefix rules (Secure, Path=/, no Domain) and is not scoped to a parent domain."},
	{CheckSessionFixation, "Session fixation", High, "A token obtained before login, or made up by the client, is not authenticated after login."},
	{CheckLogout, "Logout invalidates the session", High, "The session token replayed after logout is no longer authenticated."},
	{CheckIdleTimeout, "Idle timeout", Medium, "An unused session ends on the server after the idle limit."},
	{CheckAbsoluteTimeout, "Absolute timeout", Medium, "A session ends on the server after the absolute limit even while in use."},
	{CheckTokenEntropy, "Session token randomness", High, "Session tokens carry at least 64 bits of effective entropy, without duplicates or sequences."},
	{CheckWeakSecretKey, "Signed-cookie secret key", Critical, "A Flask, Django or Express signed session cookie is not signed with a known or guessable key (a failure is critical when the cookie carries the session's data, high when it only names a server-side session)."},
	{CheckSessionInURL, "Session token in URLs", High, "The session token never appears in URLs: redirects, links or query parameters."},
	{CheckCookieSize, "Session cookie size", Low, "Cookie name and value fit the 4096-byte limit browsers enforce."},
	{CheckDeviceBound, "Device-bound session (DBSC)", High, "When the login offers Device Bound Session Credentials (Secure-Session-Registration), a registration with a fresh key succeeds, the session's cookies without the bound cookie are refused, a refresh signed with the registered key renews the bound cookie, one without a proof or signed by another key does not, and the bound cookie lives minutes, not longer than an hour. A login that does not offer DBSC is skipped."},
}

// checkInfo returns the description of id.
func checkInfo(id string) CheckInfo {
	for _, c := range append(Checks[:len(Checks):len(Checks)], SourceChecks...) {
		if c.ID == id {
			return c
		}
	}
	return CheckInfo{ID: id, Title: id, Severity: Info}
}

// Result is the outcome of one check.
type Result struct {
	ID             string   `json:"id"`
	Status         Status   `json:"status"`
	Severity       Severity `json:"severity"`
	Title          string   `json:"title"`
	Evidence       string   `json:"evidence"`
	Recommendation string   `json:"recommendation"`
	// Locations are the places in the reviewed source the verdict rests
	// on (latch review); a live audit has none. Always present in JSON,
	// as an empty list when there are none.
	Locations []Location `json:"locations"`
}

// Location is a line of a file: File is slash-separated and relative to
// the reviewed root (Report.Root), Line counts from 1, and 0 means the
// whole file.
type Location struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// Report is the outcome of an audit.
type Report struct {
	Target string   `json:"target"`
	Checks []Result `json:"checks"`
	// Tool is the command that made the report, for its headings and the
	// SARIF driver; empty means "latch audit".
	Tool string `json:"-"`
	// Rules describes the report's checks for SARIF; nil means Checks.
	Rules []CheckInfo `json:"-"`
	// Root is the absolute path of the reviewed source tree, which the
	// checks' locations are relative to; empty for a live audit.
	Root string `json:"-"`
	// Lifetime is what a live audit learnt of the session's lifetime.
	Lifetime LiveLifetime `json:"-"`
	// Entropy holds the token statistics when tokens were sampled.
	Entropy *TokenStats `json:"-"`
	// Requests is how many HTTP requests the audit sent.
	Requests int64 `json:"-"`
	// Incomplete, when set, says why the run stopped early ("was
	// interrupted", "reached --max-duration (1h0m0s)"): the checks that
	// had not finished are skipped.
	Incomplete string `json:"incomplete,omitempty"`
	// Started and Finished bound the run.
	Started  time.Time `json:"-"`
	Finished time.Time `json:"-"`
}

// tool returns the report's command name.
func (r *Report) tool() string {
	if r.Tool == "" {
		return "latch audit"
	}
	return r.Tool
}

// rules returns the report's check descriptions.
func (r *Report) rules() []CheckInfo {
	if r.Rules == nil {
		return Checks
	}
	return r.Rules
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// Count returns how many checks have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Grade summarises the report in one letter: F for a failed critical
// check, D for a failed high one, C for a failed medium one, B for a failed
// low one or any warning, A otherwise.
func (r *Report) Grade() string {
	grade := "A"
	rank := map[Severity]string{Critical: "F", High: "D", Medium: "C", Low: "B", Info: "B"}
	for _, c := range r.Checks {
		g := ""
		switch c.Status {
		case Fail:
			g = rank[c.Severity]
		case Warn:
			g = "B"
		}
		if g > grade {
			grade = g
		}
	}
	return grade
}

// result builds a Result for id; pass and skip carry severity info.
func result(id string, st Status, evidence, recommendation string) Result {
	ci := checkInfo(id)
	sev := ci.Severity
	if st == Pass || st == Skip {
		sev = Info
	}
	return Result{ID: id, Status: st, Severity: sev, Title: ci.Title, Evidence: evidence, Recommendation: recommendation}
}
