package review

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// expectation is one project's expect.json: the verdicts a person checked
// by hand (the shape is described in testdata/README.md).
type expectation struct {
	Framework string                 `json:"framework"`
	Assume    string                 `json:"assume"`
	Checks    map[string]expectCheck `json:"checks"`
}

type expectCheck struct {
	Status string `json:"status"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Note   string `json:"note"`
}

// projectDirs lists the projects under testdata/fixtures and
// testdata/corpus, and under $LATCH_REVIEW_TESTDATA/{fixtures,corpus} when
// that is set (to try a corpus before it is added here).
func projectDirs(t *testing.T) []string {
	roots := []string{"testdata"}
	if extra := os.Getenv("LATCH_REVIEW_TESTDATA"); extra != "" {
		roots = append(roots, extra)
	}
	var dirs []string
	for _, root := range roots {
		for _, kind := range []string{"fixtures", "corpus"} {
			ents, err := os.ReadDir(filepath.Join(root, kind))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.IsDir() {
					dirs = append(dirs, filepath.Join(root, kind, e.Name()))
				}
			}
		}
	}
	return dirs
}

// TestReviewProjects reviews every fixture and corpus project and compares
// the framework, every check's status, and the expected file:line with
// the project's expect.json. Every mismatch of a project is reported at
// once.
func TestReviewProjects(t *testing.T) {
	dirs := projectDirs(t)
	if len(dirs) == 0 {
		t.Fatal("no projects under testdata/fixtures or testdata/corpus")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(filepath.Dir(dir))+"/"+filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "expect.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want expectation
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&want); err != nil {
				t.Fatalf("expect.json: %v", err)
			}
			res, err := Run(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var bad []string
			if want.Framework != "" && res.Framework != want.Framework {
				bad = append(bad, fmt.Sprintf("framework: got %s, want %s", res.Framework, want.Framework))
			}
			got := map[string]int{}
			for i, c := range res.Report.Checks {
				got[c.ID] = i
			}
			ids := make([]string, 0, len(want.Checks))
			for id := range want.Checks {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				w := want.Checks[id]
				i, ok := got[id]
				if !ok {
					bad = append(bad, fmt.Sprintf("%s: no such check in the review", id))
					continue
				}
				c := res.Report.Checks[i]
				if string(c.Status) != w.Status {
					bad = append(bad, fmt.Sprintf("%s: got %s, want %s\n      got evidence: %s\n      want note:    %s", id, c.Status, w.Status, c.Evidence, w.Note))
					continue
				}
				if w.File != "" {
					found := false
					for _, l := range res.Locations[id] {
						if l.File == w.File && (w.Line == 0 || l.Line == w.Line) {
							found = true
						}
					}
					if !found {
						bad = append(bad, fmt.Sprintf("%s: locations %v do not include %s:%d\n      got evidence: %s", id, res.Locations[id], w.File, w.Line, c.Evidence))
					}
				}
			}
			if len(want.Checks) != len(Checks) {
				bad = append(bad, fmt.Sprintf("expect.json has %d checks, the review %d", len(want.Checks), len(Checks)))
			}
			if len(bad) > 0 {
				t.Errorf("%s: %d mismatches (assumed production: %s):\n  %s", dir, len(bad), res.Assumed, strings.Join(bad, "\n  "))
			}
		})
	}
}
