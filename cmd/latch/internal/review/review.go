package review

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/latchsec/latch/cmd/latch/internal/audit"
)

// The check ids of a review, fixed by issue 17.
const (
	CheckSecretKeySource     = "secret-key-source"
	CheckSecretKeyWeak       = "secret-key-weak"
	CheckCookieSecure        = audit.CheckCookieSecure
	CheckCookieHTTPOnly      = audit.CheckCookieHTTPOnly
	CheckCookieSameSite      = audit.CheckCookieSameSite
	CheckSessionLifetime     = "session-lifetime"
	CheckSessionRegeneration = "session-regeneration"
	CheckHTTPSRedirect       = audit.CheckHTTPSRedirect
	CheckHSTS                = audit.CheckHSTS
)

// Checks lists the review's checks in report order.
var Checks = []audit.CheckInfo{
	{ID: CheckSecretKeySource, Title: "Secret key is not in the code", Severity: audit.Critical, Description: "The production secret key is read from outside the code: never a literal, and never an environment lookup that falls back to a literal when the variable is unset."},
	{ID: CheckSecretKeyWeak, Title: "Secret key literal strength", Severity: audit.Critical, Description: "A literal key or fallback that production can use passes latch's key rules (as `latch checkkey`): not a published default, long enough, not low-entropy."},
	{ID: CheckCookieSecure, Title: "Session cookie is Secure", Severity: audit.High, Description: "The production configuration sets the session cookie's Secure attribute (the framework default included)."},
	{ID: CheckCookieHTTPOnly, Title: "Session cookie is HttpOnly", Severity: audit.Medium, Description: "The production configuration keeps the session cookie HttpOnly."},
	{ID: CheckCookieSameSite, Title: "Session cookie SameSite", Severity: audit.Medium, Description: "The production configuration gives the session cookie SameSite=Lax or Strict."},
	{ID: CheckSessionLifetime, Title: "Session lifetime", Severity: audit.Medium, Description: "An authenticated session ends on the server within 12 hours (warn up to 30 days), framework defaults and remember-me cookies included."},
	{ID: CheckSessionRegeneration, Title: "Login renews the session", Severity: audit.High, Description: "Every login path renews the session before storing the user: Django's login() or cycle_key(); in Flask session.clear() or Flask-Session's regenerate."},
	{ID: CheckHTTPSRedirect, Title: "Plain HTTP redirects to HTTPS", Severity: audit.Medium, Description: "The application redirects plain HTTP to HTTPS: Flask-Talisman, Flask-SSLify, SECURE_SSL_REDIRECT, or its own hook."},
	{ID: CheckHSTS, Title: "Strict-Transport-Security", Severity: audit.Medium, Description: "The application sends HSTS with max-age of at least one year and includeSubDomains."},
}

// Location is a place in the project: a slash-separated path relative to
// the reviewed directory, and a 1-based line (0 for the whole file).
type Location = audit.Location

// Options tune a review.
type Options struct {
	Limits Limits // zero: DefaultLimits
	// History, when set, is the project's git history (HistoryOf): a key
	// ever committed fails secret-key-source even when the code no longer
	// holds it.
	History *History
}

// Result is the outcome of a review.
type Result struct {
	// Framework is "flask", "django" or "none".
	Framework string
	// Assumed says which configuration was taken as production, and why.
	Assumed string
	// Report holds the checks, in the order of Checks, for the audit
	// report writers.
	Report *audit.Report
	// Locations are each check's file:line evidence, by check id.
	Locations map[string][]Location
	// Notes are files the review skipped or could not read, and other
	// limits of what it saw.
	Notes []string
	// Files is how many Python files the tree holds; Parsed how many the
	// review parsed.
	Files, Parsed int
	// Lifetime is the longest time an authenticated session stays valid
	// on the server by the source (0: could not tell), and LifetimeWhere
	// where that is set.
	Lifetime      time.Duration
	LifetimeWhere string
}

// finding is one check's outcome while the review runs.
type finding struct {
	status   audit.Status
	evidence []string
	rec      string
	locs     []Location
}

func (f *finding) add(loc Location) {
	if loc.File == "" {
		return
	}
	for _, l := range f.locs {
		if l == loc {
			return
		}
	}
	f.locs = append(f.locs, loc)
}

// loc is the location of a value.
func loc(v *Value) Location {
	if v == nil {
		return Location{}
	}
	return Location{File: v.File, Line: v.Line}
}

