package review

import (
	"fmt"
	"strconv"
	"strings"
)

// kind says what the evaluator knows about a value.
type kind int

const (
	vUnknown  kind = iota // not followed: Why says what it is
	vStr                  // a str or bytes literal (Bytes), possibly concatenated
	vNum                  // an int or float literal or arithmetic on them
	vBool                 // True or False
	vNone                 // None
	vEnv                  // read from the environment: Env, Default (nil when none)
	vRandom               // generated at start-up (secrets.token_hex(), os.urandom())
	vDuration             // a timedelta, Num seconds
	vChoice               // one of Alts, depending on a condition
	vDict                 // a dict literal or dict(...): Items
	vList                 // a list or tuple: Elems
	vClass                // a class: Class
	vModule               // a module of the project: Mod
	vFunc                 // a function defined in the project: Fn
)

// Value is what the evaluator knows about a Python expression. File and
// Line place the expression (for evidence).
type Value struct {
	Kind  kind
	Str   string
	Bytes bool
	Num   float64
	Bool  bool
	// Env is the variable an environment lookup reads; Default is what the
	// code uses when it is unset (nil: no fallback, the lookup fails or
	// gives None). An operation on the lookup (int(), == "True") applies to
	// Default and keeps the lookup.
	Env     string
	Default *Value
	// Via names the call that made the value: "os.environ.get",
	// "secrets.token_hex", "config" (python-decouple), ...
	Via   string
	Alts  []Alt
	Items map[string]*Value
	Keys  []string // Items' keys in source order
	Elems []*Value
	Class *class
	Mod   *module
	Fn    *function
	Why   string // vUnknown: the expression's text, shortened
	// Read is set on a vUnknown read at run time from outside the code
	// (a file's read(), read_text()): not a literal in the source.
	Read string
	// From are the places of the values this one was computed from, when
	// they are elsewhere (timedelta(seconds=settings.EXPIRY)).
	From []Location
	File string
	Line int
}

// Alt is one branch of a conditional value. V nil means the branch leaves
// the name unset, so the framework default applies.
type Alt struct {
	Cond string // "if not DEBUG", "else", "except ImportError", "key 'production'"
	V    *Value
	// Pos and Neg are the conditions (Python expressions) that hold and
	// that do not hold on this branch, for telling production branches
	// from development ones.
	Pos, Neg []string
}

// at returns a copy of v placed at file:line when v has no place yet.
func (v *Value) at(file string, line int) *Value {
	if v == nil || v.File != "" {
		return v
	}
	c := *v
	c.File, c.Line = file, line
	return &c
}

// Where is "file:line", or "" when unknown.
func (v *Value) Where() string {
	if v == nil || v.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", v.File, v.Line)
}

// truth is Python's truth value of a literal; known is false when the
// value is not a literal.
func (v *Value) truth() (t, known bool) {
	if v == nil {
		return false, false
	}
	switch v.Kind {
	case vStr:
		return v.Str != "", true
	case vNum, vDuration:
		return v.Num != 0, true
	case vBool:
		return v.Bool, true
	case vNone:
		return false, true
	case vDict:
		return len(v.Items) > 0, true
	case vList:
		return len(v.Elems) > 0, true
	case vRandom, vClass, vModule, vFunc:
		return true, true
	}
	return false, false
}

// literal returns the value as a literal: itself when it is one, the
// fallback of an environment lookup otherwise (fromEnv set), or nil.
func (v *Value) literal() (lit *Value, fromEnv bool) {
	if v == nil {
		return nil, false
	}
	switch v.Kind {
	case vStr, vNum, vBool, vNone, vDuration:
		return v, false
	case vEnv:
		if v.Default != nil {
			l, _ := v.Default.literal()
			return l, l != nil
		}
	}
	return nil, false
}

