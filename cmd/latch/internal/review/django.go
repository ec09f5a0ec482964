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

// Django's defaults for the settings the review reads.
const djangoCookieAge = 1209600 // SESSION_COOKIE_AGE, two weeks

func (r *reviewer) django() {
	mod, assumed, configured := r.djangoSettings()
	r.djangoWith(mod, assumed, configured)
	if configured != nil || mod == "" {
		return
	}
	// A deployment that sets DJANGO_SETTINGS_MODULE wins over wsgi.py's
	// os.environ.setdefault: when it names another module, production may
	// run either, and each check takes the weaker of the two.
	for _, d := range r.deployedSettings() {
		rel := r.p.resolve("", 0, d.module)
		if rel == "" || rel == mod {
			continue
		}
		alt := &reviewer{p: r.p, ctx: r.ctx, found: map[string]*finding{}, hist: r.hist}
		alt.djangoWith(rel, "", nil)
		how := fmt.Sprintf("%s, named by DJANGO_SETTINGS_MODULE in %s:%d", rel, d.file, d.line)
		r.assumed += "; but " + how + " (a deployment's environment wins over os.environ.setdefault): each check is the weaker of the two"
		at := Location{File: d.file, Line: d.line}
		for id, af := range alt.found {
			mf := r.found[id]
			if mf == nil || rank(af.status) > rank(mf.status) && af.status != audit.Skip {
				out := &finding{status: af.status, rec: af.rec}
				out.evidence = append(out.evidence, "with "+how+": "+strings.Join(af.evidence, "; "))
				if mf != nil {
					out.evidence = append(out.evidence, "with "+mod+": "+strings.Join(mf.evidence, "; "))
				}
				out.add(at)
				for _, l := range af.locs {
					out.add(l)
				}
				r.found[id] = out
			}
		}
		break
	}
}

// deployed is a settings module a deployment file names.
type deployed struct {
	module, file string
	line         int
}

var deploySettingsRe = regexp.MustCompile(`DJANGO_SETTINGS_MODULE["']?\s*[=:]\s*["']?([A-Za-z_][\w.]*)|--settings[= ]["']?([A-Za-z_][\w.]*)`)

// deployedSettings lists the settings modules the project's deployment
// files (Dockerfile, Procfile, compose files, .env, uWSGI .ini) name.
func (r *reviewer) deployedSettings() []deployed {
	var out []deployed
	files := append(append([]string(nil), r.p.deploys...), r.p.inis...)
	sort.Strings(files)
	for _, rel := range files {
		for i, line := range strings.Split(string(r.p.source(rel)), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range deploySettingsRe.FindAllStringSubmatch(line, -1) {
				out = append(out, deployed{module: m[1] + m[2], file: rel, line: i + 1})
			}
		}
	}
	return out
}

// djangoWith reviews the settings module mod (or the settings given to
// settings.configure()).
func (r *reviewer) djangoWith(mod, assumed string, configured *Value) {
	p := r.p
	c := newConfig()
	switch {
	case configured != nil:
		r.assumed = assumed
		for _, k := range configured.Keys {
			v := configured.Items[k]
			c.vals[k] = &setting{v: v, at: loc(v), via: "settings.configure()"}
		}
	case mod == "":
		r.assumed = "no settings module found"
		c.unreadable = "no Django settings module found (no DJANGO_SETTINGS_MODULE in manage.py, wsgi.py or asgi.py, and no settings.py)"
	default:
		r.assumed = assumed
		m := p.module(mod)
		if m == nil {
			why := p.errs[mod]
			if why == "" {
				why = "unreadable"
			}
			c.unreadable = fmt.Sprintf("the production settings module %s could not be read (%s), so its values cannot be told", mod, why)
			break
		}
		sc := m.scope(p)
		for _, k := range sc.order() {
			if isConfigKey(k) {
				v := sc.vars[k]
				at := loc(v)
				if d, ok := sc.defs[k]; ok && d.File == at.File {
					at = d
				}
				c.vals[k] = &setting{v: v, at: at, via: ""}
			}
		}
		for k, cond := range sc.unset {
			if _, ok := c.vals[k]; !ok && isConfigKey(k) {
				c.vals[k] = &setting{at: loc(cond), via: "set only on a branch production does not take: its condition is " + cond.describe()}
			}
		}
	}
	r.checkSecret(c, "SECRET_KEY", "Django")
	if why := noSessions(c); why != "" {
		for _, id := range []string{CheckCookieSecure, CheckCookieHTTPOnly, CheckCookieSameSite, CheckSessionLifetime, CheckSessionRegeneration} {
			r.set(id, audit.Skip, "", why)
		}
		r.djangoTransport(c)
		return
	}
	r.checkBool(c, CheckCookieSecure, "SESSION_COOKIE_SECURE", false, "Set SESSION_COOKIE_SECURE = True in the production settings, so the cookie never travels over plain HTTP.")
	r.checkBool(c, CheckCookieHTTPOnly, "SESSION_COOKIE_HTTPONLY", true, "Keep SESSION_COOKIE_HTTPONLY = True (Django's default), so page scripts cannot read the session cookie.")
	r.checkSameSite(c, "SESSION_COOKIE_SAMESITE", "Lax")
	logins := r.djangoLogins()
	r.djangoLifetime(c, logins)
	r.djangoRegeneration(logins)
	r.djangoTransport(c)
}

