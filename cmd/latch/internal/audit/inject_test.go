package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/latchsec/latch/flask"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// hostileText is what a target can put into a report: through a cookie's
// name, value (a signed cookie's readable payload) or attributes, a header,
// a link or the text of a page, a certificate's names, or the error its
// answers cause. Each string tries to change how the report reads in one
// of its formats.
var hostileText = []struct{ name, s string }{
	// Terminals and CI logs.
	{"CSI recolours", "\x1b[32mPASS\x1b[0m"},
	{"CSI erases the line", "\x1b[2K\x1b[1GPASS  cookie-secure"},
	{"OSC 8 hyperlink", "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"},
	{"OSC title ended by BEL", "\x1b]0;owned\x07"},
	{"lone CR rewrites the line", "ok\rPASS  cookie-secure"},
	{"LF forges a line", "x\nPASS  cookie-secure         Session cookie is Secure\n# PASS"},
	{"CRLF", "x\r\n::error::forged"},
	{"other C0 and DEL", "a\x00b\x08c\x0bd\x0ce\x7ff"},
	{"tab", "a\tb"},
	{"C1 CSI", "\u009b32mPASS"},
	{"C1 OSC and ST", "\u009d8;;https://evil.example/\u009c"},
	{"C1 NEL", "x\u0085PASS"},
	{"bidi override", "\u202eSSAP\u202c"},
	{"bidi embeddings", "\u202a\u202b\u202dx"},
	{"bidi isolates", "\u2066\u2067\u2068x\u2069"},
	{"bidi marks", "\u200e\u200f\u061cx"},
	{"zero-width characters", "P\u200bA\u200cS\u200dS\u2060\ufeff"},
	{"line and paragraph separators", "x\u2028PASS\u2029"},
	{"tag characters", "x\U000E0041\U000E007F"},
	{"invalid UTF-8", "x\xff\xfe\xc0\x80"},
	{"UTF-8 of C1 CSI split by an invalid byte", "\xc2\xff\x9b"},
	// Markdown, as a code host renders it.
	{"image", "![x](https://evil.example/p.png)"},
	{"link", "[click here to fix](https://evil.example/)"},
	{"reference link", "[fix][1]\n\n[1]: https://evil.example/"},
	{"bare URL autolink", "see https://evil.example/fix"},
	{"www autolink", "www.evil.example"},
	{"email autolink", "admin@evil.example"},
	{"entities decode to controls", "&#x202e;SSAP &#27;[32m &#x200b;"},
	{"emphasis", "**PASS** _x_ ~~fail~~"},
	{"lone CR in Markdown", "a\r| ✅ pass | forged |"},
	// SARIF message strings.
	{"SARIF placeholder and embedded link", `{0} {{1}} [here](1) \[x\] \`},
}

// escapedBefore is hostile text the writers escaped before the report's
// text was neutralised in one place per format (HTML by html/template,
// Markdown's "<", ">", "|" and "`" by hand): kept beside hostileText so
// that the new escaping cannot lose what the old one did.
var escapedBefore = []struct{ name, s string }{
	{"angle autolink", "<https://evil.example/>"},
	{"raw HTML", `<img src=x onerror=alert(1)>`},
	{"HTML comment hides the rest", "<!-- "},
	{"backtick runs", "``` ` `` a`"},
	{"pipes split the cell", "a | b | c"},
	// GitHub's parser (cmark-gfm) reads "\\|" as an escaped backslash and
	// a cell end; goldmark, this test's parser, does not.
	{"backslash before a pipe", `a\|b\`},
	{"HTML closes the row", `</td></tr><tr class="pass"><td>PASS`},
	{"script", "<script>alert(1)</script>"},
	{"attribute break-out", `" onmouseover="alert(1)`},
}

// reportFields names every string field of Result, which a check fills,
// found by reflection so that a field added later is covered too, and
// "Target".
func reportFields() []string {
	fields := []string{"Target"}
	rt := reflect.TypeFor[Result]()
	for i := range rt.NumField() {
		if rt.Field(i).Type.Kind() == reflect.String {
			fields = append(fields, rt.Field(i).Name)
		}
	}
	// A location's file name comes from the reviewed tree.
	return append(fields, "LocationFile")
}

// reportWith returns a report of a failed, a warned, a passed and a
// skipped check in which field holds s (in every check), with token
// statistics so that every part of every format is drawn.
func reportWith(field, s string) *Report {
	r := &Report{Target: "https://app.example/", Entropy: sampleStats(), Requests: 3}
	for i, st := range []Status{Fail, Warn, Pass, Skip} {
		c := result(Checks[i].ID, st, "evidence", "do better")
		c.Locations = []Location{{File: "app/config.py", Line: 7}}
		r.Checks = append(r.Checks, c)
	}
	switch field {
	case "Target":
		r.Target = s
		return r
	case "LocationFile":
		for i := range r.Checks {
			r.Checks[i].Locations[0].File = s
		}
		return r
	}
	for i := range r.Checks {
		reflect.ValueOf(&r.Checks[i]).Elem().FieldByName(field).SetString(s)
	}
	return r
}

// sampleStats are sampleReport's token statistics, computed once.
var sampleStats = sync.OnceValue(func() *TokenStats { return sampleReport().Entropy })

// unsafeRune reports whether r can change how the text around it is shown:
// C0 and C1 controls and DEL (cursor moves, colours, erasing, OSC
// hyperlinks, new lines), Unicode format characters (bidirectional
// overrides, isolates and marks, zero-width characters, tags) and the line
// and paragraph separators.
func unsafeRune(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// checkRunes fails t when out is not valid UTF-8 or holds an unsafe rune
// other than the line feeds that end its lines.
func checkRunes(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s is not valid UTF-8", what)
	}
	for i, r := range out {
		if unsafeRune(r) && r != '\n' {
			t.Errorf("%s holds %U at byte %d: %q", what, r, i, excerpt(out, i))
			return
		}
	}
}

func excerpt(s string, i int) string {
	return s[max(0, i-40):min(len(s), i+40)]
}

// ownSGR are the colour sequences the text format itself writes.
var ownSGR = regexp.MustCompile(`\x1b\[(0|1|2|31|32|33|90)m`)

// checkFormat renders the report with a hostile field and the same report
// with a harmless value there, and checks that the hostile one has the
// same structure in format: the same lines, the same Markdown tree (and
// nothing live in it: no link, image, autolink or HTML), the same HTML
// markup, and JSON strings free of control and bidirectional characters
// (in SARIF, also free of embedded links and placeholders).
func checkFormat(t *testing.T, format string, hostile, benign *Report) {
	t.Helper()
	render := func(r *Report, color bool) string {
		var b strings.Builder
		if err := Write(&b, r, format, color); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		return b.String()
	}
	out, base := render(hostile, false), render(benign, false)
	checkRunes(t, format, out)
	switch format {
	case "text":
		if got, want := strings.Count(out, "\n"), strings.Count(base, "\n"); got != want {
			t.Errorf("text has %d lines; %d with a harmless value:\n%s", got, want, out)
		}
		checkRunes(t, "coloured text without its own colours", ownSGR.ReplaceAllString(render(hostile, true), ""))
	case "markdown":
		checkRunes(t, "markdown rendered as HTML", html.UnescapeString(markdownHTML(t, out)))
		if got, want := markdownShape(out), markdownShape(base); got != want {
			t.Errorf("markdown parses differently from the report with a harmless value:\n got %s\nwant %s\n%s", got, want, out)
		}
	case "html":
		for _, c := range []string{"<", `"`, "'"} {
			if got, want := strings.Count(out, c), strings.Count(base, c); got != want {
				t.Errorf("html has %d %q; %d with a harmless value: markup from the target", got, c, want)
			}
		}
	case "json", "sarif":
		var doc any
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%s is not JSON: %v", format, err)
		}
		walkStrings(doc, "", func(path, s string) {
			checkRunes(t, format+" "+path, s)
			if format == "sarif" && strings.HasSuffix(path, ".text") {
				checkSARIFText(t, path, s)
			}
		})
	default:
		t.Fatalf("no check for format %q", format)
	}
}

// markdownShape parses a Markdown report as GitHub Flavored Markdown
// (tables, autolinks, strikethrough) and describes its tree by node kinds,
// with runs of text collapsed; it marks any link, image, autolink or raw
// HTML, which a report must never contain.
func markdownShape(md string) string {
	src := []byte(md)
	doc := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser().Parse(text.NewReader(src))
	var b strings.Builder
	last := ""
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		kind := n.Kind().String()
		switch n.Kind() {
		case ast.KindLink, ast.KindImage, ast.KindAutoLink, ast.KindRawHTML, ast.KindHTMLBlock:
			kind = "LIVE-" + kind
		}
		if !entering {
			if n.HasChildren() {
				b.WriteString(")")
			}
			return ast.WalkContinue, nil
		}
		if (kind == "Text" || kind == "String") && (last == "Text" || last == "String") {
			return ast.WalkContinue, nil
		}
		last = kind
		b.WriteString(" " + kind)
		if n.HasChildren() {
			b.WriteString("(")
			last = ""
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// markdownHTML renders a Markdown report as a code host would (GitHub
// Flavored Markdown, no raw HTML).
func markdownHTML(t *testing.T, md string) string {
	t.Helper()
	var b bytes.Buffer
	if err := goldmark.New(goldmark.WithExtensions(extension.GFM)).Convert([]byte(md), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// walkStrings calls f for every string in a decoded JSON document.
func walkStrings(v any, path string, f func(path, s string)) {
	switch v := v.(type) {
	case string:
		f(path, v)
	case []any:
		for i, e := range v {
			walkStrings(e, fmt.Sprintf("%s[%d]", path, i), f)
		}
	case map[string]any:
		for k, e := range v {
			f(path+" key", k)
			walkStrings(e, path+"."+k, f)
		}
	}
}

// checkSARIFText fails t when a SARIF plain-text message holds an embedded
// link (an unescaped "[") or a placeholder (a single "{" or "}"), which a
// SARIF viewer would render as a link or fill in.
func checkSARIFText(t *testing.T, path, s string) {
	t.Helper()
	rest := strings.NewReplacer(`\\`, "", `\[`, "", `\]`, "", "{{", "", "}}", "").Replace(s)
	if strings.ContainsAny(rest, "[]{}") {
		t.Errorf("sarif %s has an embedded link or placeholder: %q", path, s)
	}
}

// TestReportInjection puts every hostile string into every field a check
// fills and renders the report in every format: none may reach a terminal
// as a control sequence, a code host as a live link or image, a browser as
// markup, or a SARIF viewer as a link.
func TestReportInjection(t *testing.T) {
	for _, h := range append(append([]struct{ name, s string }(nil), hostileText...), escapedBefore...) {
		for _, field := range reportFields() {
			t.Run(h.name+"/"+field, func(t *testing.T) {
				for _, format := range Formats {
					checkFormat(t, format, reportWith(field, h.s), reportWith(field, "x"))
				}
			})
		}
	}
}

// FuzzReportFormats renders a report with any string in any field, in
// every format, with the checks of TestReportInjection.
func FuzzReportFormats(f *testing.F) {
	for i, h := range append(append([]struct{ name, s string }(nil), hostileText...), escapedBefore...) {
		f.Add(h.s, uint8(i))
	}
	fields := reportFields()
	f.Fuzz(func(t *testing.T, s string, field uint8) {
		name := fields[int(field)%len(fields)]
		harmless := "x"
		if s == "" {
			harmless = ""
		}
		hostile, benign := reportWith(name, s), reportWith(name, harmless)
		// The chart holds only numbers: leave its cost out of fuzzing.
		hostile.Entropy, benign.Entropy = nil, nil
		for _, format := range Formats {
			checkFormat(t, format, hostile, benign)
		}
	})
}

// hostileTarget serves every page with s in what a target controls: a
// Flask session cookie whose readable payload holds s (as valid UTF-8, all
// a Flask session can hold), that cookie's
// SameSite attribute, and a link on the page. A header cannot carry C0
// controls (Go's client refuses the response) or end an attribute with
// ";", and a link ends at a quote, so those are left out there.
func hostileTarget(t *testing.T, s string) string {
	t.Helper()
	cookie, err := flask.New("a key no list holds: 5b0c1f0e").Encode(map[string]any{"note": strings.ToValidUTF8(s, "?")})
	if err != nil {
		t.Fatal(err)
	}
	header := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == ';' {
			return -1
		}
		return r
	}, s)
	link := strings.NewReplacer(`"`, "", "'", "").Replace(s)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "session="+cookie+"; Path=/; HttpOnly; SameSite="+header)
		fmt.Fprintf(w, `<html><body><a href="/next;jsessionid=1%s">next</a></body></html>`, link)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// TestHostileTargetCannotWriteIntoReport audits a target that puts each
// hostile string into its cookie, its headers and its page, and checks
// every format of the report as TestReportInjection does, against the
// report on the same target with a harmless string; the page's link is
// shown, escaped, in the text report.
func TestHostileTargetCannotWriteIntoReport(t *testing.T) {
	clock := newFakeClock()
	audit := func(t *testing.T, s string) *Report {
		t.Helper()
		rep, err := Run(context.Background(), Config{Target: hostileTarget(t, s), Samples: 5, Now: clock.Now, Sleep: clock.Sleep, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	benign := audit(t, "x")
	for _, h := range append(append([]struct{ name, s string }(nil), hostileText...), escapedBefore...) {
		t.Run(h.name, func(t *testing.T) {
			rep := audit(t, h.s)
			for _, format := range Formats {
				checkFormat(t, format, rep, benign)
			}
			var b strings.Builder
			if err := WriteText(&b, rep, false); err != nil {
				t.Fatal(err)
			}
			link := strings.NewReplacer(`"`, "", "'", "").Replace(h.s)
			if want := Plain("/next;jsessionid=1" + link); !strings.Contains(b.String(), want) {
				t.Errorf("the text report does not show the link %q:\n%s", want, b.String())
			}
		})
	}
}

// TestEscapers pins what each format's escaping writes.
func TestEscapers(t *testing.T) {
	tests := []struct {
		name string
		esc  func(string) string
		in   string
		want string
	}{
		{"plain keeps text", Plain, `cookie "sid": a\b <c> [d] {e} é ✅`, `cookie "sid": a\b <c> [d] {e} é ✅`},
		{"plain escapes C0 and DEL", Plain, "\x1b[31m\r\n\t\a\x00\x7f", `\x1b[31m\r\n\t\a\x00\x7f`},
		{"plain escapes C1", Plain, "\u009b\u0085", `\u009b\u0085`},
		{"plain escapes bidi and zero-width", Plain, "\u202e\u2066\u200f\u200b\ufeff\u2028", `\u202e\u2066\u200f\u200b\ufeff\u2028`},
		{"plain escapes variation selectors and tags", Plain, "\ufe0f\U000E0041", `\ufe0f\U000e0041`},
		{"plain escapes invalid UTF-8 byte by byte", Plain, "a\xff\xc2b", `a\xff\xc2b`},
		{"code span", mdCode, "![x](y)", "` ![x](y) `"},
		{"code span fence outruns backticks", mdCode, "a``b`", "``` a``b` ```"},
		{"code span pipe", mdCode, "a|b", "` a\\x7cb `"},
		{"code span of nothing", mdCode, "", ""},
		{"sarif", func(s string) string { return sarifText(Plain(s)).Text }, "[a](1) {0} \\ \x1b", `\[a\](1) {{0}} \\ \\x1b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.esc(tt.in); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}
