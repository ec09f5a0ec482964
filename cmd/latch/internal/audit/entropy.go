package audit

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// MinEntropyBits is the effective entropy a session token needs (OWASP
// ASVS V3, NIST SP 800-63B: at least 64 bits).
const MinEntropyBits = 64

// FIPSBits is the length of the bit sequence the FIPS 140-2 statistical
// tests examine.
const FIPSBits = 20000

// PositionStat describes one character position across the sample.
type PositionStat struct {
	// Symbols is the number of distinct characters seen at the position
	// (a token too short to reach it counts as one more symbol).
	Symbols int `json:"symbols"`
	// MaxCount is how often the most common character occurred.
	MaxCount int `json:"max_count"`
	// MinEntropy is -log2(MaxCount/N): the most-common-value min-entropy
	// estimate in bits.
	MinEntropy float64 `json:"min_entropy"`
	// Uniform is the estimate a perfectly uniform source over the token's
	// alphabet would show at this sample size (0 for a constant position).
	Uniform float64 `json:"uniform"`
}

// FIPSResult holds the four FIPS 140-2 (change notice 1) statistical tests
// run on the first FIPSBits bits.
type FIPSResult struct {
	Ones       int     `json:"monobit_ones"`
	Monobit    bool    `json:"monobit"`
	PokerX     float64 `json:"poker_x"`
	Poker      bool    `json:"poker"`
	Runs       bool    `json:"runs"`
	RunsDetail string  `json:"runs_detail,omitempty"`
	LongestRun int     `json:"longest_run"`
	LongRun    bool    `json:"long_run"`
}

// Passed reports whether all four tests passed.
func (f *FIPSResult) Passed() bool { return f.Monobit && f.Poker && f.Runs && f.LongRun }

// TokenStats is the statistical analysis of a sample of session tokens.
type TokenStats struct {
	Samples    int `json:"samples"`
	Distinct   int `json:"distinct"`
	Duplicates int `json:"duplicates"`
	MinLen     int `json:"min_len"`
	MaxLen     int `json:"max_len"`
	// Alphabet names the smallest character class that holds every
	// character of the varying positions: "decimal", "hex", "HEX",
	// "base32hex" (lower case, as PHP's 5-bit session IDs), "base32",
	// "alphanumeric", "base64url", "base64", "base64php" (PHP's 6-bit
	// session IDs) or "mixed"; AlphabetSize is its size.
	Alphabet     string `json:"alphabet"`
	AlphabetSize int    `json:"alphabet_size"`
	// Positions has one entry per character position up to MaxLen (at
	// most MaxTokenPositions).
	Positions []PositionStat `json:"positions"`
	// Estimate is the sum of the per-position min-entropy estimates.
	Estimate float64 `json:"estimate_bits"`
	// UniformEstimate is what Estimate would be for a uniform source with
	// this layout and sample size; Capacity is the most the varying
	// positions can carry (positions x log2 alphabet).
	UniformEstimate float64 `json:"uniform_estimate_bits"`
	Capacity        float64 `json:"capacity_bits"`
	// Sequential is set when the varying part of the tokens reads as a
	// number that moves in small steps; MedianStep is the median absolute
	// difference between consecutive tokens.
	Sequential bool   `json:"sequential"`
	MedianStep uint64 `json:"median_step,omitempty"`
	// Bits is how many non-constant bits the sample yields for the FIPS
	// tests; FIPS is nil when that is fewer than FIPSBits or the alphabet
	// is not a power of two.
	Bits       int         `json:"bits"`
	FIPS       *FIPSResult `json:"fips,omitempty"`
	FIPSReason string      `json:"fips_reason,omitempty"`
}

