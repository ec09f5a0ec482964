package audit

import (
	"encoding/json"
	"fmt"
	"io"
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
// "evidence", "recommendation"}]}.
// Every string is Plain: JSON would carry control characters safely, but
// whoever prints a value would not.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.escaped(Plain)); err != nil {
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
	r = r.escaped(Plain)
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", paint(ansiBold, "latch audit"), r.Target)
	if r.Incomplete != "" {
		fmt.Fprintf(&b, "%s: the audit %s; checks that had not finished are skipped\n", paint(statusColor[Warn], "INCOMPLETE"), r.Incomplete)
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
		if c.Recommendation != "" && (c.Status == Fail || c.Status == Warn) {
			fmt.Fprintf(&b, "      -> %s\n", c.Recommendation)
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
	fmt.Fprintf(&b, "# latch audit: %s\n\n", v.Target)
	if v.Incomplete != "" {
		fmt.Fprintf(&b, "**Incomplete**: the audit %s; checks that had not finished are skipped.\n\n", v.Incomplete)
	}
	fmt.Fprintf(&b, "**Grade %s**: %d fail, %d warn, %d pass, %d skip.\n\n", r.Grade(), r.Count(Fail), r.Count(Warn), r.Count(Pass), r.Count(Skip))
	b.WriteString("| Status | Check | Severity | Evidence | Recommendation |\n|---|---|---|---|---|\n")
	icon := map[Status]string{Pass: "✅ pass", Fail: "❌ fail", Warn: "⚠️ warn", Skip: "⏭ skip"}
	for i, c := range v.Checks {
		st, ok := icon[r.Checks[i].Status]
		if !ok {
			st = string(c.Status)
		}
		fmt.Fprintf(&b, "| %s | %s %s | %s | %s | %s |\n", st, c.ID, c.Title, c.Severity, c.Evidence, c.Recommendation)
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
	Results     []sarifResult     `json:"results"`
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
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
	} `json:"physicalLocation"`
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
// warnings, "pass" or "notApplicable" with level "none" otherwise), located
// at the target URL. Every string is Plain, and every message is written
// by sarifText, so no text from the target is an embedded link or a
// placeholder.
func WriteSARIF(w io.Writer, r *Report) error {
	r = r.escaped(Plain)
	drv := sarifDriver{Name: "latch audit", InformationURI: "https://github.com/latchsec/latch", Version: "1"}
	index := map[string]int{}
	for i, ci := range Checks {
		rule := sarifRule{ID: ci.ID, Name: ruleName(ci.ID), ShortDescription: sarifText(ci.Title), FullDescription: sarifText(ci.Description),
			Properties: map[string]any{"security-severity": securitySeverity(ci.Severity), "tags": []string{"security", "session-management"}}}
		rule.DefaultConfiguration.Level = sarifLevel(ci.Severity)
		drv.Rules = append(drv.Rules, rule)
		index[ci.ID] = i
	}
	run := sarifRun{Tool: sarifTool{Driver: drv}, Results: []sarifResult{}}
	if r.Incomplete != "" {
		run.Invocations = []sarifInvocation{{ExecutionSuccessful: false, ToolExecutionNotifications: []sarifNotification{
			{Level: "error", Message: sarifText("incomplete: the audit " + r.Incomplete + "; checks that had not finished are skipped")}}}}
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
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = r.Target
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sarifLog{Version: "2.1.0", Schema: SARIFSchema, Runs: []sarifRun{run}}); err != nil {
		return fmt.Errorf("audit: write sarif: %w", err)
	}
	return nil
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
