package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// Formats lists the report formats Write accepts.
var Formats = []string{"text", "json", "markdown", "sarif", "html"}

// Write renders r in format to w. color applies to the text format only.
func Write(w io.Writer, r *Report, format string, color bool) error {
	switch format {
	case "text", "":
		return WriteText(w, r, color)
	case "json":
		return WriteJSON(w, r)
	case "markdown", "md":
		return WriteMarkdown(w, r)
	case "sarif":
		return WriteSARIF(w, r)
	case "html":
		return WriteHTML(w, r)
	}
	return fmt.Errorf("audit: unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// WriteJSON writes the report in the contract's JSON shape:
// {"target": URL, "checks": [{"id", "status", "severity", "title",
// "evidence", "recommendation", "locations": [{"file", "line"}]}],
// "summary": {"implemented", "missing", "not_checked": [{"id", "title",
// "status", "severity"}], "actions": {"immediate", "priority", "long_term":
// [{"id", "title", "severity", "action"}]}}}.
// Every string is Plain: JSON would carry control characters safely, but
// whoever prints a value would not.
func WriteJSON(w io.Writer, r *Report) error {
	v := r.escaped(Plain)
	doc := struct {
		*Report
		Summary Summary `json:"summary"`
	}{v, r.Summary().escaped(Plain)}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("audit: write json: %w", err)
	}
	return nil
}

const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiDim   = "\x1b[2m"
)

var statusColor = map[Status]string{Pass: "\x1b[32m", Fail: "\x1b[31m", Warn: "\x1b[33m", Skip: "\x1b[90m"}