// noSessions says why Django's sessions are not used, or "": neither
// django.contrib.sessions in INSTALLED_APPS nor SessionMiddleware in
// MIDDLEWARE, both lists the review can read.
func noSessions(c *config) string {
	if c.unreadable != "" {
		return ""
	}
	has := func(key, want string) (found, known bool) {
		s := c.get(key)
		if s == nil {
			return false, key == "MIDDLEWARE"
		}
		alts := production(s.v)
		if len(alts) != 1 || alts[0].V == nil || alts[0].V.Kind != vList {
			return false, false
		}
		for _, e := range alts[0].V.Elems {
			if e == nil || e.Kind != vStr {
				if e == nil || e.Kind != vStr {
					continue
				}
			}
			if e.Str == want || strings.HasPrefix(e.Str, want+".") {
				return true, true
			}
		}
		return false, true
	}
	app, k1 := has("INSTALLED_APPS", "django.contrib.sessions")
	mw, k2 := has("MIDDLEWARE", "django.contrib.sessions.middleware.SessionMiddleware")
	if k1 && k2 && !app && !mw {
		return "Django sessions are not used: no django.contrib.sessions in INSTALLED_APPS and no SessionMiddleware in MIDDLEWARE"
	}
	return ""
}

// djangoSettings finds the production settings: the module
// DJANGO_SETTINGS_MODULE names in wsgi.py, then asgi.py, then manage.py;
// a production.py or prod.py beside it wins; else a settings.py. A
// settings.configure(...) call gives the settings itself.
func (r *reviewer) djangoSettings() (rel, assumed string, configured *Value) {
	p := r.p
	type cand struct {
		rel, file string
		line      int
	}
	var named []cand
	for _, f := range r.mentioning("DJANGO_SETTINGS_MODULE", "settings.configure(") {
		m := p.module(f)
		if m == nil {
			continue
		}
		sc := m.scope(p)
		m.file.root.walk(func(n *node) bool {
			if n.kind != "call" {
				return true
			}
			d := dotted(m.file, n.child("function"))
			pos, _ := callArgs(m.file, n)
			switch {
			case strings.HasSuffix(d, "environ.setdefault") && len(pos) == 2:
				if k := p.eval(sc, pos[0], 0); k.Kind == vStr && k.Str == "DJANGO_SETTINGS_MODULE" {
					if v, _ := p.eval(sc, pos[1], 0).literal(); v != nil && v.Kind == vStr {
						named = append(named, cand{v.Str, f, n.line})
					}
				}
			case strings.HasSuffix(d, "settings.configure") && configured == nil:
				d := &Value{Kind: vDict, Items: map[string]*Value{}}
				for _, a := range n.child("arguments").named() {
					if a.kind == "keyword_argument" {
						d.set(m.file.text(a.child("name")), p.eval(sc, a.child("value"), 0))
					}
				}
				configured = d
				assumed = fmt.Sprintf("the settings given to settings.configure() at %s:%d", f, n.line)
			}
			return true
		})
	}
	if configured != nil {
		return "", assumed, configured
	}
	prio := func(f string) int {
		switch path.Base(f) {
		case "wsgi.py":
			return 0
		case "asgi.py":
			return 1
		case "manage.py":
			return 2
		}
		return 3
	}
	sort.SliceStable(named, func(i, j int) bool { return prio(named[i].file) < prio(named[j].file) })
	for _, c := range named {
		rel := p.resolve(c.file, 0, c.rel)
		if rel == "" {
			continue
		}
		how := fmt.Sprintf("%s, named by DJANGO_SETTINGS_MODULE in %s:%d", rel, c.file, c.line)
		if prod := r.productionSibling(rel); prod != "" && prod != rel {
			return prod, fmt.Sprintf("%s, the production module beside %s", prod, how), nil
		}
		return rel, how, nil
	}
	// No DJANGO_SETTINGS_MODULE: a settings.py, or a settings package.
	var best string
	for _, f := range p.files {
		if path.Base(f) == "settings.py" || strings.HasSuffix(f, "/settings/__init__.py") || strings.HasPrefix(f, "settings/") && path.Base(f) == "__init__.py" {
			if best == "" || len(f) < len(best) {
				best = f
			}
		}
	}
	if best != "" {
		if prod := r.productionSibling(best); prod != "" {
			return prod, prod + ", the production module of the settings package (no DJANGO_SETTINGS_MODULE found)", nil
		}
		return best, best + " (no DJANGO_SETTINGS_MODULE found; the shortest settings path)", nil
	}
	return "", "", nil
}

