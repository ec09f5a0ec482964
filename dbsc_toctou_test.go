package latch_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/latchtest"
)

// writeRaceApp is the application of the tests of a write that races a
// registration: POST /login logs alice in, POST /write runs write on the
// session, and GET /me says whether the session is bound.
func writeRaceApp(m *latch.Manager, write func(*latch.Session)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Login("alice")
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		write(s)
	})
	mux.Handle("GET /me", m.RequireLogin(nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		json.NewEncoder(w).Encode(map[string]any{"bound": s.DeviceBound()})
	})))
	return m.Handler(mux)
}

// bound reports whether GET /me of writeRaceApp says b's session is bound.
func bound(b *browser) bool {
	var body map[string]bool
	json.NewDecoder(b.do("GET", "/me", nil).Body).Decode(&body)
	return body["bound"]
}

// pausingStore holds the first Load after pause is set until release is
// closed, having read the record: the moment between carryDeviceKey's
// re-read and the commit it precedes.
type pausingStore struct {
	driver.Store
	pause           atomic.Bool
	paused, release chan struct{}
}

func (s *pausingStore) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	rec, err := s.Store.Load(ctx, id)
	if s.pause.CompareAndSwap(true, false) {
		close(s.paused)
		<-s.release
	}
	return rec, err
}

// TestDeviceBoundRegistrationBetweenReadAndCommit: a registration that
// lands between a concurrent request's re-read of the record
// (carryDeviceKey) and that request's commit is erased by the commit: the
// session is silently unbound.
func TestDeviceBoundRegistrationBetweenReadAndCommit(t *testing.T) {
	clock := latchtest.NewClock(latchtest.Start)
	st := &pausingStore{Store: clockedMemStore(t, clock), paused: make(chan struct{}), release: make(chan struct{})}
	m := enforcingManager(t, latch.Config{Store: st, Now: clock.Now})
	app := writeRaceApp(m, func(s *latch.Session) {
		st.pause.Store(true) // the next Load is the commit's re-read
		s.Set("flash", "")
	})
	b := newBrowser(t, app, clock, nil)
	res := b.do("POST", "/login", nil)
	done := make(chan struct{})
	go func() {
		b.copyCookies(nil).roundTrip("POST", "/write", nil, "", false)
		close(done)
	}()
	<-st.paused
	b.key = newES256(t)
	b.register(res.Header.Get("Secure-Session-Registration"))
	if b.session() == nil {
		t.Fatal("the registration failed")
	}
	close(st.release)
	<-done
	if !bound(b) {
		t.Error("the registration landed between the concurrent write's re-read and its commit, and the commit erased the key")
	}
}

// TestDeviceBoundRepairSkipsAfterLogin: the write-back of an erased key
// (repairDeviceKey) does not bind a session that a later Login started
// afresh. A request that loaded the session before its registration and
// commits after a new Login on the same browser lands on the new session
// (a plain commit follows the renewal, keeping the new session's
// metadata); the first registration's marker is older than that login and
// is left alone, so the new session stays unbound, free to register.
func TestDeviceBoundRepairSkipsAfterLogin(t *testing.T) {
	tm := latchtest.New(t, latch.Config{DeviceBound: latch.DeviceBound{Mode: latch.DeviceBoundEnforce}})
	loaded, release := make(chan struct{}), make(chan struct{})
	app := writeRaceApp(tm.Manager, func(s *latch.Session) {
		close(loaded)
		<-release
		s.Set("flash", "")
	})
	b := newBrowser(t, app, tm.Clock, nil)
	res := b.do("POST", "/login", nil)
	done := make(chan struct{})
	go func() {
		b.copyCookies(nil).roundTrip("POST", "/write", nil, "", false)
		close(done)
	}()
	<-loaded
	b.key = newES256(t)
	b.register(res.Header.Get("Secure-Session-Registration"))
	if b.session() == nil {
		t.Fatal("the registration failed")
	}
	tm.Clock.Advance(time.Second)
	b.key = nil // the new login's offer is not taken up
	if res := b.do("POST", "/login", nil); res.StatusCode != 200 || res.Header.Get("Secure-Session-Registration") == "" {
		t.Fatalf("second login: %d, offer %q", res.StatusCode, res.Header.Get("Secure-Session-Registration"))
	}
	close(release)
	<-done
	if bound(b) {
		t.Error("the session of the second login was bound to the first registration's key")
	}
}
