package audit

import (
	"fmt"
	"strings"
	"time"
)

// `latch audit URL --source PATH` reviews the application's source as well
// and reports where the source and the live application disagree. What
// the source says is only what a deployment may run: a proxy, another
// settings module or an environment variable can change it. The checks
// below say so when it happens, and one of them proves the worst case, a
// key written in the source that signs the live sessions.

// The check ids of the comparison between the source and the live
// application.
const (
	CheckSourceKeyLive  = "source-key-live"
	CheckSourceConfig   = "source-live-config"
	CheckSourceLifetime = "source-live-lifetime"
)

// SourceChecks describes the comparison checks, in report order.
var SourceChecks = []CheckInfo{
	{CheckSourceKeyLive, "Live sessions are not signed with a key from the source", Critical, "No secret key written in the source or committed to its git history verifies the live session cookie's signature (with --source)."},
	{CheckSourceConfig, "Source and live cookie and transport settings agree", High, "Every cookie and transport check both the review and the live audit make (Secure, HttpOnly, SameSite, HTTPS redirect, HSTS) has the same verdict; where the source is safer than the live application, production does not run the configuration the source sets (with --source)."},
	{CheckSourceLifetime, "Live sessions end when the source says", Medium, "A live session left unused does not outlive the lifetime the source configures (with --source)."},
}

// SourceKey is a secret key found in the application's source or its git
// history. Secret is never printed; Where names it in the report after
// "the key found in the source ": "at app/config.py:12 (SECRET_KEY,
// hard-coded)", "in its git history: committed in ...".
type SourceKey struct {
	Secret string
	Where  string
}

// LiveLifetime is what the live audit learnt about how long a session
// lasts.
type LiveLifetime struct {
	// Declared is the session cookie's Max-Age or Expires, when
	// Persistent.
	Declared   time.Duration
	Persistent bool
	// Outlived is the longest time without a request after which a
	// session was measured to be still authenticated (--idle-wait); 0
	// when not measured.
	Outlived time.Duration
	// Ended is the shortest time by which a session was measured to have
	// ended (--idle-wait, --absolute-wait); 0 when not measured.
	Ended time.Duration
}

// sourceKeyCandidates returns the source's keys, without repeats.
func (c *Config) sourceKeyCandidates() []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range c.SourceKeys {
		if k.Secret != "" && !seen[k.Secret] {
			seen[k.Secret] = true
			out = append(out, k.Secret)
		}
	}
	return out
}

// sourceKeyWhere says where key was found in the source, or "".
func (c *Config) sourceKeyWhere(key string) string {
	var where []string
	for _, k := range c.SourceKeys {
		if k.Secret == key {
			where = append(where, k.Where)
		}
	}
	return strings.Join(where, "; ")
}

// SourceReview is what the comparison needs of the source review.
type SourceReview struct {
	// Report is the review's report (latch review's checks).
	Report *Report
	// Lifetime is the longest server-side lifetime an authenticated
	// session gets by the source, 0 when the review could not tell, and
	// LifetimeWhere where it is set.
	Lifetime      time.Duration
	LifetimeWhere string
}

// configChecks are the checks the review and the live audit both make
// whose verdicts are compared.
var configChecks = []string{CheckCookieSecure, CheckCookieHTTPOnly, CheckCookieSameSite, CheckHTTPSRedirect, CheckHSTS}

// CompareSource adds to live the checks comparing it with the source
// review src: source-live-config and source-live-lifetime. (source-key-live
// is made by the audit itself, which tries the source's keys against the
// live cookie.) The comparison checks join the report's rules.
func CompareSource(live *Report, src SourceReview) {
	if live.Rules == nil {
		live.Rules = append(append([]CheckInfo(nil), Checks...), SourceChecks...)
	}
	if live.Root == "" && src.Report != nil {
		// The comparison's locations are the review's.
		live.Root = src.Report.Root
	}
	live.setCheck(compareConfig(live, src.Report))
	live.setCheck(compareLifetime(live.Lifetime, src))
}

// setCheck replaces the result of r.ID, or appends it.
func (r *Report) setCheck(res Result) {
	for i, c := range r.Checks {
		if c.ID == res.ID {
			r.Checks[i] = res
			return
		}
	}
	r.Checks = append(r.Checks, res)
}