// productionSibling returns production.py or prod.py in the settings
// package of rel, or "".
func (r *reviewer) productionSibling(rel string) string {
	dir := path.Dir(rel)
	if path.Base(rel) == "settings.py" {
		dir = path.Join(dir, "settings")
	}
	for _, name := range []string{"production.py", "prod.py", "production/__init__.py", "prod/__init__.py"} {
		c := path.Join(dir, name)
		if dir == "." {
			c = name
		}
		if r.p.has(c) {
			return c
		}
	}
	return ""
}

// djangoLoginHint finds, before parsing, a file that may log a user in:
// a user-like key stored in a session, set_expiry, login(), cycle_key().
var djangoLoginHint = regexp.MustCompile(`session\[\s*[rbuf]*["'][^"'\n]*(?i:user|uid|account|logged|login|auth|member|email|id)|set_expiry|\blogin\(|cycle_key`)

// djangoLogin is a view that logs a user in by hand.
type djangoLogin struct {
	fn      string
	at      Location
	renewed bool
	how     string
	loginAt Location // where it calls login() or cycle_key()
	expiry  *Value   // set_expiry(...) argument, when called
	expAt   Location
}

// djangoLogins finds the views that store the user in the session: those
// that call login() (which cycles the key) and those that do it by hand.
func (r *reviewer) djangoLogins() []djangoLogin {
	p := r.p
	var out []djangoLogin
	for _, m := range r.modules(notTests(r.matching(djangoLoginHint))) {
		f := m.file
		seen := map[*node]bool{}
		p.walkScoped(f, m.scope(p), func(fn *node, s *scope, _ walkCtx) {
			if fn.kind != "function_definition" || seen[fn] {
				return
			}
			seen[fn] = true
			name := f.text(fn.child("name"))
			body := fn.child("body")
			var store, login, expiry *node
			var stores []*node
			how := ""
			body.walk(func(n *node) bool {
				switch n.kind {
				case "function_definition", "class_definition":
					return false
				case "call":
					d := dotted(f, n.child("function"))
					switch {
					case lastPart(d) == "set_expiry" && strings.Contains(d, "session"):
						expiry = n
					case (d == "login" || d == "auth_login" || d == "auth.login" || d == "django_login" || strings.HasSuffix(d, "contrib.auth.login") || strings.HasSuffix(d, "session.cycle_key")) && login == nil:
						login = n
					}
				case "assignment":
					left := n.child("left")
					if left != nil && left.kind == "subscript" && strings.HasSuffix(dotted(f, left.child("value")), ".session") {
						if k := left.child("subscript"); k != nil && k.kind == "string" {
							if key, _, ok := f.pyString(k); ok && userKey.MatchString(key) && !pendingKey.MatchString(key) {
								if store == nil {
									store, how = n, "request.session["+strconv.Quote(key)+"]"
								}
								stores = append(stores, n)
							}
						}
					}
				}
				return true
			})
			if strings.Contains(strings.ToLower(name), "logout") {
				store = nil
			}
			if store == nil && expiry == nil && login == nil {
				return
			}
			l := djangoLogin{fn: name + "()"}
			if login != nil {
				l.loginAt = Location{File: f.path, Line: login.line}
			}
			if store != nil {
				l.at = Location{File: f.path, Line: store.line}
				l.how = how
				// login() must run on the store's path: in another branch
				// it does not renew the session this store logs in.
				l.renewed = login != nil
				for _, st := range stores {
					if l.renewed && !(login.start < st.start && dominates(body, login, st.start)) {
						l.renewed = false
						l.at = Location{File: f.path, Line: st.line}
					}
				}
			}
			if expiry != nil {
				pos, _ := callArgs(f, expiry)
				if len(pos) == 1 {
					l.expiry = p.eval(s, pos[0], 0)
					l.expAt = Location{File: f.path, Line: expiry.line}
				}
			}
			out = append(out, l)
		})
	}
	return out
}

