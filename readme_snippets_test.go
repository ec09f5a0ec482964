package latch_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeSnippets are the README's code blocks copied from tests: each
// name's test compiles and runs the code where it lies.
var readmeSnippets = []string{"net/http", "chi", "gin", "echo", "handler test"}

// snippetMark introduces a README code block copied from a test file:
// <!-- snippet: FILE NAME -->, FILE relative to the repository's root.
var snippetMark = regexp.MustCompile(`(?m)^<!-- snippet: (\S+) (.+) -->\n\x60\x60\x60go\n`)

// TestREADMESnippets checks that every README code block marked as a
// snippet is, character for character, the lines of its test file between
// "// snippet: NAME" and "// end snippet" (less their common indentation and the blank lines
// before the end mark),
// and that the README has each of readmeSnippets.
func TestREADMESnippets(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	found := map[string]bool{}
	for _, m := range snippetMark.FindAllStringSubmatchIndex(readme, -1) {
		file, name := readme[m[2]:m[3]], readme[m[4]:m[5]]
		found[name] = true
		block, _, ok := strings.Cut(readme[m[1]:], "```\n")
		if !ok {
			t.Errorf("README: the block of snippet %q has no end", name)
			continue
		}
		want, err := snippet(filepath.FromSlash(file), name)
		if err != nil {
			t.Error(err)
			continue
		}
		if block != want {
			t.Errorf("README's snippet %q differs from %s; copy it from there:\n%s", name, file, want)
		}
	}
	for _, name := range readmeSnippets {
		if !found[name] {
			t.Errorf("README has no snippet %q (a line <!-- snippet: FILE %s --> before a ```go block)", name, name)
		}
	}
}

// snippet returns the lines of file between "// snippet: name" and
// "// end snippet", less the indentation they share, each ending in "\n".
func snippet(file, name string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	_, rest, ok := strings.Cut(string(b), "// snippet: "+name+"\n")
	body, _, closed := strings.Cut(rest, "// end snippet\n")
	if !ok || !closed {
		return "", &snippetError{file, name}
	}
	body = strings.TrimRight(body, " \t\n") + "\n" // blank lines and the end mark's indentation
	lines := strings.SplitAfter(body, "\n")
	lines = lines[:len(lines)-1]
	indent, first := "", true
	for _, l := range lines {
		lead := l[:len(l)-len(strings.TrimLeft(l, "\t"))]
		if strings.TrimSpace(l) == "" {
			continue
		}
		if first || len(lead) < len(indent) {
			indent, first = lead, false
		}
	}
	var out strings.Builder
	for _, l := range lines {
		out.WriteString(strings.TrimPrefix(l, indent))
	}
	return out.String(), nil
}

type snippetError struct{ file, name string }

func (e *snippetError) Error() string {
	return e.file + ` has no lines between "// snippet: ` + e.name + `" and "// end snippet"`
}
