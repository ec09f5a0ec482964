package audit

import (
	"strings"
	"testing"
	"time"
)

func TestParseSetCookie(t *testing.T) {
	when := time.Date(2036, 1, 2, 15, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		header string
		check  func(t *testing.T, c *Cookie)
	}{
		{"plain", "sid=abc", func(t *testing.T, c *Cookie) {
			if c.Name != "sid" || c.Value != "abc" || c.Secure || c.HttpOnly || c.HasSameSite {
				t.Errorf("got %+v", c)
			}
		}},
		{"all attributes", "__Host-s=v; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=60", func(t *testing.T, c *Cookie) {
			if !c.Secure || !c.HttpOnly || c.SameSiteMode() != "Strict" || c.Path != "/" || !c.HasMaxAge || c.MaxAge != 60 {
				t.Errorf("got %+v", c)
			}
		}},
		{"lower case and spaces", "  sid = abc ;   path=/ ;secure;httponly ; samesite = lax  ", func(t *testing.T, c *Cookie) {
			if c.Name != "sid" || c.Value != "abc" || !c.Secure || !c.HttpOnly || c.SameSiteMode() != "Lax" || c.Path != "/" {
				t.Errorf("got %+v", c)
			}
		}},
		{"upper case", "SID=1; SECURE; HTTPONLY; SAMESITE=NONE; DOMAIN=.Example.COM", func(t *testing.T, c *Cookie) {
			if !c.Secure || !c.HttpOnly || c.SameSiteMode() != "None" || c.Domain != "example.com" {
				t.Errorf("got %+v", c)
			}
		}},
		{"quoted value", `s="a b"`, func(t *testing.T, c *Cookie) {
			if c.Value != "a b" {
				t.Errorf("value %q", c.Value)
			}
		}},
		{"value with equals", "s=a=b==", func(t *testing.T, c *Cookie) {
			if c.Value != "a=b==" {
				t.Errorf("value %q", c.Value)
			}
		}},
		{"empty value", "s=; Max-Age=0", func(t *testing.T, c *Cookie) {
			if c.Value != "" || !c.Deletes(when) {
				t.Errorf("got %+v", c)
			}
		}},
		{"invalid samesite", "s=1; SameSite=Strictest", func(t *testing.T, c *Cookie) {
			if c.SameSiteMode() != "invalid" {
				t.Errorf("mode %q", c.SameSiteMode())
			}
		}},
		{"empty samesite", "s=1; SameSite", func(t *testing.T, c *Cookie) {
			if !c.HasSameSite || c.SameSiteMode() != "invalid" {
				t.Errorf("got %+v", c)
			}
		}},
		{"expires rfc1123", "s=1; Expires=Wed, 02 Jan 2036 15:04:05 GMT", func(t *testing.T, c *Cookie) {
			if !c.Expires.Equal(when) {
				t.Errorf("expires %v", c.Expires)
			}
		}},
		{"expires netscape", "s=1; expires=Wed, 02-Jan-2036 15:04:05 GMT", func(t *testing.T, c *Cookie) {
			if !c.Expires.Equal(when) {
				t.Errorf("expires %v", c.Expires)
			}
		}},
		{"expires rfc850", "s=1; Expires=Wednesday, 02-Jan-36 15:04:05 GMT", func(t *testing.T, c *Cookie) {
			if !c.Expires.Equal(when) {
				t.Errorf("expires %v", c.Expires)
			}
		}},
		{"expires asctime", "s=1; Expires=Wed Jan  2 15:04:05 2036", func(t *testing.T, c *Cookie) {
			if !c.Expires.Equal(when) {
				t.Errorf("expires %v", c.Expires)
			}
		}},
		{"expires lower case", "s=1; expires=wed, 02-jan-2036 15:04:05 gmt", func(t *testing.T, c *Cookie) {
			if !c.Expires.Equal(when) {
				t.Errorf("expires %v", c.Expires)
			}
		}},
		{"expires garbage", "s=1; Expires=soon", func(t *testing.T, c *Cookie) {
			if !c.HasExpires || !c.Expires.IsZero() || len(c.Unknown) != 1 {
				t.Errorf("got %+v", c)
			}
			if _, persistent := c.Lifetime(when); persistent {
				t.Error("unreadable Expires made the cookie persistent")
			}
		}},
		{"max-age wins over expires", "s=1; Expires=Wed, 02 Jan 2036 15:04:05 GMT; Max-Age=10", func(t *testing.T, c *Cookie) {
			if d, ok := c.Lifetime(when); !ok || d != 10*time.Second {
				t.Errorf("lifetime %v %v", d, ok)
			}
		}},
		{"bad max-age", "s=1; Max-Age=ten", func(t *testing.T, c *Cookie) {
			if c.HasMaxAge || len(c.Unknown) != 1 {
				t.Errorf("got %+v", c)
			}
		}},
		{"unknown attribute kept", "s=1; Priority=High; Partitioned", func(t *testing.T, c *Cookie) {
			if len(c.Unknown) != 1 || c.Unknown[0] != "Priority" || !c.Partitioned {
				t.Errorf("got %+v", c)
			}
		}},
		{"empty attributes", "s=1;;; ;Secure", func(t *testing.T, c *Cookie) {
			if !c.Secure {
				t.Errorf("got %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseSetCookie(tt.header)
			if err != nil {
				t.Fatalf("ParseSetCookie(%q): %v", tt.header, err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseSetCookieErrors(t *testing.T) {
	tests := []struct {
		name, header string
	}{
		{"empty", ""},
		{"spaces", "   "},
		{"no equals", "justaname"},
		{"no name", "=value; Secure"},
		{"bad name", "a b=c"},
		{"separator in name", "a;b=c"},
		{"too long", "s=" + strings.Repeat("x", maxSetCookie)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseSetCookie(tt.header)
			if err == nil {
				t.Fatalf("ParseSetCookie(%q) = %+v, want error", tt.header, c)
			}
			if !strings.HasPrefix(err.Error(), "audit: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestCookieLifetime(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		header     string
		want       time.Duration
		persistent bool
		deletes    bool
	}{
		{"session cookie", "s=1", 0, false, false},
		{"max-age", "s=1; Max-Age=3600", time.Hour, true, false},
		{"max-age zero", "s=1; Max-Age=0", 0, true, true},
		{"expires past", "s=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT", now.Sub(time.Unix(0, 0)) * -1, true, true},
		{"expires future", "s=1; Expires=Fri, 02 Jan 2026 00:00:00 GMT", 24 * time.Hour, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseSetCookie(tt.header)
			if err != nil {
				t.Fatal(err)
			}
			d, p := c.Lifetime(now)
			if d != tt.want || p != tt.persistent {
				t.Errorf("Lifetime = %v, %v; want %v, %v", d, p, tt.want, tt.persistent)
			}
			if got := c.Deletes(now); got != tt.deletes {
				t.Errorf("Deletes = %v; want %v", got, tt.deletes)
			}
		})
	}
}

func FuzzParseSetCookie(f *testing.F) {
	for _, s := range []string{
		"sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax",
		"  a = b ; expires=Wed, 02-Jan-2036 15:04:05 GMT; max-age=-1",
		`s="q"; Domain=.example.com; samesite`,
		"=x",
		"x",
		";;;",
		"a=b; Expires=Wed Jan  2 15:04:05 2036; Max-Age=99999999999999999999",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, h string) {
		c, err := ParseSetCookie(h)
		if err != nil {
			if c != nil {
				t.Fatal("cookie returned with an error")
			}
			return
		}
		if c.Name == "" || !validCookieName(c.Name) {
			t.Fatalf("accepted invalid name %q", c.Name)
		}
		_ = c.SameSiteMode()
		_, _ = c.Lifetime(now)
		_ = c.Deletes(now)
	})
}
