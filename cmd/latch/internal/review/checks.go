package review

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cmd/latch/internal/audit"
)

// setting is the production value of one configuration key.
type setting struct {
	v   *Value   // nil: never set, the framework default applies
	at  Location // where it was set
	via string   // where it came from, in words ("ProductionConfig", "app.config.update")
}

// config is the production configuration the review settled on.
type config struct {
	vals map[string]*setting
	// unreadable, when set, says why the production settings could not be
	// read: the checks that depend on them warn.
	unreadable string
}

func newConfig() *config { return &config{vals: map[string]*setting{}} }

func (c *config) get(k string) *setting {
	if s, ok := c.vals[k]; ok {
		return s
	}
	return nil
}

// placeOf places v, a production value of the setting: where the value
// is written, or where the setting is when the value has no place.
func (s *setting) placeOf(v *Value) Location {
	if at := loc(v); at.File != "" {
		return at
	}
	return s.at
}

// set records a value for k. An assignment on a branch production may or
// may not take (ctx unknown) keeps the earlier value as the other branch.
func (c *config) set(k string, v *Value, at Location, via string, ctx walkCtx) {
	if ctx.dead {
		return // a branch the code itself rules out
	}
	if t, known := c.decide(ctx); known {
		if !t {
			return
		}
		ctx = walkCtx{}
	}
	if len(ctx.Pos)+len(ctx.Neg) > 0 {
		switch branchMode(ctx.alt()) {
		case devOnly:
			return
		case unknown:
			var prev *Value
			if old := c.get(k); old != nil {
				prev = old.v
			}
			v = &Value{Kind: vChoice, File: at.File, Line: at.Line, Alts: []Alt{
				{Cond: ctx.cond(), V: v, Pos: ctx.Pos, Neg: ctx.Neg},
				{Cond: "otherwise", V: prev}}}
		}
	}
	c.vals[k] = &setting{v: v, at: at, via: via}
}

// configCond matches a condition on the app's own config:
// app.config["KEY"], app.config.get("KEY"), optionally negated.
var configCond = regexp.MustCompile(`^\s*(not\s+)?\(?\s*[\w.]*config(?:\[\s*["'](\w+)["']\s*\]|\.get\(\s*["'](\w+)["']\s*(?:,[^)]*)?\))\s*\)?\s*$`)

// decide judges the conditions around an operation that test the app's
// own config (if app.config["SSL_REDIRECT"]:) with the production config
// of the moment. known is false when a condition is of another kind or
// its value cannot be told.
func (c *config) decide(ctx walkCtx) (holds, known bool) {
	holds, known, _ = c.decideAt(ctx)
	return holds, known
}

// decideAt is decide, with the places of the config values it used.
func (c *config) decideAt(ctx walkCtx) (holds, known bool, used []Location) {
	if len(ctx.Pos)+len(ctx.Neg) == 0 {
		return true, false, nil
	}
	judgeOne := func(cond string) (bool, bool) {
		if m := configCond.FindStringSubmatch(cond); m != nil {
			key := m[2] + m[3]
			s := c.get(key)
			if s == nil {
				return m[1] != "", true // unset: None, false
			}
			alts := production(s.v)
			if len(alts) != 1 || alts[0].V == nil {
				return false, false
			}
			lit, _ := alts[0].V.literal()
			t, ok := lit.truth()
			if !ok {
				return false, false
			}
			used = append(used, s.at)
			if l := loc(alts[0].V); l.File != "" && l != s.at {
				used = append(used, l)
			}
			return t != (m[1] != ""), true
		}
		switch condMode(cond) {
		case prodOnly:
			return true, true
		case devOnly:
			return false, true
		}
		return false, false
	}
	// A conjunction holds when every part does; it fails when one part
	// that can be told fails.
	judge := func(cond string) (bool, bool) {
		if strings.Contains(cond, " or ") {
			return judgeOne(cond)
		}
		parts := strings.Split(cond, " and ")
		all := true
		for _, part := range parts {
			t, ok := judgeOne(part)
			if ok && !t {
				return false, true
			}
			all = all && ok && t
		}
		return all, all
	}
	holds = true
	for _, cond := range ctx.Pos {
		t, ok := judge(cond)
		if ok && !t {
			return false, true, used
		}
		if !ok {
			known = false
			return false, false, used
		}
	}
	for _, cond := range ctx.Neg {
		t, ok := judge(cond)
		if ok && t {
			return false, true, used
		}
		if !ok {
			return false, false, used
		}
	}
	return holds, true, used
}

