// Package weakkeys is latch's list of known weak secret keys: framework
// defaults, placeholders, keys printed in documentation and tutorials, and
// keys leaked in public projects, as found in the wordlists attackers use
// against Flask, Django, Express and JWT applications. latch refuses these
// keys, and `latch flask crack` and `latch audit` try them against live
// session cookies.
//
// The list is keys.txt, embedded at build time, plus a few keys that are
// byte strings and cannot be written on one line of text (see binaryKeys).
// Keys that a framework generates into a project's source are known by
// their form instead (see Generated): they are refused, but cannot be
// tried.
package weakkeys

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

//go:embed keys.txt
var keysTxt string

// binaryKeys are the byte values of keys that documentation prints as Python
// bytes literals: an application that pastes the literal into its code gets
// these bytes, not the text, so both forms are on the list.
var binaryKeys = []string{
	// Flask quickstart (1.x and 2.x): app.secret_key = b'_5#y2L"F4Q8z\n\xec]/'
	"_5#y2L\"F4Q8z\n\xec]/",
	// The same pasted without the b prefix: a str, which Flask encodes as
	// UTF-8 (\xec becomes U+00EC).
	"_5#y2L\"F4Q8z\n\u00ec]/",
	// Flask 0.x quickstart, an os.urandom(24) example output, pasted as
	// bytes (Python 2 and b'...') ...
	"\xfd{H\xe5<\x95\xf9\xe3\x96.5\xd1\x01O<!\xd5\xa2\xa0\x9fR\"\xa1\xa8",
	// ... and as a Python 3 str, encoded as UTF-8.
	"\u00fd{H\u00e5<\u0095\u00f9\u00e3\u0096.5\u00d1\x01O<!\u00d5\u00a2\u00a0\u009fR\"\u00a1\u00a8",
	// Flask-AppBuilder and Apache Superset's former default
	// '\2\1thisismyscretkey\1\2\e\y\y\h' (CVE-2023-27524): Python turns \1
	// and \2 into control bytes and keeps the other backslashes.
	"\x02\x01thisismyscretkey\x01\x02\\e\\y\\y\\h",
}

var (
	once   sync.Once
	keys   []string
	exact  map[string]struct{}
	folded map[string]struct{} // Normal forms
)

func load() {
	once.Do(func() {
		exact = make(map[string]struct{})
		folded = make(map[string]struct{})
		add := func(k string) {
			if _, dup := exact[k]; dup {
				return
			}
			exact[k] = struct{}{}
			if n := Normal(k); n != "" {
				folded[n] = struct{}{}
			}
			keys = append(keys, k)
		}
		for _, line := range strings.Split(keysTxt, "\n") {
			line = strings.TrimRight(line, "\r")
			if isComment(line) {
				continue
			}
			if k := strings.TrimSpace(line); k != "" {
				add(k)
			}
		}
		for _, k := range binaryKeys {
			add(k)
		}
	})
}

// isComment reports whether a line of keys.txt is a comment: "#" alone or
// "# " followed by text. "#secret!" is a key.
func isComment(line string) bool {
	return line == "#" || strings.HasPrefix(line, "# ")
}

// Normal is the form in which Contains compares keys: lower case, with
// the common substitutions undone (0 for o; 1, l and i alike; 3 for e; 4
// and @ for a; 5 and $ for s; 7 for t), and only letters and digits kept,
// in any script. "My-Super-S3cret-Key!" and "my super secret key" have the
// same Normal form.
func Normal(k string) string { return string(appendNormal(nil, k)) }

func appendNormal(dst []byte, k string) []byte {
	for _, r := range k {
		switch r = unicode.ToLower(r); r {
		case '0':
			r = 'o'
		case '1', 'l':
			r = 'i'
		case '3':
			r = 'e'
		case '4', '@':
			r = 'a'
		case '5', '$':
			r = 's'
		case '7':
			r = 't'
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// List returns the known weak keys, in file order, binary keys last. The
// slice is a copy the caller may modify.
func List() []string {
	load()
	out := make([]string, len(keys))
	copy(out, keys)
	return out
}

// Len returns the number of keys on the list.
func Len() int {
	load()
	return len(keys)
}

// Contains reports whether key is on the list, exactly or, when key is
// text (valid UTF-8 without control characters other than tab, newline
// and carriage return), in Normal form: ignoring case, spaces and
// punctuation, and common substitutions of digits and symbols for
// letters. Binary keys match only exactly, since the letters scattered in
// random bytes can spell a listed word.
func Contains(key string) bool {
	load()
	if _, ok := exact[key]; ok {
		return true
	}
	if !isText(key) {
		return false
	}
	var buf [128]byte
	n := appendNormal(buf[:0], key)
	if len(n) == 0 {
		return false
	}
	_, ok := folded[string(n)]
	return ok
}

// generated are the families of keys a framework writes into a project's
// source, told apart by a prefix the framework puts on them.
var generated = []struct{ prefix, what string }{
	// django-admin startproject (Django 3.2 and later) writes
	// SECRET_KEY = 'django-insecure-...' into settings.py; Django's own
	// deployment check (security.W009) calls a key with this prefix
	// insecure, "generated automatically by Django".
	{"django-insecure-", "Django's development key (django-insecure-...), generated into settings.py by django-admin startproject"},
}

// Generated reports whether key is of a family of keys that a framework
// generates into a project's source, which is then published with it, and
// says which. Such a key is a published default by construction, though
// its value is not on the list. Spaces around the key are ignored.
func Generated(key string) (what string, ok bool) {
	key = strings.TrimSpace(key)
	for _, g := range generated {
		if strings.HasPrefix(key, g.prefix) {
			return g.what, true
		}
	}
	return "", false
}

func isText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}
