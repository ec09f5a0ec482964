package memstore

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// The model is the Store contract written as plainly as possible: two maps,
// no locks, no heap, no index. The tests below drive the store and the model
// with the same random operations and compare every answer.

type model struct {
	recs map[driver.Hash]*driver.Record // expired records stay until replaced
	// fwds holds the forwards renewals left; a hash is in recs or in fwds,
	// not both. An expired forward stays until replaced, and acts as none.
	fwds map[driver.Hash]forward
}

type forward struct {
	to  driver.Hash
	exp time.Time
}

func newModel() *model {
	return &model{recs: map[driver.Hash]*driver.Record{}, fwds: map[driver.Hash]forward{}}
}

// liveForward returns the target of the forward under h, if it has one
// that has not expired.
func (m *model) liveForward(h driver.Hash, now time.Time) (driver.Hash, bool) {
	f, ok := m.fwds[h]
	return f.to, ok && f.exp.After(now)
}

// load is Store.Load.
func (m *model) load(h driver.Hash, now time.Time) (*driver.Record, error) {
	if to, ok := m.liveForward(h, now); ok {
		return nil, &driver.RenewedError{To: to}
	}
	if r, ok := m.live(h, now); ok {
		return r, nil
	}
	return nil, driver.ErrNotFound
}

func (m *model) live(h driver.Hash, now time.Time) (*driver.Record, bool) {
	r := m.recs[h]
	if r == nil || !r.ExpiresAt().After(now) {
		return nil, false
	}
	return r, true
}

// userLive returns the live sessions of u, ordered as ListUser orders them.
func (m *model) userLive(u string, now time.Time) []driver.Info {
	var out []driver.Info
	for h := range m.recs {
		if r, ok := m.live(h, now); ok && r.UserID == u && u != "" {
			out = append(out, driver.Info{ID: h, Meta: r.Meta})
		}
	}
	slices.SortFunc(out, func(a, b driver.Info) int {
		return cmp.Or(a.Created.Compare(b.Created), compareHash(a.ID, b.ID))
	})
	return out
}

func (m *model) commit(c *driver.Commit, now time.Time) error {
	renew := !c.From.IsZero()
	from, fromLive := m.live(c.From, now)
	fromTo, fromForward := m.liveForward(c.From, now)
	cur, idLive := m.live(c.ID, now)
	idTo, idForward := m.liveForward(c.ID, now)
	switch {
	case renew && fromForward:
		return &driver.RenewedError{To: fromTo}
	case renew && !fromLive:
		return driver.ErrNotFound
	case c.Create && (idLive || idForward):
		return driver.ErrExists
	case !renew && !c.Create && idForward:
		return &driver.RenewedError{To: idTo}
	case !renew && !c.Create && !idLive:
		return driver.ErrNotFound
	}
	user := c.Meta.UserID
	adds := renew || c.Create || cur.UserID != user
	resultLive := c.Meta.ExpiresAt().After(now)
	if c.MaxPerUser > 0 && user != "" && resultLive && adds {
		var others []driver.Info
		for _, in := range m.userLive(user, now) {
			if in.ID != c.ID && in.ID != c.From {
				others = append(others, in)
			}
		}
		if excess := len(others) + 1 - c.MaxPerUser; excess > 0 {
			if !c.EvictOldest {
				return driver.ErrSessionLimit
			}
			for _, in := range others[:excess] {
				delete(m.recs, in.ID)
			}
		}
	}
	vals := map[string]any{}
	switch {
	case renew:
		maps.Copy(vals, from.Values)
	case !c.Create:
		maps.Copy(vals, cur.Values)
	}
	if c.Clear {
		clear(vals)
	}
	for _, k := range c.Delete {
		delete(vals, k)
	}
	maps.Copy(vals, c.Set)
	rec := &driver.Record{Meta: c.Meta, Values: vals}
	if renew {
		delete(m.recs, c.From)
		m.fwds[c.From] = forward{to: c.ID, exp: from.ExpiresAt()}
	}
	if renew || c.Create {
		delete(m.recs, c.ID)
		delete(m.fwds, c.ID)
		if !resultLive {
			return nil
		}
	}
	m.recs[c.ID] = rec
	return nil
}

