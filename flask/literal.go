package flask

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// ExpandCandidates returns words followed by the values of those words that
// are written as Python string or bytes literals, without repeats. Key
// wordlists mined from source code hold keys as they appear there, such as
// b'\xfd{H\xe5<...' or '_5#y2L"F4Q8z\n\xec]/', and Flask signs with the value
// the literal denotes: bytes as they are, a str encoded as UTF-8. Crack tries
// candidates as given; pass them through ExpandCandidates first to try both
// forms.
func ExpandCandidates(words []string) []string {
	seen := make(map[string]struct{}, len(words))
	out := make([]string, 0, len(words))
	for _, w := range words {
		if _, dup := seen[w]; !dup {
			seen[w] = struct{}{}
			out = append(out, w)
		}
	}
	for _, w := range words {
		v, ok := pythonLiteral(w)
		if !ok {
			continue
		}
		if _, dup := seen[v]; !dup {
			seen[v] = struct{}{}
			out = append(out, v)
		}
	}
	return out
}

// pythonLiteral decodes s when it is one Python string or bytes literal
// (prefixes b, r, br, rb in any case; single or double quotes, not triple).
func pythonLiteral(s string) (string, bool) {
	s = strings.TrimSpace(s)
	i := 0
	isBytes, raw := false, false
	for i < len(s) && i < 2 {
		switch s[i] {
		case 'b', 'B':
			if isBytes {
				return "", false
			}
			isBytes = true
		case 'r', 'R':
			if raw {
				return "", false
			}
			raw = true
		default:
			goto quote
		}
		i++
	}
quote:
	if len(s)-i < 2 {
		return "", false
	}
	q := s[i]
	if (q != '\'' && q != '"') || s[len(s)-1] != q {
		return "", false
	}
	body := s[i+1 : len(s)-1]
	var b strings.Builder
	for j := 0; j < len(body); j++ {
		c := body[j]
		if c == q {
			return "", false // an unescaped quote: not a single literal
		}
		if c != '\\' {
			if isBytes && c >= 0x80 {
				return "", false // bytes literals are ASCII only
			}
			b.WriteByte(c)
			continue
		}
		if j+1 >= len(body) {
			return "", false
		}
		if raw {
			// A raw literal keeps the backslash; it only stops an
			// escaped quote from ending the literal.
			b.WriteByte('\\')
			b.WriteByte(body[j+1])
			j++
			continue
		}
		j++
		e := body[j]
		switch e {
		case '\n':
			// A backslash-newline continues the line.
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n := 0
			k := j
			for k < len(body) && k < j+3 && body[k] >= '0' && body[k] <= '7' {
				n = n*8 + int(body[k]-'0')
				k++
			}
			j = k - 1
			if !writeCode(&b, n, isBytes) {
				return "", false
			}
		case 'x':
			if j+2 >= len(body) {
				return "", false
			}
			n, err := strconv.ParseUint(body[j+1:j+3], 16, 8)
			if err != nil {
				return "", false
			}
			j += 2
			writeCode(&b, int(n), isBytes)
		case 'u', 'U':
			if isBytes {
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			width := 4
			if e == 'U' {
				width = 8
			}
			if j+width >= len(body) {
				return "", false
			}
			n, err := strconv.ParseUint(body[j+1:j+1+width], 16, 32)
			if err != nil || n > utf8.MaxRune || (n >= 0xd800 && n < 0xe000) {
				return "", false
			}
			j += width
			b.WriteRune(rune(n))
		case 'N':
			if !isBytes {
				return "", false // named characters are not supported
			}
			b.WriteString(`\N`)
		default:
			// Python keeps unknown escapes, backslash included.
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String(), true
}

// writeCode writes character n: a byte in a bytes literal, a code point
// (UTF-8 encoded, as Flask encodes str keys) in a str literal.
func writeCode(b *strings.Builder, n int, isBytes bool) bool {
	if isBytes {
		if n > 0xff {
			return false
		}
		b.WriteByte(byte(n))
		return true
	}
	b.WriteRune(rune(n))
	return true
}
