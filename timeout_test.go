package latch_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/latchsec/latch"
)

// Mitigation: idle and absolute timeouts, enforced on the server.
func TestTimeouts(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		tok := hs.login("alice")
		hs.clock.Advance(29 * time.Minute)
		if r := hs.do("GET", "/me", tok); r.code != 200 {
			t.Fatalf("before the idle timeout: %d", r.code)
		}
		// That request touched the session (29 min > touch interval).
		hs.clock.Advance(29 * time.Minute)
		if r := hs.do("GET", "/me", tok); r.code != 200 {
			t.Fatalf("activity did not extend the idle deadline: %d", r.code)
		}
		hs.clock.Advance(30 * time.Minute)
		r := hs.do("GET", "/me", tok)
		if r.code != http.StatusUnauthorized || r.body != "not logged in: idle\n" {
			t.Fatalf("after the idle timeout: %d %q", r.code, r.body)
		}
		if hs.events.Count(latch.EventExpired, "idle") != 1 {
			t.Fatal("no idle expiry event")
		}
	})
	t.Run("absolute, despite activity", func(t *testing.T) {
		hs := newHarness(t, latch.Config{IdleTimeout: time.Hour, AbsoluteTimeout: 3 * time.Hour})
		tok := hs.login("alice")
		for i := 0; i < 5; i++ {
			hs.clock.Advance(35 * time.Minute)
			if r := hs.do("GET", "/me", tok); r.code != 200 {
				t.Fatalf("at %d min: %d", 35*(i+1), r.code)
			}
		}
		hs.clock.Advance(7 * time.Minute) // 182 minutes after login
		if r := hs.do("GET", "/me", tok); r.code != http.StatusUnauthorized {
			t.Fatalf("after the absolute timeout: %d", r.code)
		}
		if hs.events.Count(latch.EventExpired, "absolute") != 1 {
			t.Fatal("no absolute expiry event")
		}
	})
	t.Run("renew does not reset the absolute timeout", func(t *testing.T) {
		hs := newHarness(t, latch.Config{IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour})
		tok := hs.login("alice")
		hs.clock.Advance(50 * time.Minute)
		tok = hs.do("POST", "/renew", tok).token()
		hs.clock.Advance(50 * time.Minute)
		hs.do("GET", "/me", tok)
		hs.clock.Advance(21 * time.Minute)
		if r := hs.do("GET", "/me", tok); r.code != http.StatusUnauthorized {
			t.Fatalf("renew extended the absolute timeout: %d", r.code)
		}
	})
	t.Run("remember me has longer but finite limits", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		tok := hs.do("POST", "/login?u=alice&remember=on", "").token()
		hs.clock.Advance(6 * 24 * time.Hour)
		r := hs.do("GET", "/me", tok)
		if r.code != 200 {
			t.Fatalf("remembered session after 6 idle days: %d", r.code)
		}
		if len(r.cookies) != 1 {
			t.Fatalf("touch of a remember-me session did not refresh the persistent cookie")
		}
		for i := 0; i < 4; i++ {
			hs.clock.Advance(6 * 24 * time.Hour)
			hs.do("GET", "/me", tok)
		}
		hs.clock.Advance(6 * 24 * time.Hour) // 30 days after login
		if r := hs.do("GET", "/me", tok); r.code != http.StatusUnauthorized {
			t.Fatalf("remembered session beyond 30 days: %d", r.code)
		}
	})
	t.Run("status reports deadlines without extending the session", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		tok := hs.login("alice")
		login := hs.clock.Now()
		for i := 0; i < 5; i++ {
			hs.clock.Advance(5 * time.Minute)
			r := hs.do("GET", "/status", tok)
			var st latch.Status
			if err := json.Unmarshal([]byte(r.body), &st); err != nil || r.code != 200 {
				t.Fatalf("status: %d %q %v", r.code, r.body, err)
			}
			if !st.IdleExpiresAt.Equal(login.Add(30*time.Minute)) || !st.AbsoluteExpiresAt.Equal(login.Add(12*time.Hour)) {
				t.Fatalf("deadlines %v %v", st.IdleExpiresAt, st.AbsoluteExpiresAt)
			}
			if want := int64(30*60 - 300*(i+1)); st.IdleRemaining != want {
				t.Fatalf("idle remaining %d; want %d", st.IdleRemaining, want)
			}
		}
		hs.clock.Advance(6 * time.Minute) // 31 minutes after login, status polls only
		if r := hs.do("GET", "/status", tok); r.code != http.StatusUnauthorized {
			t.Fatalf("status polling kept the session alive: %d", r.code)
		}
	})
	t.Run("sensitive action needs recent authentication", func(t *testing.T) {
		hs := newHarness(t, latch.Config{})
		tok := hs.login("alice")
		if r := hs.do("POST", "/sensitive", tok); r.code != 200 {
			t.Fatalf("right after login: %d", r.code)
		}
		hs.clock.Advance(6 * time.Minute)
		if r := hs.do("POST", "/sensitive", tok); r.code != http.StatusUnauthorized {
			t.Fatalf("6 minutes after login: %d; want 401", r.code)
		}
	})
}