// delete is Store.Delete: it follows live forwards, removing them, to the
// record at the end.
func (m *model) delete(h driver.Hash, now time.Time) {
	for range maxHops + 1 {
		f, ok := m.fwds[h]
		if !ok {
			delete(m.recs, h)
			return
		}
		delete(m.fwds, h)
		if !f.exp.After(now) {
			return
		}
		h = f.to
	}
}

func (m *model) deleteUser(u string, keep driver.Hash, now time.Time) int {
	for range maxHops {
		to, ok := m.liveForward(keep, now)
		if !ok {
			break
		}
		keep = to
	}
	n := 0
	for h, r := range m.recs {
		if r.UserID == u && h != keep {
			if _, ok := m.live(h, now); ok {
				n++
			}
			delete(m.recs, h)
		}
	}
	return n
}

// chooser draws the random choices of a run from data, then from a PRNG once
// data runs out.
type chooser struct {
	data []byte
	rng  *rand.Rand
}

func (c *chooser) intn(n int) int {
	if len(c.data) > 0 {
		b := c.data[0]
		c.data = c.data[1:]
		return int(b) % n
	}
	return c.rng.IntN(n)
}

// runModel runs ops random operations against a Store and the model and
// fails at the first difference.
func runModel(t *testing.T, ch *chooser, ops int) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now, SweepInterval: time.Hour, SweepBatch: 2})
	m := newModel()
	hashes := make([]driver.Hash, 8)
	for i := range hashes {
		hashes[i] = hashOf(i*37 + 1)
		hashes[i][0] = byte(i % 3) // several hashes share a shard
	}
	users := []string{"", "ann", "bob"}
	keys := []string{"a", "b", "c"}
	pick := func() driver.Hash { return hashes[ch.intn(len(hashes))] }
	newMeta := func() driver.Meta {
		now := clk.Now()
		meta := driver.Meta{
			UserID:          users[ch.intn(len(users))],
			Created:         now.Add(-time.Duration(ch.intn(4)) * time.Minute),
			LastSeen:        now,
			IdleTimeout:     []time.Duration{time.Minute, 5 * time.Minute, 20 * time.Minute}[ch.intn(3)],
			AbsoluteTimeout: time.Hour,
		}
		switch ch.intn(8) {
		case 0:
			meta.LastSeen = now.Add(-30 * time.Minute) // already expired
		case 1:
			meta.LastSeen = now.Add(-30 * time.Minute)
			meta.Grace = time.Hour // past the deadline, within the grace
		}
		return meta
	}
	for op := range ops {
		now := clk.Now()
		var desc string
		switch ch.intn(10) {
		case 0, 1, 2, 3, 4: // commit
			c := &driver.Commit{ID: pick(), Meta: newMeta()}
			switch ch.intn(3) {
			case 0:
				c.Create = true
			case 1:
				c.From = pick()
				c.Create = ch.intn(2) == 0
			}
			if c.From == c.ID {
				c.From = driver.Hash{}
			}
			c.Clear = ch.intn(6) == 0
			for range ch.intn(3) {
				c.Delete = append(c.Delete, keys[ch.intn(len(keys))])
			}
			if n := ch.intn(3); n > 0 {
				c.Set = map[string]any{}
				for range n {
					c.Set[keys[ch.intn(len(keys))]] = op
				}
			}
			c.MaxPerUser = ch.intn(4)
			c.EvictOldest = ch.intn(2) == 0
			desc = fmt.Sprintf("Commit{ID %s From %s Create %v user %q max %d evict %v}", c.ID.Handle(), c.From.Handle(), c.Create, c.Meta.UserID, c.MaxPerUser, c.EvictOldest)
			got, want := s.Commit(bg, c), m.commit(c, now)
			if !sameErr(got, want) {
				t.Fatalf("op %d %s: got error %v, want %v", op, desc, got, want)
			}
		case 5:
			h := pick()
			desc = "Delete " + h.Handle()
			if err := s.Delete(bg, h); err != nil {
				t.Fatalf("op %d %s: %v", op, desc, err)
			}
			m.delete(h, now)
		case 6:
			u := users[1+ch.intn(2)]
			var keep driver.Hash
			if ch.intn(2) == 0 {
				keep = pick()
			}
			desc = fmt.Sprintf("DeleteUser(%q, %s)", u, keep.Handle())
			got, err := s.DeleteUser(bg, u, keep)
			if err != nil {
				t.Fatalf("op %d %s: %v", op, desc, err)
			}
			if want := m.deleteUser(u, keep, now); got != want {
				t.Fatalf("op %d %s: got %d, want %d", op, desc, got, want)
			}
		case 7:
			desc = "Sweep"
			s.Sweep()
		default:
			d := time.Duration(ch.intn(4)) * time.Minute
			desc = "advance " + d.String()
			clk.Advance(d)
		}
		compareModel(t, s, m, clk.Now(), hashes, users, fmt.Sprintf("after op %d %s", op, desc))
	}
	checkInternal(t, s)
}

