package audit

import (
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// sampleReport has one check of each status, hostile evidence, and token
// statistics.
func sampleReport() *Report {
	r := &Report{Target: "https://app.example/"}
	for i, ci := range Checks {
		st := []Status{Pass, Fail, Warn, Skip}[i%4]
		r.Checks = append(r.Checks, result(ci.ID, st, fmt.Sprintf("evidence %d with <script>alert(1)</script> | pipe", i), "do better"))
	}
	r.Entropy = AnalyzeTokens(seeded(50, func(rr *mrand.Rand) string {
		return fmt.Sprintf("%08x", rr.Uint32())
	}))
	return r
}

func TestGrade(t *testing.T) {
	tests := []struct {
		name string
		rs   []Result
		want string
	}{
		{"all pass", []Result{result(CheckHSTS, Pass, "e", ""), result(CheckCookieSize, Skip, "e", "")}, "A"},
		{"a warning", []Result{result(CheckHSTS, Warn, "e", "")}, "B"},
		{"low fail", []Result{result(CheckCookieSize, Fail, "e", "")}, "B"},
		{"medium fail", []Result{result(CheckHSTS, Fail, "e", ""), result(CheckCookieSize, Fail, "e", "")}, "C"},
		{"high fail", []Result{result(CheckCookieSecure, Fail, "e", ""), result(CheckHSTS, Warn, "e", "")}, "D"},
		{"critical fail", []Result{result(CheckWeakSecretKey, Fail, "e", ""), result(CheckCookieSecure, Fail, "e", "")}, "F"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Checks: tt.rs}
			if got := r.Grade(); got != tt.want {
				t.Errorf("Grade = %s; want %s", got, tt.want)
			}
		})
	}
}

func TestWriteJSONShape(t *testing.T) {
	var b strings.Builder
	if err := Write(&b, sampleReport(), "json", false); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatal(err)
	}
	// The summary and each check's locations were added (issue 17); the
	// fields that were there keep their names and meaning.
	if keys := sortedKeys(doc); strings.Join(keys, ",") != "checks,summary,target" {
		t.Errorf("top-level keys %v", keys)
	}
	checks := doc["checks"].([]any)
	if len(checks) != len(Checks) {
		t.Fatalf("%d checks", len(checks))
	}
	statuses := map[string]bool{"pass": true, "fail": true, "warn": true, "skip": true}
	severities := map[string]bool{"critical": true, "high": true, "medium": true, "low": true, "info": true}
	for i, c := range checks {
		m := c.(map[string]any)
		if keys := sortedKeys(m); strings.Join(keys, ",") != "evidence,id,locations,recommendation,severity,status,title" {
			t.Errorf("check %d keys %v", i, keys)
		}
		if locs, ok := m["locations"].([]any); !ok || len(locs) != 0 {
			t.Errorf("check %d locations %#v; want an empty list for a live audit", i, m["locations"])
		}
		if m["id"] != Checks[i].ID || !statuses[m["status"].(string)] || !severities[m["severity"].(string)] {
			t.Errorf("check %d = %v", i, m)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestSARIFStructure validates the SARIF output against the properties
// the SARIF 2.1.0 schema requires, and the enumerations it allows.
func TestSARIFStructure(t *testing.T) {
	var b strings.Builder
	rep := sampleReport()
	if err := Write(&b, rep, "sarif", false); err != nil {
		t.Fatal(err)
	}
	var log map[string]any
	if err := json.Unmarshal([]byte(b.String()), &log); err != nil {
		t.Fatal(err)
	}
	req := func(m map[string]any, path string, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: required property %q missing", path, k)
			}
		}
	}
	obj := func(v any, path string) map[string]any {
		t.Helper()
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s is %T, not an object", path, v)
		}
		return m
	}
	arr := func(v any, path string) []any {
		t.Helper()
		a, ok := v.([]any)
		if !ok {
			t.Fatalf("%s is %T, not an array", path, v)
		}
		return a
	}
	req(log, "sarifLog", "version", "$schema", "runs")
	if log["version"] != "2.1.0" {
		t.Errorf("version %v", log["version"])
	}
	if s, _ := log["$schema"].(string); !strings.HasPrefix(s, "https://") || !strings.Contains(s, "sarif-2.1.0") {
		t.Errorf("$schema %v", log["$schema"])
	}
	runs := arr(log["runs"], "runs")
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	run := obj(runs[0], "runs[0]")
	req(run, "run", "tool", "results")
	tool := obj(run["tool"], "tool")
	req(tool, "tool", "driver")
	drv := obj(tool["driver"], "driver")
	req(drv, "driver", "name", "rules")
	if n, _ := drv["name"].(string); n == "" {
		t.Error("driver.name empty")
	}
	levels := map[string]bool{"none": true, "note": true, "warning": true, "error": true}
	kinds := map[string]bool{"notApplicable": true, "pass": true, "fail": true, "review": true, "open": true, "informational": true}
	rules := arr(drv["rules"], "rules")
	ruleIDs := make([]string, len(rules))
	for i, r := range rules {
		rm := obj(r, "rule")
		req(rm, fmt.Sprintf("rules[%d]", i), "id", "shortDescription", "defaultConfiguration")
		ruleIDs[i], _ = rm["id"].(string)
		req(obj(rm["shortDescription"], "shortDescription"), "shortDescription", "text")
		if lv := obj(rm["defaultConfiguration"], "defaultConfiguration")["level"]; !levels[fmt.Sprint(lv)] {
			t.Errorf("rule %s default level %v", ruleIDs[i], lv)
		}
	}
	if len(rules) != len(Checks) {
		t.Errorf("%d rules; want %d", len(rules), len(Checks))
	}
	results := arr(run["results"], "results")
	if len(results) != len(rep.Checks) {
		t.Errorf("%d results; want %d", len(results), len(rep.Checks))
	}
	for i, r := range results {
		path := fmt.Sprintf("results[%d]", i)
		rm := obj(r, path)
		req(rm, path, "ruleId", "level", "message", "locations")
		if !levels[fmt.Sprint(rm["level"])] {
			t.Errorf("%s level %v", path, rm["level"])
		}
		if !kinds[fmt.Sprint(rm["kind"])] {
			t.Errorf("%s kind %v", path, rm["kind"])
		}
		if k, lv := rm["kind"], rm["level"]; k != "fail" && lv != "none" {
			t.Errorf("%s: kind %v with level %v (the schema requires level none)", path, k, lv)
		}
		req(obj(rm["message"], "message"), path+".message", "text")
		idx, ok := rm["ruleIndex"].(float64)
		if !ok || int(idx) < 0 || int(idx) >= len(ruleIDs) || ruleIDs[int(idx)] != rm["ruleId"] {
			t.Errorf("%s ruleIndex %v does not name rule %v", path, rm["ruleIndex"], rm["ruleId"])
		}
		locs := arr(rm["locations"], "locations")
		if len(locs) == 0 {
			t.Errorf("%s has no location", path)
		}
		// A live audit's results are located at the target as a relative
		// reference (host and path): code scanning refuses a whole upload
		// with an https: location. The URL is the "target" property.
		for _, l := range locs {
			pl := obj(obj(l, "location")["physicalLocation"], "physicalLocation")
			if uri := obj(pl["artifactLocation"], "artifactLocation")["uri"]; uri != "app.example/" {
				t.Errorf("%s uri %v", path, uri)
			}
		}
		if tgt := obj(rm["properties"], "properties")["target"]; tgt != rep.Target {
			t.Errorf("%s target property %v", path, tgt)
		}
	}
}

