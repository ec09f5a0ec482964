package review

import (
	"strings"
)

// LiteralKind says how a secret-key literal reaches the application.
type LiteralKind string

// The kinds of secret-key literal.
const (
	// HardCoded is a key written in the code.
	HardCoded LiteralKind = "hard-coded"
	// EnvFallback is the fallback of an environment lookup, used whenever
	// the variable is unset: os.environ.get("SECRET_KEY", "dev").
	EnvFallback LiteralKind = "env-fallback"
)

// Literal is one secret-key literal found in a Python source.
type Literal struct {
	Value string      // the key's bytes, as the application gets them
	Line  int         // 1-based line of the literal
	Kind  LiteralKind // HardCoded or EnvFallback
	Name  string      // what it is assigned to: SECRET_KEY, app.secret_key, ...
	Env   string      // for EnvFallback, the environment variable
	Cond  string      // the condition it depends on, when it is in a branch
}

// isSecretName reports whether a name (a variable, config key or
// attribute) holds an application's session-signing key.
func isSecretName(name string) bool {
	n := strings.ToUpper(name)
	return n == "SECRET_KEY" || n == "FLASK_SECRET_KEY" || n == "DJANGO_SECRET_KEY" || n == "SESSION_SECRET_KEY"
}

// SecretLiterals returns the secret-key literals of one Python source:
// every string or bytes literal, or literal fallback of an environment
// lookup, assigned to SECRET_KEY (a module or class attribute, a
// config['SECRET_KEY'] item, a SECRET_KEY= keyword of config.update(),
// dict() or settings.configure()) or to an object's secret_key. Names the
// file imports from other files are not followed: path only labels the
// source. Empty literals are left out. Malformed source is not an error
// (what parses is searched); binary input is.
func SecretLiterals(path string, src []byte) ([]Literal, error) {
	f, err := parsePython(path, src)
	if err != nil {
		return nil, err
	}
	p := &project{byDotted: map[string][]string{}, mods: map[string]*module{}, lim: DefaultLimits}
	m := &module{name: dottedPath(path), path: path, file: f}
	p.mods[path] = m
	ms := m.scope(p)
	var out []Literal
	for _, a := range p.secretAssignments(f, ms) {
		out = append(out, a.literals()...)
	}
	return out, nil
}

// secretAssignment is one place a secret key is set.
type secretAssignment struct {
	name string
	v    *Value
	line int
}

func (a secretAssignment) literals() []Literal {
	var out []Literal
	for _, alt := range a.v.alts() {
		v := alt.V
		if v == nil {
			continue
		}
		lit, fromEnv := v.literal()
		if lit == nil || lit.Kind != vStr || lit.Str == "" {
			continue
		}
		l := Literal{Value: lit.Str, Line: lit.Line, Kind: HardCoded, Name: a.name, Cond: alt.Cond}
		if l.Line == 0 {
			l.Line = a.line
		}
		if fromEnv {
			l.Kind, l.Env = EnvFallback, v.Env
		}
		out = append(out, l)
	}
	return out
}

// secretAssignments finds every place f sets a secret key, evaluating each
// value in the scope it is written in (module, class or function).
func (p *project) secretAssignments(f *pyFile, ms *scope) []secretAssignment {
	var out []secretAssignment
	p.walkScoped(f, ms, func(n *node, s *scope, _ walkCtx) {
		switch n.kind {
		case "assignment":
			left, right := n.child("left"), n.child("right")
			if right == nil || right.kind == "assignment" {
				return
			}
			name := assignedName(f, left)
			if name != "" && isSecretName(lastPart(name)) {
				out = append(out, secretAssignment{name: name, v: p.eval(s, right, 0), line: n.line})
			}
		case "keyword_argument":
			name := f.text(n.child("name"))
			if isSecretName(name) {
				out = append(out, secretAssignment{name: name, v: p.eval(s, n.child("value"), 0), line: n.line})
			}
		case "pair":
			k := n.child("key")
			if k != nil && k.kind == "string" {
				if key, _, lit := f.pyString(k); lit && isSecretName(key) {
					out = append(out, secretAssignment{name: key, v: p.eval(s, n.child("value"), 0), line: n.line})
				}
			}
		}
	})
	return out
}

