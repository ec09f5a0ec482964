// Reproductions from the adversarial review of the renewal forwards
// (issue 12), each failing before its fix.
package latch_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
)

// A copy of alice's cookie is held by an attacker (stolen). alice's auth
// is 10 minutes old, so /sensitive (RequireRecentAuth 5 min) refuses it.

// Found in review (1a, fixed): alice re-enters her password (Reauthenticate) while the
// attacker's copy renews the session. alice's Reauthenticate follows the
// forward and lands its fresh AuthTime on the ID the attacker's request
// received; alice gets no cookie, and her own cookie is dead.
func TestAttackFixedReauthCreditsRacingRenewal(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	h := newHolder(hs)
	tok := hs.login("alice")
	hs.clock.Advance(10 * time.Minute)
	if r := hs.do("POST", "/sensitive", tok); r.code == http.StatusOK {
		t.Fatal("setup: auth is still recent")
	}
	victim := h.start("reauth", "", tok, "")       // 1. alice's reauth request loads X
	stolen := hs.do("POST", "/renew", tok).token() // 2. the attacker's copy renews X -> Y
	v := victim.finish()                           // 3. alice's Reauthenticate commits
	t.Logf("alice's reauth: %d %q, Set-Cookie %q", v.code, v.body, v.cookies)
	if r := hs.do("POST", "/sensitive", stolen); r.code == http.StatusOK {
		t.Errorf("the attacker's renewed cookie passes RequireRecentAuth with alice's re-authentication")
	}
	if v.code == http.StatusOK {
		t.Errorf("alice's Reauthenticate reported success (%d) although the session was renewed by another request", v.code)
	}
}

// Found in review (1b, fixed): same, with the privilege change Mitigation 4 tells
// applications to renew on (Set("role", "admin") + Renew).
func TestAttackFixedPrivilegeLandsOnRacingRenewal(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	h := newHolder(hs)
	tok := hs.login("alice")
	victim := h.start("promote", "", tok, "")
	stolen := hs.do("POST", "/renew", tok).token()
	v := victim.finish()
	t.Logf("alice's promotion: %d %q, Set-Cookie %q", v.code, v.body, v.cookies)
	if r := hs.do("GET", "/get?k=role", stolen); r.body == "admin" {
		t.Errorf("the privilege granted (and renewed) on alice's request is held by the attacker's renewed cookie")
	}
}

// Found in review (1c, fixed): with Config.Binding = BindingRenew the attacker needs no
// renewing endpoint: any request from another network renews the session
// at load, and alice's concurrent Reauthenticate lands on it.
func TestAttackFixedBindingRenewCreditsAttacker(t *testing.T) {
	hs := newHarness(t, latch.Config{Binding: latch.BindingRenew})
	h := newHolder(hs)
	tok := hs.login("alice") // recorded from 192.0.2.1
	hs.clock.Advance(10 * time.Minute)
	victim := h.start("reauth", "", tok, "")
	req, _ := http.NewRequest("GET", "/me", nil)
	req.RemoteAddr = "203.0.113.9:4444" // another network
	stolen := hs.doReq(req, tok).token()
	if stolen == "" {
		t.Fatal("setup: the binding policy did not renew")
	}
	victim.finish()
	req, _ = http.NewRequest("POST", "/sensitive", nil)
	req.RemoteAddr = "203.0.113.9:4444"
	if r := hs.doReq(req, stolen); r.code == http.StatusOK {
		t.Errorf("the attacker's binding-renewed cookie passes RequireRecentAuth with alice's re-authentication")
	}
}

// Found in review (1d, fixed): a same-user Login with Remember(true) racing a renewal
// returns nil, but lands as an update: the session is not remember-me,
// keeps its old timeouts and client hints, and no cookie is sent.
func TestAttackFixedLoginRememberLostToFollow(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	h := newHolder(hs)
	tok := hs.login("alice")
	l := h.start("login", "u=alice&remember=on", tok, "")
	renewed := hs.do("POST", "/renew", tok).token()
	got := l.finish()
	if got.code != http.StatusOK {
		t.Fatalf("login: %d %q", got.code, got.body)
	}
	live := got.token()
	if live == "" {
		live = renewed
	}
	if st := statusOf(t, hs, live); st.IdleTimeout != int64(latch.DefaultRememberIdleTimeout/time.Second) {
		t.Errorf("Login(alice, Remember(true)) succeeded, but the session it left is not remember-me: idle timeout %ds; Set-Cookie %q", st.IdleTimeout, got.cookies)
	}
}

// Found in review (2, fixed): during a key rotation, a request whose cookie was signed by
// the fallback key re-issues that token under the primary key at load.
// If another request renews the session before this one's headers go out,
// the re-issued (dead) token is still sent: if it reaches the browser
// after the renewal's answer, it replaces the fresh cookie and the user is
// signed out (ReasonRenewed).
func TestAttackFixedFallbackReissueSendsDeadToken(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	old := hs.login("alice")
	k := hs.keys.Primary()
	rotated, err := latch.NewKeyring(latch.Key{ID: "k2", Secret: latch.GenerateKey()}, k)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := latch.New(latch.Config{Store: hs.store, Keys: rotated, Now: hs.clock.Now, OnEvent: hs.events.Add})
	if err != nil {
		t.Fatal(err)
	}
	hs.m = m2
	h := newHolder(hs)
	slow := h.start("touch", "", old, "") // loads X, re-issues it under k2
	renewed := hs.do("POST", "/renew", old).token()
	got := slow.finish()
	if tok := got.token(); tok != "" && hs.me(tok) == "" {
		t.Errorf("the request that loaded the session before its renewal sent Set-Cookie with the dead token re-issued under k2 (%v; the renewed cookie is live: %v)", strings.HasPrefix(tok, "k2."), hs.me(renewed) == "alice")
	}
}
