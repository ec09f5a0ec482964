package review

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/latchsec/latch/cmd/latch/internal/audit"
)

// Flask's defaults for the settings the review reads.
const (
	flaskLifetime  = 31 * 86400  // PERMANENT_SESSION_LIFETIME
	flaskRemember  = 365 * 86400 // Flask-Login's REMEMBER_COOKIE_DURATION
	talismanMaxAge = 31556926    // Flask-Talisman's strict_transport_security_max_age
	sslifyMaxAge   = 31536000    // Flask-SSLify's age
)

var (
	// appRecv matches the names an application object goes by: app,
	// self.app, flask_app, application, current_app.
	appRecv = regexp.MustCompile(`(?i)(^|[._])(\w*app|application)$`)
	// prodName matches a production configuration's name.
	prodConfigName = regexp.MustCompile(`(?i)(^|[._])prod(uction)?([._]|config|settings|$)|production`)
	devConfigName  = regexp.MustCompile(`(?i)(dev|develop|development|test|testing|local|debug)`)
	// sessionUserWrite finds, before parsing, a file that may store a user
	// in the session; loginDef one that defines a login function.
	sessionUserWrite = regexp.MustCompile(`session\[\s*[rbuf]*["'][^"'\n]*(?i:user|uid|account|logged|login|auth|member|email|id)|session\.update\(`)
	loginDef         = regexp.MustCompile(`def\s+\w*(?i:login|log_in|signin|sign_in|authenticate|authorize|set_authorized)`)
	// userKey matches session keys that store who is logged in.
	// pendingKey matches keys that hold a login in progress (a second
	// factor to come), not a logged-in user.
	pendingKey = regexp.MustCompile(`(?i)(2fa|mfa|otp|totp|pending|webauthn|next|redirect|state|nonce|csrf)`)
	// loginFunc matches the names of functions that log someone in.
	loginFunc = regexp.MustCompile(`(?i)(^|_)(login|log_in|signin|sign_in|authenticate|authorize|set_authorized)`)
	userKey   = regexp.MustCompile(`(?i)(user|uid|account|logged|login|auth|member|email|^_?id$|_id$)`)
	maxAgeRe  = regexp.MustCompile(`(?i)max-age\s*=\s*"?(\d+)`)
)

// flaskCreations returns the calls of a file that create a Flask
// application: Flask(...), or a subclass of Flask the project defines
// (class CTFdFlask(Flask)).
func flaskCreations(f *pyFile, subclasses map[string]bool) []*node {
	var out []*node
	f.root.walk(func(n *node) bool {
		if n.kind == "call" {
			if d := dotted(f, n.child("function")); d == "Flask" || d == "flask.Flask" || subclasses[lastPart(d)] && d != "" {
				out = append(out, n)
			}
		}
		return true
	})
	return out
}

// appNames records the names the file binds to a new Flask app
// (server = Flask(__name__)), so their config counts like app's.
func (r *reviewer) appNames(f *pyFile) {
	if r.flaskApps == nil {
		r.flaskApps = map[string]bool{}
	}
	f.root.walk(func(n *node) bool {
		if n.kind != "assignment" {
			return true
		}
		right := n.child("right")
		if right == nil || right.kind != "call" {
			return true
		}
		if d := dotted(f, right.child("function")); d == "Flask" || d == "flask.Flask" || d != "" && r.flaskSubs[lastPart(d)] {
			if name := dotted(f, n.child("left")); name != "" {
				r.flaskApps[lastPart(name)] = true
				r.appSites = append(r.appSites, appSite{lastPart(name), Location{File: f.path, Line: n.line}})
			}
		}
		return true
	})
}

// appSite is where the project binds a name to a new Flask app.
type appSite struct {
	name string
	at   Location
}

// severalApps describes the Flask apps of the project when there are
// several (distinct names in distinct files: an API and an admin app), or
// "". The review merges their settings in file order, so a pass may hold
// for one app only.
func (r *reviewer) severalApps() (string, []Location) {
	files, names := map[string]bool{}, map[string]bool{}
	var parts []string
	var locs []Location
	for _, a := range r.appSites {
		files[a.at.File], names[a.name] = true, true
		parts = append(parts, fmt.Sprintf("%s at %s:%d", a.name, a.at.File, a.at.Line))
		locs = append(locs, a.at)
	}
	if len(files) < 2 || len(names) < 2 {
		return "", nil
	}
	return strings.Join(parts, ", "), locs
}

// isApp reports whether a receiver is a Flask app: named like one (app,
// application, self.app) or bound to Flask(...) in the project.
func (r *reviewer) isApp(recv string) bool {
	return appRecv.MatchString(recv) || recv != "" && r.flaskApps[lastPart(recv)]
}

// flaskSubclasses finds the project's subclasses of Flask.
func (r *reviewer) flaskSubclasses() map[string]bool {
	if r.flaskSubs != nil {
		return r.flaskSubs
	}
	r.flaskSubs = map[string]bool{}
	for _, rel := range r.mentioning("(Flask)", "flask.Flask)", "(Flask,") {
		m := r.p.module(rel)
		if m == nil {
			continue
		}
		m.file.root.walk(func(n *node) bool {
			if n.kind == "class_definition" {
				for _, b := range n.child("superclasses").named() {
					if d := dotted(m.file, b); d == "Flask" || d == "flask.Flask" {
						r.flaskSubs[m.file.text(n.child("name"))] = true
					}
				}
			}
			return true
		})
	}
	return r.flaskSubs
}

// configOp is one change the code makes to the application's
// configuration, applied in order.
type configOp struct {
	file  string
	line  int
	order int // 0: in a file that creates the app; 1: elsewhere
	ctx   walkCtx
	apply func(c *config)
}

// flaskFacts is what the walk over the project found.
type flaskFacts struct {
	ops         []configOp
	redirects   []outcome // https-redirect evidence
	noRedirect  []outcome // a redirect turned off (Talisman's force_https=False)
	hsts        []outcome // hsts evidence
	samesite    []outcome // SameSite added outside the config (WSGI layer)
	logins      []loginPath
	remember    []Location
	unseen      []unseenFile // config files loaded that the review cannot read
	iface       []ifaceOverride
	late        []func(*config) // applied after every op: Talisman's per-request Secure
	permanent   []Location      // session.permanent = ...
	oldTalisman []Location      // a pin of Flask-Talisman before 0.8.0
	off         []talismanOff
	serverSide  bool             // a session_interface is set (Flask-Session and the like)
	talisman    map[string]*node // variable -> Talisman(...) call, for init_app
	sslify      map[string]bool
	appFiles    map[string]bool
	assumed     []string
	notes       []string
}

// ifaceOverride is a method of the app's session interface that decides
// a cookie attribute instead of the config (get_cookie_secure, ...).
type ifaceOverride struct {
	check, method, cls string
	v                  *Value
	at                 Location
}

// sessionInterface records the cookie-attribute methods a project's
// session interface class defines: Flask asks them, not the config.
func (r *reviewer) sessionInterface(c *class, facts *flaskFacts) {
	for _, m := range []struct{ method, check string }{
		{"get_cookie_secure", CheckCookieSecure}, {"get_cookie_httponly", CheckCookieHTTPOnly}, {"get_cookie_samesite", CheckCookieSameSite},
	} {
		fv, _, ok := c.attr(m.method)
		if !ok || fv == nil || fv.Kind != vFunc {
			continue
		}
		v := r.p.callFunc(fv.Fn, nil, nil, 0)
		def := Location{File: fv.Fn.file.path, Line: fv.Fn.node.line}
		facts.iface = append(facts.iface, ifaceOverride{m.check, m.method, c.name, v, def})
	}
}

// unseenFile is a config file the app loads that the review cannot read
// (from_envvar, an instance file the project does not ship).
type unseenFile struct {
	why string
	at  Location
}