// assignedName names an assignment target: "SECRET_KEY", "app.secret_key",
// "app.config['SECRET_KEY']" gives "app.config.SECRET_KEY".
func assignedName(f *pyFile, left *node) string {
	if left == nil {
		return ""
	}
	switch left.kind {
	case "identifier", "attribute":
		return dotted(f, left)
	case "subscript":
		idx := left.child("subscript")
		if idx != nil && idx.kind == "string" {
			if k, _, lit := f.pyString(idx); lit {
				return dotted(f, left.child("value")) + "." + k
			}
		}
	}
	return ""
}

func lastPart(name string) string { return name[strings.LastIndexByte(name, '.')+1:] }

// walkCtx is where a node is: the conditions of the branches around it
// and the function it is in (nil at module or class level).
type walkCtx struct {
	Pos, Neg []string
	fn       *function
	cls      *class
	// dead is set on a branch the code itself rules out: a condition on
	// a literal the module fixes (DEBUG = True; if not DEBUG: ...).
	dead bool
}

func (c walkCtx) with(pos []string, neg []string) walkCtx {
	return walkCtx{Pos: append(append([]string(nil), c.Pos...), pos...), Neg: append(append([]string(nil), c.Neg...), neg...), fn: c.fn, cls: c.cls, dead: c.dead}
}

// literalTruth is the truth of a condition's value when the code fixes it
// (a literal, not an environment lookup's default).
func literalTruth(v *Value) (t, known bool) {
	switch v.Kind {
	case vBool, vStr, vNum, vNone:
		return v.truth()
	}
	return false, false
}

// alt describes the context as an alternative (for branchMode).
func (c walkCtx) alt() Alt { return Alt{Pos: c.Pos, Neg: c.Neg} }

// cond says in words which branch a node is on, or "".
func (c walkCtx) cond() string {
	var parts []string
	for _, p := range c.Pos {
		parts = append(parts, "if "+shorten(p))
	}
	for _, n := range c.Neg {
		parts = append(parts, "if not "+shorten(n))
	}
	return strings.Join(parts, ", ")
}

// walkScoped calls visit on every node of f with the scope its expressions
// are evaluated in (class bodies and function bodies get their own) and
// the branch it is on.
func (p *project) walkScoped(f *pyFile, ms *scope, visit func(*node, *scope, walkCtx)) {
	var rec func(n *node, s *scope, ctx walkCtx, depth int)
	rec = func(n *node, s *scope, ctx walkCtx, depth int) {
		if depth > 400 {
			return
		}
		visit(n, s, ctx)
		switch n.kind {
		case "class_definition":
			name := f.text(n.child("name"))
			if v, ok := s.lookup(name); ok && v != nil && v.Kind == vClass && v.Class.node == n {
				c := ctx
				c.cls = v.Class
				for _, k := range n.kids {
					rec(k, v.Class.body, c, depth+1)
				}
				return
			}
		case "function_definition":
			fn := &function{name: f.text(n.child("name")), file: f, node: n, def: s}
			if v, ok := s.lookup(fn.name); ok && v != nil && v.Kind == vFunc && v.Fn.node == n {
				fn = v.Fn
			}
			ls := fn.scope(p)
			// The body keeps the conditions around the def: a function
			// defined under "if app.debug:" exists only in debug.
			c := walkCtx{fn: fn, cls: ctx.cls, Pos: ctx.Pos, Neg: ctx.Neg, dead: ctx.dead}
			for _, k := range n.kids {
				rec(k, ls, c, depth+1)
			}
			return
		case "if_statement":
			cond := f.text(n.child("condition"))
			prev := []string{cond}
			// taken: an earlier arm's literal condition is true, so no
			// later arm runs.
			taken := false
			arm := func(c walkCtx, condNode *node) walkCtx {
				c.dead = c.dead || taken
				if condNode != nil {
					if t, ok := literalTruth(p.eval(s, condNode, 0)); ok {
						c.dead = c.dead || !t
						taken = taken || t
					}
				}
				return c
			}
			for _, k := range n.kids {
				switch {
				case k.field == "consequence":
					rec(k, s, arm(ctx.with([]string{cond}, nil), n.child("condition")), depth+1)
				case k.field == "alternative" && k.kind == "else_clause":
					rec(k, s, arm(ctx.with(nil, prev), nil), depth+1)
				case k.field == "alternative":
					c := f.text(k.child("condition"))
					rec(k, s, arm(ctx.with([]string{c}, prev), k.child("condition")), depth+1)
					prev = append(append([]string(nil), prev...), c)
				default:
					rec(k, s, ctx, depth+1)
				}
			}
			return
		}
		for _, k := range n.kids {
			rec(k, s, ctx, depth+1)
		}
	}
	rec(f.root, ms, walkCtx{}, 0)
}