// WriteText writes a report for a terminal or a log, one line per field,
// with the report's text through Plain: whatever the target sent, it
// cannot colour, move, erase or add a line, or reorder one.
func WriteText(w io.Writer, r *Report, color bool) error {
	grade, counts := r.Grade(), [4]int{r.Count(Fail), r.Count(Warn), r.Count(Pass), r.Count(Skip)}
	sum := r.Summary().escaped(Plain)
	r = r.escaped(Plain)
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", paint(ansiBold, r.tool()), r.Target)
	if r.Incomplete != "" {
		fmt.Fprintf(&b, "%s: the %s %s; checks that had not finished are skipped\n", paint(statusColor[Warn], "INCOMPLETE"), r.verb(), r.Incomplete)
	}
	fmt.Fprintf(&b, "grade %s: %d fail, %d warn, %d pass, %d skip", paint(ansiBold, grade), counts[0], counts[1], counts[2], counts[3])
	if r.Requests > 0 {
		fmt.Fprintf(&b, " (%d requests)", r.Requests)
	}
	b.WriteString("\n\n")
	for _, c := range r.Checks {
		st := fmt.Sprintf("%-4s", strings.ToUpper(string(c.Status)))
		fmt.Fprintf(&b, "%s  %-20s %s", paint(statusColor[c.Status], st), c.ID, c.Title)
		if c.Status == Fail || c.Status == Warn {
			fmt.Fprintf(&b, " [%s]", c.Severity)
		}
		b.WriteString("\n")
		if c.Evidence != "" {
			fmt.Fprintf(&b, "      %s\n", paint(ansiDim, c.Evidence))
		}
		for _, l := range c.Locations {
			fmt.Fprintf(&b, "      at %s\n", l)
		}
		if c.Recommendation != "" && (c.Status == Fail || c.Status == Warn) {
			fmt.Fprintf(&b, "      -> %s\n", c.Recommendation)
		}
	}
	b.WriteString("\nSummary\n")
	for _, part := range sum.parts() {
		fmt.Fprintf(&b, "  %s (%d):", part.Name, len(part.Checks))
		if len(part.Checks) == 0 {
			b.WriteString(" none")
		}
		for i, c := range part.Checks {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(" " + c.ID)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nActions\n")
	for _, g := range sum.Actions.Groups() {
		fmt.Fprintf(&b, "  %s:\n", g.Name)
		if len(g.Actions) == 0 {
			b.WriteString("    none\n")
		}
		for _, a := range g.Actions {
			fmt.Fprintf(&b, "    - %s [%s]: %s\n", a.ID, a.Severity, a.Action)
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("audit: write text: %w", err)
	}
	return nil
}

// WriteMarkdown writes the report as a Markdown document with one table
// row per check. Every text of the report is a code span (mdCode), so a
// code host shows it literally: no link, image, autolink, HTML or
// formatting from the target.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	v := r.escaped(mdCode)
	fmt.Fprintf(&b, "# %s: %s\n\n", r.tool(), v.Target)
	if v.Incomplete != "" {
		fmt.Fprintf(&b, "**Incomplete**: the %s %s; checks that had not finished are skipped.\n\n", r.verb(), v.Incomplete)
	}
	fmt.Fprintf(&b, "**Grade %s**: %d fail, %d warn, %d pass, %d skip.\n\n", r.Grade(), r.Count(Fail), r.Count(Warn), r.Count(Pass), r.Count(Skip))
	b.WriteString("| Status | Check | Severity | Evidence | Recommendation |\n|---|---|---|---|---|\n")
	icon := map[Status]string{Pass: "✅ pass", Fail: "❌ fail", Warn: "⚠️ warn", Skip: "⏭ skip"}
	for i, c := range v.Checks {
		st, ok := icon[r.Checks[i].Status]
		if !ok {
			st = string(c.Status)
		}
		ev := c.Evidence
		for _, l := range c.Locations {
			ev += " at " + l.String()
		}
		fmt.Fprintf(&b, "| %s | %s %s | %s | %s | %s |\n", st, c.ID, c.Title, c.Severity, ev, c.Recommendation)
	}
	sum := r.Summary().escaped(mdCode)
	b.WriteString("\n## Summary\n")
	for _, part := range sum.parts() {
		fmt.Fprintf(&b, "\n### %s\n\n", part.Name)
		if len(part.Checks) == 0 {
			b.WriteString("None.\n")
		}
		for _, c := range part.Checks {
			fmt.Fprintf(&b, "- %s %s (%s)\n", c.ID, c.Title, c.Severity)
		}
	}
	b.WriteString("\n## Actions\n")
	for _, g := range sum.Actions.Groups() {
		fmt.Fprintf(&b, "\n### %s\n\n", g.Name)
		if len(g.Actions) == 0 {
			b.WriteString("None.\n")
		}
		for _, a := range g.Actions {
			fmt.Fprintf(&b, "- %s %s (%s): %s\n", a.ID, a.Title, a.Severity, a.Action)
		}
	}
	if e := r.Entropy; e != nil {
		fmt.Fprintf(&b, "\n## Token randomness\n\n%d samples, %s alphabet, length %d-%d: estimated %.1f bits (capacity %.1f bits, a uniform source would show %.1f).\n",
			e.Samples, e.Alphabet, e.MinLen, e.MaxLen, e.Estimate, e.Capacity, e.UniformEstimate)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("audit: write markdown: %w", err)
	}
	return nil
}

// SARIFSchema is the JSON schema URI of SARIF 2.1.0.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

type sarifLog struct {
	Version string     `json:"version"`
	Schema  string     `json:"$schema"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	// OriginalURIBaseIDs says where srcRoot is on the machine that ran the
	// review.
	OriginalURIBaseIDs map[string]sarifArtifact `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult            `json:"results"`
}

// sarifInvocation says whether the run finished: an incomplete audit is
// an unsuccessful execution, with the reason as a notification.
type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string       `json:"level"`
	Message sarifMessage `json:"message"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version"`
	Rules          []sarifRule `json:"rules"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	Name                 string       `json:"name"`
	ShortDescription     sarifMessage `json:"shortDescription"`
	FullDescription      sarifMessage `json:"fullDescription"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
	Properties map[string]any `json:"properties,omitempty"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Kind       string          `json:"kind"`
	Level      string          `json:"level"`
	Message    sarifMessage    `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

// sarifArtifact is a URI: an absolute one without a base, or a relative
// reference resolved against the base named by URIBaseID (SARIF 2.1.0,
// 3.4.4).
type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

// srcRoot is the uriBaseId of a reviewed file, the name code-scanning
// tools resolve against the checked-out repository.
const srcRoot = "%SRCROOT%"

// maxSARIFLocations is how many locations a result keeps: GitHub code
// scanning reads no more than ten.
const maxSARIFLocations = 10

// relURI turns a slash-separated relative path into a relative URI
// reference: each segment percent-encoded, so a space, "#", "?" or "%" in a
// file name is part of the path, and a first segment with a colon cannot
// read as a scheme.
func relURI(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
		if i == 0 && strings.Contains(segs[i], ":") {
			segs[i] = strings.ReplaceAll(segs[i], ":", "%3A")
		}
	}
	return strings.Join(segs, "/")
}

// webArtifact locates a result of a live audit at its target URL written
// as a relative reference, host and path ("app.example:8443/login" as
// "app.example%3A8443/login"): code scanning refuses a whole upload in
// which a location has another scheme than the checkout's file: ("SARIF
// URI scheme "https" did not match the checkout URI scheme "file"""), and
// a result with no location is not shown. The URL itself goes in the
// result's "target" property. ok is false when target is not an http(s)
// URL (a review's path).
func webArtifact(target string) (sarifArtifact, bool) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return sarifArtifact{}, false
	}
	p := strings.TrimPrefix(u.EscapedPath(), "/")
	return sarifArtifact{URI: strings.ReplaceAll(url.PathEscape(u.Host), ":", "%3A") + "/" + p}, true
}