// holds reports whether an operation on a branch applies in production:
// false on a development-only branch or a branch the config rules out.
func (c *config) holds(ctx walkCtx) bool {
	if ctx.dead {
		return false
	}
	if t, known := c.decide(ctx); known {
		return t
	}
	return branchMode(ctx.alt()) != devOnly
}

// outcome is the verdict for one production alternative of a setting.
type outcome struct {
	st   audit.Status
	what string
	at   Location
	more []Location
}

// combine folds per-branch outcomes into one verdict: the common status
// when they agree, warn (it depends) when they do not.
func combine(outs []outcome) (audit.Status, string, []Location) {
	var parts []string
	var locs []Location
	st := outs[0].st
	for _, o := range outs {
		if o.st != st {
			st = audit.Warn
		}
		parts = append(parts, o.what)
		if o.at.File != "" {
			locs = append(locs, o.at)
		}
		locs = append(locs, o.more...)
	}
	if len(outs) > 1 && st == audit.Warn {
		parts = append([]string{"the value depends on a condition"}, parts...)
	}
	return st, strings.Join(parts, "; "), locs
}

// where describes the setting's origin for evidence: " (config.py:12, ProductionConfig)".
func where(at Location, via string) string {
	var p []string
	if at.File != "" {
		p = append(p, fmt.Sprintf("%s:%d", at.File, at.Line))
	}
	if via != "" {
		p = append(p, via)
	}
	if len(p) == 0 {
		return ""
	}
	return " (" + strings.Join(p, ", ") + ")"
}

// branch prefixes a branch's condition: "if not DEBUG: ".
func branch(a Alt) string {
	if a.Cond == "" {
		return ""
	}
	return a.Cond + ": "
}