// talismanOff is a Talisman cookie option turned off.
type talismanOff struct {
	key string
	o   outcome
}

// whereList writes locations as " (a.py:1, b.py:2)", or "".
func whereList(l []Location) string {
	if len(l) == 0 {
		return ""
	}
	var p []string
	for _, x := range l {
		p = append(p, fmt.Sprintf("%s:%d", x.File, x.Line))
	}
	return " (" + strings.Join(p, ", ") + ")"
}

// loginPath is a function that logs a user in.
type loginPath struct {
	fn      string
	at      Location // where the user is stored
	renewed bool
	renewAt Location // where the session is renewed
	how     string
	stores  []Location
}

func (r *reviewer) flask() {
	p := r.p
	// The files that can hold what the checks read: configuration, the
	// app's creation, extensions, hooks and logins. A view that only reads
	// the session, or a model that uses db.session, is not parsed.
	rels := r.mentioning("Flask(", "SECRET_KEY", "secret_key", "SESSION_", "PERMANENT_SESSION", "permanent_session_lifetime", ".config",
		"Talisman", "SSLify", "Strict-Transport", "login_user", "session.permanent", "start_response",
		"before_request", "before_app_request", "after_request", "after_app_request", "amesite", "regenerate")
	// Logins by hand: a user-like key stored in the session, or a function
	// named for logging in that writes the session.
	rels = append(rels, r.matching(sessionUserWrite, loginDef)...)
	for name := range r.flaskSubclasses() {
		rels = append(rels, r.mentioning(name+"(")...)
	}
	rels = notTests(dedupe(rels))
	mods := r.modules(rels)
	facts := &flaskFacts{talisman: map[string]*node{}, sslify: map[string]bool{}, appFiles: map[string]bool{}}
	for _, m := range mods {
		if len(flaskCreations(m.file, r.flaskSubclasses())) > 0 {
			facts.appFiles[m.path] = true
			r.appNames(m.file)
		}
	}
	for _, m := range mods {
		if r.ctx.Err() != nil {
			return
		}
		r.flaskWalk(m, facts)
	}
	sort.SliceStable(facts.ops, func(i, j int) bool {
		a, b := facts.ops[i], facts.ops[j]
		if a.order != b.order {
			return a.order < b.order
		}
		if a.file != b.file {
			return a.file < b.file
		}
		return a.line < b.line
	})
	c := newConfig()
	for _, op := range facts.ops {
		op.apply(c)
	}
	// Talisman sets SESSION_COOKIE_SECURE again before every request
	// (talisman.py _force_https), after anything the code set.
	for _, late := range facts.late {
		late(c)
	}
	if len(facts.assumed) == 0 {
		facts.assumed = append(facts.assumed, "the configuration set on the Flask app object (no config class or file selected)")
	}
	r.assumed = strings.Join(facts.assumed, "; ")
	p.notes = append(p.notes, facts.notes...)

	r.checkSecret(c, "SECRET_KEY", "Flask")
	r.checkBool(c, CheckCookieSecure, "SESSION_COOKIE_SECURE", false, "Set SESSION_COOKIE_SECURE = True in the production config (or use Flask-Talisman), so the cookie never travels over plain HTTP.")
	r.checkBool(c, CheckCookieHTTPOnly, "SESSION_COOKIE_HTTPONLY", true, "Keep SESSION_COOKIE_HTTPONLY = True (Flask's default), so page scripts cannot read the session cookie.")
	r.checkSameSite(c, "SESSION_COOKIE_SAMESITE", "")
	if f := r.found[CheckCookieSameSite]; f != nil && f.status != audit.Pass && len(facts.samesite) > 0 {
		st, ev, locs := combine(facts.samesite)
		r.set(CheckCookieSameSite, st, f.rec, ev+"; the config alone gives: "+strings.Join(f.evidence, "; "), locs...)
	}
	for _, off := range facts.off {
		id := map[string]string{"SESSION_COOKIE_SECURE": CheckCookieSecure, "SESSION_COOKIE_HTTPONLY": CheckCookieHTTPOnly, "SESSION_COOKIE_SAMESITE": CheckCookieSameSite}[off.key]
		if f := r.found[id]; f != nil && c.get(off.key) == nil {
			f.evidence = append(f.evidence, off.o.what)
			f.add(off.o.at)
			for _, l := range off.o.more {
				f.add(l)
			}
		}
	}
	if f := r.found[CheckCookieSameSite]; f != nil && f.status == audit.Fail && len(facts.oldTalisman) > 0 {
		pin := facts.oldTalisman[0]
		f.evidence = append(f.evidence, fmt.Sprintf("the project pins Flask-Talisman before 0.8.0 (%s:%d), which does not set SameSite", pin.File, pin.Line))
		f.add(pin)
	}
	if len(facts.remember) > 0 {
		r.flaskRememberCookie(c, facts)
	}
	r.flaskLifetime(c, facts)
	r.flaskRegeneration(c, facts)
	// A session interface's get_cookie_secure() (and the like) decides
	// the attribute, whatever the config says.
	for _, o := range facts.iface {
		prev := r.found[o.check]
		st, what := audit.Warn, "returns "+o.v.describe()+", which the review cannot decide"
		if lit, _ := o.v.literal(); lit != nil && o.v.Kind != vEnv && o.v.Kind != vChoice {
			if o.check == CheckCookieSameSite {
				st = audit.Fail
				if lit.Kind == vStr && (strings.EqualFold(lit.Str, "lax") || strings.EqualFold(lit.Str, "strict")) {
					st = audit.Pass
				}
			} else if t, ok := lit.truth(); ok {
				st = audit.Fail
				if t {
					st = audit.Pass
				}
			}
			if st != audit.Warn {
				what = "returns " + lit.describe()
			}
		}
		f := &finding{status: st}
		if prev != nil {
			f.rec = prev.rec
		}
		f.evidence = append(f.evidence, fmt.Sprintf("the app's session interface %s overrides %s (%s:%d), which %s: Flask asks it, not the config", o.cls, o.method, o.at.File, o.at.Line, what))
		f.add(o.at)
		r.found[o.check] = f
	}
	// A pass on a setting is what the code gives; a config file the
	// review cannot read may still override it: say so.
	for _, u := range facts.unseen {
		for _, id := range []string{CheckSecretKeySource, CheckCookieSecure, CheckCookieHTTPOnly, CheckCookieSameSite, CheckSessionLifetime} {
			if f := r.found[id]; f != nil && f.status == audit.Pass {
				f.evidence = append(f.evidence, "the code's value; but "+u.why+", which may override it")
				f.add(u.at)
			}
		}
	}
	if len(facts.redirects) > 0 {
		st, ev, locs := combine(facts.redirects)
		r.set(CheckHTTPSRedirect, st, recRedirect, ev, locs...)
	} else if len(facts.noRedirect) > 0 {
		_, ev, locs := combine(facts.noRedirect)
		r.set(CheckHTTPSRedirect, audit.Fail, recRedirect, ev+"; nothing else redirects plain HTTP to HTTPS in the source (a proxy in front may; the review cannot see it)", locs...)
	} else {
		r.set(CheckHTTPSRedirect, audit.Fail, recRedirect, "no Flask-Talisman, Flask-SSLify or hook that redirects plain HTTP to HTTPS in the source (a proxy in front may redirect; the review cannot see it)")
	}
	if len(facts.hsts) > 0 {
		best := facts.hsts[0]
		for _, h := range facts.hsts[1:] {
			if rank(h.st) < rank(best.st) {
				best = h
			}
		}
		r.set(CheckHSTS, best.st, recHSTS, best.what, append([]Location{best.at}, best.more...)...)
	} else {
		r.set(CheckHSTS, audit.Fail, recHSTS, "nothing in the source sends Strict-Transport-Security (no Flask-Talisman, Flask-SSLify or header set in a hook)")
	}
	// Several apps: their settings were merged, so no pass is sure.
	if apps, locs := r.severalApps(); apps != "" {
		for _, id := range []string{CheckSecretKeySource, CheckCookieSecure, CheckCookieHTTPOnly, CheckCookieSameSite, CheckSessionLifetime, CheckHTTPSRedirect, CheckHSTS} {
			if f := r.found[id]; f != nil && f.status == audit.Pass {
				f.status = audit.Warn
				f.evidence = append(f.evidence, "the project creates several Flask apps ("+apps+"): the review merged their settings in file order, so this may hold for one app only; review each")
				for _, l := range locs {
					f.add(l)
				}
			}
		}
	}
}