// alphabets are the character classes recognised, smallest first; the
// index of a character in the class is the value its bits encode.
var alphabets = []struct {
	name, chars string
}{
	{"decimal", "0123456789"},
	{"hex", "0123456789abcdef"},
	{"HEX", "0123456789ABCDEF"},
	// PHP's session IDs with session.sid_bits_per_character=5 (Debian's
	// and php.ini-production's setting), also RFC 4648 base32hex.
	{"base32hex", "0123456789abcdefghijklmnopqrstuv"},
	{"base32", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"},
	{"alphanumeric", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"},
	{"base64url", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"},
	{"base64", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"},
	// PHP's session IDs with session.sid_bits_per_character=6.
	{"base64php", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ,-"},
}

// MaxTokenPositions bounds the character positions AnalyzeTokens examines
// (and so its cost); longer tokens are analysed by their prefix.
const MaxTokenPositions = 1024

// AnalyzeTokens computes the statistics of tokens, in the order they were
// collected. It never fails: an empty sample gives zero statistics.
func AnalyzeTokens(tokens []string) *TokenStats {
	st := &TokenStats{Samples: len(tokens)}
	if len(tokens) == 0 {
		return st
	}
	seen := make(map[string]int, len(tokens))
	st.MinLen = math.MaxInt
	for _, t := range tokens {
		seen[t]++
		st.MinLen = min(st.MinLen, len(t))
		st.MaxLen = max(st.MaxLen, len(t))
	}
	st.Distinct = len(seen)
	st.Duplicates = len(tokens) - len(seen)

	n := len(tokens)
	width := min(st.MaxLen, MaxTokenPositions)
	// Per-position counts; -1 stands for "token too short".
	varying := make([]bool, width)
	union := map[byte]bool{}
	counts := make([]map[int]int, width)
	for i := range width {
		m := map[int]int{}
		for _, t := range tokens {
			c := -1
			if i < len(t) {
				c = int(t[i])
			}
			m[c]++
		}
		counts[i] = m
		if len(m) > 1 {
			varying[i] = true
			for c := range m {
				if c >= 0 {
					union[byte(c)] = true
				}
			}
		}
	}
	st.Alphabet, st.AlphabetSize = "mixed", 256
	for _, a := range alphabets {
		if containsAll(a.chars, union) {
			st.Alphabet, st.AlphabetSize = a.name, len(a.chars)
			break
		}
	}
	if len(union) == 0 {
		st.Alphabet, st.AlphabetSize = "constant", 1
	}
	uniform := uniformMinEntropy(n, st.AlphabetSize)
	st.Positions = make([]PositionStat, width)
	for i, m := range counts {
		maxc := 0
		for _, c := range m {
			maxc = max(maxc, c)
		}
		p := PositionStat{Symbols: len(m), MaxCount: maxc, MinEntropy: -math.Log2(float64(maxc) / float64(n))}
		if p.MinEntropy < 0 || maxc == n {
			p.MinEntropy = 0
		}
		if varying[i] {
			p.Uniform = uniform
			st.Capacity += math.Log2(float64(st.AlphabetSize))
		}
		st.Positions[i] = p
		st.Estimate += p.MinEntropy
		st.UniformEstimate += p.Uniform
	}
	st.Sequential, st.MedianStep = sequential(tokens)
	bitsPer := 0
	if st.AlphabetSize > 1 && st.AlphabetSize&(st.AlphabetSize-1) == 0 && st.Alphabet != "mixed" {
		bitsPer = bits.TrailingZeros(uint(st.AlphabetSize))
	}
	var stream []byte
	if bitsPer == 0 {
		st.FIPSReason = "the alphabet (" + st.Alphabet + ") is not a power of two, so characters do not map to whole bits"
	} else {
		stream = bitStream(tokens, varying, min(st.MinLen, width), alphabetOf(st.Alphabet), bitsPer)
		st.Bits = len(stream)
		if len(stream) < FIPSBits {
			st.FIPSReason = strconv.Itoa(len(stream)) + " varying bits collected; the FIPS 140-2 tests need " + strconv.Itoa(FIPSBits)
		} else {
			st.FIPS = FIPS140(stream[:FIPSBits])
		}
	}
	return st
}

func containsAll(chars string, set map[byte]bool) bool {
	for c := range set {
		if strings.IndexByte(chars, c) < 0 {
			return false
		}
	}
	return true
}

func alphabetOf(name string) string {
	for _, a := range alphabets {
		if a.name == name {
			return a.chars
		}
	}
	return ""
}

// bitStream turns the varying positions below minLen into bits (the index
// of each character in alphabet, bitsPer bits, most significant first), then
// drops bit positions that are constant across the whole sample (structure
// such as the unused low bits of a final base64 character), and returns the
// remaining bits token after token, one bit per byte.
func bitStream(tokens []string, varying []bool, minLen int, alphabet string, bitsPer int) []byte {
	var cols []int
	for i := 0; i < minLen; i++ {
		if varying[i] {
			cols = append(cols, i)
		}
	}
	width := len(cols) * bitsPer
	if width == 0 {
		return nil
	}
	rows := make([][]byte, len(tokens))
	ones := make([]int, width)
	for r, t := range tokens {
		row := make([]byte, width)
		for j, i := range cols {
			v := strings.IndexByte(alphabet, t[i])
			for b := range bitsPer {
				bit := byte(v>>(bitsPer-1-b)) & 1
				row[j*bitsPer+b] = bit
				ones[j*bitsPer+b] += int(bit)
			}
		}
		rows[r] = row
	}
	var keep []int
	for k, o := range ones {
		if o != 0 && o != len(tokens) {
			keep = append(keep, k)
		}
	}
	out := make([]byte, 0, len(keep)*len(tokens))
	for _, row := range rows {
		for _, k := range keep {
			out = append(out, row[k])
		}
	}
	return out
}

// uniformCache memoises uniformMinEntropy, which simulates.
var (
	uniformMu    sync.Mutex
	uniformCache = map[[2]int]float64{}
)

// uniformMinEntropy is the mean most-common-value estimate that n draws
// from a uniform source of k symbols give: the yardstick that says whether
// a low estimate comes from the source or from a small sample. It is
// computed by a deterministic simulation (fixed seed) so reports are
// reproducible.
func uniformMinEntropy(n, k int) float64 {
	if n <= 1 || k <= 1 {
		return 0
	}
	key := [2]int{n, k}
	uniformMu.Lock()
	defer uniformMu.Unlock()
	if v, ok := uniformCache[key]; ok {
		return v
	}
	rng := rand.New(rand.NewPCG(uint64(n), uint64(k)))
	const trials = 64
	counts := make([]int, k)
	sum := 0.0
	for range trials {
		clear(counts)
		maxc := 0
		for range n {
			i := rng.IntN(k)
			counts[i]++
			maxc = max(maxc, counts[i])
		}
		sum += -math.Log2(float64(maxc) / float64(n))
	}
	v := sum / trials
	uniformCache[key] = v
	return v
}

// sequential strips the prefix and suffix every token shares and, when the
// rest of every token reads as a decimal or hexadecimal number, reports
// whether consecutive tokens move in small steps (median step at most
// 2^16): a counter, a clock, or a weak generator seeded by either.
func sequential(tokens []string) (bool, uint64) {
	if len(tokens) < 3 {
		return false, 0
	}
	pre, suf := commonPrefix(tokens), commonSuffix(tokens)
	nums := make([]uint64, 0, len(tokens))
	for _, base := range []int{10, 16} {
		nums = nums[:0]
		for _, t := range tokens {
			mid := ""
			if pre+suf <= len(t) {
				mid = t[pre : len(t)-suf]
			}
			if mid == "" {
				mid = "0"
			}
			v, err := strconv.ParseUint(mid, base, 64)
			if err != nil {
				break
			}
			nums = append(nums, v)
		}
		if len(nums) == len(tokens) {
			break
		}
	}
	if len(nums) != len(tokens) {
		return false, 0
	}
	steps := make([]uint64, 0, len(nums)-1)
	for i := 1; i < len(nums); i++ {
		a, b := nums[i-1], nums[i]
		if a > b {
			a, b = b, a
		}
		steps = append(steps, b-a)
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i] < steps[j] })
	med := steps[len(steps)/2]
	return med <= 1<<16, med
}

func commonPrefix(ts []string) int {
	p := len(ts[0])
	for _, t := range ts[1:] {
		p = min(p, len(t))
		for i := range p {
			if t[i] != ts[0][i] {
				p = i
				break
			}
		}
	}
	return p
}

func commonSuffix(ts []string) int {
	s := len(ts[0])
	for _, t := range ts[1:] {
		s = min(s, len(t))
		for i := 1; i <= s; i++ {
			if t[len(t)-i] != ts[0][len(ts[0])-i] {
				s = i - 1
				break
			}
		}
	}
	return s
}

// FIPS140 runs the FIPS 140-2 monobit, poker, runs and long-run tests on
// exactly FIPSBits bits (one bit per byte, 0 or 1). It returns nil for a
// sequence of any other length.
func FIPS140(b []byte) *FIPSResult {
	if len(b) != FIPSBits {
		return nil
	}
	r := &FIPSResult{}
	for _, x := range b {
		r.Ones += int(x & 1)
	}
	r.Monobit = r.Ones > 9725 && r.Ones < 10275

	var f [16]int
	for i := 0; i+4 <= len(b); i += 4 {
		f[(b[i]&1)<<3|(b[i+1]&1)<<2|(b[i+2]&1)<<1|(b[i+3]&1)]++
	}
	sum := 0.0
	for _, c := range f {
		sum += float64(c * c)
	}
	r.PokerX = 16.0/5000.0*sum - 5000
	r.Poker = r.PokerX > 2.16 && r.PokerX < 46.17

	// runs[bit][length-1], lengths of 6 and more counted together.
	var runs [2][6]int
	bounds := [6][2]int{{2315, 2685}, {1114, 1386}, {527, 723}, {240, 384}, {103, 209}, {103, 209}}
	run := 1
	flush := func(bit byte, n int) {
		runs[bit&1][min(n, 6)-1]++
		r.LongestRun = max(r.LongestRun, n)
	}
	for i := 1; i < len(b); i++ {
		if b[i]&1 == b[i-1]&1 {
			run++
			continue
		}
		flush(b[i-1], run)
		run = 1
	}
	flush(b[len(b)-1], run)
	r.Runs = true
	for bit := range 2 {
		for l := range 6 {
			if c := runs[bit][l]; c < bounds[l][0] || c > bounds[l][1] {
				r.Runs = false
				if r.RunsDetail == "" {
					r.RunsDetail = strconv.Itoa(c) + " runs of " + strconv.Itoa(l+1) + " " + strconv.Itoa(bit) + "-bits (allowed " +
						strconv.Itoa(bounds[l][0]) + "-" + strconv.Itoa(bounds[l][1]) + ")"
				}
			}
		}
	}
	r.LongRun = r.LongestRun < 26
	return r
}
