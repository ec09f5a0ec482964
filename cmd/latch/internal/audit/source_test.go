package audit

import (
	"strings"
	"testing"
	"time"
)

func TestCompareConfig(t *testing.T) {
	rev := func(st ...Status) *Report {
		r := &Report{}
		for i, id := range configChecks {
			s := Pass
			if i < len(st) {
				s = st[i]
			}
			r.Checks = append(r.Checks, Result{ID: id, Status: s, Evidence: "source says " + id, Locations: []Location{{File: "config.py", Line: i + 1}}})
		}
		return r
	}
	live := func(st ...Status) *Report { r := rev(st...); r.Root = ""; return r }
	tests := []struct {
		name      string
		live, src *Report
		want      Status
		evidence  []string
		locs      int
	}{
		{"all agree", live(), rev(), Pass, []string{"agree on cookie-secure, cookie-httponly, cookie-samesite, https-redirect, hsts"}, 0},
		{"source says Secure, live is not", live(Fail), rev(Pass), Fail, []string{"cookie-secure: the source pass but the live application fail", "agree: cookie-httponly"}, 1},
		{"live safer than the source", live(Pass, Pass, Pass, Pass, Pass), rev(Pass, Pass, Pass, Fail, Fail), Warn, []string{"https-redirect: the live application pass but the source fail", "hsts: the live application pass"}, 2},
		{"worse wins over better", live(Fail, Pass), rev(Pass, Fail), Fail, []string{"cookie-secure: the source pass", "cookie-httponly: the live application pass"}, 2},
		{"skips are not compared", live(Skip, Skip, Skip, Skip, Skip), rev(), Skip, []string{"no check both made", "not compared"}, 0},
		{"no review", live(), nil, Skip, []string{"not reviewed"}, 0},
		{"warn against pass", live(Warn), rev(Pass), Fail, []string{"cookie-secure: the source pass but the live application warn"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := compareConfig(tt.live, tt.src)
			if r.ID != CheckSourceConfig || r.Status != tt.want || len(r.Locations) != tt.locs {
				t.Errorf("%s %s with %d locations; want %s with %d\n%s", r.ID, r.Status, len(r.Locations), tt.want, tt.locs, r.Evidence)
			}
			for _, w := range tt.evidence {
				if !strings.Contains(r.Evidence, w) {
					t.Errorf("evidence lacks %q: %s", w, r.Evidence)
				}
			}
			if (r.Status == Fail || r.Status == Warn) && r.Recommendation == "" {
				t.Error("no recommendation")
			}
		})
	}
}

func TestCompareLifetime(t *testing.T) {
	const h = time.Hour
	src := SourceReview{Lifetime: 12 * h, LifetimeWhere: "config.py:3"}
	tests := []struct {
		name     string
		live     LiveLifetime
		src      SourceReview
		want     Status
		evidence string
	}{
		{"measured: outlived", LiveLifetime{Outlived: 13 * h}, src, Fail, "left unused for 13h0m0s was still authenticated"},
		{"measured: within the slack", LiveLifetime{Outlived: 12*h + 30*time.Second}, src, Skip, "declares no lifetime"},
		{"measured: ended in time", LiveLifetime{Ended: 11 * h, Declared: 31 * 24 * h, Persistent: true}, src, Pass, "had ended when checked after 11h"},
		{"measured: ended, checked later than the lifetime", LiveLifetime{Ended: 14 * h}, src, Pass, "had ended when checked after 14h"},
		{"declared longer", LiveLifetime{Declared: 31 * 24 * h, Persistent: true}, src, Warn, "keep it for 31d"},
		{"declared within", LiveLifetime{Declared: 12 * h, Persistent: true}, src, Pass, "no longer"},
		{"browser-session cookie", LiveLifetime{}, src, Skip, "declares no lifetime"},
		{"source unknown", LiveLifetime{Outlived: 100 * h}, SourceReview{}, Skip, "no server-side lifetime"},
		{"outlived beats ended", LiveLifetime{Outlived: 20 * h, Ended: 2 * h}, src, Fail, "unused for 20h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := compareLifetime(tt.live, tt.src)
			if r.Status != tt.want || !strings.Contains(r.Evidence, tt.evidence) {
				t.Errorf("%s: %s; want %s containing %q", r.Status, r.Evidence, tt.want, tt.evidence)
			}
			if tt.src.Lifetime > 0 && !strings.Contains(r.Evidence, "(config.py:3)") {
				t.Errorf("evidence does not say where: %s", r.Evidence)
			}
		})
	}
}

// TestCompareSourceReport checks that CompareSource adds both checks once,
// with rules for SARIF, and that a report with them renders in every
// format.
func TestCompareSourceReport(t *testing.T) {
	live := &Report{Target: "http://app.example/", Checks: []Result{result(CheckCookieSecure, Fail, "no Secure", "set it"), result(CheckSourceKeyLive, Pass, "none", "")}}
	src := SourceReview{Report: &Report{Checks: []Result{{ID: CheckCookieSecure, Status: Pass, Locations: []Location{{File: "config.py", Line: 9}}}}}, Lifetime: time.Hour}
	CompareSource(live, src)
	CompareSource(live, src)
	ids := []string{}
	for _, c := range live.Checks {
		ids = append(ids, c.ID)
	}
	if got := strings.Join(ids, ","); got != "cookie-secure,source-key-live,source-live-config,source-live-lifetime" {
		t.Errorf("checks %s", got)
	}
	if len(live.rules()) != len(Checks)+len(SourceChecks) {
		t.Errorf("%d rules", len(live.rules()))
	}
	if c := live.Checks[2]; c.Status != Fail || c.Severity != High || c.Title != SourceChecks[1].Title {
		t.Errorf("source-live-config %+v", c)
	}
	for _, f := range Formats {
		var b strings.Builder
		if err := Write(&b, live, f, false); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "source-live-config") {
			t.Errorf("%s lacks the comparison", f)
		}
	}
}
