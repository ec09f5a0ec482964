package latch_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
)

// listStore is a Store that serves fixed per-user lists, records the hashes
// it is asked to delete, and fails on demand. ListUser returns what it was
// given, as a store does within a record's grace: filtering by deadline is
// the caller's job.
type listStore struct {
	users   map[string][]driver.Info
	listErr error
	delErr  error
	deleted []driver.Hash
}

func (s *listStore) Load(context.Context, driver.Hash) (*driver.Record, error) {
	return nil, latch.ErrNotFound
}

func (s *listStore) Commit(context.Context, *driver.Commit) error { return latch.ErrNotSupported }

func (s *listStore) Delete(ctx context.Context, id driver.Hash) error {
	if s.delErr != nil {
		return s.delErr
	}
	s.deleted = append(s.deleted, id)
	return nil
}

func (s *listStore) ListUser(ctx context.Context, userID string) ([]driver.Info, error) {
	if s.listErr != nil {
		return nil, s.listErr
	}
	return slices.Clone(s.users[userID]), nil
}

func (s *listStore) DeleteUser(context.Context, string, driver.Hash) (int, error) {
	return 0, latch.ErrNotSupported
}

var errList = errors.New("teststore: list failed")

func hashOf(s string) driver.Hash { return sha256.Sum256([]byte(s)) }

// listFixture is alice's and bob's sessions at t0: alice has a live
// anonymous-then-logged-in session, a live remember-me session, one past
// its idle deadline and one past its absolute deadline (both still within
// the stores' grace); bob has one live session.
var t0 = time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)

func listFixture() map[string][]driver.Info {
	meta := func(user string, created, lastSeen, auth time.Duration, idle, abs time.Duration) driver.Meta {
		return driver.Meta{
			UserID: user, Created: t0.Add(created), LastSeen: t0.Add(lastSeen), AuthTime: t0.Add(auth),
			IdleTimeout: idle, AbsoluteTimeout: abs, Grace: 5 * time.Minute,
			UserAgent: "Firefox/" + user, IP: "192.0.2.1",
		}
	}
	rem := meta("alice", -48*time.Hour, -time.Hour, -48*time.Hour, 7*24*time.Hour, 30*24*time.Hour)
	rem.Remember = true
	return map[string][]driver.Info{
		"alice": {
			{ID: hashOf("a-old-absolute"), Meta: meta("alice", -13*time.Hour, -time.Minute, -12*time.Hour-time.Second, 30*time.Minute, 12*time.Hour)},
			{ID: hashOf("a-remember"), Meta: rem},
			{ID: hashOf("a-idle"), Meta: meta("alice", -2*time.Hour, -30*time.Minute, -2*time.Hour, 30*time.Minute, 12*time.Hour)},
			{ID: hashOf("a-live"), Meta: meta("alice", -time.Hour, -10*time.Minute, -time.Hour, 30*time.Minute, 12*time.Hour)},
		},
		"bob": {
			{ID: hashOf("b-live"), Meta: meta("bob", -time.Hour, -time.Minute, -time.Hour, 30*time.Minute, 12*time.Hour)},
		},
	}
}

func handles(list []latch.SessionInfo) []string {
	var out []string
	for _, si := range list {
		out = append(out, si.Handle)
	}
	return out
}

func TestListSessions(t *testing.T) {
	tests := []struct {
		name        string
		user        string
		current     driver.Hash
		now         time.Time
		listErr     error
		wantHandles []string
		wantCurrent string // handle marked Current, "" for none
		wantErr     error
	}{
		{
			name:        "expired sessions hidden",
			user:        "alice",
			now:         t0,
			wantHandles: []string{hashOf("a-remember").Handle(), hashOf("a-live").Handle()},
		},
		{
			name:        "a session ends at its deadline, not after",
			user:        "alice",
			now:         t0.Add(20*time.Minute - time.Nanosecond),
			wantHandles: []string{hashOf("a-remember").Handle(), hashOf("a-live").Handle()},
		},
		{
			name:        "at the idle deadline the session is gone",
			user:        "alice",
			now:         t0.Add(20 * time.Minute),
			wantHandles: []string{hashOf("a-remember").Handle()},
		},
		{
			name: "before every deadline all are listed in store order",
			user: "alice",
			now:  t0.Add(-31 * time.Minute),
			wantHandles: []string{
				hashOf("a-old-absolute").Handle(), hashOf("a-remember").Handle(),
				hashOf("a-idle").Handle(), hashOf("a-live").Handle(),
			},
		},
		{
			name:        "current session marked",
			user:        "alice",
			current:     hashOf("a-live"),
			now:         t0,
			wantHandles: []string{hashOf("a-remember").Handle(), hashOf("a-live").Handle()},
			wantCurrent: hashOf("a-live").Handle(),
		},
		{
			name:        "current session of another user marks nothing",
			user:        "alice",
			current:     hashOf("b-live"),
			now:         t0,
			wantHandles: []string{hashOf("a-remember").Handle(), hashOf("a-live").Handle()},
		},
		{
			name:        "other users' sessions not listed",
			user:        "bob",
			now:         t0,
			wantHandles: []string{hashOf("b-live").Handle()},
		},
		{
			name: "unknown user has none",
			user: "carol",
			now:  t0,
		},
		{
			name:    "store error returned as it is",
			user:    "alice",
			now:     t0,
			listErr: errList,
			wantErr: errList,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &listStore{users: listFixture(), listErr: tt.listErr}
			list, err := latch.ListSessions(t.Context(), st, tt.user, tt.current, tt.now)
			if err != tt.wantErr {
				t.Fatalf("err = %v; want %v", err, tt.wantErr)
			}
			if err != nil {
				if list != nil {
					t.Errorf("list = %v with an error; want nil", list)
				}
				return
			}
			if got := handles(list); !slices.Equal(got, tt.wantHandles) {
				t.Errorf("handles = %q; want %q", got, tt.wantHandles)
			}
			for _, si := range list {
				if si.Current != (si.Handle == tt.wantCurrent) {
					t.Errorf("session %s: Current = %v", si.Handle, si.Current)
				}
			}
		})
	}
}

