package latch

import (
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/latchsec/latch/internal/weakkeys"
)

// ErrWeakKey is matched (with errors.Is) by every *WeakKeyError.
var ErrWeakKey = errors.New("latch: weak secret key")

// WeakKeyError says why a key was refused. It names the rule that failed
// and never includes the key itself.
type WeakKeyError struct {
	KeyID string // the key's id, when known
	// Rule is "too-short", "known-key", "few-distinct-bytes",
	// "repeating-pattern", "low-entropy" or "low-entropy-text".
	Rule string
	// Detail explains the rule in words, with figures but without the key.
	Detail string
}

func (e *WeakKeyError) Error() string {
	id := ""
	if e.KeyID != "" {
		id = fmt.Sprintf(" %q", e.KeyID)
	}
	return fmt.Sprintf("latch: secret key%s refused (%s): %s", id, e.Rule, e.Detail)
}

// Is makes errors.Is(err, ErrWeakKey) true.
func (e *WeakKeyError) Is(target error) bool { return target == ErrWeakKey }

// minKeyBits is the entropy a key must carry by latch's estimates.
const minKeyBits = 128

// minDistinct is the fewest distinct characters a key may have. It was 8,
// but one random 32-character hex key in 30 million has only 7 (and one
// in 3 trillion only 5).
const minDistinct = 6

// CheckKey applies latch's strength rules to a raw secret key and returns a
// *WeakKeyError naming the first rule it fails, or nil. The rules:
//
//   - known-key: not a published default or example key, compared after
//     folding case, dropping punctuation and spaces and undoing common
//     substitutions (0 for o, 1 for l or i, 3 for e, 4 and @ for a, 5 and
//     $ for s, 7 for t), nor a key a framework generates into the
//     project's source (Django's django-insecure-... key);
//   - too-short: at least MinKeySize bytes;
//   - few-distinct-bytes: at least 6 distinct characters;
//   - repeating-pattern: no block repeated over three quarters of the key
//     or more (wherever the rest is), and not mostly a counting sequence;
//   - low-entropy: when the key is not mostly printable text, at least 128
//     bits by the frequencies of its bytes (their Shannon entropy times
//     the key's length);
//   - low-entropy-text: when it is, at least 128 bits of estimated entropy
//     (see textBits).
//
// A key that is valid UTF-8 is judged by its characters, in any script;
// other keys by their bytes. A random key in a common text encoding (hex,
// base32, base64 or base64url, with or without padding) passes when its
// text is at least MinKeySize bytes and encodes at least 128 bits, as a
// test over 100,000 keys per encoding and size shows. Keys from
// GenerateKey always pass.
func CheckKey(secret []byte) error {
	if weakkeys.Contains(string(secret)) {
		return &WeakKeyError{Rule: "known-key", Detail: "the key is a published default or example key"}
	}
	if what, ok := weakkeys.Generated(string(secret)); ok {
		return &WeakKeyError{Rule: "known-key", Detail: "the key is a published default: " + what + ", so it is in the project's source"}
	}
	if len(secret) < MinKeySize {
		return &WeakKeyError{Rule: "too-short", Detail: fmt.Sprintf("%d bytes, need at least %d (make one with \"latch keygen\")", len(secret), MinKeySize)}
	}
	u, bytewise := keyUnits(secret)
	what := "characters"
	if bytewise {
		what = "byte values"
	}
	counts := countChars(u)
	if n := counts.distinct(); n < minDistinct {
		return &WeakKeyError{Rule: "few-distinct-bytes", Detail: fmt.Sprintf("only %d distinct %s", n, what)}
	}
	if p := repeatedBlock(u); p > 0 {
		return &WeakKeyError{Rule: "repeating-pattern", Detail: fmt.Sprintf("a %d-character block repeats over three quarters of the key or more", p)}
	}
	if arithmeticShare(u, bytewise) >= 0.5 {
		return &WeakKeyError{Rule: "repeating-pattern", Detail: "half the key or more is a counting sequence"}
	}
	if printableShare(u, bytewise) < 0.9 {
		if bits := counts.shannonBits(len(u)); bits < minKeyBits {
			return &WeakKeyError{Rule: "low-entropy", Detail: fmt.Sprintf("the frequencies of its %s give about %.0f bits, need %d", what, bits, minKeyBits)}
		}
		return nil
	}
	if bits := textBits(u); bits < minKeyBits {
		return &WeakKeyError{Rule: "low-entropy-text", Detail: fmt.Sprintf("the key is text with about %.0f bits of estimated entropy, need %d", bits, minKeyBits)}
	}
	return nil
}

// keyUnits returns the characters of a key that is valid UTF-8 and holds
// some non-ASCII text, and otherwise its bytes, one rune per byte
// (bytewise).
func keyUnits(secret []byte) (u []rune, bytewise bool) {
	if utf8.Valid(secret) {
		for _, c := range secret {
			if c >= utf8.RuneSelf {
				return []rune(string(secret)), false
			}
		}
	}
	u = make([]rune, len(secret))
	for i, c := range secret {
		u[i] = rune(c)
	}
	return u, true
}