// checkSecret sets secret-key-source and secret-key-weak from the
// production SECRET_KEY.
func (r *reviewer) checkSecret(c *config, key string, framework string) {
	recSource := "Read the key from the environment or a secret store with no fallback (os.environ[\"" + key + "\"]), so a missing variable stops the app instead of running with a known key; generate it with `latch keygen`, and rotate any key that was ever committed."
	recWeak := "Replace the key with 32 or more random bytes (`latch keygen`), and rotate: every cookie signed with the old key can be forged by anyone who knows it."
	if c.unreadable != "" {
		r.set(CheckSecretKeySource, audit.Warn, recSource, c.unreadable)
		r.set(CheckSecretKeyWeak, audit.Warn, recWeak, c.unreadable)
		return
	}
	s := c.get(key)
	if s == nil {
		r.set(CheckSecretKeySource, audit.Warn, recSource, "no "+key+" assignment found in the "+framework+" configuration the review followed; it may be set somewhere the review cannot see")
		r.set(CheckSecretKeyWeak, audit.Skip, "", "no literal key found")
		return
	}
	src := &finding{status: audit.Pass, rec: recSource}
	weak := &finding{status: audit.Skip, rec: recWeak}
	src.add(s.at)
	var literals []string
	for _, a := range production(s.v) {
		v := a.V
		at := s.placeOf(v)
		switch {
		case v == nil:
			src.evidence = append(src.evidence, branch(a)+key+" is not set on this branch")
			continue
		case v.Kind == vStr:
			src.status = audit.Fail
			src.evidence = append(src.evidence, fmt.Sprintf("%s%s is hard-coded: %s%s", branch(a), key, v.describe(), where(at, s.via)))
			src.add(at)
			literals = append(literals, v.Str)
			r.judgeKey(weak, v, at, branch(a)+"the hard-coded key")
		case v.Kind == vEnv:
			lit, _ := v.literal()
			if lit != nil && lit.Kind == vStr && lit.Str != "" {
				src.status = audit.Fail
				src.evidence = append(src.evidence, fmt.Sprintf("%s%s comes from %s, but falls back to %s when it is unset%s", branch(a), key, v.source(), lit.describe(), where(loc(lit), s.via)))
				src.add(loc(lit))
				src.add(at)
				r.judgeKey(weak, lit, loc(lit), branch(a)+"the fallback")
				continue
			}
			src.evidence = append(src.evidence, fmt.Sprintf("%s%s comes from %s with no literal fallback%s", branch(a), key, v.source(), where(at, s.via)))
			src.add(at)
			if lit, dat := r.dotenvValue(v.Env); lit != nil {
				// An environment file shipped with the code gives the
				// variable a value: python-dotenv, Flask's CLI or a
				// compose env_file load it, and it is committed.
				src.status = audit.Fail
				src.evidence = append(src.evidence, fmt.Sprintf("but %s:%d, shipped with the code, sets %s: a committed key (python-dotenv, Flask's CLI and docker compose's env_file load it)", dat.File, dat.Line, v.Env))
				src.add(dat)
				r.judgeKey(weak, lit, dat, "the key in "+dat.File)
				continue
			}
			if hint := r.envHint(v.Env); hint != "" {
				src.evidence = append(src.evidence, hint)
			}
		case v.Kind == vRandom:
			src.evidence = append(src.evidence, fmt.Sprintf("%s%s is made at random at start-up by %s%s: not in the code, but every restart logs every user out, and each worker process signs with its own key, so sessions fail across workers", branch(a), key, v.Via, where(at, s.via)))
			src.add(at)
		case v.Kind == vUnknown && v.Read != "":
			src.evidence = append(src.evidence, fmt.Sprintf("%s%s is read at start-up (%s)%s: not a literal in the code", branch(a), key, v.Read, where(at, s.via)))
			src.add(at)
		case v.Kind == vUnknown:
			if src.status == audit.Pass {
				src.status = audit.Warn
			}
			src.evidence = append(src.evidence, fmt.Sprintf("%s%s is computed in a way the review does not follow: %s%s; whether it is a literal is not known", branch(a), key, v.describe(), where(at, s.via)))
			src.add(at)
		default:
			src.evidence = append(src.evidence, fmt.Sprintf("%s%s is not a literal: %s%s", branch(a), key, v.describe(), where(at, s.via)))
			src.add(at)
		}
	}
	_ = literals
	r.committedKeys(src)
	if weak.status == audit.Skip {
		weak.evidence = []string{"production has no literal key or fallback to judge"}
	}
	r.found[CheckSecretKeySource] = src
	r.found[CheckSecretKeyWeak] = weak
}

// committedKeys fails secret-key-source for every key the git history
// holds that HEAD no longer does (removed, but compromised all the same),
// leaving out keys only ever in example environment files or tests.
func (r *reviewer) committedKeys(src *finding) {
	if r.hist == nil {
		return
	}
	n := 0
	for _, k := range r.hist.Keys {
		if k.Example || k.Test || k.InHEAD {
			continue
		}
		src.status = audit.Fail
		if n < 5 {
			src.evidence = append(src.evidence, "a key was "+k.Evidence()+": rotate it, anyone with a clone can sign sessions with it")
		}
		n++
	}
	if n > 5 {
		src.evidence = append(src.evidence, fmt.Sprintf("%d more keys in the history", n-5))
	}
	if r.hist.Truncated != "" {
		src.evidence = append(src.evidence, "the history scan stopped early: "+r.hist.Truncated)
	}
}

