package redisstore

import (
	"strings"
	"testing"
)

// FuzzNewClient checks that no URL makes newClient panic, and that no error
// repeats the password of the URL.
func FuzzNewClient(f *testing.F) {
	for _, seed := range []string{
		"redis://:pw@127.0.0.1:6379/0",
		"rediss://user:pw@h:1?dial_timeout=3s",
		"redis+sentinel://:pw@a:1,b:2/master/1?sentinel_password=x",
		"redis+cluster://u:pw@a:1,[::1]:2",
		"redis+cluster://:pw@a:1,,",
		"redis+sentinel://:pw@a:1/%zz",
		"redis://:pw@h:port",
		"://",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := newClient(raw)
		if err == nil {
			_ = c.Close()
			return
		}
		if !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Fatalf("error without package prefix: %q", err)
		}
		if i := strings.Index(raw, ":pw@"); i >= 0 && strings.Contains(err.Error(), ":pw@") {
			t.Fatalf("error repeats the password: %q", err)
		}
	})
}

// FuzzDecodeRecord checks that no stored bytes make decodeRecord panic.
func FuzzDecodeRecord(f *testing.F) {
	f.Add("{}", "1", "v:k", `"x"`)
	f.Add(`{"created":"2026-01-01T00:00:00Z"}`, "1764448390123", "v:n", "12345678901234567890")
	f.Add("{", "x", "other", "")
	f.Fuzz(func(t *testing.T, meta, exp, field, value string) {
		rec, _, err := decodeRecord(map[string]string{fieldMeta: meta, fieldExpiry: exp, field: value})
		if err == nil && rec == nil {
			t.Fatal("nil record without error")
		}
	})
}