// freq counts how often each character occurs in a key: a table for the
// first 256 code points, a map for the rest.
type freq struct {
	small [256]int
	large map[rune]int
}

func countChars(u []rune) *freq {
	f := &freq{}
	for _, r := range u {
		if r < 256 {
			f.small[r]++
			continue
		}
		if f.large == nil {
			f.large = make(map[rune]int)
		}
		f.large[r]++
	}
	return f
}

// distinct is the number of different characters.
func (f *freq) distinct() int {
	n := len(f.large)
	for _, c := range f.small {
		if c > 0 {
			n++
		}
	}
	return n
}

// shannonBits is the Shannon estimate of the key's entropy: its length n
// times the entropy of its character frequencies.
func (f *freq) shannonBits(n int) float64 {
	bits := float64(n) * math.Log2(float64(n)) // n*H = n*log2(n) - sum of c*log2(c)
	for _, c := range f.small {
		if c > 1 {
			bits -= float64(c) * math.Log2(float64(c))
		}
	}
	for _, c := range f.large {
		bits -= float64(c) * math.Log2(float64(c))
	}
	return bits
}

// repeatedBlock returns the smallest p such that a stretch of at least
// three quarters of u is a block of p characters repeated (twice or more,
// the last copy perhaps cut short), or 0. The rest of the key may be
// anything: "passwordpasswordpasswordpassword" followed by a few newlines
// is still a repeated word.
func repeatedBlock(u []rune) int {
	n := len(u)
	span := (3*n + 3) / 4 // the stretch a repeat must cover
	for p := 1; p <= n/2; p++ {
		need := max(span, 2*p)
		// Every stretch of that length covers u[n-need:need], where a
		// period p shows at every i from n-need+p; most keys fail this
		// at once.
		lo, hi := n-need, need
		ok := true
		for i := lo + p; i < hi; i++ {
			if u[i] != u[i-p] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		start, end := lo, hi
		for start > 0 && u[start-1] == u[start-1+p] {
			start--
		}
		for end < n && u[end] == u[end-p] {
			end++
		}
		if end-start >= need {
			return p
		}
	}
	return 0
}

// arithmeticShare is the share of positions that continue the step of the
// two characters before them (0x01 0x02 0x03..., "abcdef..."). When
// bytewise, steps count modulo 256 (0xfe 0xff 0x00 continues).
func arithmeticShare(u []rune, bytewise bool) float64 {
	if len(u) < 3 {
		return 0
	}
	n := 0
	for i := 2; i < len(u); i++ {
		d1, d2 := u[i]-u[i-1], u[i-1]-u[i-2]
		if bytewise {
			d1, d2 = d1&0xff, d2&0xff
		}
		if d1 == d2 {
			n++
		}
	}
	return float64(n) / float64(len(u)-2)
}

func printableShare(u []rune, bytewise bool) float64 {
	n := 0
	for _, r := range u {
		if r >= 0x20 && r < 0x7f || !bytewise && r >= utf8.RuneSelf && unicode.IsPrint(r) {
			n++
		}
	}
	return float64(n) / float64(len(u))
}

// An encoding is the text encoding a key is written in, when it is one of
// the common ones; it fixes what a random character of the key is worth.
type encoding int

const (
	plainText encoding = iota
	hexText
	base32Text
	base64Text
)

// encodingOf says which common encoding the text u is valid in: hex (one
// letter case; a text of digits only counts as hex), base32, or base64
// (standard or URL alphabet), each with or without padding.
func encodingOf(u []rune) encoding {
	var buf [128]byte
	s := buf[:0]
	for _, r := range u {
		if r >= utf8.RuneSelf {
			return plainText
		}
		s = append(s, byte(r))
	}
	var lowerHex, upperHex, lower, upper, digit, std, url, pad, other bool
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'f':
			lowerHex = true
		case 'A' <= c && c <= 'F':
			upperHex = true
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case '0' <= c && c <= '9':
			digit = digit || c < '2' || c > '7'
		case c == '+' || c == '/':
			std = true
		case c == '-' || c == '_':
			url = true
		case c == '=':
			pad = true
		default:
			other = true
		}
	}
	letters := lower || upper || lowerHex || upperHex
	switch {
	case other || std && url:
		return plainText
	case !lower && !upper && !std && !url && !pad && !(lowerHex && upperHex):
		if len(s)%2 == 0 {
			return hexText
		}
	case !lower && !lowerHex && !digit && !std && !url && base32Valid(s, pad):
		return base32Text
	}
	if letters && base64Valid(s, pad, url) {
		return base64Text
	}
	return plainText
}