// Run reviews the Python project at path (a directory, or one file).
func Run(ctx context.Context, path string, opts Options) (*Result, error) {
	lim := opts.Limits
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	start := time.Now()
	p, err := openProject(path, lim)
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	r := &reviewer{p: p, ctx: ctx, found: map[string]*finding{}, hist: opts.History}
	fw := r.detect()
	switch fw {
	case "flask":
		r.flask()
	case "django":
		r.django()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &Result{Framework: fw, Assumed: r.assumed, Locations: map[string][]Location{}, Files: len(p.files), Parsed: len(p.mods),
		Lifetime: time.Duration(r.lifetime * float64(time.Second)), LifetimeWhere: r.lifetimeWhere}
	rep := &audit.Report{Target: path, Tool: "latch review", Rules: Checks, Root: p.root, Started: start, Finished: time.Now()}
	for _, ci := range Checks {
		f := r.found[ci.ID]
		if fw == "none" || f == nil {
			why := "no Flask or Django project found under " + path
			if fw != "none" {
				why = "not determined"
			}
			f = &finding{status: audit.Skip, evidence: []string{why}}
		}
		if fw != "none" && r.assumed != "" && f.status != audit.Skip && configDependent[ci.ID] {
			f.evidence = append(f.evidence, "production configuration: "+r.assumed)
		}
		sev := ci.Severity
		if ci.ID == CheckSecretKeyWeak || ci.ID == CheckSecretKeySource {
			sev = audit.Critical
		}
		locs := append([]Location{}, f.locs...)
		rep.Checks = append(rep.Checks, audit.Result{ID: ci.ID, Status: f.status, Severity: sev, Title: ci.Title,
			Evidence: strings.Join(f.evidence, "; "), Recommendation: f.rec, Locations: locs})
		res.Locations[ci.ID] = f.locs
	}
	res.Report = rep
	res.Notes = p.notes
	return res, nil
}

// configDependent are the checks whose verdict rests on which
// configuration production uses: their evidence says which was assumed.
var configDependent = map[string]bool{
	CheckSecretKeySource: true, CheckCookieSecure: true, CheckCookieHTTPOnly: true, CheckCookieSameSite: true,
	CheckSessionLifetime: true, CheckHTTPSRedirect: true, CheckHSTS: true,
}

// reviewer holds one review's state.
type reviewer struct {
	p       *project
	ctx     context.Context
	found   map[string]*finding
	assumed string
	// flaskSubs are the project's subclasses of Flask, once found.
	flaskSubs map[string]bool
	// flaskApps are the names bound to Flask(...) in the project.
	flaskApps map[string]bool
	appSites  []appSite
	hist      *History
	// lifetime is the longest server-side session lifetime found, in
	// seconds (0: unknown), and lifetimeWhere where it is set.
	lifetime      float64
	lifetimeWhere string
}

func (r *reviewer) set(id string, st audit.Status, rec string, evidence string, locs ...Location) *finding {
	f := &finding{status: st, rec: rec}
	if evidence != "" {
		f.evidence = append(f.evidence, evidence)
	}
	for _, l := range locs {
		f.add(l)
	}
	r.found[id] = f
	return f
}

// source returns a file's bytes (read once), or nil.
func (r *reviewer) source(rel string) []byte { return r.p.source(rel) }

// mentioning returns the Python files whose text contains any of words,
// in path order. Only those are parsed: a cheap byte search spares the
// parser the project's other files.
func (r *reviewer) mentioning(words ...string) []string {
	var out []string
	for _, rel := range r.p.files {
		if r.ctx.Err() != nil {
			return nil
		}
		src := r.source(rel)
		for _, w := range words {
			if bytes.Contains(src, []byte(w)) {
				out = append(out, rel)
				break
			}
		}
	}
	return out
}

// notTests drops test modules and files under test directories: a test
// that builds an app with SESSION_COOKIE_SECURE off, or logs a user in by
// hand, says nothing of production. When every file is a test, they are
// kept.
func notTests(rels []string) []string {
	var out []string
	for _, r := range rels {
		if !isTestPath(r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return rels
	}
	return out
}

// matching returns the Python files whose text matches any of res.
func (r *reviewer) matching(res ...*regexp.Regexp) []string {
	var out []string
	for _, rel := range r.p.files {
		if r.ctx.Err() != nil {
			return nil
		}
		src := r.source(rel)
		for _, re := range res {
			if re.Match(src) {
				out = append(out, rel)
				break
			}
		}
	}
	return out
}

// modules parses and evaluates the files, skipping unreadable ones.
func (r *reviewer) modules(rels []string) []*module {
	r.p.preparse(rels)
	var out []*module
	for _, rel := range rels {
		if r.ctx.Err() != nil {
			return nil
		}
		if m := r.p.module(rel); m != nil {
			m.scope(r.p)
			out = append(out, m)
		}
	}
	return out
}

// detect tells the framework: Django when a settings module or
// DJANGO_SETTINGS_MODULE is found, Flask when a Flask application is
// created, else none.
func (r *reviewer) detect() string {
	dj := r.mentioning("DJANGO_SETTINGS_MODULE", "INSTALLED_APPS", "settings.configure(")
	subs := r.flaskSubclasses()
	words := []string{"Flask("}
	for name := range subs {
		words = append(words, name+"(")
	}
	fl := notTests(r.mentioning(words...))
	hasFlask := false
	for _, rel := range fl {
		if m := r.p.module(rel); m != nil && len(flaskCreations(m.file, subs)) > 0 {
			hasFlask = true
			break
		}
	}
	switch {
	case len(dj) > 0 && (!hasFlask || r.djangoWeight(dj) >= 2):
		return "django"
	case hasFlask:
		return "flask"
	case len(dj) > 0:
		return "django"
	}
	return "none"
}

// djangoWeight counts the Django markers, so a Flask project that merely
// mentions Django once is still reviewed as Flask.
func (r *reviewer) djangoWeight(files []string) int {
	n := 0
	for _, rel := range files {
		src := r.source(rel)
		for _, w := range []string{"DJANGO_SETTINGS_MODULE", "INSTALLED_APPS", "settings.configure("} {
			if bytes.Contains(src, []byte(w)) {
				n++
			}
		}
	}
	return n
}