// flaskRememberCookie judges Flask-Login's remember-me cookie beside the
// session cookie when a login sets it: it logs the user in on its own, so
// it is a session credential (as latch audit finds it), and the weaker of
// the two cookies decides cookie-secure, cookie-httponly and
// cookie-samesite. Flask-Login's defaults: REMEMBER_COOKIE_SECURE False,
// REMEMBER_COOKIE_HTTPONLY True, REMEMBER_COOKIE_SAMESITE None; Talisman
// does not set them.
func (r *reviewer) flaskRememberCookie(c *config, facts *flaskFacts) {
	at := facts.remember[0]
	intro := fmt.Sprintf("the remember-me cookie (login_user(remember=...) at %s:%d) is a session credential too: ", at.File, at.Line)
	merge := func(id string, judge func()) {
		sess := r.found[id]
		judge()
		rem := r.found[id]
		if sess == nil || rem == nil {
			return
		}
		out := &finding{status: sess.status, rec: sess.rec, evidence: append([]string(nil), sess.evidence...)}
		if rank(rem.status) > rank(out.status) {
			out.status = rem.status
			out.rec = rem.rec
		}
		out.evidence = append(out.evidence, intro+strings.Join(rem.evidence, "; "))
		for _, l := range sess.locs {
			out.add(l)
		}
		out.add(at)
		for _, l := range rem.locs {
			out.add(l)
		}
		r.found[id] = out
	}
	merge(CheckCookieSecure, func() {
		r.checkBool(c, CheckCookieSecure, "REMEMBER_COOKIE_SECURE", false, "Set REMEMBER_COOKIE_SECURE = True (Flask-Login's default is False, and Talisman does not set it), so the remember-me cookie never travels over plain HTTP.")
	})
	merge(CheckCookieHTTPOnly, func() {
		r.checkBool(c, CheckCookieHTTPOnly, "REMEMBER_COOKIE_HTTPONLY", true, "Keep REMEMBER_COOKIE_HTTPONLY = True (Flask-Login's default), so page scripts cannot read the remember-me cookie.")
	})
	merge(CheckCookieSameSite, func() { r.checkSameSite(c, "REMEMBER_COOKIE_SAMESITE", "") })
}

// rank orders statuses best first.
func rank(s audit.Status) int {
	switch s {
	case audit.Pass:
		return 0
	case audit.Warn:
		return 1
	case audit.Skip:
		return 2
	}
	return 3
}

func (r *reviewer) flaskLifetime(c *config, facts *flaskFacts) {
	rec := "Set PERMANENT_SESSION_LIFETIME to the longest time a login may last (12 hours or less), and keep Flask-Login's remember cookie (REMEMBER_COOKIE_DURATION) as short, or do not offer it."
	if c.unreadable != "" {
		r.set(CheckSessionLifetime, audit.Warn, rec, c.unreadable)
		return
	}
	outs, maxSecs, maxWhere := lifetimeOutcomes(c, lifetimeSetting{
		key:      "PERMANENT_SESSION_LIFETIME",
		def:      flaskLifetime,
		defWhere: "Flask's default PERMANENT_SESSION_LIFETIME (31 days)",
		unset:    "PERMANENT_SESSION_LIFETIME is not set: Flask checks every session cookie against its default of 31 days",
		tail:     ": Flask refuses session cookies older than that",
		from:     true,
	})
	s := c.get("PERMANENT_SESSION_LIFETIME")
	st, ev, locs := combine(outs)
	if s != nil {
		locs = append(locs, s.at)
	}
	if len(facts.permanent) > 0 {
		ev += fmt.Sprintf("; session.permanent is set at %s:%d, which makes the cookie outlive the browser for that time as well", facts.permanent[0].File, facts.permanent[0].Line)
		locs = append(locs, facts.permanent...)
	}
	if len(facts.remember) > 0 {
		dur := float64(flaskRemember)
		what := "Flask-Login's default REMEMBER_COOKIE_DURATION of 365 days"
		var rat []Location
		if rs := c.get("REMEMBER_COOKIE_DURATION"); rs != nil {
			if lit, _ := rs.v.literal(); lit != nil {
				if secs, ok := seconds(lit); ok {
					dur, what = secs, "REMEMBER_COOKIE_DURATION of "+fmtSeconds(secs)+where(rs.at, rs.via)
					rat = append(rat, rs.at)
				}
			}
		}
		rs := lifetimeStatus(dur)
		if rank(rs) > rank(st) {
			st = rs
		}
		if dur > maxSecs {
			maxSecs, maxWhere = dur, "the remember-me cookie ("+what+")"
		}
		ev += fmt.Sprintf("; login_user(remember=...) at %s:%d sets a remember-me cookie that logs the user in again for %s", facts.remember[0].File, facts.remember[0].Line, what)
		locs = append(locs, facts.remember...)
		locs = append(locs, rat...)
	}
	r.set(CheckSessionLifetime, st, rec, ev, locs...)
	r.recordLifetime(maxSecs, maxWhere)
}

func (r *reviewer) flaskRegeneration(c *config, facts *flaskFacts) {
	rec := "Call session.clear() (or Flask-Session's regenerate) before storing the user in the session at login, so a session planted before login does not carry over."
	if len(facts.logins) == 0 {
		r.set(CheckSessionRegeneration, audit.Skip, "", "no login found: no login_user() call and no user stored in the session")
		return
	}
	f := &finding{status: audit.Pass, rec: rec}
	for _, l := range facts.logins {
		if l.renewed {
			f.evidence = append(f.evidence, fmt.Sprintf("%s (%s:%d) renews the session (%s) before storing the user", l.fn, l.at.File, l.at.Line, l.how))
		} else {
			f.status = audit.Fail
			f.evidence = append(f.evidence, fmt.Sprintf("%s (%s:%d) stores the user (%s) without session.clear() or regenerate() first: the pre-login session carries over", l.fn, l.at.File, l.at.Line, l.how))
		}
		f.add(l.renewAt)
		f.add(l.at)
		for _, st := range l.stores {
			f.add(st)
		}
	}
	if f.status == audit.Fail && c.get("SESSION_TYPE") == nil && !facts.serverSide {
		f.evidence = append(f.evidence, "with Flask's default signed-cookie sessions there is no session ID to fix: login re-signs the cookie, so a cookie planted before login is not logged in afterwards (a live audit's session-fixation passes), but whatever it carried (a CSRF token, a next URL) stays in the logged-in session")
	}
	r.found[CheckSessionRegeneration] = f
}