// judgeKey applies latch's key rules to a literal key. The key itself is
// never written into the evidence.
func (r *reviewer) judgeKey(f *finding, v *Value, at Location, what string) {
	err := latch.CheckKey([]byte(v.Str))
	f.add(at)
	var wk *latch.WeakKeyError
	switch {
	case err == nil:
		if f.status == audit.Skip {
			f.status = audit.Pass
		}
		f.evidence = append(f.evidence, fmt.Sprintf("%s (%s) passes latch's key rules%s; it is still in the code (see secret-key-source)", what, v.describe(), where(at, "")))
	case errors.As(err, &wk):
		f.status = audit.Fail
		f.evidence = append(f.evidence, fmt.Sprintf("%s (%s) is refused by latch's key rules (%s): %s%s", what, v.describe(), wk.Rule, wk.Detail, where(at, "")))
	default:
		f.status = audit.Fail
		f.evidence = append(f.evidence, fmt.Sprintf("%s is refused: %v", what, err))
	}
}

// dotenvValue returns the value an environment file the project ships
// (not an example) gives the variable, and where, or nil.
func (r *reviewer) dotenvValue(name string) (*Value, Location) {
	if name == "" {
		return nil, Location{}
	}
	for _, rel := range r.p.dotenvs {
		for i, line := range strings.Split(string(r.p.source(rel)), "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export "))
			k, v, ok := strings.Cut(line, "=")
			if !ok || strings.TrimSpace(k) != name {
				continue
			}
			v = strings.TrimSpace(v)
			if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
				v = v[1 : len(v)-1]
			}
			if v == "" || strings.HasPrefix(v, "$") {
				continue // unset, or a reference to another variable
			}
			at := Location{File: rel, Line: i + 1}
			return &Value{Kind: vStr, Str: v, File: rel, Line: i + 1}, at
		}
	}
	return nil, Location{}
}

// envHint mentions an example environment file that gives the variable a
// value: a hint for developers, never taken as the production value.
func (r *reviewer) envHint(name string) string {
	for _, rel := range r.p.envFiles {
		src := r.p.source(rel)
		for i, line := range strings.Split(string(src), "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export "))
			if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == name && strings.Trim(strings.TrimSpace(v), `"'`) != "" {
				return fmt.Sprintf("%s:%d gives %s an example value: a hint for developers, not taken as the production value (make sure no deployment copies it)", rel, i+1, name)
			}
		}
	}
	return ""
}

