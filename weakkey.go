package latch

import (
	"errors"
	"fmt"
	"math"

	"github.com/latchsec/latch/internal/weakkeys"
)

// ErrWeakKey is matched (with errors.Is) by every *WeakKeyError.
var ErrWeakKey = errors.New("latch: weak secret key")

// WeakKeyError says why a key was refused. It names the rule that failed
// and never includes the key itself.
type WeakKeyError struct {
	KeyID string // the key's id, when known
	Rule  string // "too-short", "known-key", "few-distinct-bytes", "repeating-pattern", "low-entropy-text"
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

// CheckKey applies latch's strength rules to a raw secret key and returns a
// *WeakKeyError naming the first rule it fails, or nil. The rules: at least
// MinKeySize bytes; not a published default or example key; at least 8
// distinct byte values; not a repeated block or an arithmetic sequence; and
// when the key is mostly printable text, at least 128 bits of estimated
// entropy, counting words as words rather than as random letters (see
// textEntropy). Keys from
// GenerateKey always pass.
func CheckKey(secret []byte) error {
	if weakkeys.Contains(string(secret)) {
		return &WeakKeyError{Rule: "known-key", Detail: "the key is a published default or example key"}
	}
	if len(secret) < MinKeySize {
		return &WeakKeyError{Rule: "too-short", Detail: fmt.Sprintf("%d bytes, need at least %d (make one with \"latch keygen\")", len(secret), MinKeySize)}
	}
	var seen [256]bool
	distinct := 0
	for _, c := range secret {
		if !seen[c] {
			seen[c] = true
			distinct++
		}
	}
	if distinct < 8 {
		return &WeakKeyError{Rule: "few-distinct-bytes", Detail: fmt.Sprintf("only %d distinct byte values", distinct)}
	}
	if p := repeatPeriod(secret); p > 0 {
		return &WeakKeyError{Rule: "repeating-pattern", Detail: fmt.Sprintf("the key repeats a %d-byte block", p)}
	}
	if arithmeticShare(secret) >= 0.5 {
		return &WeakKeyError{Rule: "repeating-pattern", Detail: "half the key or more is a counting sequence"}
	}
	if printableShare(secret) >= 0.9 {
		if bits := textEntropy(secret); bits < 128 {
			return &WeakKeyError{Rule: "low-entropy-text", Detail: fmt.Sprintf("the key is text with about %.0f bits of estimated entropy, need 128", bits)}
		}
	}
	return nil
}

// repeatPeriod returns the smallest p <= len(b)/2 such that b is a block of
// p bytes repeated (the last copy may be cut short), or 0.
func repeatPeriod(b []byte) int {
	for p := 1; p <= len(b)/2; p++ {
		ok := true
		for i := p; i < len(b); i++ {
			if b[i] != b[i-p] {
				ok = false
				break
			}
		}
		if ok {
			return p
		}
	}
	return 0
}

// arithmeticShare is the share of positions that continue the step of the
// two bytes before them (0x01 0x02 0x03..., "abcdef...").
func arithmeticShare(b []byte) float64 {
	if len(b) < 3 {
		return 0
	}
	n := 0
	for i := 2; i < len(b); i++ {
		if b[i]-b[i-1] == b[i-1]-b[i-2] {
			n++
		}
	}
	return float64(n) / float64(len(b)-2)
}

func printableShare(b []byte) float64 {
	n := 0
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			n++
		}
	}
	return float64(n) / float64(len(b))
}

// textEntropy estimates the entropy of a text key in bits: the lower of its
// Shannon estimate (length times the entropy of its character frequencies)
// and a word model. In the word model a single-case run of letters costs
// what picking words from a 5,000-word list costs (one word for up to 12
// letters, one per 6 letters beyond), or less if it is short; a
// mixed-case run costs log2(52) a letter, a digit log2(10), and any other
// character log2(33) the first time it appears and 1 bit when it repeats
// (word separators carry almost nothing).
func textEntropy(b []byte) float64 {
	var freq [256]int
	for _, c := range b {
		freq[c]++
	}
	shannon := 0.0
	for _, f := range freq {
		if f > 0 {
			p := float64(f) / float64(len(b))
			shannon -= p * math.Log2(p)
		}
	}
	shannon *= float64(len(b))

	const wordBits = 12.3 // log2(5000)
	var seen [256]bool
	words := 0.0
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && isLetter(b[j]) {
			j++
		}
		switch n := j - i; {
		case n > 0 && !mixedCase(b[i+1:j]):
			chunks := 1
			if n > 12 {
				chunks = (n + 5) / 6
			}
			words += math.Min(float64(n)*math.Log2(26), wordBits*float64(chunks))
			i = j
		case n > 0:
			words += float64(n) * math.Log2(52)
			i = j
		default:
			c := b[i]
			switch {
			case '0' <= c && c <= '9':
				words += math.Log2(10)
			case seen[c]:
				words++
			default:
				words += math.Log2(33)
			}
			seen[c] = true
			i++
		}
	}
	return math.Min(shannon, words)
}

// mixedCase reports whether b holds both lower- and upper-case letters.
func mixedCase(b []byte) bool {
	lower, upper := false, false
	for _, c := range b {
		lower = lower || 'a' <= c && c <= 'z'
		upper = upper || 'A' <= c && c <= 'Z'
	}
	return lower && upper
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
