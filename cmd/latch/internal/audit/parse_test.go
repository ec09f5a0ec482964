package audit

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseHSTS(t *testing.T) {
	tests := []struct {
		name, in string
		want     *hsts
		wantErr  string
	}{
		{"full", "max-age=63072000; includeSubDomains; preload", &hsts{63072000, true, true}, ""},
		{"case and spaces", "  MAX-AGE = 31536000 ;INCLUDESUBDOMAINS ", &hsts{31536000, true, false}, ""},
		{"quoted", `max-age="600"`, &hsts{600, false, false}, ""},
		{"unknown directive ignored", "max-age=1; foo=bar", &hsts{1, false, false}, ""},
		{"empty directives", ";;max-age=5;;", &hsts{5, false, false}, ""},
		{"zero", "max-age=0", &hsts{0, false, false}, ""},
		{"no max-age", "includeSubDomains", nil, "no max-age"},
		{"negative", "max-age=-1", nil, "non-negative"},
		{"not a number", "max-age=year", nil, "non-negative"},
		{"duplicate", "max-age=1; max-age=2", nil, "twice"},
		{"empty", "", nil, "no max-age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHSTS(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseHSTS(%q) error %v; want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || *got != *tt.want {
				t.Errorf("parseHSTS(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestHiddenInputs(t *testing.T) {
	tests := []struct {
		name, html string
		want       url.Values
	}{
		{"django csrf", `<form><input type="hidden" name="csrfmiddlewaretoken" value="abc&amp;d"></form>`, url.Values{"csrfmiddlewaretoken": {"abc&d"}}},
		{"attribute order and quotes", `<INPUT value='v1' NAME=tok TYPE=HIDDEN>`, url.Values{"tok": {"v1"}}},
		{"visible inputs ignored", `<input name="username"><input type="password" name="password">`, url.Values{}},
		{"hidden without name", `<input type="hidden" value="x">`, url.Values{}},
		{"several", `<input type="hidden" name="a" value="1"><input type="hidden" name="b">`, url.Values{"a": {"1"}, "b": {""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hiddenInputs([]byte(tt.html))
			if got.Encode() != tt.want.Encode() {
				t.Errorf("hiddenInputs = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestCheckSessionInURL(t *testing.T) {
	const tok = "Zx81ab7QpLmN"
	mk := func(loc, body string) []*exchange {
		u, _ := url.Parse("http://app.example/")
		c := &client{}
		c.record(&exchange{URL: u, Location: loc, Body: []byte(body)})
		return c.History
	}
	tests := []struct {
		name    string
		token   string
		history []*exchange
		want    Status
		ev      string
	}{
		{"clean", tok, mk("/me", `<a href="/home">home</a>`), Pass, "none carries"},
		{"token in redirect", tok, mk("/me?x="+tok, ""), Fail, "x=<session token>"},
		{"token in link", tok, mk("", `<a href="/page/`+tok+`">x</a>`), Fail, "link URL"},
		{"escaped token", "a+b/c=", mk("/me?s="+url.QueryEscape("a+b/c="), ""), Fail, "session token"},
		{"jsessionid path parameter", tok, mk("/shop;jsessionid=ABC", ""), Fail, ";jsessionid="},
		{"session parameter name", tok, mk("", `<form action="/pay?PHPSESSID=other">`), Fail, `"PHPSESSID"`},
		{"other values redacted", tok, mk("/cb?sid=secretvalue&next=/x", ""), Fail, "sid=…"},
		{"short token not matched", "ab", mk("/about?tab=1", ""), Pass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &auditor{results: map[string]Result{}}
			a.checkSessionInURL([]string{tt.token}, tt.history)
			r := a.results[CheckSessionInURL]
			if r.Status != tt.want || !strings.Contains(r.Evidence, tt.ev) {
				t.Errorf("got %s %q; want %s containing %q", r.Status, r.Evidence, tt.want, tt.ev)
			}
			if tt.want == Fail && len(tt.token) >= 6 && strings.Contains(r.Evidence, tt.token) {
				t.Error("evidence shows the token")
			}
			if strings.Contains(r.Evidence, "secretvalue") {
				t.Error("evidence shows a query value")
			}
		})
	}
}

func TestFabricate(t *testing.T) {
	tests := []string{"abc123XYZ", "20261129.Qw-_e", "1", "....", "", "s%3Aab%2Bc.d%2F", "%3A%2F"}
	for _, tok := range tests {
		t.Run(tok, func(t *testing.T) {
			f := fabricate(tok)
			if f == tok {
				t.Fatal("fabricated token equals the original")
			}
			outsideEscapes := regexp.MustCompile(`%[0-9A-Fa-f]{2}`).ReplaceAllString(tok, "")
			if !strings.ContainsAny(outsideEscapes, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
				if !strings.HasPrefix(f, tok) || len(f) != len(tok)+1 {
					t.Errorf("fabricate(%q) = %q", tok, f)
				}
				return
			}
			if len(f) != len(tok) {
				t.Fatalf("length %d; want %d", len(f), len(tok))
			}
			for i := 0; i+2 < len(tok); i++ {
				if tok[i] == '%' && f[i:i+3] != tok[i:i+3] {
					t.Errorf("escape %q at %d became %q", tok[i:i+3], i, f[i:i+3])
				}
			}
			for i := range tok {
				if classOf(tok[i]) != classOf(f[i]) {
					t.Errorf("position %d changed class: %q -> %q", i, tok[i], f[i])
				}
			}
		})
	}
}

func classOf(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return 1
	case c >= 'a' && c <= 'z':
		return 2
	case c >= 'A' && c <= 'Z':
		return 3
	}
	return int(c) + 10
}

func TestRedactPayload(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", `{"user":"alice"}`, `{"user":"alice"}`},
		{"secret keys", `{"csrf_token":"t","user":"a","api_key":"k"}`, `{"api_key":"\u003credacted\u003e","csrf_token":"\u003credacted\u003e","user":"a"}`},
		{"not json", "\x80\x03}q", "(not JSON, 4 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactPayload([]byte(tt.in)); got != tt.want {
				t.Errorf("redactPayload = %s; want %s", got, tt.want)
			}
		})
	}
	if got := redactPayload([]byte(`{"x":"` + strings.Repeat("y", 1000) + `"}`)); len(got) > 310 {
		t.Errorf("not truncated: %d bytes", len(got))
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		want     time.Duration
	}{
		{"seconds", "30", 30 * time.Second},
		{"spaces", " 5 ", 5 * time.Second},
		{"http date", "Thu, 01 Jan 2026 00:01:00 GMT", time.Minute},
		{"date in the past", "Wed, 31 Dec 2025 00:00:00 GMT", 0},
		{"empty", "", 0},
		{"negative", "-3", 0},
		{"garbage", "soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(tt.in, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"localhost", true},
		{"LOCALHOST.", true},
		{"app.localhost", true},
		{"10.0.0.1", false},
		{"0.0.0.0", false},
		{"example.com", false},
		{"localhost.example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if got := isLoopback(tt.host); got != tt.want {
				t.Errorf("isLoopback(%q) = %v; want %v", tt.host, got, tt.want)
			}
		})
	}
}

// TestSecureCookieOverPlainHTTP checks what cookie-secure says of a Secure
// cookie on a plain-HTTP target: browsers keep it on loopback only.
func TestSecureCookieOverPlainHTTP(t *testing.T) {
	tests := []struct {
		target, want string
	}{
		{"http://127.0.0.1:8080/", "loopback address, which browsers count as a secure context"},
		{"http://[::1]/", "loopback address"},
		{"http://app.example/", "browsers refuse a Secure cookie set over plain HTTP"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			u, err := url.Parse(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			a := &auditor{target: u, results: map[string]Result{}}
			ck, err := ParseSetCookie("__Host-PHPSESSID=abc; path=/; secure; HttpOnly; SameSite=Strict")
			if err != nil {
				t.Fatal(err)
			}
			a.checkAttributes(ck, "cookie", nil)
			r := a.results[CheckCookieSecure]
			if r.Status != Pass || !strings.Contains(r.Evidence, tt.want) {
				t.Errorf("%s: %s; want Pass with %q", r.Status, r.Evidence, tt.want)
			}
		})
	}
	// Over HTTPS there is nothing to explain.
	u, _ := url.Parse("https://app.example/")
	a := &auditor{target: u, results: map[string]Result{}}
	ck, _ := ParseSetCookie("id=abc; Secure")
	a.checkAttributes(ck, "cookie", nil)
	if r := a.results[CheckCookieSecure]; r.Status != Pass || strings.Contains(r.Evidence, "plain HTTP") {
		t.Errorf("over HTTPS: %s: %s", r.Status, r.Evidence)
	}
}
