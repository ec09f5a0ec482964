package audit

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestJarRules checks the jar against the browser's cookie rules (RFC
// 6265bis): each case stores Set-Cookie headers as received from a URL,
// optionally lets time pass, then asks which Cookie header goes to
// another URL.
func TestJarRules(t *testing.T) {
	type set struct{ from, header string }
	tests := []struct {
		name    string
		sets    []set
		wait    time.Duration
		to      string
		want    string
		refused string // a reason one of the sets must be refused with
	}{
		{"Secure cookie is sent over HTTPS", []set{{"https://a.example/", "s=1; Secure"}}, 0, "https://a.example/", "s=1", ""},
		{"Secure cookie is never sent over plain HTTP", []set{{"https://a.example/", "s=1; Secure"}, {"https://a.example/", "p=2"}}, 0, "http://a.example/", "p=2", ""},
		{"Secure cookie is not sent to another port over plain HTTP", []set{{"https://a.example:8443/", "s=1; Secure"}}, 0, "http://a.example:8080/", "", ""},
		{"Secure cookie set over plain HTTP is refused", []set{{"http://a.example/", "s=1; Secure"}}, 0, "https://a.example/", "", "Secure cookie set over plain HTTP"},
		{"loopback counts as a secure context", []set{{"http://127.0.0.1:8080/", "s=1; Secure"}}, 0, "http://127.0.0.1:9090/", "s=1", ""},
		{"plain HTTP cannot overwrite a Secure cookie", []set{{"https://a.example/", "s=1; Secure"}, {"http://a.example/", "s=evil"}}, 0, "https://a.example/", "s=1", "would overwrite a Secure one"},
		{"Path limits where a cookie goes", []set{{"https://a.example/", "c=1; Path=/app"}}, 0, "https://a.example/", "", ""},
		{"Path covers the subtree", []set{{"https://a.example/", "c=1; Path=/app"}}, 0, "https://a.example/app/x", "c=1", ""},
		{"Path is not a string prefix", []set{{"https://a.example/", "c=1; Path=/app"}}, 0, "https://a.example/application", "", ""},
		{"default path is the request's directory", []set{{"https://a.example/a/b/login", "c=1"}}, 0, "https://a.example/a/other", "", ""},
		{"default path covers its directory", []set{{"https://a.example/a/b/login", "c=1"}}, 0, "https://a.example/a/b/me", "c=1", ""},
		{"a relative Path gets the default path", []set{{"https://a.example/a/b", "c=1; Path=x"}}, 0, "https://a.example/a/z", "c=1", ""},
		{"host-only cookie stays on its host", []set{{"https://a.example/", "c=1"}}, 0, "https://sub.a.example/", "", ""},
		{"Domain cookie goes to subdomains", []set{{"https://www.a.example/", "c=1; Domain=a.example"}}, 0, "https://api.a.example/", "c=1", ""},
		{"Domain with a leading dot", []set{{"https://www.a.example/", "c=1; Domain=.a.example"}}, 0, "https://a.example/", "c=1", ""},
		{"Domain of another site is refused", []set{{"https://a.example/", "c=1; Domain=b.example"}}, 0, "https://b.example/", "", "does not cover the host"},
		{"top-level Domain is refused", []set{{"https://a.example/", "c=1; Domain=example"}}, 0, "https://a.example/", "", "top-level domain"},
		{"Domain on an IP host is refused", []set{{"https://127.0.0.1/", "c=1; Domain=0.0.1"}}, 0, "https://127.0.0.1/", "", "does not cover the host"},
		{"Domain equal to an IP host is host-wide", []set{{"https://127.0.0.1/", "c=1; Domain=127.0.0.1"}}, 0, "https://127.0.0.1/", "c=1", ""},
		{"Max-Age=0 deletes", []set{{"https://a.example/", "c=1"}, {"https://a.example/", "c=x; Max-Age=0"}}, 0, "https://a.example/", "", ""},
		{"Expires in the past deletes", []set{{"https://a.example/", "c=1"}, {"https://a.example/", "c=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT"}}, 0, "https://a.example/", "", ""},
		{"deleting needs the same path", []set{{"https://a.example/", "c=1; Path=/"}, {"https://a.example/", "c=x; Max-Age=0; Path=/app"}}, 0, "https://a.example/app", "c=1", ""},
		{"Max-Age ends a cookie", []set{{"https://a.example/", "c=1; Max-Age=60"}}, time.Minute, "https://a.example/", "", ""},
		{"Max-Age wins over Expires", []set{{"https://a.example/", "c=1; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:00 GMT"}}, time.Minute, "https://a.example/", "c=1", ""},
		{"lifetime is capped at 400 days", []set{{"https://a.example/", "c=1; Max-Age=315360000"}}, 401 * 24 * time.Hour, "https://a.example/", "", ""},
		{"a session cookie outlives any wait", []set{{"https://a.example/", "c=1"}}, 1000 * time.Hour, "https://a.example/", "c=1", ""},
		{"an empty value is a cookie", []set{{"https://a.example/", "c="}}, 0, "https://a.example/", "c=", ""},
		{"__Secure- needs Secure", []set{{"https://a.example/", "__Secure-c=1"}}, 0, "https://a.example/", "", "__Secure- prefix"},
		{"__Host- needs Path=/", []set{{"https://a.example/", "__Host-c=1; Secure; Path=/app"}}, 0, "https://a.example/app", "", "__Host- prefix"},
		{"__Host- refuses Domain", []set{{"https://a.example/", "__Host-c=1; Secure; Path=/; Domain=a.example"}}, 0, "https://a.example/", "", "__Host- prefix"},
		{"__Host- needs an explicit Path", []set{{"https://a.example/", "__Host-c=1; Secure"}}, 0, "https://a.example/", "", "__Host- prefix"},
		{"prefixes are matched in any case", []set{{"https://a.example/", "__host-c=1; Path=/"}}, 0, "https://a.example/", "", "__Host- prefix"},
		{"a valid __Host- cookie", []set{{"https://a.example/", "__Host-c=1; Secure; Path=/"}}, 0, "https://a.example/", "__Host-c=1", ""},
		{"longer paths first, then older first", []set{{"https://a.example/", "a=1; Path=/"}, {"https://a.example/", "b=2; Path=/x"}, {"https://a.example/", "c=3; Path=/"}}, 0, "https://a.example/x/y", "b=2; a=1; c=3", ""},
		{"replacing keeps the creation order", []set{{"https://a.example/", "a=1"}, {"https://a.example/", "b=2"}, {"https://a.example/", "a=3"}}, 0, "https://a.example/", "a=3; b=2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			j := newJar(clock.Now)
			var reasons []string
			for _, s := range tt.sets {
				ck, err := ParseSetCookie(s.header)
				if err != nil {
					t.Fatal(err)
				}
				if why := j.store(mustURL(t, s.from), ck); why != "" {
					reasons = append(reasons, why)
				}
			}
			clock.t = clock.t.Add(tt.wait)
			if got := j.header(mustURL(t, tt.to)); got != tt.want {
				t.Errorf("Cookie: %q; want %q", got, tt.want)
			}
			all := strings.Join(reasons, "; ")
			if tt.refused == "" && all != "" {
				t.Errorf("refused: %s", all)
			}
			if tt.refused != "" && !strings.Contains(all, tt.refused) {
				t.Errorf("refused %q; want a refusal containing %q", all, tt.refused)
			}
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestJarEvictsLeastRecentlyUsed checks the bound on the jar: a flood of
// cookies leaves at most maxCookies; a Secure cookie survives a flood of
// plain ones, and among plain cookies the least recently used go first.
func TestJarEvictsLeastRecentlyUsed(t *testing.T) {
	clock := newFakeClock()
	j := newJar(clock.Now)
	u := mustURL(t, "https://a.example/")
	store := func(h string) {
		ck, err := ParseSetCookie(h)
		if err != nil {
			t.Fatal(err)
		}
		j.store(u, ck)
	}
	store("sid=keep; Path=/; Secure")
	store("old=1; Path=/old")
	store("used=1; Path=/used")
	for i := range 10 * maxCookies {
		store(fmt.Sprintf("flood%d=x; Path=/flood", i))
		if i%50 == 0 {
			j.header(mustURL(t, "https://a.example/used"))
		}
	}
	if n := len(j.entries); n > maxCookies {
		t.Errorf("jar holds %d cookies; want at most %d", n, maxCookies)
	}
	if !strings.Contains(j.header(u), "sid=keep") {
		t.Error("the Secure cookie was evicted by plain ones")
	}
	if got := j.header(mustURL(t, "https://a.example/old")); strings.Contains(got, "old=1") {
		t.Error("the least recently used cookie survived the flood")
	}
	if got := j.header(mustURL(t, "https://a.example/used")); !strings.Contains(got, "used=1") {
		t.Error("a recently used cookie was evicted")
	}
}

// TestJarPlant checks the auditor's own cookies: a planted token is
// host-only at Path=/ and Secure on an HTTPS target, so it never goes
// over plain HTTP, and it replaces every cookie of its name.
func TestJarPlant(t *testing.T) {
	clock := newFakeClock()
	j := newJar(clock.Now)
	target := mustURL(t, "https://a.example/app")
	ck, _ := ParseSetCookie("sid=old; Path=/app")
	j.store(target, ck)
	j.plant(target, "sid", "made-up")
	if got := j.header(mustURL(t, "https://a.example/")); got != "sid=made-up" {
		t.Errorf("planted over HTTPS: %q", got)
	}
	if got := j.header(mustURL(t, "http://a.example/")); got != "" {
		t.Errorf("planted token sent over plain HTTP: %q", got)
	}
	if got := j.header(target); got != "sid=made-up" {
		t.Errorf("the Path=/app cookie of the same name survived planting: %q", got)
	}
}

// FuzzJar stores a target's Set-Cookie headers, received over HTTPS or
// plain HTTP, and checks the browser's promises whatever they say: a
// Secure cookie never goes over plain HTTP to a host other than loopback,
// a cookie never goes to a path outside its Path, and the jar never holds
// more than maxCookies.
func FuzzJar(f *testing.F) {
	f.Add("sid=1; Secure; Path=/", "p=2; Path=/app", true, "/app/x")
	f.Add("__Host-a=1; Secure; Path=/", "a=2; Domain=a.example", false, "/")
	f.Add("s=1; Max-Age=0", "s=2; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure", true, "")
	f.Fuzz(func(t *testing.T, h1, h2 string, overTLS bool, path string) {
		clock := newFakeClock()
		j := newJar(clock.Now)
		from := "http://www.a.example/login"
		if overTLS {
			from = "https://www.a.example/login"
		}
		for _, h := range []string{h1, h2, h1} {
			if ck, err := ParseSetCookie(h); err == nil {
				j.store(mustURL(t, from), ck)
			}
		}
		if len(j.entries) > maxCookies {
			t.Fatalf("%d cookies held", len(j.entries))
		}
		u, err := url.Parse("http://www.a.example/")
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + strings.TrimLeft(path, "/")
		for _, e := range j.forRequest(u) {
			if e.secure {
				t.Errorf("Secure cookie %q sent over plain HTTP", e.name)
			}
			if !pathMatch(requestPath(u), e.path) {
				t.Errorf("cookie %q with Path %q sent to %q", e.name, e.path, requestPath(u))
			}
		}
	})
}
