package audit

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestActionGroupsCoverChecks makes sure every check of the audit and of
// the review has a rank of its own: none falls to long-term by omission.
func TestActionGroupsCoverChecks(t *testing.T) {
	ids := []string{CheckSecretKeySource, CheckSecretKeyWeak, CheckSessionLifetime, CheckSessionRegeneration}
	for _, ci := range append(Checks[:len(Checks):len(Checks)], SourceChecks...) {
		ids = append(ids, ci.ID)
	}
	for _, id := range ids {
		if _, ok := ActionGroups[id]; !ok {
			t.Errorf("check %s has no action group", id)
		}
	}
	if len(ActionGroups) != len(ids) {
		t.Errorf("%d ranked ids; want %d (a ranked id that no check has?)", len(ActionGroups), len(ids))
	}
	for id, want := range map[string]Group{
		CheckWeakSecretKey: Immediate, CheckSecretKeySource: Immediate, CheckCookieSecure: Immediate, CheckCookieHTTPOnly: Immediate,
		CheckSessionFixation: Immediate, CheckSessionRegeneration: Immediate,
		CheckIdleTimeout: Priority, CheckAbsoluteTimeout: Priority, CheckSessionLifetime: Priority,
		CheckSourceKeyLive: Immediate, CheckSourceLifetime: Priority,
	} {
		if got := ActionGroups[id]; got != want {
			t.Errorf("%s ranks %s; want %s", id, got, want)
		}
	}
}

func TestSummary(t *testing.T) {
	ids := func(cs []SummaryCheck) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	aids := func(as []Action) []string {
		out := []string{}
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	standing := []string{"key-rotation", "regular-review"}
	tests := []struct {
		name                  string
		checks                []Result
		impl, missing, notChk []string
		imm, prio, long       []string
	}{
		{"empty report", nil, []string{}, []string{}, []string{}, []string{}, []string{}, standing},
		{"all pass", []Result{result(CheckHSTS, Pass, "ok", ""), result(CheckCookieSecure, Pass, "ok", "")},
			[]string{CheckHSTS, CheckCookieSecure}, []string{}, []string{}, []string{}, []string{}, standing},
		{"audit mix", []Result{
			result(CheckHTTPSRedirect, Pass, "ok", ""),
			result(CheckCookieSecure, Fail, "no Secure", "set Secure"),
			result(CheckIdleTimeout, Warn, "long", "shorten"),
			result(CheckSessionFixation, Fail, "kept", "renew"),
			result(CheckCookieHostPrefix, Fail, "no prefix", "use __Host-"),
			result(CheckLogout, Skip, "no login", ""),
		},
			[]string{CheckHTTPSRedirect}, []string{CheckCookieSecure, CheckIdleTimeout, CheckSessionFixation, CheckCookieHostPrefix}, []string{CheckLogout},
			[]string{CheckCookieSecure, CheckSessionFixation}, []string{CheckIdleTimeout}, append([]string{CheckCookieHostPrefix}, standing...)},
		{"review ids", []Result{
			{ID: CheckSecretKeySource, Status: Fail, Severity: Critical, Evidence: "literal", Recommendation: "read it from the environment"},
			{ID: CheckSessionLifetime, Status: Warn, Severity: Medium, Evidence: "31 days"},
			{ID: CheckSessionRegeneration, Status: Pass, Severity: Info},
		},
			[]string{CheckSessionRegeneration}, []string{CheckSecretKeySource, CheckSessionLifetime}, []string{},
			[]string{CheckSecretKeySource}, []string{CheckSessionLifetime}, standing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := (&Report{Checks: tt.checks}).Summary()
			for _, c := range []struct {
				what      string
				got, want []string
			}{
				{"implemented", ids(s.Implemented), tt.impl}, {"missing", ids(s.Missing), tt.missing}, {"not checked", ids(s.NotChecked), tt.notChk},
				{"immediate", aids(s.Actions.Immediate), tt.imm}, {"priority", aids(s.Actions.Priority), tt.prio}, {"long-term", aids(s.Actions.LongTerm), tt.long},
			} {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s = %v; want %v", c.what, c.got, c.want)
				}
			}
			for _, a := range append(append(s.Actions.Immediate, s.Actions.Priority...), s.Actions.LongTerm...) {
				if a.Action == "" {
					t.Errorf("action %s has no text", a.ID)
				}
			}
		})
	}
	// An action whose check gave no recommendation says what to fix.
	s := (&Report{Checks: []Result{{ID: CheckSessionLifetime, Status: Warn, Evidence: "31 days"}}}).Summary()
	if got := s.Actions.Priority[0].Action; !strings.Contains(got, "31 days") {
		t.Errorf("action without recommendation = %q", got)
	}
}