// flaskWalk collects the configuration operations, extensions, hooks and
// login paths of one module.
func (r *reviewer) flaskWalk(m *module, facts *flaskFacts) {
	p, f := r.p, m.file
	order := 1
	if facts.appFiles[m.path] {
		order = 0
	}
	add := func(n *node, ctx walkCtx, apply func(c *config)) {
		facts.ops = append(facts.ops, configOp{file: f.path, line: n.line, order: order, ctx: ctx, apply: apply})
	}
	at := func(n *node) Location { return Location{File: f.path, Line: n.line} }
	seenFn := map[*node]bool{}
	decos := map[*node]string{} // a function's decorators, seen just before it
	p.walkScoped(f, m.scope(p), func(n *node, s *scope, ctx walkCtx) {
		switch n.kind {
		case "assignment":
			left, right := n.child("left"), n.child("right")
			if left == nil || right == nil || right.kind == "assignment" {
				return
			}
			switch left.kind {
			case "subscript":
				obj := dotted(f, left.child("value"))
				if strings.HasSuffix(obj, ".config") && r.isApp(strings.TrimSuffix(obj, ".config")) {
					if k := p.eval(s, left.child("subscript"), 0); k.Kind == vStr {
						key, v := k.Str, p.eval(s, right, 0)
						add(n, ctx, func(c *config) { c.set(key, v, at(n), obj+"[...]", ctx) })
					}
				}
				if k := p.eval(s, left.child("subscript"), 0); k.Kind == vStr && strings.EqualFold(k.Str, "Strict-Transport-Security") {
					r.hstsValue(facts, p.eval(s, right, 0), at(n), "a hook sets Strict-Transport-Security", ctx)
				}
			case "attribute":
				obj := dotted(f, left.child("object"))
				attr := f.text(left.child("attribute"))
				if attr == "session_interface" {
					facts.serverSide = true
					if v := p.eval(s, right, 0); v.Kind == vClass && !ctx.dead {
						r.sessionInterface(v.Class, facts)
					}
				}
				if !r.isApp(obj) {
					if obj == "session" && attr == "permanent" {
						facts.permanent = append(facts.permanent, at(n))
					}
					return
				}
				key := map[string]string{"secret_key": "SECRET_KEY", "permanent_session_lifetime": "PERMANENT_SESSION_LIFETIME"}[attr]
				if key != "" {
					v := p.eval(s, right, 0)
					add(n, ctx, func(c *config) { c.set(key, v, at(n), obj+"."+attr, ctx) })
				}
			case "identifier":
				if d := dotted(f, right.child("function")); right.kind == "call" {
					name := f.text(left)
					switch lastPart(d) {
					case "Talisman":
						facts.talisman[name] = right
					case "SSLify":
						facts.sslify[name] = true
					}
				}
			}
		case "call":
			r.flaskCall(m, n, s, ctx, facts, add)
		case "decorated_definition":
			var d []string
			for _, k := range n.kids {
				if k.kind == "decorator" {
					d = append(d, f.text(k))
				}
			}
			decos[n.child("definition")] = strings.Join(d, " ")
		case "function_definition":
			if seenFn[n] {
				return
			}
			seenFn[n] = true
			r.flaskFunction(m, n, s, decos[n], facts)
		}
	})
}

// flaskDefaultKeys are the keys of Flask's default_config (Flask 3.1;
// every Flask app's config starts with them, most as None).
var flaskDefaultKeys = map[string]bool{
	"APPLICATION_ROOT": true, "DEBUG": true, "EXPLAIN_TEMPLATE_LOADING": true, "MAX_CONTENT_LENGTH": true,
	"MAX_COOKIE_SIZE": true, "MAX_FORM_MEMORY_SIZE": true, "MAX_FORM_PARTS": true, "PERMANENT_SESSION_LIFETIME": true,
	"PREFERRED_URL_SCHEME": true, "PROPAGATE_EXCEPTIONS": true, "PROVIDE_AUTOMATIC_OPTIONS": true, "SECRET_KEY": true,
	"SECRET_KEY_FALLBACKS": true, "SEND_FILE_MAX_AGE_DEFAULT": true, "SERVER_NAME": true, "SESSION_COOKIE_DOMAIN": true,
	"SESSION_COOKIE_HTTPONLY": true, "SESSION_COOKIE_NAME": true, "SESSION_COOKIE_PARTITIONED": true, "SESSION_COOKIE_PATH": true,
	"SESSION_COOKIE_SAMESITE": true, "SESSION_COOKIE_SECURE": true, "SESSION_REFRESH_EACH_REQUEST": true,
	"TEMPLATES_AUTO_RELOAD": true, "TESTING": true, "TRAP_BAD_REQUEST_ERRORS": true, "TRAP_HTTP_EXCEPTIONS": true,
	"TRUSTED_HOSTS": true, "USE_X_SENDFILE": true,
}