func TestWriteHTML(t *testing.T) {
	var b strings.Builder
	rep := sampleReport()
	if err := Write(&b, rep, "html", false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"<!DOCTYPE html>", `class="grade g` + rep.Grade() + `"`, "<svg", "</html>", "Token randomness"} {
		if !strings.Contains(out, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if strings.Contains(out, "<script>") {
		t.Error("evidence is not escaped")
	}
	for _, ci := range Checks {
		if !strings.Contains(out, `id="`+ci.ID+`"`) {
			t.Errorf("no row for %s", ci.ID)
		}
	}
	if regexp.MustCompile(`(?i)<(link|script|img|iframe)\b|\bsrc\s*=|url\(`).MatchString(out) {
		t.Error("html loads external resources; it must be self-contained")
	}
	ticks := 0
	for _, p := range rep.Entropy.Positions {
		if p.Uniform > 0 {
			ticks++
		}
	}
	if got, want := strings.Count(out, "<rect "), len(rep.Entropy.Positions)+ticks; got != want || ticks == 0 {
		t.Errorf("%d chart rects; want %d (%d ticks)", got, want, ticks)
	}
	b.Reset()
	rep.Entropy = nil
	if err := WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<svg") {
		t.Error("chart drawn without token statistics")
	}
}

func TestWriteTextAndMarkdown(t *testing.T) {
	rep := sampleReport()
	tests := []struct {
		name, format string
		color        bool
		want         []string
		notWant      []string
	}{
		{"text plain", "text", false, []string{"latch audit https://app.example/", "FAIL", "-> do better"}, []string{"\x1b["}},
		{"text colour", "text", true, []string{"\x1b[31mFAIL", "\x1b[32mPASS"}, nil},
		{"markdown", "markdown", false, []string{"| Status | Check |", "| ` evidence 0 with <script>alert(1)</script> \\x7c pipe ` |", "## Token randomness"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := Write(&b, rep, tt.format, tt.color); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(b.String(), w) {
					t.Errorf("output contains %q", w)
				}
			}
		})
	}
	if err := Write(&strings.Builder{}, rep, "pdf", false); err == nil || !strings.HasPrefix(err.Error(), "audit: ") {
		t.Errorf("unknown format: %v", err)
	}
}

func TestWebArtifact(t *testing.T) {
	tests := []struct {
		target, uri string
		ok          bool
	}{
		{"https://app.example/", "app.example/", true},
		{"https://app.example", "app.example/", true},
		{"http://127.0.0.1:8443/login", "127.0.0.1%3A8443/login", true},
		{"https://[::1]:8443/a b/c", "%5B%3A%3A1%5D%3A8443/a%20b/c", true},
		{"https://app.example/x?q=1#f", "app.example/x", true},
		{"/src/app", "", false},
		{"ftp://host/", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			art, ok := webArtifact(tt.target)
			if ok != tt.ok || art.URI != tt.uri || art.URIBaseID != "" {
				t.Errorf("webArtifact(%q) = %+v, %v; want %q, %v", tt.target, art, ok, tt.uri, tt.ok)
			}
			if ok {
				if u, err := url.Parse(art.URI); err != nil || u.Scheme != "" || u.Host != "" {
					t.Errorf("%q is not a relative reference: %v", art.URI, err)
				}
			}
		})
	}
}
