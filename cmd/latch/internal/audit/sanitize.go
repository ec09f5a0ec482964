package audit

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A report quotes what the target sent: cookie names, values (a signed
// cookie's readable payload) and attributes, header values, links and the
// text of its pages, and the errors its answers cause; the command's
// errors quote the names in its certificate. None of it may change how the
// report reads. Each format neutralises that text in one place: every
// writer renders the copy of the report that escaped returns, made with the
// format's own escaping (Plain, or a function built on it), and never a
// field of the report itself.

// Plain returns s with every character that can change how the text around
// it is shown replaced by its Go escape, so that it reads as what it is:
// C0 and C1 control characters and DEL ("\x1b", "\r", "\n", "\u009b":
// colours, cursor moves, erased or new lines, OSC 8 hyperlinks), Unicode
// format characters ("\u202e": bidirectional embeddings, overrides,
// isolates and marks, zero-width characters, tags), variation selectors and
// other default-ignorable characters, the line and paragraph separators
// U+2028 and U+2029, and each byte of invalid UTF-8 ("\xff"). Other text,
// backslashes included, is kept as it is, so Plain returns s itself when
// there is nothing to escape.
func Plain(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || hidden(r) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case hidden(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// hidden reports whether Plain escapes r.
func hidden(r rune) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

// escaped returns a copy of r in which esc has been applied to the target
// and to every string field of every check; the statistics it shares are
// numbers and names from a closed set.
func (r *Report) escaped(esc func(string) string) *Report {
	v := *r
	v.Target = esc(r.Target)
	v.Incomplete = esc(r.Incomplete)
	v.Checks = make([]Result, len(r.Checks))
	for i, c := range r.Checks {
		v.Checks[i] = Result{
			ID:             esc(c.ID),
			Status:         Status(esc(string(c.Status))),
			Severity:       Severity(esc(string(c.Severity))),
			Title:          esc(c.Title),
			Evidence:       esc(c.Evidence),
			Recommendation: esc(c.Recommendation),
			Locations:      make([]Location, len(c.Locations)),
		}
		for j, l := range c.Locations {
			v.Checks[i].Locations[j] = Location{File: esc(l.File), Line: l.Line}
		}
	}
	return &v
}

// mdCode renders s as Markdown that shows it literally: Plain's text in a
// code span, whose content no Markdown parser reads as a link, an image,
// an autolink, HTML, an entity or emphasis. The fence is one backtick
// longer than the longest run of backticks in s, with a space inside each
// end (which the parser removes) so that s may begin or end with one. A
// table cell ends at any pipe outside a backslash escape, even inside a
// code span, and GitHub's parser reads a backslash before the escape as an
// escaped backslash; so a pipe is written as Plain writes other characters
// it would not show, "\x7c". The empty string stays empty.
func mdCode(s string) string {
	s = strings.ReplaceAll(Plain(s), "|", `\x7c`)
	if s == "" {
		return ""
	}
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	return fence + " " + s + " " + fence
}

// sarifText turns text Plain has escaped into a SARIF plain-text message
// (SARIF 2.1.0, 3.11.4 to 3.11.6), where "[text](target)" is an embedded
// link a viewer renders and "{0}" a placeholder it fills in: brackets and
// backslashes are escaped with a backslash, and braces doubled, as the
// specification says literal ones are written.
func sarifText(s string) sarifMessage {
	return sarifMessage{Text: sarifEscaper.Replace(s)}
}

var sarifEscaper = strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, "{", "{{", "}", "}}")

// escaped returns a copy of s in which esc has been applied to every
// string: the summary quotes the checks' titles and recommendations, and
// the evidence when there is no recommendation. Its ids and statuses are
// the report's, so Summary is made from the report itself and escaped
// here, never made from an escaped report.
func (s Summary) escaped(esc func(string) string) Summary {
	checks := func(cs []SummaryCheck) []SummaryCheck {
		out := make([]SummaryCheck, len(cs))
		for i, c := range cs {
			out[i] = SummaryCheck{ID: esc(c.ID), Title: esc(c.Title), Status: Status(esc(string(c.Status))), Severity: Severity(esc(string(c.Severity)))}
		}
		return out
	}
	actions := func(as []Action) []Action {
		out := make([]Action, len(as))
		for i, a := range as {
			out[i] = Action{ID: esc(a.ID), Title: esc(a.Title), Severity: Severity(esc(string(a.Severity))), Action: esc(a.Action)}
		}
		return out
	}
	return Summary{Implemented: checks(s.Implemented), Missing: checks(s.Missing), NotChecked: checks(s.NotChecked),
		Actions: Actions{Immediate: actions(s.Actions.Immediate), Priority: actions(s.Actions.Priority), LongTerm: actions(s.Actions.LongTerm)}}
}