func TestSessionLimit(t *testing.T) {
	t.Run("evict oldest", func(t *testing.T) {
		hs := newHarness(t, latch.Config{MaxSessionsPerUser: 2})
		first := hs.login("alice")
		hs.clock.Advance(time.Second)
		hs.login("alice")
		hs.clock.Advance(time.Second)
		hs.login("alice")
		if r := hs.do("GET", "/me", first); r.code != http.StatusUnauthorized {
			t.Fatalf("oldest session survived the limit: %d", r.code)
		}
	})
	t.Run("refuse new", func(t *testing.T) {
		hs := newHarness(t, latch.Config{MaxSessionsPerUser: 1, RefuseOverLimit: true})
		hs.login("alice")
		if r := hs.do("POST", "/login?u=alice", ""); r.code != http.StatusConflict {
			t.Fatalf("login over the limit: %d; want the handler's error", r.code)
		}
	})
}

func TestTouchExtendsWithinInterval(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	tok := hs.login("alice")
	hs.clock.Advance(time.Minute)
	h := hs.h
	hs.h = hs.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Touch()
	}))
	hs.do("POST", "/touch", tok)
	hs.h = h
	var st latch.Status
	json.Unmarshal([]byte(hs.do("GET", "/status", tok).body), &st)
	if want := hs.clock.Now().Add(30 * time.Minute); !st.IdleExpiresAt.Equal(want) {
		t.Fatalf("idle deadline after Touch = %v; want %v", st.IdleExpiresAt, want)
	}
}

// TestSessionLimitCountsLiveSessionsOnly: a session that has ended (here
// idle) but that the store still keeps for its grace, so that a late
// request learns why it ended, does not count toward MaxSessionsPerUser:
// a login is not refused for it, and the eviction of the oldest session
// takes it rather than a live one.
func TestSessionLimitCountsLiveSessionsOnly(t *testing.T) {
	t.Run("refuse new: the same browser signs in again", func(t *testing.T) {
		hs := newHarness(t, latch.Config{MaxSessionsPerUser: 1, RefuseOverLimit: true})
		tok := hs.login("alice")
		hs.clock.Advance(31 * time.Minute)
		if r := hs.do("GET", "/me", tok); r.code != http.StatusUnauthorized {
			t.Fatalf("after the idle timeout: %d; want 401", r.code)
		}
		if r := hs.do("POST", "/login?u=alice", ""); r.code != http.StatusOK {
			t.Fatalf("login after the session ended: %d %q; want 200", r.code, r.body)
		}
	})
	t.Run("refuse new: another device, the ended session never came back", func(t *testing.T) {
		hs := newHarness(t, latch.Config{MaxSessionsPerUser: 1, RefuseOverLimit: true})
		hs.login("alice")
		hs.clock.Advance(31 * time.Minute)
		if r := hs.do("POST", "/login?u=alice", ""); r.code != http.StatusOK {
			t.Fatalf("login after the session ended: %d %q; want 200", r.code, r.body)
		}
	})
	t.Run("evict oldest: the ended session goes, not the live one", func(t *testing.T) {
		hs := newHarness(t, latch.Config{MaxSessionsPerUser: 2})
		active := hs.login("alice")
		hs.clock.Advance(time.Minute)
		hs.login("alice") // idle from now on
		for range 4 {
			hs.clock.Advance(8 * time.Minute)
			if r := hs.do("GET", "/me", active); r.code != http.StatusOK {
				t.Fatalf("the active session: %d", r.code)
			}
		}
		hs.login("alice") // the second session has been idle 32 minutes
		if r := hs.do("GET", "/me", active); r.code != http.StatusOK {
			t.Fatalf("the live session was evicted for an ended one: %d", r.code)
		}
	})
}
