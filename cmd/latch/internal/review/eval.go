package review

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// scope maps names to values: a module's globals, a class body, or a
// function's locals (with the module as parent).
type scope struct {
	vars   map[string]*Value
	unset  map[string]*Value   // names set only on a branch not taken: its condition's value
	defs   map[string]Location // the statement that last set a name
	parent *scope
	file   *pyFile
	mod    *module
}

func newScope(f *pyFile, m *module, parent *scope) *scope {
	return &scope{vars: map[string]*Value{}, parent: parent, file: f, mod: m}
}

func (s *scope) lookup(name string) (*Value, bool) {
	for c := s; c != nil; c = c.parent {
		if v, ok := c.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

// class is a Python class of the project.
type class struct {
	name  string
	file  *pyFile
	node  *node
	line  int
	bases []*Value
	body  *scope
}

// attr looks name up in the class and then its bases, depth first, as
// Python's MRO does for the single and simple multiple inheritance config
// classes use.
func (c *class) attr(name string) (*Value, *class, bool) {
	return c.attrSeen(name, map[*class]bool{})
}

func (c *class) attrSeen(name string, seen map[*class]bool) (*Value, *class, bool) {
	if seen[c] {
		return nil, nil, false
	}
	seen[c] = true
	if v, ok := c.body.vars[name]; ok {
		return v, c, true
	}
	for _, b := range c.bases {
		if b != nil && b.Kind == vClass {
			if v, owner, ok := b.Class.attrSeen(name, seen); ok {
				return v, owner, true
			}
		}
	}
	return nil, nil, false
}

// names lists every attribute name visible in the class.
func (c *class) names() []string {
	seen, out := map[string]bool{}, []string(nil)
	var add func(c *class, visited map[*class]bool)
	add = func(c *class, visited map[*class]bool) {
		if visited[c] {
			return
		}
		visited[c] = true
		for _, k := range c.body.order() {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
		for _, b := range c.bases {
			if b != nil && b.Kind == vClass {
				add(b.Class, visited)
			}
		}
	}
	add(c, map[*class]bool{})
	return out
}

// order returns the scope's names; map order is random, so sorted by line.
func (s *scope) order() []string {
	out := make([]string, 0, len(s.vars))
	for k := range s.vars {
		out = append(out, k)
	}
	sortByLine(out, s.vars)
	return out
}

// function is a function defined in the project.
type function struct {
	name   string
	file   *pyFile
	node   *node
	def    *scope // where it was defined
	locals *scope // its body executed once, lazily
}

// scope returns the function's locals: its body executed with every branch
// kept, on top of the scope it was defined in.
func (fn *function) scope(p *project) *scope {
	if fn.locals == nil {
		fn.locals = newScope(fn.file, fn.def.mod, fn.def)
		p.bindParams(fn, fn.locals, nil, nil, 0)
		p.execBlock(fn.locals, fn.node.child("body"))
	}
	return fn.locals
}

// bindParams binds a function's parameters in s: to the call's arguments
// when there is a call (pos, kw), else to their defaults; a parameter
// with neither stays unbound (unknown).
func (p *project) bindParams(fn *function, s *scope, pos []*Value, kw map[string]*Value, depth int) {
	f := fn.file
	i := 0
	for _, prm := range fn.node.child("parameters").named() {
		var name string
		var def *node
		switch prm.kind {
		case "identifier":
			name = f.text(prm)
		case "typed_parameter":
			if k := prm.named(); len(k) > 0 && k[0].kind == "identifier" {
				name = f.text(k[0])
			}
		case "default_parameter", "typed_default_parameter":
			name, def = f.text(prm.child("name")), prm.child("value")
		default:
			continue // *args, **kwargs, separators
		}
		switch {
		case kw[name] != nil:
			s.vars[name] = kw[name]
		case i < len(pos):
			s.vars[name] = pos[i]
		case def != nil:
			s.vars[name] = p.eval(fn.def, def, depth+1)
		}
		i++
	}
}

// returns lists the return statements a block can reach: an if whose
// condition can be told contributes its taken branch only, and a block
// stops at its first return.
func (p *project) returns(s *scope, block *node, depth int) []*node {
	if block == nil || depth > 50 {
		return nil
	}
	var out []*node
	for _, st := range block.kids {
		switch st.kind {
		case "return_statement":
			return append(out, st)
		case "if_statement":
			if body, ok := p.takenBranch(s, st, true); ok {
				if body != nil {
					r := p.returns(s, body, depth+1)
					out = append(out, r...)
					if len(r) > 0 && endsInReturn(body) {
						return out
					}
				}
				continue
			}
			out = append(out, p.returns(s, st.child("consequence"), depth+1)...)
			for _, alt := range st.kids {
				if alt.field == "alternative" {
					out = append(out, p.returns(s, alt.child("consequence"), depth+1)...)
					out = append(out, p.returns(s, alt.child("body"), depth+1)...)
				}
			}
		case "try_statement", "with_statement", "for_statement", "while_statement":
			st.walk(func(n *node) bool {
				switch n.kind {
				case "function_definition", "class_definition", "lambda":
					return false
				case "return_statement":
					out = append(out, n)
					return false
				}
				return true
			})
		}
	}
	return out
}

// endsInReturn reports whether a block's last statement is a return.
func endsInReturn(b *node) bool {
	k := b.named()
	return len(k) > 0 && k[len(k)-1].kind == "return_statement"
}

// takenBranch returns the body an if statement runs when every condition
// up to the taken one can be told (nil when no branch runs); ok is false
// when it cannot be told.
func (p *project) takenBranch(s *scope, st *node, presence bool) (*node, bool) {
	type arm struct{ cond, body *node }
	arms := []arm{{st.child("condition"), st.child("consequence")}}
	for _, alt := range st.kids {
		if alt.field != "alternative" {
			continue
		}
		if alt.kind == "else_clause" {
			arms = append(arms, arm{nil, alt.child("body")})
		} else {
			arms = append(arms, arm{alt.child("condition"), alt.child("consequence")})
		}
	}
	for _, a := range arms {
		if a.cond == nil {
			return a.body, true
		}
		cv := p.eval(s, a.cond, 0)
		if condMode(s.file.text(a.cond)) != unknown {
			// "if not DEBUG:" names production; it is decided here only
			// when the code itself fixes the value (DEBUG = True left in
			// the settings: the branch never runs), not when the
			// environment may (a lookup's default is not production's).
			switch cv.Kind {
			case vBool, vStr, vNum, vNone:
			default:
				return nil, false
			}
		}
		if !presence && cv.Kind == vEnv && cv.Via == "presence" {
			return nil, false // is the variable set? Both branches are real.
		}
		lit, _ := cv.literal()
		t, ok := lit.truth()
		if lit == nil || !ok {
			return nil, false
		}
		if t {
			return a.body, true
		}
		p.skipped(s, a.body, cv)
	}
	return nil, true
}

// skipped records the names a branch not taken would have set, with the
// place of the condition's value, so a report can say why a setting is
// unset ("set only when ENABLE_SSL, False at settings.py:198").
func (p *project) skipped(s *scope, body *node, cond *Value) {
	if body == nil {
		return
	}
	for _, st := range body.kids {
		if st.kind != "expression_statement" {
			continue
		}
		for _, e := range st.named() {
			if e.kind == "assignment" || e.kind == "augmented_assignment" {
				if l := e.child("left"); l != nil && l.kind == "identifier" {
					if s.unset == nil {
						s.unset = map[string]*Value{}
					}
					s.unset[s.file.text(l)] = cond
				}
			}
		}
	}
}

// maxCalls bounds how deep the evaluator follows calls into the
// project's own functions, and maxCallsMade how many it follows in all (a
// function that calls another a hundred times, four deep, is 10^8 calls).
const (
	maxCalls     = 4
	maxCallsMade = 20000
)

// callFunc evaluates a call to a function of the project: its body runs
// with the arguments bound, and its value is what it returns (a choice
// when it can return from several places).
func (p *project) callFunc(fn *function, pos []*Value, kw map[string]*Value, depth int) *Value {
	if p.calls >= maxCalls || p.callsMade >= maxCallsMade || fn.node.child("body") == nil {
		return &Value{Kind: vUnknown, Why: fn.name + "(...)"}
	}
	p.calls++
	p.callsMade++
	defer func() { p.calls-- }()
	s := newScope(fn.file, fn.def.mod, fn.def)
	p.bindParams(fn, s, pos, kw, depth)
	body := fn.node.child("body")
	p.execBlock(s, body)
	rets := p.returns(s, body, 0)
	var alts []Alt
	for _, r := range rets {
		k := r.named()
		if len(k) == 0 {
			alts = append(alts, Alt{Cond: fmt.Sprintf("return at line %d", r.line), V: &Value{Kind: vNone, File: fn.file.path, Line: r.line}})
			continue
		}
		alts = append(alts, Alt{Cond: fmt.Sprintf("%s returns at %s:%d", fn.name, fn.file.path, r.line), V: p.eval(s, k[0], depth+1)})
	}
	switch len(alts) {
	case 0:
		return &Value{Kind: vNone}
	case 1:
		return alts[0].V
	}
	return bounded(&Value{Kind: vChoice, Alts: alts})
}

// maxDepth bounds recursion in evaluation (deeply nested expressions, long
// chains of imports).
const maxDepth = 200

// execBlock runs the statements of a block (or module) in s.
func (p *project) execBlock(s *scope, block *node) {
	if block == nil {
		return
	}
	for _, st := range block.kids {
		p.execStmt(s, st)
	}
}

func (p *project) execStmt(s *scope, st *node) {
	f := s.file
	switch st.kind {
	case "expression_statement":
		for _, e := range st.named() {
			switch e.kind {
			case "assignment":
				p.assign(s, e)
			case "call":
				p.dynamicWrite(s, e)
				// CONFIG.setdefault("K", v) on its own line adds the key
				// to a dict the code holds (the evaluation rebinds it).
				if fn := e.child("function"); fn != nil && fn.kind == "attribute" && f.text(fn.child("attribute")) == "setdefault" && fn.child("object") != nil && fn.child("object").kind == "identifier" {
					p.eval(s, e, 0)
				}
				// os.environ.setdefault("K", "literal") puts the literal in
				// the environment for every later lookup of K.
				if d := dotted(f, e.child("function")); strings.HasSuffix(d, "environ.setdefault") {
					if pos, _ := callArgs(f, e); len(pos) == 2 {
						if k := p.eval(s, pos[0], 0); k.Kind == vStr {
							if p.envDefaults == nil {
								p.envDefaults = map[string]*Value{}
							}
							p.envDefaults[k.Str] = p.eval(s, pos[1], 0)
						}
					}
				}
			case "augmented_assignment":
				left := e.child("left")
				if left != nil && left.kind == "identifier" {
					name := f.text(left)
					old, _ := s.lookup(name)
					r := p.eval(s, e.child("right"), 0)
					op := strings.TrimSuffix(f.text(e.child("operator")), "=")
					s.vars[name] = binValues(old, r, op)
				}
			}
		}
	case "if_statement":
		if p.decided(s, st) {
			return
		}
		var branches []*scope
		var alts []Alt
		cond := f.text(st.child("condition"))
		b := s.fork()
		p.execBlock(b, st.child("consequence"))
		branches, alts = append(branches, b), append(alts, Alt{Cond: "if " + shorten(cond), Pos: []string{cond}})
		prev := []string{cond}
		hasElse := false
		for _, alt := range st.kids {
			if alt.field != "alternative" {
				continue
			}
			b := s.fork()
			p.execBlock(b, alt.child("consequence"))
			p.execBlock(b, alt.child("body"))
			if alt.kind == "else_clause" {
				hasElse = true
				alts = append(alts, Alt{Cond: "else (not " + shorten(strings.Join(prev, ", not ")) + ")", Neg: prev})
			} else {
				c := f.text(alt.child("condition"))
				alts = append(alts, Alt{Cond: "elif " + shorten(c), Pos: []string{c}, Neg: prev})
				prev = append(append([]string(nil), prev...), c)
			}
			branches = append(branches, b)
		}
		if !hasElse {
			branches = append(branches, s.fork())
			alts = append(alts, Alt{Cond: "when not " + shorten(strings.Join(prev, ", not ")), Neg: prev})
		}
		s.merge(branches, alts)
	case "try_statement":
		var branches []*scope
		var alts []Alt
		body := s.fork()
		p.execBlock(body, st.child("body"))
		for _, k := range st.kids {
			if k.kind == "else_clause" {
				p.execBlock(body, k.child("body"))
			}
		}
		branches, alts = append(branches, body), append(alts, Alt{Cond: "try"})
		for _, k := range st.kids {
			if k.kind == "except_clause" || k.kind == "except_group_clause" {
				b := s.fork()
				var blk *node
				what := ""
				for _, c := range k.named() {
					if c.kind == "block" {
						blk = c
					} else if what == "" {
						what = f.text(c)
					}
				}
				p.execBlock(b, blk)
				branches, alts = append(branches, b), append(alts, Alt{Cond: strings.TrimSpace("except " + shorten(what))})
			}
		}
		s.merge(branches, alts)
		for _, k := range st.kids {
			if k.kind == "finally_clause" {
				for _, c := range k.named() {
					p.execBlock(s, c)
				}
			}
		}
	case "with_statement", "for_statement", "while_statement":
		p.execBlock(s, st.child("body"))
	case "block":
		p.execBlock(s, st)
	case "class_definition":
		name := f.text(st.child("name"))
		c := &class{name: name, file: f, node: st, line: st.line, body: newScope(f, s.mod, s)}
		if sup := st.child("superclasses"); sup != nil {
			for _, a := range sup.named() {
				if a.kind != "keyword_argument" {
					c.bases = append(c.bases, p.eval(s, a, 0))
				}
			}
		}
		p.execBlock(c.body, st.child("body"))
		s.vars[name] = &Value{Kind: vClass, Class: c, File: f.path, Line: st.line}
	case "function_definition":
		name := f.text(st.child("name"))
		s.vars[name] = &Value{Kind: vFunc, Fn: &function{name: name, file: f, node: st, def: s}, File: f.path, Line: st.line}
	case "decorated_definition":
		p.execStmt(s, st.child("definition"))
	case "import_statement", "import_from_statement":
		p.importStmt(s, st)
	}
}

// decided runs only the branch of an if statement whose conditions can be
// told: literals, or environment lookups whose fallback decides (the
// fallback is what production gets when the variable is unset). It
// reports false, running nothing, when a condition cannot be told.
func (p *project) decided(s *scope, st *node) bool {
	body, ok := p.takenBranch(s, st, false)
	if !ok {
		return false
	}
	p.execBlock(s, body)
	return true
}

// fork copies s for one branch of a conditional.
func (s *scope) fork() *scope {
	c := &scope{vars: make(map[string]*Value, len(s.vars)), parent: s.parent, file: s.file, mod: s.mod}
	for k, v := range s.vars {
		c.vars[k] = v
	}
	return c
}

// merge sets in s every name the branches left differently: a choice of
// each branch's value (nil where the branch leaves it unset).
func (s *scope) merge(branches []*scope, conds []Alt) {
	names := map[string]bool{}
	for _, b := range branches {
		for k := range b.vars {
			names[k] = true
		}
	}
	for k := range names {
		first, same := branches[0].vars[k], true
		for _, b := range branches[1:] {
			if b.vars[k] != first {
				same = false
				break
			}
		}
		if same {
			if first != nil {
				s.vars[k] = first
			}
			continue
		}
		ch := &Value{Kind: vChoice}
		for i, b := range branches {
			a := conds[i]
			a.V = b.vars[k]
			ch.Alts = append(ch.Alts, a)
			if v := b.vars[k]; v != nil && ch.File == "" && v != s.vars[k] {
				ch.File, ch.Line = v.File, v.Line
			}
		}
		s.vars[k] = bounded(ch)
	}
}

// assign binds the names of one assignment statement.
func (p *project) assign(s *scope, a *node) {
	right := a.child("right")
	if right == nil {
		return // an annotation without a value
	}
	if right.kind == "assignment" { // a = b = value
		p.assign(s, right)
		for right.kind == "assignment" && right.child("right") != nil {
			right = right.child("right")
		}
	}
	left := a.child("left")
	p.bind(s, left, right, p.eval(s, right, 0))
}

func (p *project) bind(s *scope, left, right *node, v *Value) {
	if left == nil {
		return
	}
	switch left.kind {
	case "identifier":
		name := s.file.text(left)
		s.vars[name] = v
		if s.defs == nil {
			s.defs = map[string]Location{}
		}
		s.defs[name] = Location{File: s.file.path, Line: left.line}
	case "subscript":
		// globals()["SECRET_KEY"] = "dev" assigns the module's name.
		if isNamespaceCall(s.file, left.child("value")) {
			if k := p.eval(s, left.child("subscript"), 0); k.Kind == vStr {
				p.setName(s, k.Str, v, left.line)
			}
		}
	case "pattern_list", "tuple_pattern", "list_pattern":
		targets := left.named()
		var elems []*node
		if right != nil && (right.kind == "expression_list" || right.kind == "tuple" || right.kind == "list") {
			elems = right.named()
		}
		for i, t := range targets {
			if len(elems) == len(targets) {
				p.bind(s, t, elems[i], p.eval(s, elems[i], 0))
			} else {
				p.bind(s, t, nil, &Value{Kind: vUnknown, Why: shorten(s.file.text(right)), File: s.file.path, Line: t.line})
			}
		}
	}
}

// isNamespaceCall reports whether n is globals(), vars() or locals(): a
// module's own namespace, written through like an assignment.
func isNamespaceCall(f *pyFile, n *node) bool {
	if n == nil || n.kind != "call" {
		return false
	}
	switch dotted(f, n.child("function")) {
	case "globals", "vars", "locals":
		return len(n.child("arguments").named()) == 0
	}
	return false
}

// setName binds a module name written other than by an assignment.
func (p *project) setName(s *scope, name string, v *Value, line int) {
	s.vars[name] = v.at(s.file.path, line)
	if s.defs == nil {
		s.defs = map[string]Location{}
	}
	s.defs[name] = Location{File: s.file.path, Line: line}
}

// execNames are the settings a call to exec() in a settings module may
// set without the review seeing it.
var execNames = []string{
	"SECRET_KEY", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
	"SESSION_COOKIE_AGE", "PERMANENT_SESSION_LIFETIME",
	"SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
	"REMEMBER_COOKIE_SECURE", "REMEMBER_COOKIE_HTTPONLY", "REMEMBER_COOKIE_SAMESITE", "REMEMBER_COOKIE_DURATION",
}

// dynamicWrite follows the ways a module writes its own names without an
// assignment: globals().update(...), setattr(sys.modules[__name__], "K",
// v); and exec() of code the review does not read, after which each
// session setting may hold anything (a choice with an unknown branch, so
// no check can pass on it).
func (p *project) dynamicWrite(s *scope, call *node) {
	f := s.file
	fn := call.child("function")
	d := dotted(f, fn)
	pos, kw := callArgs(f, call)
	switch {
	case fn != nil && fn.kind == "attribute" && f.text(fn.child("attribute")) == "update" && isNamespaceCall(f, fn.child("object")):
		for _, a := range pos {
			if dv := p.eval(s, a, 0); dv.Kind == vDict {
				for _, k := range dv.Keys {
					p.setName(s, k, dv.Items[k], call.line)
				}
			}
		}
		for _, a := range call.child("arguments").named() {
			if a.kind == "keyword_argument" {
				p.setName(s, f.text(a.child("name")), p.eval(s, a.child("value"), 0), a.line)
			}
		}
	case d == "setattr" && len(pos) == 3 && strings.HasPrefix(strings.ReplaceAll(f.text(pos[0]), " ", ""), "sys.modules[__name__]"):
		if k := p.eval(s, pos[1], 0); k.Kind == vStr {
			p.setName(s, k.Str, p.eval(s, pos[2], 0), call.line)
		}
	case d == "exec" || d == "execfile" || d == "builtins.exec":
		if len(pos) >= 2 || kw["globals"] != nil {
			return // runs in a namespace of its own
		}
		why := fmt.Sprintf("exec() at %s:%d runs code the review does not read, which may set it", f.path, call.line)
		for _, name := range execNames {
			prev, _ := s.lookup(name)
			s.vars[name] = &Value{Kind: vChoice, File: f.path, Line: call.line, Alts: []Alt{
				{Cond: "unless " + why, V: prev},
				{Cond: "if " + why, V: &Value{Kind: vUnknown, Why: "set by exec()", File: f.path, Line: call.line}}}}
		}
	}
}

// shorten keeps an expression's text short enough for evidence.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// eval evaluates expression n in s.
func (p *project) eval(s *scope, n *node, depth int) *Value {
	f := s.file
	unknown := func() *Value {
		return &Value{Kind: vUnknown, Why: shorten(f.text(n)), File: f.path, Line: n.line}
	}
	if n == nil || depth > maxDepth {
		return &Value{Kind: vUnknown, Why: "too deep"}
	}
	place := func(v *Value) *Value { return v.at(f.path, n.line) }
	switch n.kind {
	case "string":
		val, b, lit := f.pyString(n)
		if !lit {
			if v := p.fstring(s, n, depth); v != nil {
				return v
			}
			return &Value{Kind: vUnknown, Why: "an f-string: " + shorten(f.text(n)), File: f.path, Line: n.line}
		}
		return &Value{Kind: vStr, Str: val, Bytes: b, File: f.path, Line: n.line}
	case "concatenated_string":
		var b strings.Builder
		isBytes := false
		for _, k := range n.named() {
			v := p.eval(s, k, depth+1)
			if v.Kind != vStr {
				return v
			}
			b.WriteString(v.Str)
			isBytes = v.Bytes
		}
		return &Value{Kind: vStr, Str: b.String(), Bytes: isBytes, File: f.path, Line: n.line}
	case "integer", "float":
		t := strings.ReplaceAll(strings.ToLower(f.text(n)), "_", "")
		if x, err := strconv.ParseInt(t, 0, 64); err == nil {
			return &Value{Kind: vNum, Num: float64(x), File: f.path, Line: n.line}
		}
		if x, err := strconv.ParseFloat(t, 64); err == nil {
			return &Value{Kind: vNum, Num: x, File: f.path, Line: n.line}
		}
		return unknown()
	case "true", "false":
		return &Value{Kind: vBool, Bool: n.kind == "true", File: f.path, Line: n.line}
	case "none":
		return &Value{Kind: vNone, File: f.path, Line: n.line}
	case "parenthesized_expression":
		if k := n.named(); len(k) == 1 {
			return p.eval(s, k[0], depth+1)
		}
	case "named_expression":
		// (key := "dev"): the value, also bound to the name.
		v := p.eval(s, n.child("value"), depth+1)
		if nm := n.child("name"); nm != nil {
			s.vars[f.text(nm)] = v
		}
		return v
	case "list_comprehension", "generator_expression", "set_comprehension":
		// [choice(chars) for _ in range(50)]: random when its element is.
		if k := n.named(); len(k) > 0 {
			if v := p.eval(s, k[0], depth+1); v.Kind == vRandom {
				return &Value{Kind: vRandom, Via: v.Via, File: f.path, Line: n.line}
			}
		}
	case "identifier":
		if v, ok := s.lookup(f.text(n)); ok && v != nil {
			return v
		}
		return unknown()
	case "attribute":
		obj := p.eval(s, n.child("object"), depth+1)
		name := f.text(n.child("attribute"))
		switch obj.Kind {
		case vModule:
			if v, ok := obj.Mod.scope(p).vars[name]; ok {
				return v
			}
			if v := p.moduleValue(p.resolve("", 0, obj.Mod.name+"."+name)); v != nil {
				return v
			}
		case vClass:
			if v, _, ok := obj.Class.attr(name); ok {
				return v
			}
		case vEnv, vRandom:
			return obj // a method of the value: see call
		case vChoice:
			out := &Value{Kind: vChoice, File: f.path, Line: n.line}
			for _, a := range obj.Alts {
				var v *Value
				if a.V != nil && a.V.Kind == vClass {
					v, _, _ = a.V.Class.attr(name)
				}
				out.Alts = append(out.Alts, Alt{Cond: a.Cond, V: v, Pos: a.Pos, Neg: a.Neg})
			}
			return out
		}
		return unknown()
	case "binary_operator":
		return place(p.binop(s, n, depth))
	case "unary_operator":
		v := p.eval(s, n.child("argument"), depth+1)
		if v.Kind == vNum && f.text(n.child("operator")) == "-" {
			return &Value{Kind: vNum, Num: -v.Num, File: f.path, Line: n.line}
		}
		return unknown()
	case "not_operator":
		v := p.eval(s, n.child("argument"), depth+1)
		return place(mapLit(v, func(l *Value) *Value {
			if t, ok := l.truth(); ok {
				return &Value{Kind: vBool, Bool: !t}
			}
			return nil
		}))
	case "boolean_operator":
		l, r := p.eval(s, n.child("left"), depth+1), p.eval(s, n.child("right"), depth+1)
		op := f.text(n.child("operator"))
		if t, ok := l.truth(); ok {
			if t == (op == "or") {
				return l
			}
			return r
		}
		if l.Kind == vEnv && l.Default != nil {
			if lt, ok := l.Default.truth(); ok {
				var d *Value
				if lt == (op == "or") {
					d = l.Default
				} else if rl, _ := r.literal(); rl != nil {
					d = rl
				}
				if d != nil {
					return &Value{Kind: vEnv, Env: l.Env, Via: l.Via, Default: d, File: f.path, Line: n.line}
				}
			}
		}
		if op == "or" && l.Kind == vEnv {
			// os.environ.get("K") or "fallback": the fallback is used
			// whenever the variable is unset or empty.
			d := r
			if l.Default != nil {
				if t, ok := l.Default.truth(); ok && t {
					d = l.Default
				}
			}
			return &Value{Kind: vEnv, Env: l.Env, Via: l.Via, Default: d, File: f.path, Line: n.line}
		}
		return unknown()
	case "comparison_operator":
		return place(p.compare(s, n, depth))
	case "conditional_expression":
		k := n.named()
		if len(k) != 3 {
			return unknown()
		}
		c := p.eval(s, k[1], depth+1)
		if t, ok := c.truth(); ok {
			if t {
				return p.eval(s, k[0], depth+1)
			}
			return p.eval(s, k[2], depth+1)
		}
		full := f.text(k[1])
		cond := shorten(full)
		return bounded(&Value{Kind: vChoice, File: f.path, Line: n.line, Alts: []Alt{
			{Cond: "if " + cond, V: p.eval(s, k[0], depth+1), Pos: []string{full}},
			{Cond: "if not " + cond, V: p.eval(s, k[2], depth+1), Neg: []string{full}}}})
	case "dictionary":
		d := &Value{Kind: vDict, Items: map[string]*Value{}, File: f.path, Line: n.line}
		for _, pr := range n.named() {
			if pr.kind == "pair" {
				kv := p.eval(s, pr.child("key"), depth+1)
				if kv.Kind == vStr {
					d.set(kv.Str, p.eval(s, pr.child("value"), depth+1))
				}
			} else if pr.kind == "dictionary_splat" {
				if inner := p.eval(s, pr.named()[0], depth+1); inner.Kind == vDict {
					for _, k := range inner.Keys {
						d.set(k, inner.Items[k])
					}
				}
			}
		}
		return d
	case "list", "tuple", "expression_list":
		l := &Value{Kind: vList, File: f.path, Line: n.line}
		for _, e := range n.named() {
			l.Elems = append(l.Elems, p.eval(s, e, depth+1))
		}
		return l
	case "subscript":
		return place(p.subscript(s, n, depth))
	case "call":
		return place(p.call(s, n, depth))
	}
	return unknown()
}

func (d *Value) set(k string, v *Value) {
	if _, ok := d.Items[k]; !ok {
		d.Keys = append(d.Keys, k)
	}
	d.Items[k] = v
}

// mapLit applies op to a literal, to the fallback of an environment
// lookup (keeping the lookup), or to each branch of a choice. op returns
// nil when it cannot tell.
func mapLit(v *Value, op func(*Value) *Value) *Value {
	switch v.Kind {
	case vEnv:
		out := &Value{Kind: vEnv, Env: v.Env, Via: v.Via, File: v.File, Line: v.Line}
		if v.Default != nil {
			out.Default = mapLit(v.Default, op)
		}
		return out
	case vChoice:
		out := &Value{Kind: vChoice, File: v.File, Line: v.Line}
		for _, a := range v.Alts {
			if a.V == nil {
				out.Alts = append(out.Alts, a)
				continue
			}
			out.Alts = append(out.Alts, Alt{Cond: a.Cond, V: mapLit(a.V, op), Pos: a.Pos, Neg: a.Neg})
		}
		return bounded(out)
	case vRandom:
		return v
	}
	if r := op(v); r != nil {
		if r.File == "" {
			r.File, r.Line = v.File, v.Line
		}
		return r
	}
	return &Value{Kind: vUnknown, Why: "computed from " + v.describe(), File: v.File, Line: v.Line}
}

func (p *project) binop(s *scope, n *node, depth int) *Value {
	f := s.file
	l, r := p.eval(s, n.child("left"), depth+1), p.eval(s, n.child("right"), depth+1)
	v := binValues(l, r, f.text(n.child("operator")))
	if v.Kind == vUnknown {
		v.Why = shorten(f.text(n))
	}
	return v
}

// binValues applies a binary operator to two values.
func binValues(l, r *Value, op string) *Value {
	if l == nil || r == nil {
		return &Value{Kind: vUnknown}
	}
	if l.Kind == vList && r.Kind == vList && op == "+" && len(l.Elems)+len(r.Elems) <= maxElems {
		return &Value{Kind: vList, Elems: append(append([]*Value(nil), l.Elems...), r.Elems...), File: l.File, Line: l.Line}
	}
	if l.Kind == vRandom || r.Kind == vRandom {
		return &Value{Kind: vRandom, Via: l.Via + r.Via}
	}
	if l.Kind == vStr && r.Kind == vStr && op == "+" {
		if len(l.Str)+len(r.Str) > maxStrLen {
			return &Value{Kind: vUnknown, Why: "a string over 64 KiB"}
		}
		return &Value{Kind: vStr, Str: l.Str + r.Str, Bytes: l.Bytes}
	}
	num := func(v *Value) (float64, bool) {
		if v.Kind == vNum || v.Kind == vDuration {
			return v.Num, true
		}
		return 0, false
	}
	a, okA := num(l)
	b, okB := num(r)
	if okA && okB {
		k := vNum
		if l.Kind == vDuration || r.Kind == vDuration {
			k = vDuration
		}
		switch op {
		case "+":
			return &Value{Kind: k, Num: a + b}
		case "-":
			return &Value{Kind: k, Num: a - b}
		case "*":
			return &Value{Kind: k, Num: a * b}
		case "/":
			if b != 0 {
				return &Value{Kind: k, Num: a / b}
			}
		case "//":
			if b != 0 {
				return &Value{Kind: k, Num: float64(int64(a / b))}
			}
		case "**":
			if b >= 0 && b < 64 {
				x := 1.0
				for i := 0; i < int(b); i++ {
					x *= a
				}
				return &Value{Kind: k, Num: x}
			}
		}
	}
	if l.Kind == vStr && op == "%" {
		// "%s-%s" % ("dev", "key"): printf-style formatting of a literal
		// is a literal; of an environment lookup, its fallback is.
		return mapLit(r, func(x *Value) *Value { return percentFormat(l, x) })
	}
	if l.Kind == vStr && r.Kind == vNum && op == "*" && r.Num >= 0 && r.Num*float64(len(l.Str)) <= maxStrLen {
		return &Value{Kind: vStr, Str: strings.Repeat(l.Str, int(r.Num)), Bytes: l.Bytes}
	}
	if op == "+" || op == "*" {
		if l.Kind == vEnv && (r.Kind == vStr || r.Kind == vNum) {
			return mapLit(l, func(x *Value) *Value { return binLit(x, r, op) })
		}
	}
	return &Value{Kind: vUnknown}
}

func binLit(l, r *Value, op string) *Value {
	if l.Kind == vStr && r.Kind == vStr && op == "+" && len(l.Str)+len(r.Str) <= maxStrLen {
		return &Value{Kind: vStr, Str: l.Str + r.Str, Bytes: l.Bytes}
	}
	if l.Kind == vNum && r.Kind == vNum {
		if op == "+" {
			return &Value{Kind: vNum, Num: l.Num + r.Num}
		}
		return &Value{Kind: vNum, Num: l.Num * r.Num}
	}
	return nil
}

func (p *project) compare(s *scope, n *node, depth int) *Value {
	f := s.file
	k := n.named()
	ops := n.child("operators")
	if len(k) != 2 || ops == nil {
		return &Value{Kind: vUnknown, Why: shorten(f.text(n))}
	}
	op := strings.Join(strings.Fields(f.text(ops)), " ")
	l, r := p.eval(s, k[0], depth+1), p.eval(s, k[1], depth+1)
	if rt := dotted(f, k[1]); (op == "in" || op == "not in") && (rt == "os.environ" || rt == "environ") && l.Kind == vStr {
		// "NAME" in os.environ: false when the variable is unset.
		return &Value{Kind: vEnv, Env: l.Str, Via: "presence", Default: &Value{Kind: vBool, Bool: op == "not in"}}
	}
	if l.Kind != vEnv && r.Kind == vEnv {
		l, r = r, l
	}
	if l.Kind == vEnv && l.Default == nil && (strings.HasSuffix(l.Via, "get") || strings.HasSuffix(l.Via, "getenv")) {
		// os.environ.get("K") is None when the variable is unset.
		l = &Value{Kind: vEnv, Env: l.Env, Via: "presence", Default: &Value{Kind: vNone}, File: l.File, Line: l.Line}
	}
	if op == "is" {
		op = "=="
	} else if op == "is not" {
		op = "!="
	}
	return mapLit(l, func(x *Value) *Value {
		switch op {
		case "==", "!=":
			eq, ok := litEqual(x, r)
			if !ok {
				return nil
			}
			return &Value{Kind: vBool, Bool: eq == (op == "==")}
		case "in", "not in":
			if r.Kind != vList && r.Kind != vDict {
				return nil
			}
			found := false
			if r.Kind == vDict {
				_, found = r.Items[x.Str]
			}
			for _, e := range r.Elems {
				if eq, ok := litEqual(x, e); ok && eq {
					found = true
				}
			}
			return &Value{Kind: vBool, Bool: found == (op == "in")}
		}
		return nil
	})
}

func litEqual(a, b *Value) (eq, ok bool) {
	if a == nil || b == nil || a.Kind != b.Kind {
		if a != nil && b != nil && (a.Kind == vNone || b.Kind == vNone) && a.Kind != vEnv && b.Kind != vEnv {
			return false, a.Kind <= vNone && b.Kind <= vNone && a.Kind != vUnknown && b.Kind != vUnknown
		}
		return false, false
	}
	switch a.Kind {
	case vStr:
		return a.Str == b.Str, true
	case vNum:
		return a.Num == b.Num, true
	case vBool:
		return a.Bool == b.Bool, true
	case vNone:
		return true, true
	}
	return false, false
}

func (p *project) subscript(s *scope, n *node, depth int) *Value {
	f := s.file
	obj := n.child("value")
	idx := n.child("subscript")
	ot := dotted(f, obj)
	if ot == "os.environ" || ot == "environ" {
		key := p.eval(s, idx, depth+1)
		if key.Kind == vStr {
			return &Value{Kind: vEnv, Env: key.Str, Via: ot + "[]", Default: p.envDefaults[key.Str]}
		}
	}
	// parser["section"]["KEY"] of a configparser: the value of the .ini
	// file the project ships, which a deployment may edit.
	if obj != nil && obj.kind == "subscript" {
		sec, key := p.eval(s, obj.child("subscript"), depth+1), p.eval(s, idx, depth+1)
		if sec.Kind == vStr && key.Kind == vStr {
			if base := p.eval(s, obj.child("value"), depth+1); base.Kind == vUnknown {
				if v := p.iniValue(sec.Str, key.Str); v != nil {
					return &Value{Kind: vEnv, Env: key.Str, Via: "configparser", Default: v}
				}
			}
		}
	}
	ov := p.eval(s, obj, depth+1)
	if ov.Kind == vDict {
		key := p.eval(s, idx, depth+1)
		return dictPick(ov, key, shorten(f.text(idx)))
	}
	if ov.Kind == vChoice {
		key := p.eval(s, idx, depth+1)
		out := &Value{Kind: vChoice}
		for _, a := range ov.Alts {
			var v *Value
			if a.V != nil && a.V.Kind == vDict {
				v = dictPick(a.V, key, shorten(f.text(idx)))
			} else if a.V != nil {
				v = &Value{Kind: vUnknown, Why: shorten(f.text(n)), File: f.path, Line: n.line}
			}
			out.Alts = append(out.Alts, Alt{Cond: a.Cond, V: v, Pos: a.Pos, Neg: a.Neg})
		}
		return out
	}
	return &Value{Kind: vUnknown, Why: shorten(f.text(n))}
}

// dictPick selects d[key]: the item when key is a literal, and otherwise a
// choice among the items, the one the fallback key selects first.
func dictPick(d, key *Value, keyText string) *Value {
	if key.Kind == vStr {
		if v, ok := d.Items[key.Str]; ok {
			return v
		}
		return &Value{Kind: vUnknown, Why: "missing key " + strconv.Quote(key.Str)}
	}
	ch := &Value{Kind: vChoice, File: d.File, Line: d.Line}
	def := ""
	if l, fromEnv := key.literal(); fromEnv && l.Kind == vStr {
		def = l.Str
	}
	for _, k := range d.Keys {
		cond := "selected by " + keyText + " = " + strconv.Quote(k)
		if k == def {
			cond += " (the fallback when " + key.Env + " is unset)"
		}
		ch.Alts = append(ch.Alts, Alt{Cond: cond, V: d.Items[k], Pos: []string{keyText + " == " + strconv.Quote(k)}})
	}
	return ch
}

// dotted returns the dotted name of an identifier or attribute chain
// ("os.environ.get"), or "".
func dotted(f *pyFile, n *node) string {
	if n == nil {
		return ""
	}
	switch n.kind {
	case "identifier":
		return f.text(n)
	case "attribute":
		o := dotted(f, n.child("object"))
		if o == "" {
			return ""
		}
		return o + "." + f.text(n.child("attribute"))
	}
	return ""
}

// callArgs splits a call's arguments into positional and keyword ones.
func callArgs(f *pyFile, n *node) (pos []*node, kw map[string]*node) {
	kw = map[string]*node{}
	al := n.child("arguments")
	if al == nil || al.kind != "argument_list" {
		return nil, kw
	}
	for _, a := range al.named() {
		switch a.kind {
		case "keyword_argument":
			kw[f.text(a.child("name"))] = a.child("value")
		case "list_splat", "dictionary_splat":
			kw["**"] = a
		default:
			pos = append(pos, a)
		}
	}
	return pos, kw
}

// envGetters are the calls that read the environment with an optional
// fallback as their second argument.
var envGetters = map[string]bool{
	"os.environ.get": true, "environ.get": true, "os.getenv": true, "getenv": true,
	"os.environ.setdefault": true, "environ.setdefault": true,
	"decouple.config": true, "env.str": true, "env.bool": true, "env.int": true, "env.float": true,
	"env.list": true, "env.json": true, "env.url": true, "env.db": true,
}

// fstring evaluates an f-string whose interpolations are all literal str
// or int values with no conversion or format ({'dev'}, {NAME} where NAME
// is a literal): a literal computed from literals. nil otherwise.
func (p *project) fstring(s *scope, n *node, depth int) *Value {
	f := s.file
	var b strings.Builder
	raw := false
	for _, k := range n.kids {
		switch k.kind {
		case "string_start":
			t := strings.ToLower(f.text(k))
			if strings.Contains(t, "b") {
				return nil
			}
			raw = strings.Contains(t, "r")
		case "string_content":
			t := strings.NewReplacer("{{", "{", "}}", "}").Replace(f.text(k))
			if !raw {
				t = unescape(t, false)
			}
			b.WriteString(t)
		case "interpolation":
			e := k.named()
			if len(e) != 1 || strings.HasSuffix(strings.TrimSpace(strings.TrimSuffix(f.text(k), "}")), "=") {
				return nil // a conversion, a format or {x=}
			}
			v := p.eval(s, e[0], depth+1)
			switch {
			case v.Kind == vStr && !v.Bytes:
				b.WriteString(v.Str)
			case v.Kind == vNum && v.Num == float64(int64(v.Num)):
				b.WriteString(strconv.FormatInt(int64(v.Num), 10))
			default:
				return nil
			}
		case "string_end":
		default:
			return nil
		}
	}
	return &Value{Kind: vStr, Str: b.String(), Via: "an f-string", File: f.path, Line: n.line}
}

// hashCalls are the hashlib constructors whose digest of a literal is
// itself a literal anyone who reads the code can compute.
var hashCalls = map[string]func() hash.Hash{
	"md5": md5.New, "sha1": sha1.New, "sha224": sha256.New224, "sha256": sha256.New,
	"sha384": sha512.New384, "sha512": sha512.New,
}

// derived computes the calls that turn a literal into another literal:
// hashlib.sha256(b"dev").hexdigest() (or .digest()), base64's b64decode,
// urlsafe_b64decode, b64encode and urlsafe_b64encode, bytes.fromhex and
// binascii.unhexlify. The result is a literal (Via names the call). nil
// when the call is none of these or its argument is not a literal.
func (p *project) derived(s *scope, fnNode *node, name string, pos []*node, depth int) *Value {
	if fnNode == nil || fnNode.kind != "attribute" || len(pos) > 1 {
		return nil
	}
	f := s.file
	method := f.text(fnNode.child("attribute"))
	if method == "hexdigest" || method == "digest" {
		if len(pos) != 0 {
			return nil
		}
		inner := fnNode.child("object")
		if inner == nil || inner.kind != "call" {
			return nil
		}
		hname := dotted(f, inner.child("function"))
		newHash := hashCalls[strings.TrimPrefix(hname, "hashlib.")]
		ipos, ikw := callArgs(f, inner)
		if newHash == nil || len(ipos) != 1 || len(ikw) != 0 {
			return nil
		}
		in := p.eval(s, ipos[0], depth+1)
		if in.Kind != vStr || !in.Bytes {
			return nil // hashlib takes bytes; a str raises TypeError
		}
		h := newHash()
		h.Write([]byte(in.Str))
		sum := h.Sum(nil)
		via := hname + "()." + method + "()"
		if method == "digest" {
			return &Value{Kind: vStr, Str: string(sum), Bytes: true, Via: via}
		}
		return &Value{Kind: vStr, Str: hex.EncodeToString(sum), Via: via}
	}
	if len(pos) != 1 {
		return nil
	}
	var conv func(string) (string, error)
	switch name {
	case "base64.b64decode", "b64decode":
		conv = func(x string) (string, error) { b, err := base64.StdEncoding.DecodeString(x); return string(b), err }
	case "base64.urlsafe_b64decode", "urlsafe_b64decode":
		conv = func(x string) (string, error) { b, err := base64.URLEncoding.DecodeString(x); return string(b), err }
	case "base64.b64encode", "b64encode":
		conv = func(x string) (string, error) { return base64.StdEncoding.EncodeToString([]byte(x)), nil }
	case "base64.urlsafe_b64encode", "urlsafe_b64encode":
		conv = func(x string) (string, error) { return base64.URLEncoding.EncodeToString([]byte(x)), nil }
	case "bytes.fromhex", "binascii.unhexlify", "binascii.a2b_hex", "unhexlify":
		conv = func(x string) (string, error) {
			b, err := hex.DecodeString(strings.ReplaceAll(x, " ", ""))
			return string(b), err
		}
	default:
		return nil
	}
	in := p.eval(s, pos[0], depth+1)
	if in.Kind != vStr {
		return nil
	}
	out, err := conv(in.Str)
	if err != nil {
		return nil
	}
	return &Value{Kind: vStr, Str: out, Bytes: true, Via: name + "()"}
}

// randomCalls make a value at random when the process starts.
var randomCalls = map[string]bool{
	"token_hex": true, "token_urlsafe": true, "token_bytes": true, "urandom": true,
	"get_random_secret_key": true, "uuid4": true, "randbytes": true, "getrandbits": true,
	"get_random_string": true,
}

// choiceAlts are the alternatives of a random pick from elems.
func choiceAlts(elems []*Value) []Alt {
	out := make([]Alt, 0, len(elems))
	for i, e := range elems {
		out = append(out, Alt{Cond: fmt.Sprintf("random pick %d", i+1), V: e})
	}
	return out
}

// maxElems bounds the lists the evaluator builds (L = L + L).
const maxElems = 10000

// maxStrLen bounds the strings the evaluator builds: A = A + A sixty
// times is 2^60 bytes. No key or setting is longer.
const maxStrLen = 64 << 10

// percentFormat is Python's fmt % args for literal arguments (%s, %d, %r,
// %i and %%; other conversions keep the argument's text), or nil.
func percentFormat(fmtv, args *Value) *Value {
	var vals []*Value
	if args.Kind == vList {
		vals = args.Elems
	} else {
		vals = []*Value{args}
	}
	strs := make([]string, 0, len(vals))
	for _, v := range vals {
		sv := castPython(v, "str")
		if v.Kind == vStr {
			sv = &Value{Kind: vStr, Str: v.Str}
		}
		if sv == nil {
			return nil
		}
		strs = append(strs, sv.Str)
	}
	var b strings.Builder
	in := fmtv.Str
	for i := 0; i < len(in); i++ {
		if in[i] != '%' || i+1 >= len(in) {
			b.WriteByte(in[i])
			continue
		}
		i++
		if in[i] == '%' {
			b.WriteByte('%')
			continue
		}
		if len(strs) == 0 {
			return nil
		}
		b.WriteString(strs[0])
		if b.Len() > maxStrLen {
			return nil
		}
		strs = strs[1:]
	}
	if b.Len() > maxStrLen {
		return nil
	}
	return &Value{Kind: vStr, Str: b.String(), Bytes: fmtv.Bytes}
}

// braceFormat is Python's fmt.format(*args, **kw) for literal arguments
// ({}, {0}, {name}; a format spec is ignored), or nil.
func braceFormat(fmtv *Value, args []*Value, kw map[string]*Value) *Value {
	str := func(v *Value) (string, bool) {
		if v == nil {
			return "", false
		}
		if v.Kind == vStr {
			return v.Str, true
		}
		if sv := castPython(v, "str"); sv != nil {
			return sv.Str, true
		}
		return "", false
	}
	var b strings.Builder
	in, next := fmtv.Str, 0
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c == '{' && i+1 < len(in) && in[i+1] == '{' || c == '}' && i+1 < len(in) && in[i+1] == '}' {
			b.WriteByte(c)
			i++
			continue
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(in[i:], '}')
		if end < 0 {
			return nil
		}
		field := in[i+1 : i+end]
		if j := strings.IndexAny(field, ":!"); j >= 0 {
			field = field[:j]
		}
		var v *Value
		if field == "" {
			if next < len(args) {
				v = args[next]
			}
			next++
		} else if k, err := strconv.Atoi(field); err == nil {
			if k < len(args) {
				v = args[k]
			}
		} else {
			v = kw[field]
		}
		sv, ok := str(v)
		if !ok {
			return nil
		}
		b.WriteString(sv)
		if b.Len() > maxStrLen {
			return nil
		}
		i += end
	}
	return &Value{Kind: vStr, Str: b.String(), Bytes: fmtv.Bytes}
}

func (p *project) call(s *scope, n *node, depth int) *Value {
	f := s.file
	fnNode := n.child("function")
	name := dotted(f, fnNode)
	last := name[strings.LastIndexByte(name, '.')+1:]
	pos, kw := callArgs(f, n)
	arg := func(i int, k string) *node {
		if k != "" && kw[k] != nil {
			return kw[k]
		}
		if i >= 0 && i < len(pos) {
			return pos[i]
		}
		return nil
	}
	// python-decouple's config(...) and django-environ's env(...), unless
	// the name is the project's own function, class or dict.
	projectName := false
	if fnNode != nil && fnNode.kind == "identifier" {
		if v, ok := s.lookup(name); ok && v != nil && (v.Kind == vFunc || v.Kind == vClass || v.Kind == vDict) {
			projectName = true
		}
	}
	isEnv := envGetters[name] || !projectName && (name == "config" || name == "env")
	if isEnv && len(pos) > 0 {
		key := p.eval(s, pos[0], depth+1)
		if key.Kind != vStr {
			return &Value{Kind: vUnknown, Why: shorten(f.text(n))}
		}
		defIdx := 1
		if name == "env" {
			defIdx = -1 // env(var, cast=None, default=NOTSET)
		}
		v := &Value{Kind: vEnv, Env: key.Str, Via: name, Default: p.envDefaults[key.Str]}
		if d := arg(defIdx, "default"); d != nil && v.Default == nil {
			v.Default = p.eval(s, d, depth+1)
			if v.Default.Kind == vNone && (strings.HasSuffix(name, "get") || strings.HasSuffix(name, "getenv")) {
				v.Default = nil
			}
		}
		cast := ""
		if c := kw["cast"]; c != nil {
			cast = f.text(c)
		}
		switch {
		case strings.HasSuffix(name, ".bool"):
			cast = "bool"
		case strings.HasSuffix(name, ".int"):
			cast = "int"
		}
		if v.Default != nil && cast != "" {
			v.Default = castLenient(v.Default, cast)
		}
		return v
	}
	method := last
	if fnNode != nil && fnNode.kind == "attribute" {
		method = f.text(fnNode.child("attribute"))
	}
	if fb := kw["fallback"]; fb != nil && len(pos) >= 1 && (method == "get" || method == "getboolean" || method == "getint" || method == "getfloat") {
		key := p.eval(s, pos[len(pos)-1], depth+1)
		if key.Kind == vStr {
			d := p.eval(s, fb, depth+1)
			if method == "getboolean" {
				d = castLenient(d, "bool")
			}
			return &Value{Kind: vEnv, Env: key.Str, Via: "configparser", Default: d}
		}
	}
	if name == "getattr" && len(pos) >= 2 {
		// getattr(configuration, "NAME", default): the attribute when the
		// object is the project's module or class; else a value decided
		// outside the code (a deployment's configuration module), whose
		// default is what production gets when it leaves NAME out.
		obj, attr := p.eval(s, pos[0], depth+1), p.eval(s, pos[1], depth+1)
		if attr.Kind == vStr {
			switch obj.Kind {
			case vModule:
				if v, ok := obj.Mod.scope(p).vars[attr.Str]; ok {
					return v
				}
			case vClass:
				if v, _, ok := obj.Class.attr(attr.Str); ok {
					return v
				}
			}
			v := &Value{Kind: vEnv, Env: shorten(f.text(pos[0])) + "." + attr.Str, Via: "getattr"}
			if len(pos) >= 3 {
				v.Default = p.eval(s, pos[2], depth+1)
			}
			return v
		}
	}
	if randomCalls[last] {
		return &Value{Kind: vRandom, Via: name + "()"}
	}
	if v := p.derived(s, fnNode, name, pos, depth); v != nil {
		return v
	}
	if (method == "choice" || method == "choices" || method == "sample") && len(pos) >= 1 {
		// random.choice(string.printable): random, unless it picks from
		// a list of literals (then it is one of them).
		if a := p.eval(s, pos[0], depth+1); a.Kind == vList {
			return bounded(&Value{Kind: vChoice, Alts: choiceAlts(a.Elems)})
		}
		return &Value{Kind: vRandom, Via: method + "()"}
	}
	if last == "timedelta" {
		secs := 0.0
		var from []Location
		units := []struct {
			k string
			n float64
		}{{"days", 86400}, {"seconds", 1}, {"microseconds", 1e-6}, {"milliseconds", 1e-3}, {"minutes", 60}, {"hours", 3600}, {"weeks", 604800}}
		for i, u := range units {
			a := arg(i, u.k)
			if a == nil {
				continue
			}
			v := p.eval(s, a, depth+1)
			if l, _ := v.literal(); l != nil && l.Kind == vNum {
				secs += l.Num * u.n
				if v.File != "" && (v.File != f.path || v.Line != a.line) {
					from = append(from, Location{File: v.File, Line: v.Line})
				}
			} else {
				return &Value{Kind: vUnknown, Why: shorten(f.text(n))}
			}
		}
		return &Value{Kind: vDuration, Num: secs, From: from}
	}
	if name == "dict" {
		d := &Value{Kind: vDict, Items: map[string]*Value{}}
		if len(pos) == 1 {
			if inner := p.eval(s, pos[0], depth+1); inner.Kind == vDict {
				for _, k := range inner.Keys {
					d.set(k, inner.Items[k])
				}
			}
		}
		for _, a := range n.child("arguments").named() {
			if a.kind == "keyword_argument" {
				d.set(f.text(a.child("name")), p.eval(s, a.child("value"), depth+1))
			}
		}
		return d
	}
	var argVals []*Value
	for _, a := range pos {
		v := p.eval(s, a, depth+1)
		if v.Kind == vRandom {
			return &Value{Kind: vRandom, Via: v.Via}
		}
		argVals = append(argVals, v)
	}
	switch name {
	case "int", "float", "str", "bool", "bytes":
		if len(argVals) >= 1 {
			return mapLit(argVals[0], func(x *Value) *Value { return castPython(x, name) })
		}
	}
	if fnNode != nil && fnNode.kind == "attribute" {
		obj := p.eval(s, fnNode.child("object"), depth+1)
		method := f.text(fnNode.child("attribute"))
		if obj.Kind == vRandom {
			return obj
		}
		if obj.Kind == vUnknown && obj.Read != "" {
			return obj // f.read().strip(): still read from outside the code
		}
		switch method {
		case "read", "read_text", "read_bytes", "readline":
			return &Value{Kind: vUnknown, Why: shorten(f.text(n)), Read: shorten(f.text(n))}
		case "format":
			if obj.Kind == vStr {
				kwv := map[string]*Value{}
				for k, a := range kw {
					if k != "**" {
						kwv[k] = p.eval(s, a, depth+1)
					}
				}
				if v := braceFormat(obj, argVals, kwv); v != nil {
					return v
				}
			}
		case "get":
			// {"k": "dev"}.get("k"), CONFIG.get("SECRET_KEY", "dev")
			if obj.Kind == vDict && len(argVals) >= 1 && argVals[0].Kind == vStr {
				if v, ok := obj.Items[argVals[0].Str]; ok {
					return v
				}
				if len(argVals) >= 2 {
					return argVals[1]
				}
				return &Value{Kind: vNone}
			}
		case "setdefault":
			// CONFIG.setdefault("SECRET_KEY", "dev"): the item when the
			// dict holds the key (the default is ignored), else the
			// default (None without one), which the dict then holds. The
			// name is rebound to a copy, so a branch's setdefault stays
			// on that branch.
			if obj.Kind == vDict && len(argVals) >= 1 && argVals[0].Kind == vStr {
				if v, ok := obj.Items[argVals[0].Str]; ok {
					return v
				}
				v := &Value{Kind: vNone}
				if len(argVals) >= 2 {
					v = argVals[1]
				}
				if o := fnNode.child("object"); o != nil && o.kind == "identifier" {
					c := &Value{Kind: vDict, Items: map[string]*Value{}, File: obj.File, Line: obj.Line}
					for _, k := range obj.Keys {
						c.set(k, obj.Items[k])
					}
					c.set(argVals[0].Str, v)
					s.vars[f.text(o)] = c
				}
				return v
			}
		}
		if obj.Kind == vStr || obj.Kind == vEnv || obj.Kind == vChoice {
			return mapLit(obj, func(x *Value) *Value { return strMethod(x, method) })
		}
	}
	if fnNode != nil {
		switch v := p.eval(s, fnNode, depth+1); v.Kind {
		case vClass:
			return v // an instance: its attributes are the class's
		case vFunc:
			kwv := map[string]*Value{}
			for k, a := range kw {
				if k != "**" {
					kwv[k] = p.eval(s, a, depth+1)
				}
			}
			r := p.callFunc(v.Fn, argVals, kwv, depth+1)
			// A literal the function returns keeps its own place (the
			// key is written there); other values are placed at the call.
			if r.Kind != vChoice && r.Kind != vClass && r.Kind != vModule && r.Kind != vFunc && !(r.Kind == vStr && r.File != "") {
				c := *r
				c.File, c.Line = f.path, n.line
				r = &c
			}
			return r
		}
	}
	return &Value{Kind: vUnknown, Why: shorten(f.text(n))}
}

// strMethod applies the str and bytes methods config code uses.
func strMethod(x *Value, method string) *Value {
	if x.Kind != vStr {
		return nil
	}
	switch method {
	case "lower":
		return &Value{Kind: vStr, Str: strings.ToLower(x.Str), Bytes: x.Bytes}
	case "upper":
		return &Value{Kind: vStr, Str: strings.ToUpper(x.Str), Bytes: x.Bytes}
	case "strip":
		return &Value{Kind: vStr, Str: strings.TrimSpace(x.Str), Bytes: x.Bytes}
	case "encode":
		return &Value{Kind: vStr, Str: x.Str, Bytes: true, Via: x.Via}
	case "decode":
		return &Value{Kind: vStr, Str: x.Str, Via: x.Via}
	}
	return nil
}

// castPython is Python's int(), float(), str(), bool() and bytes() of a
// literal.
func castPython(x *Value, to string) *Value {
	switch to {
	case "bool":
		if t, ok := x.truth(); ok {
			return &Value{Kind: vBool, Bool: t}
		}
	case "int", "float":
		switch x.Kind {
		case vNum, vDuration:
			return &Value{Kind: vNum, Num: x.Num}
		case vBool:
			if x.Bool {
				return &Value{Kind: vNum, Num: 1}
			}
			return &Value{Kind: vNum, Num: 0}
		case vStr:
			if v, err := strconv.ParseFloat(strings.TrimSpace(x.Str), 64); err == nil {
				return &Value{Kind: vNum, Num: v}
			}
		}
	case "str":
		if x.Kind == vStr && !x.Bytes {
			return x
		}
		if x.Kind == vBool {
			return &Value{Kind: vStr, Str: pyBool(x.Bool)}
		}
		if x.Kind == vNone {
			return &Value{Kind: vStr, Str: "None"}
		}
		if x.Kind == vNum {
			return &Value{Kind: vStr, Str: strconv.FormatFloat(x.Num, 'f', -1, 64)}
		}
	case "bytes":
		if x.Kind == vStr {
			return &Value{Kind: vStr, Str: x.Str, Bytes: true}
		}
	}
	return nil
}

// castLenient is the cast of python-decouple and django-environ: a string
// "true", "1", "yes" or "on" is True for bool, where Python's bool() would
// call any non-empty string true.
func castLenient(x *Value, cast string) *Value {
	if x.Kind != vStr {
		return x
	}
	switch cast {
	case "bool":
		switch strings.ToLower(strings.TrimSpace(x.Str)) {
		case "true", "1", "yes", "on", "y", "t":
			return &Value{Kind: vBool, Bool: true, File: x.File, Line: x.Line}
		}
		return &Value{Kind: vBool, Bool: false, File: x.File, Line: x.Line}
	case "int", "float":
		if v := castPython(x, "int"); v != nil {
			v.File, v.Line = x.File, x.Line
			return v
		}
	}
	return x
}