// flaskCall handles config methods, extensions and header sets.
func (r *reviewer) flaskCall(m *module, n *node, s *scope, ctx walkCtx, facts *flaskFacts, add func(*node, walkCtx, func(*config))) {
	p, f := r.p, m.file
	fn := n.child("function")
	d := dotted(f, fn)
	here := Location{File: f.path, Line: n.line}
	pos, kw := callArgs(f, n)
	last := lastPart(d)
	recv := strings.TrimSuffix(d, "."+last)
	if strings.HasSuffix(recv, ".config") && (r.isApp(strings.TrimSuffix(recv, ".config")) || recv == "self.config" && ctx.cls != nil && r.flaskSubs[ctx.cls.name]) {
		via := recv + "." + last
		// unseen: a config file the review cannot read is loaded here; it
		// may set any session setting, so from here on each is undecided
		// (a choice with an unknown branch: no check passes on it).
		// unseen: a config file the review cannot read is loaded here.
		// Like an environment variable, what the code sets counts (a
		// deployment would have to override it on purpose), but a pass
		// says so.
		unseen := func(why string) {
			if ctx.dead {
				return
			}
			facts.unseen = append(facts.unseen, unseenFile{why, here})
		}

		switch last {
		case "update", "from_mapping":
			var items []struct {
				k string
				v *Value
			}
			for _, a := range pos {
				if dv := p.eval(s, a, 0); dv.Kind == vDict {
					for _, k := range dv.Keys {
						items = append(items, struct {
							k string
							v *Value
						}{k, dv.Items[k]})
					}
				}
			}
			for _, a := range n.child("arguments").named() {
				if a.kind == "keyword_argument" {
					items = append(items, struct {
						k string
						v *Value
					}{f.text(a.child("name")), p.eval(s, a.child("value"), 0)})
				}
			}
			add(n, ctx, func(c *config) {
				for _, it := range items {
					c.set(it.k, it.v.at(f.path, n.line), loc(it.v.at(f.path, n.line)), via, ctx)
				}
			})
		case "setdefault":
			if len(pos) == 2 {
				if k := p.eval(s, pos[0], 0); k.Kind == vStr {
					v := p.eval(s, pos[1], 0)
					add(n, ctx, func(c *config) {
						// Flask's config starts as a copy of its default
						// config, so setdefault of one of those keys does
						// nothing: the default (or an earlier set) stays.
						if c.get(k.Str) == nil && !flaskDefaultKeys[k.Str] {
							c.set(k.Str, v, here, via, ctx)
						}
					})
				}
			}
		case "from_object":
			if len(pos) == 0 {
				return
			}
			var obj *Value
			if f.text(pos[0]) == "__name__" {
				obj = &Value{Kind: vModule, Mod: m}
			} else {
				obj = p.eval(s, pos[0], 0)
			}
			items, assumed := r.configObject(m, obj)
			if assumed != "" {
				facts.assumed = append(facts.assumed, fmt.Sprintf("%s:%d from_object: %s", f.path, n.line, assumed))
			}
			add(n, ctx, func(c *config) {
				for _, it := range items {
					c.set(it.key, it.v, it.at, it.via, ctx)
				}
			})
		case "from_pyfile", "from_file":
			if len(pos) == 0 {
				return
			}
			name := p.eval(s, pos[0], 0)
			lit, _ := name.literal()
			if lit == nil || lit.Kind != vStr {
				facts.notes = append(facts.notes, fmt.Sprintf("%s:%d: %s(%s) names a file the review cannot tell", f.path, n.line, last, shorten(f.text(pos[0]))))
				unseen(fmt.Sprintf("%s(%s) at %s:%d loads a file the review cannot tell", last, shorten(f.text(pos[0])), f.path, n.line))
				return
			}
			rel := r.findConfigFile(m.path, lit.Str)
			if rel == "" {
				facts.notes = append(facts.notes, fmt.Sprintf("%s:%d: %s(%q): no such file in the project (an instance folder or a deployment may supply it)", f.path, n.line, last, lit.Str))
				unseen(fmt.Sprintf("%s(%q) at %s:%d loads a file the project does not ship (an instance folder or a deployment supplies it)", last, lit.Str, f.path, n.line))
				return
			}
			cm := p.module(rel)
			if cm == nil {
				unseen(fmt.Sprintf("%s(%q) at %s:%d loads a file the review does not read", last, lit.Str, f.path, n.line))
				return
			}
			items, _ := r.configObject(m, &Value{Kind: vModule, Mod: cm})
			facts.assumed = append(facts.assumed, fmt.Sprintf("%s:%d %s reads %s", f.path, n.line, last, rel))
			add(n, ctx, func(c *config) {
				for _, it := range items {
					c.set(it.key, it.v, it.at, it.via, ctx)
				}
			})
		case "from_envvar", "from_prefixed_env":
			facts.notes = append(facts.notes, fmt.Sprintf("%s:%d: %s loads settings from the environment at run time; the review cannot see them", f.path, n.line, last))
			if last == "from_prefixed_env" {
				// SECRET_KEY becomes FLASK_SECRET_KEY (the prefix is an
				// argument) when the environment holds it, and keeps what
				// the code set before otherwise: an environment lookup
				// whose fallback is the earlier value.
				prefix := "FLASK"
				if a := kw["prefix"]; a != nil {
					prefix = ""
					if pv := p.eval(s, a, 0); pv.Kind == vStr {
						prefix = pv.Str
					}
				} else if len(pos) > 0 {
					prefix = ""
					if pv := p.eval(s, pos[0], 0); pv.Kind == vStr {
						prefix = pv.Str
					}
				}
				if prefix != "" {
					add(n, ctx, func(c *config) {
						var prev *Value
						if old := c.get("SECRET_KEY"); old != nil {
							prev = old.v
						}
						c.set("SECRET_KEY", &Value{Kind: vEnv, Env: prefix + "_SECRET_KEY", Via: via, Default: prev, File: f.path, Line: n.line}, here, via, ctx)
					})
				}
			}
			if last == "from_envvar" {
				unseen(fmt.Sprintf("from_envvar(%s) at %s:%d loads a file a deployment names", shorten(f.text(n.child("arguments"))), f.path, n.line))
			}
		}
		return
	}
	// Extensions.
	switch {
	case last == "Talisman" && len(pos) > 0:
		r.talisman(n, kw, nil, s, m, ctx, facts, add)
	case last == "init_app" && facts.talisman[recv] != nil && len(pos) > 0:
		_, ckw := callArgs(f, facts.talisman[recv])
		r.talisman(n, kw, ckw, s, m, ctx, facts, add)
	case last == "SSLify" && len(pos) > 0 || last == "init_app" && facts.sslify[recv] && len(pos) > 0:
		add(n, ctx, func(c *config) {
			if !c.holds(ctx) {
				if t, known, used := c.decideAt(ctx); known && !t && len(used) > 0 {
					facts.noRedirect = append(facts.noRedirect, outcome{audit.Fail, fmt.Sprintf("Flask-SSLify (%s:%d) is not enabled in production: its condition %s is false%s", f.path, n.line, ctx.cond(), whereList(used)), used[0], used[1:]})
				}
				return
			}
			// Under a condition the review cannot decide, SSLify may be off.
			only := ""
			if len(ctx.Pos)+len(ctx.Neg) > 0 {
				if _, known := c.decide(ctx); !known && branchMode(ctx.alt()) == unknown {
					only = " only " + ctx.cond() + ", which the review cannot decide for production"
				}
			}
			nr, nh := len(facts.redirects), len(facts.hsts)
			defer func() {
				if only == "" {
					return
				}
				for _, l := range [][]outcome{facts.redirects[nr:], facts.hsts[nh:]} {
					for i := range l {
						if l[i].st == audit.Pass {
							l[i].st, l[i].what = audit.Warn, l[i].what+only
						}
					}
				}
			}()
			facts.redirects = append(facts.redirects, outcome{audit.Pass, fmt.Sprintf("Flask-SSLify redirects plain HTTP to HTTPS (%s:%d)", f.path, n.line), here, nil})
			age, sub := float64(sslifyMaxAge), false
			if a := kw["age"]; a != nil {
				if l, _ := p.eval(s, a, 0).literal(); l != nil && l.Kind == vNum {
					age = l.Num
				}
			}
			if a := kw["subdomains"]; a != nil {
				if l, _ := p.eval(s, a, 0).literal(); l != nil {
					sub, _ = l.truth()
				}
			}
			st, ev := hstsStatus(age, sub)
			facts.hsts = append(facts.hsts, outcome{st, fmt.Sprintf("Flask-SSLify sends Strict-Transport-Security (%s:%d): %s", f.path, n.line, ev), here, nil})
		})
	}
	// Header sets: headers.add("Strict-Transport-Security", v), headers.set, setdefault.
	if (last == "add" || last == "set" || last == "setdefault" || last == "append") && strings.Contains(recv, "header") && len(pos) >= 2 {
		if k := p.eval(s, pos[0], 0); k.Kind == vStr && strings.EqualFold(k.Str, "Strict-Transport-Security") {
			r.hstsValue(facts, p.eval(s, pos[1], 0), here, "a hook sets Strict-Transport-Security", ctx)
		}
	}
}

// hstsValue judges a Strict-Transport-Security header value.
func (r *reviewer) hstsValue(facts *flaskFacts, v *Value, at Location, what string, ctx walkCtx) {
	// A condition on the request being HTTPS (if request.is_secure:) is
	// how HSTS is meant to be sent: browsers ignore it over plain HTTP.
	var pos []string
	for _, c := range ctx.Pos {
		if !strings.Contains(c, "is_secure") && !strings.Contains(c, "https") {
			pos = append(pos, c)
		}
	}
	ctx = ctx.with(nil, nil)
	ctx.Pos = pos
	if ctx.dead {
		facts.hsts = append(facts.hsts, outcome{audit.Fail, fmt.Sprintf("%s (%s:%d) only %s, which the code itself rules out: production gets no HSTS from it", what, at.File, at.Line, ctx.cond()), at, nil})
		return
	}
	if len(ctx.Pos)+len(ctx.Neg) > 0 {
		// A hook defined, registered or setting the header under a
		// condition: only in production when the condition holds there.
		switch branchMode(ctx.alt()) {
		case devOnly:
			facts.hsts = append(facts.hsts, outcome{audit.Fail, fmt.Sprintf("%s (%s:%d) only %s, a development branch: production gets no HSTS from it", what, at.File, at.Line, ctx.cond()), at, nil})
			return
		case unknown:
			facts.hsts = append(facts.hsts, outcome{audit.Warn, fmt.Sprintf("%s (%s:%d) only %s, which the review cannot decide for production", what, at.File, at.Line, ctx.cond()), at, nil})
			return
		}
	}
	lit, _ := v.literal()
	if lit == nil || lit.Kind != vStr {
		facts.hsts = append(facts.hsts, outcome{audit.Warn, fmt.Sprintf("%s (%s:%d), with a value the review cannot read: %s", what, at.File, at.Line, v.describe()), at, nil})
		return
	}
	age := 0.0
	if m := maxAgeRe.FindStringSubmatch(lit.Str); m != nil {
		age, _ = strconv.ParseFloat(m[1], 64)
	}
	st, ev := hstsStatus(age, strings.Contains(strings.ToLower(lit.Str), "includesubdomains"))
	facts.hsts = append(facts.hsts, outcome{st, fmt.Sprintf("%s (%s:%d): %s", what, at.File, at.Line, ev), at, nil})
}

