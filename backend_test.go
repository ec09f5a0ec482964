package latch

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// forwardStore is a minimal Store for the follow logic: records and
// forwards in maps, no expiry, no index.
type forwardStore struct {
	recs    map[driver.Hash]*driver.Record
	fwd     map[driver.Hash]driver.Hash
	commits []driver.Commit
}

func (f *forwardStore) Load(_ context.Context, id driver.Hash) (*driver.Record, error) {
	if to, ok := f.fwd[id]; ok {
		return nil, &driver.RenewedError{To: to}
	}
	if r, ok := f.recs[id]; ok {
		return &driver.Record{Meta: r.Meta, Values: maps.Clone(r.Values)}, nil
	}
	return nil, ErrNotFound
}

func (f *forwardStore) Commit(_ context.Context, c *driver.Commit) error {
	base := c.ID
	if !c.From.IsZero() {
		base = c.From
	}
	if to, ok := f.fwd[base]; ok && !(c.Create && c.From.IsZero()) {
		return &driver.RenewedError{To: to}
	}
	r, ok := f.recs[base]
	if !ok && !(c.Create && c.From.IsZero()) {
		return ErrNotFound
	}
	var vals map[string]any
	if ok {
		vals = r.Values
	}
	f.commits = append(f.commits, *c)
	f.recs[c.ID] = &driver.Record{Meta: c.Meta, Values: applyCommit(vals, c)}
	if !c.From.IsZero() {
		delete(f.recs, c.From)
		f.fwd[c.From] = c.ID
	}
	return nil
}

func (f *forwardStore) Delete(context.Context, driver.Hash) error { return ErrNotSupported }
func (f *forwardStore) ListUser(context.Context, string) ([]driver.Info, error) {
	return nil, ErrNotSupported
}
func (f *forwardStore) DeleteUser(context.Context, string, driver.Hash) (int, error) {
	return 0, ErrNotSupported
}

func TestFollow(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	h := func(b byte) driver.Hash { return driver.Hash{b} }
	stale := driver.Meta{UserID: "alice", Created: t0, LastSeen: t0, AuthTime: t0, IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour}
	renewed := stale
	renewed.AuthTime, renewed.LastSeen = t0.Add(time.Minute), t0.Add(time.Minute)
	renewed.Remember, renewed.IdleTimeout = true, 3*time.Hour

	tests := []struct {
		name     string
		prevUser string                      // the user the request loaded; default alice
		user     string                      // the user of the session at the end of the chain
		fwd      map[driver.Hash]driver.Hash // forwards, starting at hash 1
		end      driver.Hash                 // where the chain ends: the record, if any
		renew    bool                        // the write is a renewal from hash 1
		wantID   driver.Hash
		wantErr  error
	}{
		{name: "update lands on the renewed session", user: "alice", fwd: map[driver.Hash]driver.Hash{h(1): h(2)}, end: h(2), wantID: h(2)},
		{name: "a renewal is not followed", user: "alice", fwd: map[driver.Hash]driver.Hash{h(1): h(2)}, end: h(2), renew: true, wantErr: driver.ErrRenewed},
		{name: "a chain is followed to its end", user: "alice", fwd: map[driver.Hash]driver.Hash{h(1): h(2), h(2): h(3), h(3): h(4)}, end: h(4), wantID: h(4)},
		{name: "another user's session is not written", user: "bob", fwd: map[driver.Hash]driver.Hash{h(1): h(2)}, end: h(2), wantErr: driver.ErrRenewed},
		{name: "an anonymous session's write does not land after a login", prevUser: "-", user: "alice", fwd: map[driver.Hash]driver.Hash{h(1): h(2)}, end: h(2), wantErr: driver.ErrRenewed},
		{name: "a session that ended after its renewal is ended", fwd: map[driver.Hash]driver.Hash{h(1): h(2)}, wantErr: ErrNotFound},
		{name: "a cycle of forwards is a store error", fwd: map[driver.Hash]driver.Hash{h(1): h(2), h(2): h(3), h(3): h(2)}, wantErr: errTooManyHops},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &forwardStore{recs: map[driver.Hash]*driver.Record{}, fwd: maps.Clone(tt.fwd)}
			if !tt.end.IsZero() {
				m := renewed
				m.UserID = tt.user
				st.recs[tt.end] = &driver.Record{Meta: m, Values: map[string]any{"kept": "yes", "gone": "x"}}
			}
			prev := stale
			if tt.prevUser == "-" {
				prev.UserID = ""
			}
			w := &write{prev: prev, now: t0.Add(2 * time.Minute)}
			w.c = driver.Commit{ID: h(1), Meta: prev, Delete: []string{"gone"}, Set: map[string]any{"new": "v"}}
			w.c.Meta.LastSeen = w.now
			if tt.renew {
				w.c.ID, w.c.From, w.c.Create = h(7), h(1), true
				w.c.Meta.AuthTime = w.now
			}
			b := &serverBackend{store: st, name: "c"}
			b.setKeys(testKeyring(t, "k")) // a renewal signs before it commits
			out, err := b.save(context.Background(), w)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("save: error %v; want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("save: %v", err)
			}
			if out.id != tt.wantID || out.token != "" {
				t.Fatalf("save: landed on %x with token %q; want %x and no token", out.id[:1], out.token, tt.wantID[:1])
			}
			got := st.recs[tt.wantID]
			if want := map[string]any{"kept": "yes", "new": "v"}; !maps.Equal(got.Values, want) || !maps.Equal(out.vals, want) {
				t.Errorf("values stored %v, reported %v; want %v", got.Values, out.vals, want)
			}
			// The renewed session's metadata stays; only the last-seen time
			// moves forward.
			want := renewed
			want.LastSeen = w.now
			if got.Meta != want || out.meta != want {
				t.Errorf("metadata stored %+v, reported %+v; want %+v", got.Meta, out.meta, want)
			}
		})
	}
}