func (r *reviewer) djangoRegeneration(logins []djangoLogin) {
	rec := "Log users in with django.contrib.auth.login() (or call request.session.cycle_key() before storing the user), so the session key changes at login."
	f := &finding{status: audit.Pass, rec: rec}
	for _, l := range logins {
		if l.how == "" {
			if l.loginAt.File != "" {
				f.add(l.loginAt)
			}
			continue
		}
		if l.renewed {
			f.evidence = append(f.evidence, fmt.Sprintf("%s (%s:%d) calls login() or cycle_key() before storing the user", l.fn, l.at.File, l.at.Line))
		} else {
			f.status = audit.Fail
			f.evidence = append(f.evidence, fmt.Sprintf("%s (%s:%d) stores the user in %s without login() or cycle_key(): the session key survives login (fixation)", l.fn, l.at.File, l.at.Line, l.how))
		}
		f.add(l.at)
	}
	if len(f.evidence) == 0 {
		f.evidence = []string{"no view stores the user in the session by hand: Django's login() (LoginView, the admin) cycles the session key"}
		if len(f.locs) > 0 {
			f.evidence[0] += fmt.Sprintf("; views call login() at %s:%d", f.locs[0].File, f.locs[0].Line)
		}
	}
	r.found[CheckSessionRegeneration] = f
}

func (r *reviewer) djangoLifetime(c *config, logins []djangoLogin) {
	rec := "Set SESSION_COOKIE_AGE to the longest time a login may last (12 hours = 43200 or less)."
	if c.unreadable != "" {
		r.set(CheckSessionLifetime, audit.Warn, rec, c.unreadable)
		return
	}
	outs, maxSecs, maxWhere := lifetimeOutcomes(c, lifetimeSetting{
		key:      "SESSION_COOKIE_AGE",
		def:      djangoCookieAge,
		defWhere: "Django's default SESSION_COOKIE_AGE (two weeks)",
		unset:    "SESSION_COOKIE_AGE is not set: Django's default of two weeks applies",
	})
	st, ev, locs := combine(outs)
	for _, l := range logins {
		if l.expiry == nil {
			continue
		}
		if lit, _ := l.expiry.literal(); lit != nil && lit.Kind == vNum && lit.Num > 0 {
			st = lifetimeStatus(lit.Num)
			maxSecs, maxWhere = lit.Num, fmt.Sprintf("set_expiry at %s:%d", l.expAt.File, l.expAt.Line)
			ev = fmt.Sprintf("%s calls set_expiry(%s) at %s:%d, which sets the session's lifetime; the default is: %s", l.fn, fmtSeconds(lit.Num), l.expAt.File, l.expAt.Line, ev)
			locs = append([]Location{l.expAt}, locs...)
			break
		}
	}
	if s := c.get("SESSION_EXPIRE_AT_BROWSER_CLOSE"); s != nil {
		if lit, _ := s.v.literal(); lit != nil {
			if t, _ := lit.truth(); t {
				ev += fmt.Sprintf("; SESSION_EXPIRE_AT_BROWSER_CLOSE%s only drops the cookie's expiry in the browser: the session itself stays valid on the server for SESSION_COOKIE_AGE", where(s.at, ""))
				locs = append(locs, s.at)
			}
		}
	}
	r.set(CheckSessionLifetime, st, rec, ev, locs...)
	r.recordLifetime(maxSecs, maxWhere)
}