// talisman applies Flask-Talisman: it forces HTTPS, sends HSTS and sets
// the session cookie's Secure, HttpOnly and SameSite (from 0.8.0), each
// unless its keyword turns it off. It runs as a configuration operation,
// so a condition on the app's config is judged with the config of the
// moment.
func (r *reviewer) talisman(n *node, kw, ctorKw map[string]*node, s *scope, m *module, ctx walkCtx, facts *flaskFacts, add func(*node, walkCtx, func(*config))) {
	p, f := r.p, m.file
	here := Location{File: f.path, Line: n.line}
	arg := func(name string) (*Value, Location) {
		a := kw[name]
		if a == nil {
			a = ctorKw[name]
		}
		if a == nil {
			// Talisman(app, **options): the option is the dict's item;
			// a dict the review cannot read may hold any option.
			for _, all := range []map[string]*node{kw, ctorKw} {
				sp := all["**"]
				if sp == nil || sp.kind != "dictionary_splat" || len(sp.named()) == 0 {
					continue
				}
				d := p.eval(s, sp.named()[0], 0)
				at := Location{File: f.path, Line: sp.line}
				if d.Kind != vDict {
					return &Value{Kind: vUnknown, Why: "**" + shorten(f.text(sp.named()[0])) + " (options the review cannot read)", File: f.path, Line: sp.line}, at
				}
				if v, ok := d.Items[name]; ok {
					if l := loc(v); l.File != "" {
						at = l
					}
					return v, at
				}
			}
			return nil, here
		}
		v := p.eval(s, a, 0)
		return v, Location{File: f.path, Line: a.line}
	}
	origin := func(name string) []Location {
		v, at := arg(name)
		if v == nil {
			return nil
		}
		if l := loc(v); l.File != "" && l != at {
			return []Location{l}
		}
		return nil
	}
	// boolArg is a keyword's truth; known is false when the review cannot
	// read it (then the option may be off).
	boolArg := func(name string, def bool) (val bool, at Location, known bool) {
		v, at := arg(name)
		if v == nil {
			return def, at, true
		}
		l, _ := v.literal()
		if l == nil {
			return def, at, false
		}
		if t, ok := l.truth(); ok {
			return t, at, true
		}
		return def, at, false
	}
	where := fmt.Sprintf("Flask-Talisman (%s:%d)", f.path, n.line)
	oldTalisman, pin := r.talismanBefore08()
	if oldTalisman {
		facts.oldTalisman = append(facts.oldTalisman, pin)
	}
	add(n, ctx, func(c *config) {
		if !c.holds(ctx) {
			return
		}
		// Under a condition the review cannot decide for production (if
		// os.environ.get("ENABLE_TALISMAN"):), Talisman may be off: its
		// passes are warn and its config is one branch of a choice.
		setCtx, undecided := walkCtx{}, ""
		if len(ctx.Pos)+len(ctx.Neg) > 0 {
			if _, known := c.decide(ctx); !known && branchMode(ctx.alt()) == unknown {
				setCtx, undecided = ctx, ctx.cond()
			}
		}
		nr, nh := len(facts.redirects), len(facts.hsts)
		defer func() {
			if undecided == "" {
				return
			}
			for _, l := range [][]outcome{facts.redirects[nr:], facts.hsts[nh:]} {
				for i := range l {
					if l[i].st == audit.Pass {
						l[i].st = audit.Warn
						l[i].what += " only " + undecided + ", which the review cannot decide for production"
					}
				}
			}
		}()
		if force, at, known := boolArg("force_https", true); !known {
			v, _ := arg("force_https")
			facts.redirects = append(facts.redirects, outcome{audit.Warn, where + " is given force_https=" + v.describe() + ": whether it redirects plain HTTP to HTTPS is decided by a value the review cannot read", at, nil})
		} else if force {
			facts.redirects = append(facts.redirects, outcome{audit.Pass, where + " redirects plain HTTP to HTTPS (force_https)", here, nil})
		} else {
			facts.noRedirect = append(facts.noRedirect, outcome{audit.Fail, where + " is given force_https=False, so it does not redirect to HTTPS", at, origin("force_https")})
		}
		if sts, at, known := boolArg("strict_transport_security", true); !known {
			v, _ := arg("strict_transport_security")
			facts.hsts = append(facts.hsts, outcome{audit.Warn, where + " is given strict_transport_security=" + v.describe() + ": whether it sends HSTS is decided by a value the review cannot read", at, nil})
		} else if sts {
			age := float64(talismanMaxAge)
			if v, _ := arg("strict_transport_security_max_age"); v != nil {
				if l, _ := v.literal(); l != nil && l.Kind == vNum {
					age = l.Num
				}
			}
			sub, _, subKnown := boolArg("strict_transport_security_include_subdomains", true)
			sub = sub && subKnown
			st, ev := hstsStatus(age, sub)
			facts.hsts = append(facts.hsts, outcome{st, where + " sends Strict-Transport-Security: " + ev, here, nil})
		} else {
			facts.hsts = append(facts.hsts, outcome{audit.Fail, where + " is given strict_transport_security=False and sends no HSTS", at, origin("strict_transport_security")})
		}
		cookie := func(key, kwName string, def *Value) {
			v, at := arg(kwName)
			if v == nil {
				v = def
			}
			if v == nil {
				return
			}
			if l, _ := v.literal(); l != nil {
				if t, ok := l.truth(); ok && !t {
					// Talisman sets the config only when the option is on.
					facts.off = append(facts.off, talismanOff{key, outcome{audit.Fail, fmt.Sprintf("%s is given %s=False%s, so it leaves %s alone", where, kwName, whereList(origin(kwName)), key), at, origin(kwName)}})
					return
				}
			}
			if key == "SESSION_COOKIE_SECURE" {
				v, setCtx := v.at(at.File, at.Line), setCtx
				facts.late = append(facts.late, func(c *config) {
					c.set(key, v, at, "Flask-Talisman "+kwName+", set again before every request", setCtx)
				})
				return
			}
			c.set(key, v.at(at.File, at.Line), at, "Flask-Talisman "+kwName, setCtx)
		}
		cookie("SESSION_COOKIE_SECURE", "session_cookie_secure", &Value{Kind: vBool, Bool: true})
		cookie("SESSION_COOKIE_HTTPONLY", "session_cookie_http_only", &Value{Kind: vBool, Bool: true})
		var ss *Value
		if !oldTalisman {
			ss = &Value{Kind: vStr, Str: "Lax"}
		}
		cookie("SESSION_COOKIE_SAMESITE", "session_cookie_samesite", ss)
	})
}

// talismanBefore08 reports whether the project pins Flask-Talisman before
// 0.8.0, which did not set SameSite on the session cookie.
func (r *reviewer) talismanBefore08() (bool, Location) {
	for _, rel := range r.p.manifests {
		src := r.p.source(rel)
		m := talismanPin.FindSubmatchIndex(src)
		if m == nil {
			continue
		}
		at := Location{File: rel, Line: 1 + strings.Count(string(src[:m[0]]), "\n")}
		ver := string(src[m[2]:m[3]])
		parts := strings.Split(ver, ".")
		major, _ := strconv.Atoi(parts[0])
		minor := 0
		if len(parts) > 1 {
			minor, _ = strconv.Atoi(parts[1])
		}
		return major == 0 && minor < 8, at
	}
	return false, Location{}
}