// reviewReport is a report as latch review makes it: its own tool name,
// rules and root, and locations, with hostile text in a file name and in
// the evidence.
func reviewReport() *Report {
	rules := []CheckInfo{
		{CheckSecretKeySource, "Secret key source", Critical, "The production key is not a literal."},
		{CheckCookieSecure, "Session cookie is Secure", High, "Secure is set for production."},
		{CheckSessionLifetime, "Session lifetime", Medium, "Sessions end."},
		{CheckHSTS, "Strict-Transport-Security", Medium, "HSTS is sent."},
	}
	return &Report{Target: "/src/app", Tool: "latch review", Root: "/src/app", Rules: rules, Checks: []Result{
		{ID: CheckSecretKeySource, Status: Fail, Severity: Critical, Title: "Secret key source",
			Evidence: "SECRET_KEY is a literal\x1b[2J <b>x</b>", Recommendation: "read it from the environment [here](https://evil.example)",
			Locations: []Location{{File: "app/config.py", Line: 12}, {File: "odd dir/we#ird?.py", Line: 3}, {File: "c:evil.py", Line: 1}}},
		{ID: CheckCookieSecure, Status: Pass, Severity: Info, Title: "Session cookie is Secure", Evidence: "SESSION_COOKIE_SECURE = True",
			Locations: []Location{{File: "app/config.py", Line: 20}}},
		{ID: CheckSessionLifetime, Status: Warn, Severity: Medium, Title: "Session lifetime", Evidence: "Flask default 31 days",
			Locations: []Location{{File: "app/__init__.py", Line: 0}}},
		{ID: CheckHSTS, Status: Skip, Severity: Info, Title: "Strict-Transport-Security", Evidence: "not found"},
	}}
}

// TestSARIFLocations checks the physical locations of a review's SARIF
// against the rules of SARIF 2.1.0 that apply: a relative uri with a
// uriBaseId that originalUriBaseIds defines as an absolute URI ending in a
// slash (3.14.14), a percent-encoded uri reference, a region whose
// startLine is at least 1 (3.30.5) and absent when the line is unknown,
// ruleIndex naming the run's own rules, and at most ten locations.
func TestSARIFLocations(t *testing.T) {
	rep := reviewReport()
	many := Result{ID: CheckHSTS, Status: Fail, Severity: Medium, Title: "HSTS", Evidence: "e"}
	for i := 1; i <= 15; i++ {
		many.Locations = append(many.Locations, Location{File: "f.py", Line: i})
	}
	rep.Checks = append(rep.Checks, many)
	var b strings.Builder
	if err := WriteSARIF(&b, rep); err != nil {
		t.Fatal(err)
	}
	type artifact struct {
		URI       string `json:"uri"`
		URIBaseID string `json:"uriBaseId"`
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Name  string
					Rules []struct{ ID string }
				}
			}
			OriginalURIBaseIDs map[string]artifact `json:"originalUriBaseIds"`
			Results            []struct {
				RuleID    string
				RuleIndex int
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation artifact
						Region           *struct {
							StartLine *int `json:"startLine"`
						}
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(b.String()), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "latch review" || len(run.Tool.Driver.Rules) != 4 {
		t.Errorf("driver %s with %d rules", run.Tool.Driver.Name, len(run.Tool.Driver.Rules))
	}
	if base := run.OriginalURIBaseIDs["%SRCROOT%"]; base.URI != "file:///src/app/" || base.URIBaseID != "" {
		t.Errorf("originalUriBaseIds = %v", run.OriginalURIBaseIDs)
	}
	type loc struct {
		uri  string
		line int
	}
	want := [][]loc{
		{{"app/config.py", 12}, {"odd%20dir/we%23ird%3F.py", 3}, {"c%3Aevil.py", 1}},
		{{"app/config.py", 20}},
		{{"app/__init__.py", 0}},
		{},
		nil,
	}
	for i := 1; i <= 10; i++ {
		want[4] = append(want[4], loc{"f.py", i})
	}
	for i, res := range run.Results {
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("result %d: ruleIndex %d is not %s", i, res.RuleIndex, res.RuleID)
		}
		var got []loc
		for _, l := range res.Locations {
			pl := l.PhysicalLocation
			if pl.ArtifactLocation.URIBaseID != "%SRCROOT%" {
				t.Errorf("result %d: uriBaseId %q", i, pl.ArtifactLocation.URIBaseID)
			}
			line := 0
			if pl.Region != nil {
				if pl.Region.StartLine == nil || *pl.Region.StartLine < 1 {
					t.Errorf("result %d: region without a startLine of at least 1", i)
				} else {
					line = *pl.Region.StartLine
				}
			}
			got = append(got, loc{pl.ArtifactLocation.URI, line})
		}
		if len(got) != len(want[i]) || (len(got) > 0 && !reflect.DeepEqual(got, want[i])) {
			t.Errorf("result %d locations %v; want %v", i, got, want[i])
		}
	}
	if !strings.Contains(run.Results[0].Message.Text, `\[here\](https://evil.example)`) || strings.Contains(b.String(), "\x1b") {
		t.Errorf("message not escaped: %q", run.Results[0].Message.Text)
	}
}