// compareConfig compares the verdicts of the checks both make.
func compareConfig(live, rev *Report) Result {
	if rev == nil {
		return result(CheckSourceConfig, Skip, "the source was not reviewed", "")
	}
	byID := func(r *Report, id string) (Result, bool) {
		for _, c := range r.Checks {
			if c.ID == id {
				return c, true
			}
		}
		return Result{}, false
	}
	var worse, better, agree, unknown []string
	var locs []Location
	for _, id := range configChecks {
		l, ok1 := byID(live, id)
		s, ok2 := byID(rev, id)
		if !ok1 || !ok2 || l.Status == Skip || s.Status == Skip {
			unknown = append(unknown, id)
			continue
		}
		ls, ss := rank(l.Status), rank(s.Status)
		switch {
		case ls == ss:
			agree = append(agree, id)
		case ls < ss:
			// The source is safer than what runs.
			worse = append(worse, fmt.Sprintf("%s: the source %s but the live application %s (%s)", id, s.Status, l.Status, firstClause(l.Evidence)))
			locs = append(locs, s.Locations...)
		default:
			better = append(better, fmt.Sprintf("%s: the live application %s but the source %s (%s)", id, l.Status, s.Status, firstClause(s.Evidence)))
			locs = append(locs, s.Locations...)
		}
	}
	tail := ""
	if len(agree) > 0 {
		tail += "; agree: " + strings.Join(agree, ", ")
	}
	if len(unknown) > 0 {
		tail += "; not compared (skipped on one side): " + strings.Join(unknown, ", ")
	}
	var r Result
	switch {
	case len(worse) > 0:
		r = result(CheckSourceConfig, Fail, strings.Join(append(worse, better...), "; ")+tail,
			"Production does not run the configuration the source sets: find what changes it (a reverse proxy rewriting Set-Cookie or serving plain HTTP, another settings module or config class, an environment variable) and make the live application match the source.")
	case len(better) > 0:
		r = result(CheckSourceConfig, Warn, strings.Join(better, "; ")+tail,
			"The live application is safer than its source: a proxy or another configuration adds what the source lacks. Set it in the source too, so that a change of proxy or configuration cannot drop it.")
	case len(agree) > 0:
		r = result(CheckSourceConfig, Pass, "the review and the live audit agree on "+strings.Join(agree, ", ")+strings.TrimPrefix(tail, "; agree: "+strings.Join(agree, ", ")), "")
	default:
		r = result(CheckSourceConfig, Skip, "no check both made"+tail, "")
	}
	r.Locations = locs
	return r
}

// rank orders statuses from worst to best.
func rank(s Status) int {
	switch s {
	case Fail:
		return 0
	case Warn:
		return 1
	}
	return 2
}

// firstClause shortens an evidence to its first clause.
func firstClause(s string) string {
	if i := strings.Index(s, "; "); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// compareLifetime compares the source's lifetime with the live session's.
func compareLifetime(live LiveLifetime, src SourceReview) Result {
	var locs []Location
	if src.Report != nil {
		for _, c := range src.Report.Checks {
			if c.ID == "session-lifetime" {
				locs = c.Locations
			}
		}
	}
	if src.Lifetime <= 0 {
		r := result(CheckSourceLifetime, Skip, "the review found no server-side lifetime to compare with", "")
		r.Locations = locs
		return r
	}
	L := src.Lifetime
	where := ""
	if src.LifetimeWhere != "" {
		where = " (" + src.LifetimeWhere + ")"
	}
	rec := "Production does not end sessions when the source says: find what changes the lifetime (another settings module or config class, an environment variable, a session store's own expiry) and make it match."
	var r Result
	// Slack for the measurements, taken between requests: a twentieth of
	// the lifetime, at least two seconds and at most a minute.
	slack := min(time.Minute, max(2*time.Second, L/20))
	switch {
	case live.Outlived > L+slack:
		r = result(CheckSourceLifetime, Fail, fmt.Sprintf("the source ends sessions after %s%s, but a live session left unused for %s was still authenticated", fmtDuration(L), where, fmtDuration(live.Outlived)), rec)
	case live.Ended > 0:
		// Ended by then: no later than the source says, or no sign of
		// the contrary.
		r = result(CheckSourceLifetime, Pass, fmt.Sprintf("the source ends sessions after %s%s; a live session had ended when checked after %s", fmtDuration(L), where, fmtDuration(live.Ended)), "")
	case live.Persistent && live.Declared > L+slack:
		r = result(CheckSourceLifetime, Warn, fmt.Sprintf("the source ends sessions after %s%s, but the live session cookie asks the browser to keep it for %s; not measured (pass --absolute-wait longer than %s to see whether the server ends it)", fmtDuration(L), where, fmtDuration(live.Declared), fmtDuration(L)), rec)
	case live.Persistent:
		r = result(CheckSourceLifetime, Pass, fmt.Sprintf("the source ends sessions after %s%s; the live session cookie asks to be kept for %s, no longer", fmtDuration(L), where, fmtDuration(live.Declared)), "")
	default:
		r = result(CheckSourceLifetime, Skip, fmt.Sprintf("the source ends sessions after %s%s; the live session cookie declares no lifetime and none was measured (pass --absolute-wait)", fmtDuration(L), where), "")
	}
	r.Locations = locs
	return r
}