// rootURI is the absolute file URI of directory root, ending in a slash as
// originalUriBaseIds requires; "" when root is not absolute.
func rootURI(root string) string {
	if !filepath.IsAbs(root) {
		return ""
	}
	p := filepath.ToSlash(root)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive: file:///C:/...
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// sarifLevel maps a severity to a SARIF level for a failed check.
func sarifLevel(s Severity) string {
	switch s {
	case Critical, High:
		return "error"
	case Medium, Low:
		return "warning"
	}
	return "note"
}

// WriteSARIF writes the report as SARIF 2.1.0: every check is a rule, and
// every check run is a result (kind "fail" with a level for failures and
// warnings, "pass" or "notApplicable" with level "none" otherwise). A
// result with source locations (latch review) has one physical location
// per line, relative to %SRCROOT% (the reviewed root) with the line as its
// region, so code scanning annotates the line; one without is located at
// the target. Every string is Plain, and every message is written by
// sarifText, so no text from the target is an embedded link or a
// placeholder.
func WriteSARIF(w io.Writer, r *Report) error {
	r = r.escaped(Plain)
	drv := sarifDriver{Name: r.tool(), InformationURI: "https://github.com/latchsec/latch", Version: "1"}
	index := map[string]int{}
	for i, ci := range r.rules() {
		rule := sarifRule{ID: ci.ID, Name: ruleName(ci.ID), ShortDescription: sarifText(ci.Title), FullDescription: sarifText(ci.Description),
			Properties: map[string]any{"security-severity": securitySeverity(ci.Severity), "tags": []string{"security", "session-management"}}}
		rule.DefaultConfiguration.Level = sarifLevel(ci.Severity)
		drv.Rules = append(drv.Rules, rule)
		index[ci.ID] = i
	}
	run := sarifRun{Tool: sarifTool{Driver: drv}, Results: []sarifResult{}}
	if u := rootURI(r.Root); u != "" {
		run.OriginalURIBaseIDs = map[string]sarifArtifact{srcRoot: {URI: u}}
	}
	if r.Incomplete != "" {
		run.Invocations = []sarifInvocation{{ExecutionSuccessful: false, ToolExecutionNotifications: []sarifNotification{
			{Level: "error", Message: sarifText("incomplete: the " + r.verb() + " " + r.Incomplete + "; checks that had not finished are skipped")}}}}
	}
	for _, c := range r.Checks {
		msg := c.Title + ": " + c.Evidence
		if c.Recommendation != "" {
			msg += " Recommendation: " + c.Recommendation
		}
		res := sarifResult{RuleID: c.ID, RuleIndex: index[c.ID], Message: sarifText(msg),
			Properties: map[string]any{"status": c.Status, "severity": c.Severity}}
		switch c.Status {
		case Fail:
			res.Kind, res.Level = "fail", sarifLevel(c.Severity)
		case Warn:
			res.Kind, res.Level = "fail", "warning"
		case Pass:
			res.Kind, res.Level = "pass", "none"
		default:
			res.Kind, res.Level = "notApplicable", "none"
		}
		res.Locations = []sarifLocation{}
		for _, l := range c.Locations {
			if l.File == "" || len(res.Locations) == maxSARIFLocations {
				continue
			}
			art := sarifArtifact{URI: relURI(l.File), URIBaseID: srcRoot}
			if strings.HasPrefix(l.File, "/") {
				art = sarifArtifact{URI: (&url.URL{Scheme: "file", Path: l.File}).String()}
			}
			loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: art}}
			if l.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: l.Line}
			}
			res.Locations = append(res.Locations, loc)
		}
		if len(res.Locations) == 0 {
			if art, ok := webArtifact(r.Target); ok {
				res.Locations = []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: art}}}
				res.Properties["target"] = r.Target
			}
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sarifLog{Version: "2.1.0", Schema: SARIFSchema, Runs: []sarifRun{run}}); err != nil {
		return fmt.Errorf("audit: write sarif: %w", err)
	}
	return nil
}

// verb is the command's own name: "audit" for "latch audit".
func (r *Report) verb() string {
	return strings.TrimPrefix(r.tool(), "latch ")
}

// String returns "file:line", or the file alone for line 0.
func (l Location) String() string {
	if l.Line <= 0 {
		return l.File
	}
	return l.File + ":" + strconv.Itoa(l.Line)
}

// ruleName turns "cookie-secure" into "CookieSecure".
func ruleName(id string) string {
	var b strings.Builder
	for _, p := range strings.Split(id, "-") {
		if p != "" {
			b.WriteString(strings.ToUpper(p[:1]) + p[1:])
		}
	}
	return b.String()
}

// securitySeverity is the CVSS-like score code-scanning tools sort by.
func securitySeverity(s Severity) string {
	switch s {
	case Critical:
		return "9.5"
	case High:
		return "8.0"
	case Medium:
		return "5.5"
	case Low:
		return "3.0"
	}
	return "0.0"
}
