package review

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	sitter "github.com/tree-sitter/go-tree-sitter"
	python "github.com/tree-sitter/tree-sitter-python/bindings/go"
)

// node is one node of a parsed Python file, copied out of tree-sitter's
// tree so the analysis runs in plain Go, and the C tree is freed at once.
// Unnamed nodes are kept only when they fill a field (the operator of a
// binary_operator, for one).
type node struct {
	kind       string
	field      string
	anon       bool // an anonymous token (operator, keyword) kept for its field
	start, end uint32
	line       int // 1-based
	kids       []*node
}

// child returns the first child filling field name, or nil.
func (n *node) child(field string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.field == field {
			return k
		}
	}
	return nil
}

// named returns the children that are not punctuation or keywords.
func (n *node) named() []*node {
	if n == nil {
		return nil
	}
	out := make([]*node, 0, len(n.kids))
	for _, k := range n.kids {
		if k.kind != "comment" && !k.anon {
			out = append(out, k)
		}
	}
	return out
}

// walk calls f on n and every descendant, depth first, while f returns true
// for the node's children to be visited.
func (n *node) walk(f func(*node) bool) {
	if n == nil || !f(n) {
		return
	}
	for _, k := range n.kids {
		k.walk(f)
	}
}

// pyFile is one parsed Python source.
type pyFile struct {
	path   string // slash-separated, relative to the project root
	src    []byte
	root   *node
	broken bool // tree-sitter found syntax errors; what parsed is still used
}

func (f *pyFile) text(n *node) string {
	if n == nil {
		return ""
	}
	return string(f.src[n.start:n.end])
}

// errNotPython is returned for input that is not Python source text.
var errNotPython = errors.New("not Python source (binary or not UTF-8)")

// maxNodes bounds the nodes kept from one file, so a pathological file
// (a megabyte of nested brackets) cannot exhaust memory.
const maxNodes = 2_000_000

// universalNewlines reads line ends as Python does: "\r\n" and a lone
// "\r" (old Mac line ends) are newlines. tree-sitter does not take a lone
// "\r" for one, so a file written with them was one long line that did
// not parse, and its app went unseen. Lengths and lines are kept: "\r\n"
// stays, a lone "\r" becomes "\n".
func universalNewlines(src []byte) []byte {
	i := bytes.IndexByte(src, '\r')
	if i < 0 {
		return src
	}
	out := append([]byte(nil), src...)
	for ; i < len(out); i++ {
		if out[i] == '\r' && (i+1 == len(out) || out[i+1] != '\n') {
			out[i] = '\n'
		}
	}
	return out
}

// parsePython parses src. It fails on binary input; syntax errors are not
// failures: tree-sitter recovers, and the file is marked broken.
func parsePython(path string, src []byte) (*pyFile, error) {
	if strings.IndexByte(string(src[:min(len(src), 8192)]), 0) >= 0 || !utf8.Valid(src) {
		return nil, errNotPython
	}
	src = universalNewlines(src)
	p := sitter.NewParser()
	defer p.Close()
	if err := p.SetLanguage(sitter.NewLanguage(python.Language())); err != nil {
		return nil, fmt.Errorf("python grammar: %w", err)
	}
	tree := p.Parse(src, nil)
	if tree == nil {
		return nil, errors.New("the parser gave up")
	}
	defer tree.Close()
	root := tree.RootNode()
	c := root.Walk()
	defer c.Close()
	kinds := map[uint16]string{}
	count := 0
	var build func(field string) *node
	build = func(field string) *node {
		tn := c.Node()
		id := tn.KindId()
		kind, ok := kinds[id]
		if !ok || tn.IsError() {
			kind = tn.Kind()
			if tn.IsError() {
				kind = "ERROR"
			}
			kinds[id] = kind
		}
		if tn.IsMissing() {
			// a token the parser inserted to recover (the ")" of
			// "def f(:"): kept so the error's line is known.
			kind = "MISSING"
		}
		count++
		s, e := tn.ByteRange()
		n := &node{kind: kind, field: field, start: uint32(s), end: uint32(e), line: int(tn.StartPosition().Row) + 1, anon: !tn.IsNamed()}
		if count > maxNodes || kind == "string" && !tn.IsNamed() {
			return n
		}
		if c.GotoFirstChild() {
			for {
				ch := c.Node()
				f := c.FieldName()
				if ch.IsNamed() || f != "" || ch.IsError() || ch.IsMissing() {
					n.kids = append(n.kids, build(f))
				}
				if !c.GotoNextSibling() {
					break
				}
			}
			c.GotoParent()
		}
		return n
	}
	out := &pyFile{path: path, src: src, root: build(""), broken: root.HasError()}
	if count > maxNodes {
		return nil, fmt.Errorf("more than %d syntax nodes", maxNodes)
	}
	return out, nil
}

// pyString decodes one string node: its value, whether it is bytes, and
// whether it is a literal (false for an f-string with interpolations).
func (f *pyFile) pyString(n *node) (val string, isBytes, literal bool) {
	for _, k := range n.kids {
		if k.kind == "interpolation" {
			return "", false, false
		}
	}
	raw := f.text(n)
	i := 0
	for i < len(raw) && raw[i] != '\'' && raw[i] != '"' {
		i++
	}
	prefix := strings.ToLower(raw[:i])
	body := raw[i:]
	q := 1
	if strings.HasPrefix(body, `"""`) || strings.HasPrefix(body, `'''`) {
		q = 3
	}
	if len(body) < 2*q {
		return "", false, false
	}
	body = body[q : len(body)-q]
	isBytes = strings.Contains(prefix, "b")
	if strings.Contains(prefix, "r") {
		return body, isBytes, true
	}
	return unescape(body, isBytes), isBytes, true
}

// unescape applies Python's escape sequences. In bytes, \xhh and octal
// escapes are bytes; in str they are code points, written as UTF-8.
func unescape(s string, isBytes bool) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	put := func(v rune) {
		if isBytes {
			b.WriteByte(byte(v))
		} else {
			b.WriteRune(v)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case '\n':
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'f':
			b.WriteByte(12)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte(11)
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if e != 'x' && isBytes || i+1+n > len(s) {
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			v, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
			if err != nil {
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			put(rune(v))
			i += n
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 32)
			put(rune(v))
			i = j - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String()
}
