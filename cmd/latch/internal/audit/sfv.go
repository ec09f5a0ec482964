package audit

import (
	"errors"
	"fmt"
	"strings"
)

// A small parser of RFC 9651 structured-field lists and items, enough for
// the DBSC headers: Secure-Session-Registration is a list of inner lists
// of tokens with parameters, Secure-Session-Challenge a list of strings
// with parameters. It takes the target's text, so it is bounded by the
// header's length (every step consumes input), never panics and refuses
// what the RFC refuses rather than guess.

// sfKind is the type of a bare item.
type sfKind int

const (
	sfString sfKind = iota
	sfToken
	sfBool
	sfNumber
	sfBytes
)

// sfItem is a bare item with its parameters.
type sfItem struct {
	kind   sfKind
	s      string // the string, token, number's text or byte sequence's base64
	b      bool
	params []sfParam
}

// sfParam is one parameter; a key without a value is true.
type sfParam struct {
	key string
	val sfItem
}

// sfMember is a list member: an item, or an inner list of items, each
// with parameters.
type sfMember struct {
	inner  bool
	items  []sfItem // one for an item
	params []sfParam
}

// sfParamOf returns the last parameter called key (RFC 9651 4.2.3.2: a
// duplicate key overwrites).
func sfParamOf(ps []sfParam, key string) (sfItem, bool) {
	var v sfItem
	found := false
	for _, p := range ps {
		if p.key == key {
			v, found = p.val, true
		}
	}
	return v, found
}

type sfParser struct {
	s string
	i int
}

var errSF = errors.New("not a structured-field list")

// parseSFList parses a list header value (several field lines joined by
// ", " are one list).
func parseSFList(v string) ([]sfMember, error) {
	p := &sfParser{s: v}
	p.skipSP()
	var out []sfMember
	for p.i < len(p.s) {
		m, err := p.member()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		p.skipOWS()
		if p.i == len(p.s) {
			return out, nil
		}
		if p.s[p.i] != ',' {
			return nil, fmt.Errorf("%w: %q after a member", errSF, p.s[p.i])
		}
		p.i++
		p.skipOWS()
		if p.i == len(p.s) {
			return nil, fmt.Errorf("%w: trailing comma", errSF)
		}
	}
	return out, nil
}

func (p *sfParser) skipSP() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *sfParser) member() (sfMember, error) {
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		m := sfMember{inner: true}
		for {
			p.skipSP()
			if p.i >= len(p.s) {
				return sfMember{}, fmt.Errorf("%w: unterminated inner list", errSF)
			}
			if p.s[p.i] == ')' {
				p.i++
				break
			}
			it, err := p.item()
			if err != nil {
				return sfMember{}, err
			}
			m.items = append(m.items, it)
			if p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != ')' {
				return sfMember{}, fmt.Errorf("%w: %q inside an inner list", errSF, p.s[p.i])
			}
		}
		ps, err := p.params()
		if err != nil {
			return sfMember{}, err
		}
		m.params = ps
		return m, nil
	}
	it, err := p.item()
	if err != nil {
		return sfMember{}, err
	}
	return sfMember{items: []sfItem{it}, params: it.params}, nil
}

func (p *sfParser) item() (sfItem, error) {
	it, err := p.bare()
	if err != nil {
		return sfItem{}, err
	}
	it.params, err = p.params()
	return it, err
}

func (p *sfParser) params() ([]sfParam, error) {
	var ps []sfParam
	for p.i < len(p.s) && p.s[p.i] == ';' {
		p.i++
		p.skipSP()
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		v := sfItem{kind: sfBool, b: true}
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			if v, err = p.bare(); err != nil {
				return nil, err
			}
		}
		ps = append(ps, sfParam{key: k, val: v})
	}
	return ps, nil
}

func (p *sfParser) key() (string, error) {
	start := p.i
	if p.i >= len(p.s) || !(isLower(p.s[p.i]) || p.s[p.i] == '*') {
		return "", fmt.Errorf("%w: a parameter key must start with a lowercase letter or *", errSF)
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !(isLower(c) || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) bare() (sfItem, error) {
	if p.i >= len(p.s) {
		return sfItem{}, fmt.Errorf("%w: missing item", errSF)
	}
	c := p.s[p.i]
	switch {
	case c == '"':
		return p.str()
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			b := p.s[p.i+1] == '1'
			p.i += 2
			return sfItem{kind: sfBool, b: b}, nil
		}
		return sfItem{}, fmt.Errorf("%w: bad boolean", errSF)
	case c == ':':
		end := strings.IndexByte(p.s[p.i+1:], ':')
		if end < 0 {
			return sfItem{}, fmt.Errorf("%w: unterminated byte sequence", errSF)
		}
		v := p.s[p.i+1 : p.i+1+end]
		for j := 0; j < len(v); j++ {
			if !(isAlpha(v[j]) || isDigit(v[j]) || v[j] == '+' || v[j] == '/' || v[j] == '=') {
				return sfItem{}, fmt.Errorf("%w: bad byte sequence", errSF)
			}
		}
		p.i += end + 2
		return sfItem{kind: sfBytes, s: v}, nil
	case c == '-' || isDigit(c):
		start := p.i
		if c == '-' {
			p.i++
		}
		digits, dot := 0, false
		for p.i < len(p.s) && (isDigit(p.s[p.i]) || (p.s[p.i] == '.' && !dot)) {
			if p.s[p.i] == '.' {
				dot = true
			} else {
				digits++
			}
			p.i++
		}
		if digits == 0 || digits > 15 {
			return sfItem{}, fmt.Errorf("%w: bad number", errSF)
		}
		return sfItem{kind: sfNumber, s: p.s[start:p.i]}, nil
	case isAlpha(c) || c == '*':
		start := p.i
		for p.i < len(p.s) && (isTchar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return sfItem{kind: sfToken, s: p.s[start:p.i]}, nil
	}
	return sfItem{}, fmt.Errorf("%w: unexpected %q", errSF, c)
}

func (p *sfParser) str() (sfItem, error) {
	p.i++ // the opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.i >= len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return sfItem{}, fmt.Errorf("%w: bad escape in a string", errSF)
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return sfItem{kind: sfString, s: b.String()}, nil
		case c < 0x20 || c > 0x7e:
			return sfItem{}, fmt.Errorf("%w: control or non-ASCII character in a string", errSF)
		default:
			b.WriteByte(c)
		}
	}
	return sfItem{}, fmt.Errorf("%w: unterminated string", errSF)
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return isLower(c) || (c >= 'A' && c <= 'Z') }

// isTchar is RFC 9110's tchar.
func isTchar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
