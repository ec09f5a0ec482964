package review

import (
	"regexp"
	"strings"
)

// Modes of a condition: whether it holds in production.
const (
	devOnly  = -1 // holds only in development or testing (if DEBUG:)
	unknown  = 0
	prodOnly = 1 // holds only in production (if not DEBUG:)
)

var (
	// A comparison with an environment name: == "production".
	cmpEnv = regexp.MustCompile(`(?i)(==|!=|\bis not\b|\bis\b|\bnot in\b|\bin\b)\s*[rbu]?["'(\[]*\s*["']?(production|prod|live|development|dev|devel|local|testing|test|debug|staging)["']`)
	// A name that is true in development: DEBUG, app.debug, TESTING,
	// settings.DEBUG, IS_DEV, config.DEVELOPMENT, LOCAL.
	devName = regexp.MustCompile(`(?i)^[\w.]*\b(debug|testing|development|is_dev|dev|local|is_local|dev_mode|debug_mode)\b(\(\))?$`)
	// config["DEBUG"] is read as config.DEBUG.
	subscriptKey = regexp.MustCompile(`\[\s*["'](\w+)["']\s*\]`)
	// A name that is true in production.
	prodName = regexp.MustCompile(`(?i)^[\w.]*\b(production|is_production|is_prod|prod|live)\b(\(\))?$`)
)

// condMode says whether Python condition c holds only in production, only
// in development, or cannot be told.
func condMode(c string) int {
	c = subscriptKey.ReplaceAllString(strings.Join(strings.Fields(c), " "), ".$1")
	neg := false
	for {
		c = strings.TrimSpace(c)
		switch {
		case strings.HasPrefix(c, "not "):
			neg, c = !neg, c[4:]
			continue
		case strings.HasPrefix(c, "(") && strings.HasSuffix(c, ")") && strings.Count(c, "(") == 1:
			c = c[1 : len(c)-1]
			continue
		}
		break
	}
	m := unknown
	if sm := cmpEnv.FindStringSubmatch(c); sm != nil {
		op, env := strings.ToLower(sm[1]), strings.ToLower(sm[2])
		prod := env == "production" || env == "prod" || env == "live"
		m = devOnly
		if prod {
			m = prodOnly
		}
		if op == "!=" || op == "is not" || op == "not in" {
			m = -m
		}
		if env == "staging" {
			m = unknown
		}
	} else if strings.Contains(c, "sys.argv") && strings.Contains(c, "test") {
		m = devOnly
	} else if devName.MatchString(c) {
		m = devOnly
	} else if prodName.MatchString(c) {
		m = prodOnly
	}
	if neg {
		m = -m
	}
	return m
}

// branchMode says whether an alternative is taken in production: devOnly
// when one of its conditions holds only in development (or one that holds
// only in production is false), prodOnly when the reverse, unknown
// otherwise.
func branchMode(a Alt) int {
	mode := unknown
	for _, c := range a.Pos {
		switch condMode(c) {
		case devOnly:
			return devOnly
		case prodOnly:
			mode = prodOnly
		}
	}
	for _, c := range a.Neg {
		switch condMode(c) {
		case prodOnly:
			return devOnly
		case devOnly:
			mode = prodOnly
		}
	}
	return mode
}

// production returns the alternatives of v that production can take:
// development-only branches are dropped, and when some branch holds only
// in production, the undecided ones are dropped too. A value that is not
// a choice is its own single alternative.
func production(v *Value) []Alt {
	all := v.alts()
	var prod, undecided []Alt
	for _, a := range all {
		switch branchMode(a) {
		case prodOnly:
			prod = append(prod, a)
		case unknown:
			undecided = append(undecided, a)
		}
	}
	if len(prod) > 0 {
		return prod
	}
	if len(undecided) > 0 {
		return undecided
	}
	return all // every branch looks development-only: keep them all, honestly
}