var talismanPin = regexp.MustCompile(`(?i)flask[-_]talisman["']?\s*(?:==|===|~=|=\s*["']==?)\s*["']?([0-9]+(?:\.[0-9]+)*)`)

// cfgItem is one setting a config object gives.
type cfgItem struct {
	key string
	v   *Value
	at  Location
	via string
}

// configObject returns the settings from_object(obj) loads: the upper-case
// attributes of a class (inherited ones included) or module. When obj
// depends on a condition or the environment, the production one is
// chosen, and assumed says which and why.
func (r *reviewer) configObject(from *module, obj *Value) (items []cfgItem, assumed string) {
	p := r.p
	obj, assumed = r.pickProduction(from, obj, 0)
	if obj == nil {
		return nil, assumed
	}
	switch obj.Kind {
	case vClass:
		c := obj.Class
		for _, name := range c.names() {
			if !isConfigKey(name) {
				continue
			}
			v, owner, _ := c.attr(name)
			via := c.name
			if owner != c {
				via = c.name + " (inherited from " + owner.name + ")"
			}
			at := loc(v)
			if d, ok := owner.body.defs[name]; ok {
				at = d
			}
			items = append(items, cfgItem{name, v, at, via})
		}
		if assumed == "" {
			assumed = "config class " + c.name
		}
	case vModule:
		sc := obj.Mod.scope(p)
		for _, name := range sc.order() {
			if isConfigKey(name) {
				v := sc.vars[name]
				at := loc(v)
				if d, ok := sc.defs[name]; ok {
					at = d
				}
				items = append(items, cfgItem{name, v, at, "module " + obj.Mod.path})
			}
		}
		if assumed == "" {
			assumed = "config module " + obj.Mod.path
		}
	}
	return items, assumed
}

func isConfigKey(name string) bool {
	return name != "" && strings.ToUpper(name) == name && name[0] != '_'
}

// pickProduction resolves a from_object argument to a class or module,
// choosing the production branch of a condition.
func (r *reviewer) pickProduction(from *module, v *Value, depth int) (*Value, string) {
	if v == nil || depth > 8 {
		return nil, "could not tell which configuration object"
	}
	switch v.Kind {
	case vClass, vModule:
		return v, ""
	case vStr:
		if t := r.importString(from, v.Str); t != nil {
			return t, ""
		}
		return nil, fmt.Sprintf("%q does not name a class or module of the project", v.Str)
	case vChoice:
		alts := v.alts()
		pick, why := -1, ""
		for i, a := range alts {
			if branchMode(a) == prodOnly || a.V != nil && a.V.Kind == vClass && prodConfigName.MatchString(a.V.Class.name) {
				pick, why = i, "the production entry"
				break
			}
		}
		if pick < 0 {
			for i, a := range alts {
				if strings.Contains(a.Cond, "the fallback when") {
					pick, why = i, "the default, as there is no production entry"
					break
				}
			}
		}
		if pick < 0 {
			for i, a := range alts {
				if a.V != nil && !(a.V.Kind == vClass && devConfigName.MatchString(a.V.Class.name)) {
					pick, why = i, "the first that is not a development or test config"
					break
				}
			}
		}
		if pick < 0 {
			return nil, "no branch gives a configuration object"
		}
		t, _ := r.pickProduction(from, alts[pick].V, depth+1)
		name := ""
		if t != nil && t.Kind == vClass {
			name = t.Class.name
		} else if t != nil && t.Kind == vModule {
			name = t.Mod.path
		}
		return t, fmt.Sprintf("%s (%s, %s), assumed to be production", name, strings.TrimSpace(alts[pick].Cond), why)
	case vEnv:
		if c := r.productionClass(); c != nil {
			return c, fmt.Sprintf("%s names the config; %s assumed for production (by its name)", v.source(), c.Class.name)
		}
		if v.Default != nil {
			t, _ := r.pickProduction(from, v.Default, depth+1)
			return t, fmt.Sprintf("%s names the config; its default %s assumed", v.source(), v.Default.describe())
		}
		return nil, v.source() + " names the config, with no default and no production-named class"
	}
	if c := r.productionClass(); c != nil {
		return c, fmt.Sprintf("%s could not be followed; %s assumed for production (by its name)", v.describe(), c.Class.name)
	}
	return nil, v.describe() + " could not be followed"
}

// productionClass finds a config class named for production among the
// modules read so far.
func (r *reviewer) productionClass() *Value {
	var paths []string
	for p, m := range r.p.mods {
		if m.file != nil && m.sc != nil {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		sc := r.p.mods[p].sc
		for _, name := range sc.order() {
			v := sc.vars[name]
			if v != nil && v.Kind == vClass && prodConfigName.MatchString(name) {
				return v
			}
		}
	}
	return nil
}

// importString resolves "pkg.mod.Class", "pkg.mod:Class" or "pkg.mod".
func (r *reviewer) importString(from *module, s string) *Value {
	p := r.p
	s = strings.ReplaceAll(s, ":", ".")
	if v := p.moduleValue(p.resolve(from.path, 0, s)); v != nil {
		return v
	}
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		if v, ok := from.scope(p).vars[s]; ok && v != nil && v.Kind == vClass {
			return v
		}
		return nil
	}
	mv := p.moduleValue(p.resolve(from.path, 0, s[:i]))
	if mv == nil {
		return nil
	}
	if v, ok := mv.Mod.scope(p).vars[s[i+1:]]; ok && v != nil {
		return v
	}
	return nil
}

// findConfigFile finds the file from_pyfile names: relative to the app's
// directory or its instance folder, else any file of that name.
func (r *reviewer) findConfigFile(from, name string) string {
	name = path.Clean(strings.ReplaceAll(name, "\\", "/"))
	dir := path.Dir(from)
	cands := []string{path.Join(dir, name), path.Join(dir, "instance", name), path.Join(path.Dir(dir), "instance", name), name}
	all := append(append([]string(nil), r.p.files...), r.p.others...)
	for _, c := range cands {
		for _, f := range all {
			if f == c {
				return f
			}
		}
	}
	base := path.Base(name)
	for _, f := range all {
		if path.Base(f) == base {
			return f
		}
	}
	return ""
}