// TestReportSummaryFormats checks that every format shows the locations,
// the summary and the actions, with the report's text escaped as the rest
// of the report is.
func TestReportSummaryFormats(t *testing.T) {
	tests := []struct {
		format  string
		want    []string
		notWant []string
	}{
		{"text", []string{"latch review /src/app", "      at app/config.py:12", "      at app/__init__.py\n",
			"Summary\n  Currently implemented (1): cookie-secure\n  Missing (2): secret-key-source, session-lifetime\n  Not checked (1): hsts\n",
			"Actions\n  Immediate:\n    - secret-key-source [critical]: read it from the environment",
			"  Priority:\n    - session-lifetime [medium]: Fix what the evidence shows: Flask default 31 days\n",
			"  Long-term:\n    - key-rotation [info]: Rotate", "    - regular-review [info]:", `literal\x1b[2J`},
			[]string{"\x1b"}},
		{"markdown", []string{"# latch review: ` /src/app `", "` SECRET_KEY is a literal\\x1b[2J <b>x</b> ` at ` app/config.py `:12 at ` odd dir/we#ird?.py `:3",
			"## Summary", "### Currently implemented\n\n- ` cookie-secure ` ` Session cookie is Secure ` (` info `)",
			"### Missing\n\n- ` secret-key-source `", "### Not checked\n\n- ` hsts `",
			"## Actions", "### Immediate\n\n- ` secret-key-source ` ` Secret key source ` (` critical `): ` read it from the environment [here](https://evil.example) `",
			"### Priority\n\n- ` session-lifetime `", "### Long-term\n\n- ` key-rotation ` ` Secret key rotation ` (` info `): ` Rotate"},
			[]string{"\x1b"}},
		{"html", []string{"<title>latch review: /src/app</title>", `<code class="loc">app/config.py:12</code>`, `<code class="loc">app/__init__.py</code>`,
			`<section id="summary">`, "<h3>Currently implemented (1)</h3>", "<h3>Missing (2)</h3>", "<h3>Not checked (1)</h3>",
			`<section id="actions">`, "<h3>Immediate</h3>", "<h3>Priority</h3>", "<h3>Long-term</h3>", "&lt;b&gt;x&lt;/b&gt;", "Generated by latch review."},
			[]string{"<b>x</b>", "\x1b"}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var b strings.Builder
			if err := Write(&b, reviewReport(), tt.format, false); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output contains %q", w)
				}
			}
			if t.Failed() {
				t.Log(out)
			}
		})
	}
}

func TestJSONSummaryAndLocations(t *testing.T) {
	var b strings.Builder
	if err := WriteJSON(&b, reviewReport()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Checks []struct {
			ID        string
			Locations []Location
		}
		Summary Summary
	}
	if err := json.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(doc.Checks[0].Locations); got != "[app/config.py:12 odd dir/we#ird?.py:3 c:evil.py:1]" {
		t.Errorf("locations %s", got)
	}
	s := doc.Summary
	if len(s.Implemented) != 1 || len(s.Missing) != 2 || len(s.NotChecked) != 1 || len(s.Actions.Immediate) != 1 || len(s.Actions.Priority) != 1 || len(s.Actions.LongTerm) != 2 {
		t.Errorf("summary %+v", s)
	}
	if a := s.Actions.Immediate[0]; a.ID != CheckSecretKeySource || a.Severity != Critical || a.Action != "read it from the environment [here](https://evil.example)" {
		t.Errorf("immediate action %+v", a)
	}
	if strings.Contains(b.String(), "\x1b") || !strings.Contains(b.String(), `literal\\x1b[2J`) {
		t.Error("evidence not Plain in JSON")
	}
	for _, key := range []string{`"implemented"`, `"missing"`, `"not_checked"`, `"actions"`, `"immediate"`, `"priority"`, `"long_term"`} {
		if !strings.Contains(b.String(), key) {
			t.Errorf("json lacks %s", key)
		}
	}
}
