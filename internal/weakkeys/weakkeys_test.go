package weakkeys

import (
	"strings"
	"testing"
)

func TestListSize(t *testing.T) {
	if n := len(List()); n < 250 {
		t.Fatalf("List has %d keys; want at least 250", n)
	}
	if Len() != len(List()) {
		t.Errorf("Len() = %d; len(List()) = %d", Len(), len(List()))
	}
}

func TestNoDuplicatesInFile(t *testing.T) {
	seen := map[string]int{}
	for i, line := range strings.Split(keysTxt, "\n") {
		if isComment(line) || strings.TrimSpace(line) == "" {
			continue
		}
		k := strings.TrimSpace(line)
		if prev, dup := seen[k]; dup {
			t.Errorf("keys.txt line %d repeats line %d: %q", i+1, prev, k)
		}
		seen[k] = i + 1
	}
	for _, k := range binaryKeys {
		if _, dup := seen[k]; dup {
			t.Errorf("binary key %q is also in keys.txt", k)
		}
	}
	list := List()
	uniq := map[string]bool{}
	for _, k := range list {
		if uniq[k] {
			t.Errorf("List repeats %q", k)
		}
		uniq[k] = true
		if k == "" || k != strings.TrimSpace(k) {
			t.Errorf("List holds empty or padded key %q", k)
		}
	}
}

func TestContains(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{"secret", "secret", true},
		{"changeme", "changeme", true},
		{"dev", "dev", true},
		{"development", "development", true},
		{"secret-key", "secret-key", true},
		{"your-secret-key", "your-secret-key", true},
		{"super secret key", "super secret key", true},
		{"SECRET_KEY", "SECRET_KEY", true},
		{"default", "default", true},
		{"keyboard cat", "keyboard cat", true},
		{"flask doc key as text", `_5#y2L"F4Q8z\n\xec]/`, true},
		{"flask doc key as bytes", "_5#y2L\"F4Q8z\n\xec]/", true},
		{"flask doc key as a str", "_5#y2L\"F4Q8z\n\u00ec]/", true},
		{"flask 0.x key as a str", "\u00fd{H\u00e5<\u0095\u00f9\u00e3\u0096.5\u00d1\x01O<!\u00d5\u00a2\u00a0\u009fR\"\u00a1\u00a8", true},
		{"superset default as bytes", "\x02\x01thisismyscretkey\x01\x02\\e\\y\\y\\h", true},
		{"jwt.io", "your-256-bit-secret", true},
		{"jsonwebtoken readme", "shhhhh", true},
		{"django insecure", "django-insecure-+lu35xd6nbm_j-9k2i)z8e&6*k&g!zf59y(xn86#243@enswr-", true},
		{"hash-prefixed key is a key", "#secret!", true},
		{"case-insensitive", "ChangeMe", true},
		{"upper case", "KEYBOARD CAT", true},
		{"padded", "  changeme \n", true},
		{"padded and cased", " Super Secret Key ", true},
		{"comment text is not a key", "--- generic placeholders and defaults", false},
		{"random key", "k3J9pX2vQ8mZ5rT1wY7uB4nC6hF0dG", false},
		{"empty", "", false},
		{"prefix only", "change", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Contains(tt.key); got != tt.want {
				t.Errorf("Contains(%q) = %v; want %v", tt.key, got, tt.want)
			}
		})
	}
}

func TestGenerated(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{"django startproject key", "django-insecure-+lu35xd6nbm_j-9k2i)z8e&6*k&g!zf59y(xn86#243@enswr-", true},
		{"django startproject key, another value", "django-insecure-q7#v2m$k9x!p0w@z3r&t8y*b5n(c1f)h6j-l4s_d=g+a", true},
		{"padded django key", "  django-insecure-q7#v2m$k9x!p0w@z3r&t8y*b5n(c1f)h6j-l4s_d=g+a\n", true},
		{"prefix alone", "django-insecure-", true},
		{"prefix inside the key", "q7#v2m$k9x!p0w@z3r-django-insecure-t8y*b5n(c1f)h6j", false},
		{"other case", "Django-Insecure-q7#v2m$k9x!p0w@z3r&t8y*b5n(c1f)h6j", false},
		{"random key", "k3J9pX2vQ8mZ5rT1wY7uB4nC6hF0dG", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			what, ok := Generated(tt.key)
			if ok != tt.want {
				t.Fatalf("Generated(%q) = %v; want %v", tt.key, ok, tt.want)
			}
			if ok && !strings.Contains(what, "Django") {
				t.Errorf("Generated(%q) says %q; want it to name Django", tt.key, what)
			}
		})
	}
}

func TestListIsACopy(t *testing.T) {
	a := List()
	a[0] = "modified"
	if List()[0] == "modified" || Contains("modified") {
		t.Fatal("changing List's result changed the package's list")
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	done := make(chan bool)
	for i := 0; i < 8; i++ {
		go func() { done <- Contains("changeme") && len(List()) >= 250 }()
	}
	for i := 0; i < 8; i++ {
		if !<-done {
			t.Fatal("concurrent lookup failed")
		}
	}
}

func BenchmarkContains(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Contains("Not-On-The-List")
	}
}

func TestContainsNormalForm(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{"listed with its punctuation dropped", "my super secret key that no one is supposed to know", true},
		{"listed in capitals", "EXTREMELYSECRETKEYTHATNOONEWILLEVERKNOW", true},
		{"listed with spaces and dashes added", "extremely-secret key that no-one will ever know", true},
		{"listed with substitutions", "p@55w0rd", true},
		{"listed with 1 for l", "keyboard cat", true},
		{"listed, 1 for i", "5up3r 53cr37 p455w0rd", true},
		{"a listed word inside random bytes", "\xaa\x88\xb6\xef\x8d- \xf2\xd2\xe3>\xded\xf9\xaf\x06\xa8E\xa6\xfd=\x9cm+\n\xa6\xe1\x1d\xa9o\xc5\xf9", false},
		{"a listed word with a control byte", "d\x00e\x00m\x00o", false},
		{"punctuation only", "!!!---???", false},
		{"another phrase", "my super secret key that everyone knows", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Contains(tt.key); got != tt.want {
				t.Errorf("Contains(%q) = %v; want %v (Normal %q)", tt.key, got, tt.want, Normal(tt.key))
			}
		})
	}
}