// flaskFunction looks at one function: a hook that redirects to HTTPS,
// a WSGI layer that adds SameSite, a login path.
func (r *reviewer) flaskFunction(m *module, fn *node, s *scope, decos string, facts *flaskFacts) {
	f := m.file
	body := fn.child("body")
	if body == nil {
		return
	}
	name := f.text(fn.child("name"))
	var strs []*node
	var calls []*node
	body.walk(func(n *node) bool {
		switch n.kind {
		case "string":
			strs = append(strs, n)
		case "call":
			calls = append(calls, n)
		case "function_definition":
			return n == fn
		}
		return true
	})
	has := func(pred func(string) bool) *node {
		for _, s := range strs {
			if v, _, ok := f.pyString(s); ok && pred(v) {
				return s
			}
		}
		return nil
	}
	lower := func(sub string) func(string) bool {
		return func(v string) bool { return strings.Contains(strings.ToLower(v), sub) }
	}
	// An HTTP-to-HTTPS redirect: a before_request hook that redirects to
	// https://, or a WSGI app that answers 301/302/307/308 with an https://
	// Location.
	if strings.Contains(decos, "before_request") || strings.Contains(decos, "before_app_request") {
		for _, c := range calls {
			if lastPart(dotted(f, c.child("function"))) == "redirect" && has(lower("https")) != nil {
				facts.redirects = append(facts.redirects, outcome{audit.Pass, fmt.Sprintf("the before_request hook %s (%s:%d) redirects plain HTTP to https://", name, f.path, c.line), Location{File: f.path, Line: c.line}, nil})
				break
			}
		}
	}
	for _, c := range calls {
		if lastPart(dotted(f, c.child("function"))) != "start_response" {
			continue
		}
		pos, _ := callArgs(f, c)
		if len(pos) == 0 {
			continue
		}
		st, _, ok := f.pyString(pos[0])
		if pos[0].kind == "string" && ok && (strings.HasPrefix(st, "301") || strings.HasPrefix(st, "302") || strings.HasPrefix(st, "307") || strings.HasPrefix(st, "308")) {
			if h := has(func(v string) bool { return strings.HasPrefix(strings.ToLower(v), "https://") }); h != nil && has(lower("location")) != nil {
				facts.redirects = append(facts.redirects, outcome{audit.Pass, fmt.Sprintf("the WSGI app %s (%s:%d) answers every request with a %s redirect to https://", name, f.path, c.line, st[:3]), Location{File: f.path, Line: c.line}, nil})
			}
		}
	}
	// SameSite added to Set-Cookie outside the config (a WSGI middleware).
	if ss := has(func(v string) bool {
		l := strings.ToLower(strings.ReplaceAll(v, " ", ""))
		return strings.Contains(l, "samesite=lax") || strings.Contains(l, "samesite=strict")
	}); ss != nil && has(lower("set-cookie")) != nil {
		v, _, _ := f.pyString(ss)
		facts.samesite = append(facts.samesite, outcome{audit.Pass, fmt.Sprintf("%s (%s:%d) adds %q to every Set-Cookie header that has no SameSite", name, f.path, ss.line, strings.TrimSpace(strings.TrimPrefix(v, ";"))), Location{File: f.path, Line: ss.line}, nil})
	}
	// Login paths.
	if strings.Contains(strings.ToLower(name), "logout") {
		return
	}
	loginName := loginFunc.MatchString(name)
	var store *node
	var stores []Location
	var storeNodes []*node
	how := ""
	body.walk(func(n *node) bool {
		switch n.kind {
		case "function_definition":
			return n == fn
		case "call":
			d := dotted(f, n.child("function"))
			if d == "login_user" || d == "flask_login.login_user" {
				if store == nil {
					store, how = n, "login_user()"
				}
				stores = append(stores, Location{File: f.path, Line: n.line})
				storeNodes = append(storeNodes, n)
				r.rememberArg(m, n, s, facts)
			}
			if d == "session.update" {
				for _, a := range n.child("arguments").named() {
					if a.kind == "keyword_argument" && userKey.MatchString(f.text(a.child("name"))) && !pendingKey.MatchString(f.text(a.child("name"))) {
						if store == nil {
							store, how = n, "session.update("+f.text(a.child("name"))+"=...)"
						}
						stores = append(stores, Location{File: f.path, Line: n.line})
						storeNodes = append(storeNodes, n)
					}
				}
			}
		case "assignment":
			left := n.child("left")
			if left != nil && left.kind == "subscript" && dotted(f, left.child("value")) == "session" {
				k := left.child("subscript")
				key, lit := "", false
				if k != nil && k.kind == "string" {
					key, _, lit = f.pyString(k)
				}
				if lit && userKey.MatchString(key) && !pendingKey.MatchString(key) || loginName {
					if store == nil {
						store, how = n, "session["+f.text(k)+"]"
					}
					stores = append(stores, Location{File: f.path, Line: n.line})
					storeNodes = append(storeNodes, n)
				}
			}
		}
		return true
	})
	if store == nil {
		return
	}
	renewed, by, at := r.renewsBefore(m, body, store.start, s, 0)
	// Every store must come after a renewal on its own path: a clear in
	// one branch does not renew the session another branch logs in.
	for i, st := range storeNodes {
		if !renewed || i == 0 {
			continue
		}
		if ok, _, _ := r.renewsBefore(m, body, st.start, s, 0); !ok {
			renewed, store, by = false, st, ""
			how = shorten(f.text(st)) + " on a path without session.clear()"
		}
	}
	lp := loginPath{fn: name + "()", at: Location{File: f.path, Line: store.line}, renewed: renewed, how: how + by, stores: stores}
	if renewed {
		lp.renewAt = at
	}
	facts.logins = append(facts.logins, lp)
}

// rememberArg records a login_user call that may set the remember-me
// cookie: remember= anything but a literal False.
func (r *reviewer) rememberArg(m *module, call *node, s *scope, facts *flaskFacts) {
	pos, kw := callArgs(m.file, call)
	a := kw["remember"]
	if a == nil && len(pos) >= 2 {
		a = pos[1]
	}
	if a == nil {
		return
	}
	if l, _ := r.p.eval(s, a, 0).literal(); l != nil {
		if t, ok := l.truth(); ok && !t {
			return
		}
	}
	facts.remember = append(facts.remember, Location{File: m.file.path, Line: call.line})
}

// renewsBefore reports whether body calls session.clear(),
// session.regenerate() or a regenerate() of Flask-Session before byte
// offset end, directly or through a function of the project it calls,
// and where.
func (r *reviewer) renewsBefore(m *module, body *node, end uint32, s *scope, depth int) (bool, string, Location) {
	f := m.file
	found, how := false, ""
	var at Location
	body.walk(func(n *node) bool {
		if found || n.start >= end {
			return false
		}
		if n.kind != "call" {
			return true
		}
		d := dotted(f, n.child("function"))
		switch {
		case d == "session.clear" || d == "flask.session.clear":
			found, how = true, "; session.clear() first"
		case strings.HasSuffix(d, "regenerate") || strings.HasSuffix(d, "regenerate_session") || strings.HasSuffix(d, "cycle_key"):
			if depth > 0 || d == "session.regenerate" || strings.Contains(d, "session_interface") {
				found, how = true, "; "+d+"() first"
			}
		}
		if found && !dominates(body, n, end) {
			found, how = false, "" // in a branch the login may not take
		}
		if found {
			at = Location{File: f.path, Line: n.line}
		}
		if !found && depth < 2 && dominates(body, n, end) && n.child("function") != nil && n.child("function").kind == "identifier" {
			if v, ok := s.lookup(d); ok && v != nil && v.Kind == vFunc && v.Fn.file == f {
				if ok, _, _ := r.renewsBefore(m, v.Fn.node.child("body"), ^uint32(0), v.Fn.def, depth+1); ok {
					found, how = true, "; "+d+"() first, which clears the session"
					at = Location{File: f.path, Line: n.line}
				}
			}
		}
		return !found
	})
	return found, how, at
}

// dominates reports whether target, a node inside body, runs on every
// path through body that reaches byte offset at: no branch (an if, elif
// or else arm, a loop body, an except or case clause, a conditional
// expression, the right of and/or) holds target without also holding at.
// at beyond body (^uint32(0)) asks whether target runs whenever body ends
// normally.
func dominates(body, target *node, at uint32) bool {
	n, parent := body, (*node)(nil)
	for n != target {
		var next *node
		for _, k := range n.kids {
			if k.start <= target.start && target.end <= k.end && !(k.start == k.end) {
				next = k
				break
			}
		}
		if next == nil {
			return false
		}
		parent, n = n, next
		branch := false
		switch n.kind {
		case "elif_clause", "else_clause", "except_clause", "except_group_clause", "case_clause", "conditional_expression", "lambda":
			branch = true
		case "block":
			switch parent.kind {
			case "if_statement", "for_statement", "while_statement":
				branch = true
			}
		}
		if parent.kind == "boolean_operator" && n.field == "right" {
			branch = true
		}
		if branch && (at < n.start || at >= n.end) {
			return false
		}
	}
	return true
}

// dedupe drops repeated paths, keeping the first.
func dedupe(l []string) []string {
	seen := map[string]bool{}
	out := l[:0]
	for _, x := range l {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
