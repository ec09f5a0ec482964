package storetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
)

// testSessionDeviceBound drives a Manager with device-bound sessions
// (latch.DeviceBound) over the store: the registration keeps the key in
// the record and the record keeps it through a renewal; a refresh marks
// its challenge used with a Create in the store, so a replayed proof is
// refused; a request without the bound cookie is refused once the grace
// after the registration is over, and one with it passes. The Manager's
// clock runs ahead of the store's to pass that grace; the records live
// far longer.
func testSessionDeviceBound(t *testing.T, st driver.Store) {
	keys, err := latch.NewKeyring(latch.Key{ID: "k1", Secret: latch.GenerateKey()})
	if err != nil {
		t.Fatal(err)
	}
	var ahead atomic.Int64
	m, err := latch.New(latch.Config{
		Store: st, Keys: keys, GuessLimit: -1,
		Logger:      slog.New(slog.DiscardHandler),
		Now:         func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) },
		DeviceBound: latch.DeviceBound{Mode: latch.DeviceBoundEnforce},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		switch r.URL.Path {
		case "/login":
			if err := s.Login("dbsc-user-" + r.FormValue("n")); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		case "/renew":
			if err := s.Renew(); err != nil {
				http.Error(w, err.Error(), http.StatusConflict)
			}
		case "/me":
			if !s.IsAuthenticated() || !s.DeviceBound() {
				http.Error(w, "not bound", http.StatusUnauthorized)
			}
		}
	}))
	do := func(method, path string, cookies map[string]string, hdr http.Header) *http.Response {
		r := httptest.NewRequest(method, "https://app.example"+path, nil)
		r.TLS = &tls.ConnectionState{}
		for k, v := range hdr {
			r.Header[k] = v
		}
		var parts []string
		for k, v := range cookies {
			parts = append(parts, k+"="+v)
		}
		if len(parts) > 0 {
			r.Header.Set("Cookie", strings.Join(parts, "; "))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		res := rec.Result()
		for _, c := range res.Cookies() {
			if c.MaxAge >= 0 {
				cookies[c.Name] = c.Value
			} else {
				delete(cookies, c.Name)
			}
		}
		return res
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	proof := func(challenge string, withJWK bool) string {
		hdr := `{"alg":"ES256",`
		if withJWK {
			b, _ := key.PublicKey.Bytes()
			hdr += `"jwk":{"crv":"P-256","kty":"EC","x":"` + b64(b[1:33]) + `","y":"` + b64(b[33:]) + `"},`
		}
		hdr += `"typ":"dbsc+jwt"}`
		payload, _ := json.Marshal(map[string]string{"jti": challenge})
		input := b64([]byte(hdr)) + "." + b64(payload)
		d := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return input + "." + b64(sig)
	}
	param := func(v, name string) string {
		_, after, ok := strings.Cut(v, name+`="`)
		val, _, _ := strings.Cut(after, `"`)
		if !ok || val == "" {
			t.Fatalf("no %s in %q", name, v)
		}
		return val
	}

	jar := map[string]string{}
	res := do("POST", "/login?n="+newUser(t), jar, nil)
	reg := res.Header.Get("Secure-Session-Registration")
	if res.StatusCode != 200 || reg == "" {
		t.Fatalf("login: %d, registration offer %q", res.StatusCode, reg)
	}
	res = do("POST", param(reg, "path"), jar, http.Header{"Secure-Session-Response": {proof(param(reg, "challenge"), true)}})
	if res.StatusCode != 200 {
		t.Fatalf("registration: %d", res.StatusCode)
	}
	var ins struct {
		ID      string `json:"session_identifier"`
		Refresh string `json:"refresh_url"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ins); err != nil || ins.ID == "" {
		t.Fatalf("registration answer: %v %+v", err, ins)
	}
	challenge, _, _ := strings.Cut(strings.TrimPrefix(res.Header.Get("Secure-Session-Challenge"), `"`), `"`)
	if res := do("GET", "/me", jar, nil); res.StatusCode != 200 {
		t.Fatalf("after the registration: %d; want the session bound in the store", res.StatusCode)
	}
	if res := do("POST", "/renew", jar, nil); res.StatusCode != 200 {
		t.Fatalf("renew: %d", res.StatusCode)
	}
	if res := do("GET", "/me", jar, nil); res.StatusCode != 200 {
		t.Fatalf("after a renewal: %d; want the key carried to the new record", res.StatusCode)
	}

	// Past the registration's grace, without the bound cookie: signed
	// out (the application's 401 for a session not logged in).
	ahead.Store(int64(time.Minute))
	copyOf := map[string]string{}
	for k, v := range jar {
		if !strings.Contains(k, "bound") {
			copyOf[k] = v
		}
	}
	if res := do("GET", "/me", copyOf, nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the bound cookie: %d; want 401 (signed out)", res.StatusCode)
	}
	hdr := http.Header{"Sec-Secure-Session-Id": {ins.ID}, "Secure-Session-Response": {proof(challenge, false)}}
	if res := do("POST", ins.Refresh, copyOf, hdr); res.StatusCode != 200 {
		t.Fatalf("refresh: %d", res.StatusCode)
	}
	if res := do("GET", "/me", copyOf, nil); res.StatusCode != 200 {
		t.Errorf("after the refresh: %d", res.StatusCode)
	}
	if res := do("POST", ins.Refresh, copyOf, hdr); res.StatusCode != http.StatusForbidden {
		t.Errorf("the same proof again: %d; want 403 (the challenge's marker is in the store)", res.StatusCode)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