// describe says what v is, in words, without quoting a string literal
// (which may be a secret): "a 9-character literal", "environment variable
// SECRET_KEY, with a literal fallback".
func (v *Value) describe() string {
	if v == nil {
		return "unset"
	}
	switch v.Kind {
	case vStr:
		if v.Via != "" {
			// Computed from literals: a literal all the same.
			if v.Bytes {
				return fmt.Sprintf("%d bytes computed from a literal by %s", len(v.Str), v.Via)
			}
			return fmt.Sprintf("a %d-character string computed from a literal by %s", len([]rune(v.Str)), v.Via)
		}
		if v.Bytes {
			return fmt.Sprintf("a %d-byte bytes literal", len(v.Str))
		}
		return fmt.Sprintf("a %d-character string literal", len([]rune(v.Str)))
	case vNum:
		return strconv.FormatFloat(v.Num, 'f', -1, 64)
	case vBool:
		if v.Bool {
			return "True"
		}
		return "False"
	case vNone:
		return "None"
	case vDuration:
		return fmtSeconds(v.Num)
	case vEnv:
		s := v.source()
		if v.Default == nil {
			return s + " (no fallback)"
		}
		return s + ", falling back to " + v.Default.describe()
	case vRandom:
		return "random bytes made at start-up (" + v.Via + ")"
	case vChoice:
		parts := make([]string, 0, len(v.Alts))
		for _, a := range v.Alts {
			d := "unset"
			if a.V != nil {
				d = a.V.describe()
			}
			parts = append(parts, a.Cond+": "+d)
		}
		return "depends on a condition (" + strings.Join(parts, "; ") + ")"
	case vClass:
		return "class " + v.Class.name
	case vModule:
		return "module " + v.Mod.name
	}
	if v.Why != "" {
		return "`" + v.Why + "` (not followed)"
	}
	return "a value the review does not follow"
}

// source names where a value decided outside the code comes from:
// "environment variable SECRET_KEY", "config-file value X", "deployment
// setting configuration.X".
func (v *Value) source() string {
	switch v.Via {
	case "configparser":
		return "config-file value " + v.Env
	case "getattr":
		return "deployment setting " + v.Env
	}
	return "environment variable " + v.Env
}

// fmtSeconds writes a duration in the largest exact unit.
func fmtSeconds(s float64) string {
	n := int64(s)
	switch {
	case float64(n) != s:
		return strconv.FormatFloat(s, 'f', -1, 64) + " seconds"
	case n != 0 && n%86400 == 0:
		return plural(n/86400, "day")
	case n != 0 && n%3600 == 0:
		return plural(n/3600, "hour")
	case n != 0 && n%60 == 0:
		return plural(n/60, "minute")
	}
	return plural(n, "second")
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.FormatInt(n, 10) + " " + unit + "s"
}

// maxAlts bounds the alternatives a value may have once flattened: a
// file of nested or repeated conditionals (X = X if a else X, forty
// times) would otherwise double them at every line.
const maxAlts = 64

// leaves counts v's flattened alternatives, stopping past limit.
func leaves(v *Value, limit int) int {
	if v == nil || v.Kind != vChoice {
		return 1
	}
	n := 0
	for _, a := range v.Alts {
		n += leaves(a.V, limit-n)
		if n > limit {
			return n
		}
	}
	return n
}

// bounded returns v, or an unknown value when it has more than maxAlts
// alternatives.
func bounded(v *Value) *Value {
	if v == nil || v.Kind != vChoice || leaves(v, maxAlts) <= maxAlts {
		return v
	}
	return &Value{Kind: vUnknown, Why: fmt.Sprintf("more than %d conditional branches", maxAlts), File: v.File, Line: v.Line}
}

// alts flattens v into its possible values, each with the conditions that
// lead to it ("" for an unconditional value), at most maxAlts of them.
func (v *Value) alts() []Alt {
	if v == nil || v.Kind != vChoice {
		return []Alt{{V: v}}
	}
	var out []Alt
	for _, a := range v.Alts {
		for _, b := range a.V.alts() {
			if len(out) >= maxAlts {
				return out
			}
			c := a.Cond
			if b.Cond != "" {
				c += ", " + b.Cond
			}
			out = append(out, Alt{Cond: c, V: b.V, Pos: append(append([]string(nil), a.Pos...), b.Pos...), Neg: append(append([]string(nil), a.Neg...), b.Neg...)})
		}
	}
	return out
}