func compareModel(t *testing.T, s *Store, m *model, now time.Time, hashes []driver.Hash, users []string, when string) {
	t.Helper()
	for _, h := range hashes {
		got, err := s.Load(bg, h)
		want, wantErr := m.load(h, now)
		switch {
		case wantErr != nil && (got != nil || !sameErr(err, wantErr)):
			t.Fatalf("%s: Load(%s): got %v, %v; want %v", when, h.Handle(), got, err, wantErr)
		case wantErr == nil && err != nil:
			t.Fatalf("%s: Load(%s): got error %v, want a record", when, h.Handle(), err)
		case wantErr == nil && (!reflect.DeepEqual(got.Meta, want.Meta) || !sameValues(got.Values, want.Values)):
			t.Fatalf("%s: Load(%s): got %+v, want %+v", when, h.Handle(), *got, *want)
		}
	}
	for _, u := range users[1:] {
		got, err := s.ListUser(bg, u)
		if err != nil {
			t.Fatalf("%s: ListUser(%q): %v", when, u, err)
		}
		want := m.userLive(u, now)
		if len(got) != len(want) {
			t.Fatalf("%s: ListUser(%q): got %d sessions, want %d", when, u, len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID || !reflect.DeepEqual(got[i].Meta, want[i].Meta) {
				t.Fatalf("%s: ListUser(%q)[%d]: got %s, want %s", when, u, i, got[i].ID.Handle(), want[i].ID.Handle())
			}
		}
	}
}

// sameErr reports whether got is the error want: the same sentinel, or a
// *driver.RenewedError naming the same hash (a plain ErrNotFound is not
// one, nor the reverse).
func sameErr(got, want error) bool {
	var g, w *driver.RenewedError
	gotRenewed, wantRenewed := errors.As(got, &g), errors.As(want, &w)
	if gotRenewed || wantRenewed {
		return gotRenewed && wantRenewed && g.To == w.To
	}
	return errors.Is(got, want)
}

// sameValues compares values by their JSON, as the store keeps them.
func sameValues(a, b map[string]any) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func TestModel(t *testing.T) {
	ops := 10_000
	if testing.Short() || raceEnabled {
		ops = 1_500
	}
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			runModel(t, &chooser{rng: rand.New(rand.NewPCG(seed, 0x1a7c4))}, ops)
		})
	}
}

func FuzzModel(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 3, 1, 0, 2, 1, 1, 0, 0})
	f.Add([]byte{4, 1, 0, 1, 2, 0, 3, 1, 9, 3, 6, 1, 7, 8, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		// The data drives the first choices, a fixed PRNG the rest.
		runModel(t, &chooser{data: data, rng: rand.New(rand.NewPCG(1, 2))}, len(data)/4+1)
	})
}