// checkBool sets a cookie attribute check from a boolean setting.
func (r *reviewer) checkBool(c *config, id, key string, def bool, rec string) {
	if c.unreadable != "" {
		r.set(id, audit.Warn, rec, c.unreadable)
		return
	}
	s := c.get(key)
	if s == nil {
		st := audit.Fail
		if def {
			st = audit.Pass
		}
		r.set(id, st, rec, fmt.Sprintf("%s is not set in production: the framework default %s applies", key, pyBool(def)))
		return
	}
	var outs []outcome
	for _, a := range production(s.v) {
		outs = append(outs, boolOutcome(a, key, def, s))
	}
	st, ev, locs := combine(outs)
	r.set(id, st, rec, ev, append(locs, s.at)...)
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func boolOutcome(a Alt, key string, def bool, s *setting) outcome {
	v := a.V
	at := s.placeOf(v)
	if v == nil {
		st := audit.Fail
		if def {
			st = audit.Pass
		}
		return outcome{st, fmt.Sprintf("%s%s is not set: the framework default %s applies%s", branch(a), key, pyBool(def), where(s.at, s.via)), s.at, nil}
	}
	lit, fromEnv := v.literal()
	if v.Kind == vEnv && lit == nil {
		return outcome{audit.Warn, fmt.Sprintf("%s%s is decided by %s, with no default%s", branch(a), key, v.source(), where(at, s.via)), at, nil}
	}
	if lit == nil {
		return outcome{audit.Warn, fmt.Sprintf("%s%s is %s%s", branch(a), key, v.describe(), where(at, s.via)), at, nil}
	}
	t, ok := lit.truth()
	if !ok {
		return outcome{audit.Warn, fmt.Sprintf("%s%s is %s%s", branch(a), key, v.describe(), where(at, s.via)), at, nil}
	}
	st := audit.Fail
	if t {
		st = audit.Pass
	}
	d := pyBool(t)
	if fromEnv {
		d = fmt.Sprintf("%s unless %s says otherwise (its default)", d, v.source())
	}
	return outcome{st, fmt.Sprintf("%s%s = %s%s", branch(a), key, d, where(at, s.via)), at, nil}
}

// checkSameSite sets cookie-samesite from the setting; def is the
// framework's default ("" for none).
func (r *reviewer) checkSameSite(c *config, key, def string) {
	rec := "Set " + key + " = \"Lax\" (or \"Strict\"), so cross-site requests do not carry the session cookie."
	if c.unreadable != "" {
		r.set(CheckCookieSameSite, audit.Warn, rec, c.unreadable)
		return
	}
	judge := func(val string, present bool) audit.Status {
		switch strings.ToLower(val) {
		case "lax", "strict":
			if present {
				return audit.Pass
			}
		}
		return audit.Fail
	}
	s := c.get(key)
	if s == nil {
		if def == "" {
			r.set(CheckCookieSameSite, audit.Fail, rec, key+" is not set in production: the framework default None sends no SameSite attribute")
			return
		}
		r.set(CheckCookieSameSite, judge(def, true), rec, fmt.Sprintf("%s is not set in production: the framework default %q applies", key, def))
		return
	}
	var outs []outcome
	for _, a := range production(s.v) {
		v := a.V
		at := s.placeOf(v)
		if v == nil {
			if def == "" {
				outs = append(outs, outcome{audit.Fail, branch(a) + key + " is not set: no SameSite attribute (framework default None)", Location{}, nil})
			} else {
				outs = append(outs, outcome{judge(def, true), fmt.Sprintf("%s%s is not set: the framework default %q applies", branch(a), key, def), Location{}, nil})
			}
			continue
		}
		lit, fromEnv := v.literal()
		switch {
		case lit == nil && v.Kind == vEnv:
			outs = append(outs, outcome{audit.Warn, fmt.Sprintf("%s%s is decided by %s, with no default%s", branch(a), key, v.source(), where(at, s.via)), at, nil})
		case lit == nil:
			outs = append(outs, outcome{audit.Warn, fmt.Sprintf("%s%s is %s%s", branch(a), key, v.describe(), where(at, s.via)), at, nil})
		case lit.Kind == vStr:
			d := fmt.Sprintf("%q", lit.Str)
			if fromEnv {
				d += " unless " + v.source() + " says otherwise (its default)"
			}
			outs = append(outs, outcome{judge(lit.Str, true), fmt.Sprintf("%s%s = %s%s", branch(a), key, d, where(at, s.via)), at, nil})
		default:
			outs = append(outs, outcome{audit.Fail, fmt.Sprintf("%s%s = %s: no SameSite attribute%s", branch(a), key, lit.describe(), where(at, s.via)), at, nil})
		}
	}
	st, ev, locs := combine(outs)
	r.set(CheckCookieSameSite, st, rec, ev, append(locs, s.at)...)
}

// Lifetime thresholds (OWASP ASVS 4.0 V3.3.2: re-authentication within 12
// hours at levels 2 and 3, 30 days at level 1).
const (
	lifetimePass = 12 * 3600
	lifetimeWarn = 30 * 86400
)

// lifetimeStatus judges a server-side lifetime in seconds.
func lifetimeStatus(secs float64) audit.Status {
	switch {
	case secs <= lifetimePass:
		return audit.Pass
	case secs <= lifetimeWarn:
		return audit.Warn
	}
	return audit.Fail
}

// lifetimeSetting names the setting that holds a framework's session
// lifetime and what applies when production leaves it unset.
type lifetimeSetting struct {
	key      string  // SESSION_COOKIE_AGE, PERMANENT_SESSION_LIFETIME
	def      float64 // the framework's default, in seconds
	defWhere string  // the default, for the longest lifetime's place
	unset    string  // the evidence when a branch leaves it unset
	tail     string  // added to the evidence of a set value
	from     bool    // also list the places a set value was computed from
}

// lifetimeOutcomes judges each production alternative of the lifetime
// setting, and returns the longest lifetime it allows and where that is.
func lifetimeOutcomes(c *config, ls lifetimeSetting) (outs []outcome, maxSecs float64, maxWhere string) {
	s := c.get(ls.key)
	alts := []Alt{{}}
	if s != nil {
		alts = production(s.v)
	}
	for _, a := range alts {
		v := a.V
		if v == nil {
			if ls.def > maxSecs {
				maxSecs, maxWhere = ls.def, ls.defWhere
			}
			outs = append(outs, outcome{lifetimeStatus(ls.def), branch(a) + ls.unset, Location{}, nil})
			continue
		}
		at := s.placeOf(v)
		lit, fromEnv := v.literal()
		secs, ok := seconds(lit)
		if !ok {
			outs = append(outs, outcome{audit.Warn, fmt.Sprintf("%s%s is %s%s", branch(a), ls.key, v.describe(), where(at, s.via)), at, nil})
			continue
		}
		d := fmtSeconds(secs)
		if fromEnv {
			d += " unless " + v.source() + " says otherwise (its default)"
		}
		if secs > maxSecs {
			maxSecs, maxWhere = secs, fmt.Sprintf("%s at %s:%d", ls.key, at.File, at.Line)
		}
		var more []Location
		if ls.from {
			more = lit.From
		}
		outs = append(outs, outcome{lifetimeStatus(secs), fmt.Sprintf("%s%s is %s%s%s", branch(a), ls.key, d, where(at, s.via), ls.tail), at, more})
	}
	return outs, maxSecs, maxWhere
}

// seconds reads a lifetime from a literal: a timedelta or a number of
// seconds.
func seconds(v *Value) (float64, bool) {
	if v == nil {
		return 0, false
	}
	if v.Kind == vDuration || v.Kind == vNum {
		return v.Num, true
	}
	return 0, false
}

// hstsStatus judges an HSTS max-age as `latch audit` does.
func hstsStatus(maxAge float64, sub bool) (audit.Status, string) {
	switch {
	case maxAge <= 0:
		return audit.Fail, "max-age 0 tells browsers to forget HSTS"
	case maxAge < 31536000:
		return audit.Warn, fmt.Sprintf("max-age %s is less than one year", fmtSeconds(maxAge))
	case !sub:
		return audit.Warn, fmt.Sprintf("max-age %s, but no includeSubDomains, so a sibling host over HTTP can still plant cookies", fmtSeconds(maxAge))
	}
	return audit.Pass, fmt.Sprintf("max-age %s with includeSubDomains", fmtSeconds(maxAge))
}

const (
	recHSTS     = "Send Strict-Transport-Security with max-age of at least one year (31536000) and includeSubDomains on every HTTPS response."
	recRedirect = "Redirect every plain-HTTP request to HTTPS before any session cookie is set (or say in the report's notes that a proxy does it)."
)

// recordLifetime keeps the longest lifetime the source gives, for
// comparison with a live audit.
func (r *reviewer) recordLifetime(secs float64, where string) {
	if secs > r.lifetime {
		r.lifetime, r.lifetimeWhere = secs, where
	}
}