func TestListSessionsFields(t *testing.T) {
	st := &listStore{users: listFixture()}
	list, err := latch.ListSessions(t.Context(), st, "alice", driver.Hash{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("got %d sessions; want 2", len(list))
	}
	in := st.users["alice"][1]
	want := latch.SessionInfo{
		Handle:          in.ID.Handle(),
		Created:         in.Created,
		LastSeen:        in.LastSeen,
		AuthTime:        in.AuthTime,
		IdleExpiresAt:   in.IdleDeadline(),
		AbsoluteExpires: in.AbsoluteDeadline(),
		Remember:        true,
		UserAgent:       "Firefox/alice",
		IP:              "192.0.2.1",
	}
	if list[0] != want {
		t.Errorf("got  %+v\nwant %+v", list[0], want)
	}
	if got := list[0].Deadline(); !got.Equal(in.Deadline()) {
		t.Errorf("Deadline = %v; want %v", got, in.Deadline())
	}
	b, err := json.Marshal(list[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), in.ID.String()) {
		t.Errorf("JSON %s holds the session's whole hash", b)
	}
}

func TestListSessionsEmptyIsJSONList(t *testing.T) {
	list, err := latch.ListSessions(t.Context(), &listStore{}, "carol", driver.Hash{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "[]" {
		t.Errorf("JSON = %s; want [] so that pages need not handle null", b)
	}
}

func TestSessionInfoDeadline(t *testing.T) {
	idle, abs := t0.Add(time.Minute), t0.Add(time.Hour)
	tests := []struct {
		name      string
		idle, abs time.Time
		want      time.Time
	}{
		{"idle first", idle, abs, idle},
		{"absolute first", abs, idle, idle},
		{"both at once", idle, idle, idle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			si := latch.SessionInfo{IdleExpiresAt: tt.idle, AbsoluteExpires: tt.abs}
			if got := si.Deadline(); !got.Equal(tt.want) {
				t.Errorf("Deadline = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestRevokeSession(t *testing.T) {
	live := hashOf("a-live")
	errDelete := errors.New("teststore: delete failed")
	tests := []struct {
		name        string
		user        string
		handle      string
		listErr     error
		delErr      error
		wantErr     error
		wantDeleted []driver.Hash
	}{
		{name: "own session deleted", user: "alice", handle: live.Handle(), wantDeleted: []driver.Hash{live}},
		{
			// Revoking is no check of liveness: an expired record still in
			// its grace may be deleted early.
			name: "expired session in grace deleted", user: "alice", handle: hashOf("a-idle").Handle(),
			wantDeleted: []driver.Hash{hashOf("a-idle")},
		},
		{name: "handle not found", user: "alice", handle: hashOf("nobody").Handle(), wantErr: latch.ErrNotFound},
		{name: "handle of another user refused", user: "bob", handle: live.Handle(), wantErr: latch.ErrNotFound},
		{name: "unknown user", user: "carol", handle: live.Handle(), wantErr: latch.ErrNotFound},
		{name: "short handle refused", user: "alice", handle: live.Handle()[:8], wantErr: latch.ErrNotFound},
		{name: "upper-case handle refused", user: "alice", handle: strings.ToUpper(live.Handle()), wantErr: latch.ErrNotFound},
		{name: "whole hash refused", user: "alice", handle: live.String(), wantErr: latch.ErrNotFound},
		{name: "empty handle refused", user: "alice", handle: "", wantErr: latch.ErrNotFound},
		{name: "list error returned as it is", user: "alice", handle: live.Handle(), listErr: errList, wantErr: errList},
		{name: "delete error returned as it is", user: "alice", handle: live.Handle(), delErr: errDelete, wantErr: errDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := &listStore{users: listFixture(), listErr: tt.listErr, delErr: tt.delErr}
			err := latch.RevokeSession(t.Context(), ls, tt.user, tt.handle)
			if err != tt.wantErr {
				t.Fatalf("err = %v; want %v", err, tt.wantErr)
			}
			if !slices.Equal(ls.deleted, tt.wantDeleted) {
				t.Errorf("deleted %x; want %x", ls.deleted, tt.wantDeleted)
			}
		})
	}
}

// TestManagerSessionsAndRevoke checks what the Manager adds to ListSessions
// and RevokeSession: its clock, error prefixes and events.
func TestManagerSessionsAndRevoke(t *testing.T) {
	newManager := func(t *testing.T, st driver.Store) (*latch.Manager, *events) {
		ev := &events{}
		m, err := latch.New(latch.Config{
			Store: st, Keys: testKeys(t, "k1"), OnEvent: ev.Add, Now: func() time.Time { return t0 },
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		return m, ev
	}
	live := hashOf("a-live")
	tests := []struct {
		name       string
		listErr    error
		delErr     error
		revoke     string // handle to revoke; "" lists instead
		wantErr    error
		wantPrefix string
		wantKind   latch.EventKind // event expected, 0 for none
		wantList   []string
	}{
		{name: "list at the manager's clock", wantList: []string{hashOf("a-remember").Handle(), live.Handle()}},
		{name: "list failure", listErr: errList, wantErr: errList, wantPrefix: "latch: list sessions: ", wantKind: latch.EventStoreError},
		{name: "list not supported is no store error", listErr: latch.ErrNotSupported, wantErr: latch.ErrNotSupported, wantPrefix: "latch: list sessions: "},
		{name: "revoke", revoke: live.Handle(), wantKind: latch.EventRevoked},
		{name: "revoke not found", revoke: hashOf("nobody").Handle(), wantErr: latch.ErrNotFound, wantPrefix: "latch: session not found"},
		{name: "revoke failure", revoke: live.Handle(), listErr: errList, wantErr: errList, wantPrefix: "latch: revoke: ", wantKind: latch.EventStoreError},
		{name: "revoke delete failure", revoke: live.Handle(), delErr: errList, wantErr: errList, wantPrefix: "latch: revoke: ", wantKind: latch.EventStoreError},
		{name: "revoke not supported is no store error", revoke: live.Handle(), listErr: latch.ErrNotSupported, wantErr: latch.ErrNotSupported, wantPrefix: "latch: revoke: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &listStore{users: listFixture(), listErr: tt.listErr, delErr: tt.delErr}
			m, ev := newManager(t, st)
			var err error
			if tt.revoke != "" {
				err = m.Revoke(t.Context(), "alice", tt.revoke)
			} else {
				var list []latch.SessionInfo
				list, err = m.Sessions(t.Context(), "alice", nil)
				if got := handles(list); !slices.Equal(got, tt.wantList) {
					t.Errorf("handles = %q; want %q", got, tt.wantList)
				}
			}
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v; want %v", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), tt.wantPrefix) {
				t.Errorf("err = %q; want prefix %q", err, tt.wantPrefix)
			}
			for _, k := range []latch.EventKind{latch.EventRevoked, latch.EventStoreError} {
				want := 0
				if k == tt.wantKind {
					want = 1
				}
				if n := ev.Count(k, ""); n != want {
					t.Errorf("%d %v events; want %d", n, k, want)
				}
			}
			if e, ok := ev.Find(latch.EventRevoked); ok && (e.Handle != tt.revoke || e.UserID != "alice" || e.Reason != "revoked") {
				t.Errorf("revoked event %+v", e)
			}
		})
	}
}

// TestManagerSessionsCurrent checks that the session of the request in
// hand, and only it, is marked Current.
func TestManagerSessionsCurrent(t *testing.T) {
	hs := newHarness(t, latch.Config{})
	a := hs.login("alice")
	hs.clock.Advance(time.Second)
	hs.login("alice")
	var list []latch.SessionInfo
	h := hs.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := latch.FromContext(r.Context())
		if err != nil {
			t.Error(err)
			return
		}
		if list, err = hs.m.Sessions(r.Context(), s.UserID(), s); err != nil {
			t.Error(err)
		}
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: hs.m.CookieName(), Value: a})
	h.ServeHTTP(httptest.NewRecorder(), req)
	if len(list) != 2 {
		t.Fatalf("got %d sessions; want 2", len(list))
	}
	if !list[0].Current || list[1].Current {
		t.Errorf("Current = %v, %v; want the first (oldest) session only", list[0].Current, list[1].Current)
	}
}