var rawBase32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func base32Valid(s []byte, padded bool) bool {
	e := rawBase32
	if padded {
		e = base32.StdEncoding
	}
	return decodes(e.DecodedLen(len(s)), e.Decode, s)
}

func base64Valid(s []byte, padded, url bool) bool {
	var e *base64.Encoding
	switch {
	case padded && url:
		e = base64.URLEncoding
	case padded:
		e = base64.StdEncoding
	case url:
		e = base64.RawURLEncoding
	default:
		e = base64.RawStdEncoding
	}
	return decodes(e.DecodedLen(len(s)), e.Decode, s)
}

func decodes(n int, decode func(dst, src []byte) (int, error), s []byte) bool {
	_, err := decode(make([]byte, n), s)
	return err == nil
}

// textBits estimates the entropy of a text key in bits.
//
// A key in hex, base32 or base64 (see encodingOf) is worth what a random
// one is: 4, 5 or 6 bits a character, padding nothing. Random text in
// those alphabets has long runs of letters of one case, which the word
// model below would take for words, so it is not used for them, with one
// exception: base64 text whose letters after the first are all of one
// case and whose letter pairs are those of English words (see wordy) is
// judged as words, since a random key almost never is ("correct-horse-..."
// and "mysecretkey..." are valid base64). An all-capitals phrase that is
// valid base32 therefore counts as base32.
//
// Other text is judged by wordBits.
func textBits(u []rune) float64 {
	per := 0.0
	switch encodingOf(u) {
	case hexText:
		per = 4
	case base32Text:
		per = 5
	case base64Text:
		if wordy(u) {
			return wordBits(u)
		}
		per = 6
	default:
		return wordBits(u)
	}
	bits := 0.0
	for _, r := range u {
		if r != '=' {
			bits += per
		}
	}
	return bits
}

// wordBits estimates the entropy of text that people wrote with a word
// model: the lower of two estimates. In the first, a run of letters of
// one case (after its first) costs what picking words from a 5,000-word
// list costs (one word for up to 12 letters, one per 6 letters beyond),
// or less if it is short; a mixed-case run costs log2(52) a letter (6
// bits for a letter that is not ASCII), a digit log2(10), and any other
// character log2(33) the first time it appears and 1 bit when it repeats
// (word separators carry almost nothing).
func wordBits(u []rune) float64 {
	const perWord = 12.3 // log2(5000)
	seen := make(map[rune]bool)
	bits := 0.0
	for i := 0; i < len(u); {
		j := i
		for j < len(u) && unicode.IsLetter(u[j]) {
			j++
		}
		if n := j - i; n > 0 {
			mixed := mixedCase(u[i+1 : j])
			random := 0.0 // what the run costs as random letters
			for _, r := range u[i:j] {
				random += letterBits(r, mixed)
			}
			if mixed {
				bits += random
			} else {
				chunks := 1
				if n > 12 {
					chunks = (n + 5) / 6
				}
				bits += math.Min(random, perWord*float64(chunks))
			}
			i = j
			continue
		}
		r := u[i]
		switch {
		case unicode.IsDigit(r):
			bits += math.Log2(10)
		case seen[r]:
			bits++
		default:
			bits += math.Log2(33)
		}
		seen[r] = true
		i++
	}
	return bits
}

// englishPairs are the 50 most common letter pairs of English text, which
// make up about half of its pairs and 7% of random letters' pairs.
var englishPairs = func() map[[2]rune]bool {
	m := make(map[[2]rune]bool)
	for _, p := range strings.Fields("th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur") {
		m[[2]rune{rune(p[0]), rune(p[1])}] = true
	}
	return m
}()

// wordy reports whether text looks written by people rather than drawn
// at random: its letters after the first are all of one case, and at
// least a quarter of at least 10 pairs of adjacent letters are common
// English pairs. Phrases run together score 30 to 55%; random letters
// 7%, and random base64 has letters of one case once in 10^7 keys.
func wordy(u []rune) bool {
	if len(u) < 2 || mixedCase(u[1:]) {
		return false
	}
	pairs, common := 0, 0
	for i := 1; i < len(u); i++ {
		a, b := unicode.ToLower(u[i-1]), unicode.ToLower(u[i])
		if unicode.IsLetter(a) && unicode.IsLetter(b) {
			pairs++
			if englishPairs[[2]rune{a, b}] {
				common++
			}
		}
	}
	return pairs >= 10 && 4*common >= pairs
}

// letterBits is what one random letter r is worth in a run of letters.
func letterBits(r rune, mixed bool) float64 {
	switch {
	case r >= utf8.RuneSelf:
		return 6
	case mixed:
		return math.Log2(52)
	}
	return math.Log2(26)
}

// mixedCase reports whether u holds both lower- and upper-case letters.
func mixedCase(u []rune) bool {
	lower, upper := false, false
	for _, r := range u {
		lower = lower || unicode.IsLower(r)
		upper = upper || unicode.IsUpper(r)
	}
	return lower && upper
}