// djangoTransport sets https-redirect and hsts from SECURE_SSL_REDIRECT
// and SECURE_HSTS_SECONDS, which SecurityMiddleware applies.
func (r *reviewer) djangoTransport(c *config) {
	if c.unreadable != "" {
		r.set(CheckHTTPSRedirect, audit.Warn, recRedirect, c.unreadable)
		r.set(CheckHSTS, audit.Warn, recHSTS, c.unreadable)
		return
	}
	noMW := ""
	if s := c.get("MIDDLEWARE"); s != nil && s.v != nil && s.v.Kind == vList {
		found := false
		for _, e := range s.v.Elems {
			if e.Kind == vStr && e.Str == "django.middleware.security.SecurityMiddleware" {
				found = true
			}
		}
		if !found {
			noMW = fmt.Sprintf("; but MIDDLEWARE%s has no django.middleware.security.SecurityMiddleware, which applies it", where(s.at, ""))
		}
	}
	redirect := r.checkBoolValue(c, "SECURE_SSL_REDIRECT", false)
	st, ev, locs := combine(redirect)
	if s := c.get("SECURE_SSL_REDIRECT"); s != nil {
		locs = append(locs, s.at)
	}
	if noMW != "" && st == audit.Pass {
		st = audit.Fail
	}
	if st == audit.Fail && noMW == "" {
		ev += " (a proxy in front may redirect; the review cannot see it)"
	}
	r.set(CheckHTTPSRedirect, st, recRedirect, ev+noMW, locs...)

	sub := false
	if s := c.get("SECURE_HSTS_INCLUDE_SUBDOMAINS"); s != nil {
		alts := production(s.v)
		if len(alts) == 1 {
			if lit, _ := alts[0].V.literal(); lit != nil {
				sub, _ = lit.truth()
			}
		}
	}
	s := c.get("SECURE_HSTS_SECONDS")
	if s == nil {
		r.set(CheckHSTS, audit.Fail, recHSTS, "SECURE_HSTS_SECONDS is not set in production: Django's default 0 sends no Strict-Transport-Security")
		return
	}
	var outs []outcome
	for _, a := range production(s.v) {
		v := a.V
		if v == nil {
			outs = append(outs, outcome{audit.Fail, branch(a) + "SECURE_HSTS_SECONDS is not set: Django's default 0 sends no HSTS", Location{}, nil})
			continue
		}
		at := loc(v)
		lit, fromEnv := v.literal()
		secs, ok := seconds(lit)
		switch {
		case !ok && v.Kind == vEnv:
			outs = append(outs, outcome{audit.Warn, fmt.Sprintf("%sSECURE_HSTS_SECONDS is decided by %s, with no default%s", branch(a), v.source(), where(at, s.via)), at, nil})
		case !ok:
			outs = append(outs, outcome{audit.Warn, fmt.Sprintf("%sSECURE_HSTS_SECONDS is %s%s", branch(a), v.describe(), where(at, s.via)), at, nil})
		default:
			hs, hev := hstsStatus(secs, sub)
			if secs <= 0 {
				hs, hev = audit.Fail, "0: no HSTS header"
			}
			d := ""
			if fromEnv {
				d = " (the default of " + v.source() + ")"
			}
			outs = append(outs, outcome{hs, fmt.Sprintf("%sSECURE_HSTS_SECONDS%s: %s%s", branch(a), d, hev, where(at, s.via)), at, nil})
		}
	}
	hst, hev, hlocs := combine(outs)
	hlocs = append(hlocs, s.at)
	if noMW != "" && hst != audit.Fail {
		hst = audit.Fail
	}
	r.set(CheckHSTS, hst, recHSTS, hev+noMW, hlocs...)
}

// checkBoolValue gives the per-branch outcomes of a boolean setting.
func (r *reviewer) checkBoolValue(c *config, key string, def bool) []outcome {
	s := c.get(key)
	if s == nil {
		st := audit.Fail
		if def {
			st = audit.Pass
		}
		return []outcome{{st, fmt.Sprintf("%s is not set in production: the default %s applies", key, pyBool(def)), Location{}, nil}}
	}
	var outs []outcome
	for _, a := range production(s.v) {
		outs = append(outs, boolOutcome(a, key, def, s))
	}
	return outs
}
