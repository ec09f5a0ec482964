package audit

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// expressVector is one cookie produced by the real express-session and
// cookie-signature packages (testdata/express_vectors.js, run with the
// versions pinned in testdata/targets/expressweak/package-lock.json).
type expressVector struct {
	Name   string `json:"name"`
	Key    string `json:"key"`
	ID     string `json:"id"`
	Cookie string `json:"cookie"`
}

func loadExpressVectors(t *testing.T) []expressVector {
	t.Helper()
	b, err := os.ReadFile("testdata/express_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []expressVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	return vs
}

func TestExpressVectors(t *testing.T) {
	for _, v := range loadExpressVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			e, err := ParseExpress(v.Cookie)
			if err != nil {
				t.Fatalf("ParseExpress: %v", err)
			}
			if e.Value != v.ID {
				t.Errorf("value %q; want %q", e.Value, v.ID)
			}
			if !e.Verify(v.Key) {
				t.Error("does not verify with the right key")
			}
			if e.Verify(v.Key+"x") || e.Verify("") {
				t.Error("verifies with a wrong key")
			}
			if got := SignExpress(v.Key, v.ID); got != v.Cookie {
				t.Errorf("SignExpress = %q; express sent %q", got, v.Cookie)
			}
			key, ok, tried, err := CrackExpress(context.Background(), v.Cookie, []string{"nope", "secret", v.Key}, 2)
			if err != nil || !ok || key != v.Key || tried < 1 {
				t.Errorf("CrackExpress = %q, %v, %d, %v", key, ok, tried, err)
			}
		})
	}
}

func TestExpressVectorKinds(t *testing.T) {
	vs := map[string]expressVector{}
	for _, v := range loadExpressVectors(t) {
		vs[v.Name] = v
	}
	tests := []struct {
		vector     string
		clientSide bool
	}{
		{"readme-secret", false},
		{"custom-name", false},
		{"cookie-parser-json", true},
	}
	for _, tt := range tests {
		t.Run(tt.vector, func(t *testing.T) {
			v, ok := vs[tt.vector]
			if !ok {
				t.Fatalf("no vector %q", tt.vector)
			}
			sc := recognizeSigned(v.Cookie)
			if sc == nil || sc.framework != "Express" {
				t.Fatalf("recognizeSigned = %+v", sc)
			}
			if sc.clientSide() != tt.clientSide {
				t.Errorf("clientSide = %v; want %v", sc.clientSide(), tt.clientSide)
			}
			if !tt.clientSide && sessionIDOf(sc, v.Cookie) != v.ID {
				t.Errorf("sessionIDOf = %q; want %q", sessionIDOf(sc, v.Cookie), v.ID)
			}
		})
	}
	e, err := ParseExpress(vs["cookie-parser-json"].Cookie)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := e.JSON()
	if !ok || m["user"] != "alice" {
		t.Errorf("JSON = %v, %v", m, ok)
	}
}

func TestParseExpressRejects(t *testing.T) {
	sig := "13Yq3JYQc900ERGykid191r9aYm1kMho0OdRsXNPjkg" // 43 characters
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"opaque ID", "uopd9r1u0rr5m57mde9mhuarqp"},
		{"no s: prefix", "jEK9xhoaEARArmodIGT_qYW6ztySZkh1." + sig},
		{"no dot", "s%3AjEK9xhoaEARArmodIGT_qYW6ztySZkh1"},
		{"short tag", "s%3Aabc.13Yq3JYQc900ERGykid191r9aYm1k"},
		{"padded tag", "s%3Aabc." + sig + "%3D"},
		{"url-safe tag", "s%3Aabc." + strings.NewReplacer("9", "-", "1", "_").Replace(sig)},
		{"non-canonical tag", "s%3Aabc." + sig[:42] + "h"},
		{"bad escape", "s%3Aab%ZZ." + sig},
		{"flask cookie", "eyJ1c2VyIjoiYWxpY2UifQ.Z8X9Yg.abcdefghijklmnopqrstuvwxyz0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if e, err := ParseExpress(tt.in); err == nil {
				t.Errorf("ParseExpress(%q) = %+v; want an error", tt.in, e)
			}
		})
	}
}

func TestParseExpressForms(t *testing.T) {
	const id, key = "jEK9xhoaEARArmodIGT_qYW6ztySZkh1", "keyboard cat"
	enc := SignExpress(key, id)
	raw := strings.Replace(enc, "%3A", ":", 1)
	tests := []struct{ name, in string }{
		{"URL-encoded", enc},
		{"lower-case escape", strings.Replace(enc, "%3A", "%3a", 1)},
		{"not encoded", raw},
		{"quoted", `"` + enc + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpress(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if e.Value != id || !e.Verify(key) {
				t.Errorf("value %q verifies %v", e.Value, e.Verify(key))
			}
		})
	}
}

func TestCrackExpressCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cands := make([]string, 1000)
	for i := range cands {
		cands[i] = strings.Repeat("k", i+1)
	}
	_, ok, _, err := CrackExpress(ctx, SignExpress("not in the list", "id"), cands, 1)
	if ok || !errors.Is(err, context.Canceled) {
		t.Errorf("ok %v err %v; want context.Canceled", ok, err)
	}
	if strings.Contains(err.Error(), "not in the list") {
		t.Error("error names the key")
	}
}

func TestEncodeURIComponent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"s:abc.d+e/f", "s%3Aabc.d%2Be%2Ff"},
		{`j:{"a":1}`, "j%3A%7B%22a%22%3A1%7D"},
		{"-_.!~*'()", "-_.!~*'()"},
		{"é ☃", "%C3%A9%20%E2%98%83"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := encodeURIComponent(tt.in); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

// FuzzParseExpress feeds any cookie value to the parser, as a target may
// send: it never panics, and what it accepts has a whole tag; any value
// signed by SignExpress parses back to itself and verifies.
func FuzzParseExpress(f *testing.F) {
	f.Add("s%3Aabc.0000000000000000000000000000000000000000000", "keyboard cat")
	f.Add(SignExpress("keyboard cat", "j:{\"a\":1}"), "")
	f.Add("\"s:x.\"", "\xff")
	f.Add("s%3A%ZZ", "k")
	f.Fuzz(func(t *testing.T, cookie, secret string) {
		if e, err := ParseExpress(cookie); err == nil {
			if e == nil || len(e.MAC) != expressMACLen {
				t.Fatalf("ParseExpress(%q) accepted %+v", cookie, e)
			}
		} else if e != nil {
			t.Fatalf("ParseExpress(%q): both a cookie and an error", cookie)
		}
		signed := SignExpress(secret, cookie)
		e, err := ParseExpress(signed)
		if err != nil {
			t.Fatalf("ParseExpress(SignExpress(%q)): %v", cookie, err)
		}
		if e.Value != cookie || !e.Verify(secret) {
			t.Fatalf("SignExpress(%q) parsed back as %q (verifies: %v)", cookie, e.Value, e.Verify(secret))
		}
	})
}
