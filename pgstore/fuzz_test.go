package pgstore

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latchsec/latch/driver"
)

// FuzzRoundTrip stores a value under a key on the real server and reads it
// back: every key that PostgreSQL can hold must round-trip with its value's
// meaning intact, and every other key must be refused with an error.
func FuzzRoundTrip(f *testing.F) {
	seeds := []struct{ key, value, ua string }{
		{"k", "plain", "Mozilla/5.0"},
		{"nul", "a\x00b", "ua\x00"},
		{"escape", `\u0000 "quoted" \\`, `"`},
		{"bad utf8 value", "\xff\xfe\xfd", "\xe9t\xe9"},
		{"", "", ""},
		{"emoji 🔑", "日本語 🍪", "🦊"},
		{"a\x00", "key with NUL", "x"},
		{"\xc3\x28", "invalid key", "x"},
		{strings.Repeat("k", 300), strings.Repeat("v", 70000), strings.Repeat("u", 1000)},
	}
	for _, s := range seeds {
		f.Add(s.key, s.value, s.ua)
	}
	// One table for every input: a table each would make fuzzing crawl.
	s := newTestStore(f, Options{})
	f.Fuzz(func(t *testing.T, key, value, ua string) {
		ctx := context.Background()
		id := randomHash(t)
		m := liveMeta("")
		m.UserAgent = ua
		err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: m, Set: map[string]any{key: value}})
		if !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
			if err == nil {
				t.Fatalf("Commit with key %q: got nil error, want a refusal", key)
			}
			return
		}
		if err != nil {
			t.Fatalf("Commit: %v", err)
		}
		rec, err := s.Load(ctx, id)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		enc, err := driver.EncodeValue(value)
		if err != nil {
			t.Fatal(err)
		}
		want, err := driver.DecodeValue(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.Values[key]; !reflect.DeepEqual(got, want) {
			t.Errorf("value under %q: got %q, want %q", key, got, want)
		}
		if rec.UserAgent != ua {
			t.Errorf("UserAgent: got %q, want %q", rec.UserAgent, ua)
		}
	})
}
