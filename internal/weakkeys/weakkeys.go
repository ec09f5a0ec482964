// Package weakkeys holds published default, example and leaked secret keys.
package weakkeys

import (
	_ "embed"
	"strings"
	"sync"
)

//go:embed keys.txt
var raw string

var set = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{})
	for _, l := range strings.Split(raw, "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		m[l] = struct{}{}
		m[strings.ToLower(strings.TrimSpace(l))] = struct{}{}
	}
	return m
})

// Contains reports whether key is a known weak key.
func Contains(key string) bool {
	m := set()
	if _, ok := m[key]; ok {
		return true
	}
	_, ok := m[strings.ToLower(strings.TrimSpace(key))]
	return ok
}

// List returns the keys, in file order.
func List() []string {
	var out []string
	for _, l := range strings.Split(raw, "\n") {
		l = strings.TrimRight(l, "\r")
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}
