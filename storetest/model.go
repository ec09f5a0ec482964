package storetest

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// The model is the Store contract written as plainly as possible: two maps,
// no locks, no heap, no index. RunModel drives a store and the model with
// the same random operations and compares every answer.

// modelHops bounds the forwards the model follows; a run has far fewer
// hashes than this, so no chain is ever that long.
const modelHops = 64

type model struct {
	recs map[driver.Hash]*driver.Record // expired records stay until replaced
	// fwds holds the forwards renewals left; a hash is in recs or in fwds,
	// not both. An expired forward stays until replaced, and acts as none.
	fwds map[driver.Hash]modelForward
	// order breaks ties of Created in ListUser and eviction (nil: the run
	// never makes two sessions with the same Created).
	order func(a, b driver.Hash) int
}

type modelForward struct {
	to  driver.Hash
	exp time.Time
}

func newModel(order func(a, b driver.Hash) int) *model {
	return &model{recs: map[driver.Hash]*driver.Record{}, fwds: map[driver.Hash]modelForward{}, order: order}
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
		if c := a.Created.Compare(b.Created); c != 0 || m.order == nil {
			return c
		}
		return m.order(a.ID, b.ID)
	})
	return out
}

// commit is Store.Commit. When the commit fails it returns every error the
// contract allows: the commit may fail for more than one reason (a renewal
// from a missing record over the user's limit), and the contract does not
// say which of them a store reports. Either way nothing is written.
func (m *model) commit(c *driver.Commit, now time.Time) []error {
	renew := !c.From.IsZero()
	from, fromLive := m.live(c.From, now)
	fromTo, fromForward := m.liveForward(c.From, now)
	cur, idLive := m.live(c.ID, now)
	idTo, idForward := m.liveForward(c.ID, now)
	var errs []error
	switch {
	case renew && fromForward:
		errs = append(errs, &driver.RenewedError{To: fromTo})
	case renew && !fromLive:
		errs = append(errs, driver.ErrNotFound)
	}
	switch {
	case c.Create && (idLive || idForward):
		errs = append(errs, driver.ErrExists)
	case !renew && !c.Create && idForward:
		errs = append(errs, &driver.RenewedError{To: idTo})
	case !renew && !c.Create && !idLive:
		errs = append(errs, driver.ErrNotFound)
	}
	user := c.Meta.UserID
	adds := renew || c.Create || cur != nil && cur.UserID != user
	resultLive := c.Meta.ExpiresAt().After(now)
	var evict []driver.Info
	if c.MaxPerUser > 0 && user != "" && resultLive && adds {
		var others []driver.Info
		for _, in := range m.userLive(user, now) {
			if in.ID != c.ID && in.ID != c.From {
				others = append(others, in)
			}
		}
		if excess := len(others) + 1 - c.MaxPerUser; excess > 0 {
			if !c.EvictOldest {
				errs = append(errs, driver.ErrSessionLimit)
			}
			evict = others[:excess]
		}
	}
	if len(errs) > 0 {
		return errs
	}
	for _, in := range evict {
		delete(m.recs, in.ID)
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
		m.fwds[c.From] = modelForward{to: c.ID, exp: from.ExpiresAt()}
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
	for range modelHops + 1 {
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

// deleteUser is Store.DeleteUser.
func (m *model) deleteUser(u string, keep driver.Hash, now time.Time) (n int, deleted []driver.Hash) {
	for range modelHops {
		to, ok := m.liveForward(keep, now)
		if !ok {
			break
		}
		keep = to
	}
	for h, r := range m.recs {
		if r.UserID == u && h != keep {
			if _, ok := m.live(h, now); ok {
				n++
			}
			delete(m.recs, h)
			deleted = append(deleted, h)
		}
	}
	return n, deleted
}

// leadingTo returns the hashes whose live forwards lead, hop by hop, to
// one of the hashes in to.
func (m *model) leadingTo(to []driver.Hash, now time.Time) []driver.Hash {
	var out []driver.Hash
	for h := range m.fwds {
		end, hops := h, 0
		for ; hops < modelHops; hops++ {
			next, ok := m.liveForward(end, now)
			if !ok {
				break
			}
			end = next
		}
		if hops > 0 && slices.Contains(to, end) {
			out = append(out, h)
		}
	}
	return out
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

// ModelConfig configures RunModel.
type ModelConfig struct {
	// Ops is the number of random operations.
	Ops int
	// Seed seeds the PRNG that makes the choices of the run.
	Seed uint64
	// Data, if not empty, makes the first choices, one byte each, before
	// the PRNG takes over (for fuzzing).
	Data []byte
	// Now is the store's clock. Nil means time.Now.
	Now func() time.Time
	// Advance moves the store's clock (and so Now) forward. Nil means the
	// run never moves time: then every record it writes either expired
	// long ago or lives for minutes, far longer than the run.
	Advance func(time.Duration)
	// Step, if not nil, is an operation of the store's own that the run
	// draws among the others (memstore: a sweep); it must not change what
	// the store returns. It returns a description for failure messages.
	Step func() string
	// ReuseHashes lets the run create sessions under hashes that forwards
	// still lead to, once the renewed session there is gone: memstore
	// defines what happens then, the contract does not (hashes are
	// random and never come back in practice).
	ReuseHashes bool
	// Order, if not nil, is the order in which the store lists (and
	// evicts) sessions with the same Created; the run then gives many
	// sessions the same Created. Nil means the run never does (the
	// contract leaves that order to the store).
	Order func(a, b driver.Hash) int
}

// RunModel runs cfg.Ops random operations (creations, updates, renewals,
// deletions, DeleteUser with and without keep, Load and ListUser; several
// users and hashes, some sharing their first byte; values that change)
// against s and against a plain model of the driver.Store contract, and
// fails t at the first answer of s that differs from the model's. After
// every operation it compares Load of every hash and ListUser of every user.
// s must be empty of the run's hashes and users, which are fresh and random.
//
// The run keeps to what the contract defines: renewals carry Create, as
// latch sends them; a commit that fails for several reasons may report any
// of them; a commit whose result has already expired has no MaxPerUser;
// the forwards to sessions DeleteUser removed are deleted before the run
// goes on; and, unless cfg.ReuseHashes, no session is created under a hash
// that a forward led to.
func RunModel(t *testing.T, s driver.Store, cfg ModelConfig) {
	t.Helper()
	clockNow := cfg.Now
	if clockNow == nil {
		clockNow = now
	}
	start := clockNow()
	ch := &chooser{data: cfg.Data, rng: rand.New(rand.NewPCG(cfg.Seed, 0x1a7c4))}
	m := newModel(cfg.Order)
	hashes := make([]driver.Hash, 8)
	for i := range hashes {
		hashes[i] = newHash(t)
		// Several hashes share a first byte, and the order of the hashes
		// (which may break ties) does not depend on the random bytes.
		hashes[i][0], hashes[i][1] = byte(i%3), byte(i)
	}
	users := []string{"", newUser(t), newUser(t)}
	keys := []string{"a", "b", "c"}
	// Once a hash has been the target of a forward and holds no live
	// record, the contract does not say what a new session created under
	// it does with that forward (a Delete of the forward may or may not
	// reach it), and a store may leave a tombstone there (redisstore does
	// on Cluster) that makes Create refuse it with driver.ErrNotFound.
	// Unless cfg.ReuseHashes, refresh puts a fresh hash in its place.
	refresh := func(now time.Time) {
		if cfg.ReuseHashes {
			return
		}
		dead := map[driver.Hash]bool{}
		for _, f := range m.fwds {
			if _, ok := m.live(f.to, now); !ok {
				dead[f.to] = true
			}
		}
		for i, h := range hashes {
			if dead[h] {
				hashes[i] = newHash(t)
				hashes[i][0], hashes[i][1] = byte(i%3), byte(i)
			}
		}
	}
	pick := func() driver.Hash { return hashes[ch.intn(len(hashes))] }
	newMeta := func(now time.Time, op int) driver.Meta {
		user, age := users[ch.intn(len(users))], time.Duration(ch.intn(4))*time.Minute
		meta := driver.Meta{
			UserID:          user,
			Created:         now.Add(-age),
			LastSeen:        now,
			IdleTimeout:     []time.Duration{time.Minute, 5 * time.Minute, 20 * time.Minute}[ch.intn(3)],
			AbsoluteTimeout: time.Hour,
		}
		if cfg.Order == nil {
			// No ties: whole minutes before the start of the run, plus
			// a millisecond per operation.
			meta.Created = start.Add(-time.Minute - age + time.Duration(op)*time.Millisecond)
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
	value := func(op int) any {
		switch ch.intn(4) {
		case 0:
			return fmt.Sprintf("v%d", op)
		case 1:
			return map[string]any{"op": op, "even": op%2 == 0}
		case 2:
			return []any{op, "x", nil}
		}
		return op
	}
	for op := range cfg.Ops {
		now := clockNow()
		refresh(now)
		var desc string
		kind := ch.intn(10)
		if kind == 7 && cfg.Step == nil || kind >= 8 && cfg.Advance == nil {
			kind = 10 + kind%2 // Load or ListUser instead
		}
		switch kind {
		case 0, 1, 2, 3, 4: // commit
			c := &driver.Commit{ID: pick(), Meta: newMeta(now, op)}
			switch ch.intn(3) {
			case 0:
				c.Create = true
			case 1:
				// A renewal, with Create as latch sends it: a renewal
				// without Create is outside the contract.
				c.From = pick()
				c.Create = true
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
					c.Set[keys[ch.intn(len(keys))]] = value(op)
				}
			}
			c.MaxPerUser = ch.intn(4)
			if !c.Meta.ExpiresAt().After(now) {
				// Whether a commit whose result has already expired
				// evicts sessions is left to the store.
				c.MaxPerUser = 0
			}
			c.EvictOldest = ch.intn(2) == 0
			desc = fmt.Sprintf("Commit{ID %s From %s Create %v user %q max %d evict %v}", c.ID.Handle(), c.From.Handle(), c.Create, c.Meta.UserID, c.MaxPerUser, c.EvictOldest)
			got := s.Commit(bg, c)
			if want := m.commit(c, now); !slices.ContainsFunc(want, func(w error) bool { return sameErr(got, w) }) && (got != nil || want != nil) {
				t.Fatalf("op %d %s: got error %v, want %s", op, desc, got, showErrs(want))
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
			switch ch.intn(3) {
			case 1:
				keep = pick()
			case 2: // one of the user's sessions, or else any hash
				if live := m.userLive(u, now); len(live) > 0 {
					keep = live[ch.intn(len(live))].ID
				} else {
					keep = pick()
				}
			}
			desc = fmt.Sprintf("DeleteUser(%q, %s)", u, keep.Handle())
			got, err := s.DeleteUser(bg, u, keep)
			if err != nil {
				t.Fatalf("op %d %s: %v", op, desc, err)
			}
			want, deleted := m.deleteUser(u, keep, now)
			if got != want {
				t.Fatalf("op %d %s: got %d, want %d", op, desc, got, want)
			}
			// The contract leaves it to the store whether the forwards
			// to the sessions DeleteUser removed still answer (with
			// *driver.RenewedError) or are gone too. Delete them, which
			// the contract does define, so the run goes on from one state.
			refresh(now)
			for _, h := range m.leadingTo(deleted, now) {
				if err := s.Delete(bg, h); err != nil {
					t.Fatalf("op %d %s, then Delete(%s): %v", op, desc, h.Handle(), err)
				}
				m.delete(h, now)
			}
		case 7:
			desc = cfg.Step()
		case 8, 9:
			d := time.Duration(ch.intn(4)) * time.Minute
			desc = "advance " + d.String()
			cfg.Advance(d)
		case 10:
			h := pick()
			desc = "Load " + h.Handle()
			compareLoad(t, s, m, h, now, fmt.Sprintf("op %d", op))
		case 11:
			u := users[1+ch.intn(2)]
			desc = fmt.Sprintf("ListUser(%q)", u)
			compareList(t, s, m, u, now, fmt.Sprintf("op %d", op))
		}
		refresh(now)
		when := fmt.Sprintf("after op %d %s", op, desc)
		now = clockNow()
		for _, h := range hashes {
			compareLoad(t, s, m, h, now, when)
		}
		for _, u := range users[1:] {
			compareList(t, s, m, u, now, when)
		}
	}
}

func compareLoad(t *testing.T, s driver.Store, m *model, h driver.Hash, now time.Time, when string) {
	t.Helper()
	got, err := s.Load(bg, h)
	want, wantErr := m.load(h, now)
	switch {
	case wantErr != nil && (got != nil || !sameErr(err, wantErr)):
		t.Fatalf("%s: Load(%s): got record %v, error %v; want %v", when, h.Handle(), got != nil, err, wantErr)
	case wantErr == nil && err != nil:
		t.Fatalf("%s: Load(%s): got error %v, want a record", when, h.Handle(), err)
	case wantErr == nil && got == nil:
		t.Fatalf("%s: Load(%s): got nil record and nil error", when, h.Handle())
	case wantErr == nil:
		if diff := metaDiff(got.Meta, want.Meta); diff != "" {
			t.Fatalf("%s: Load(%s): metadata differs: %s", when, h.Handle(), diff)
		}
		if diff := valuesDiff(got.Values, want.Values); diff != "" {
			t.Fatalf("%s: Load(%s): values differ: %s", when, h.Handle(), diff)
		}
	}
}

func compareList(t *testing.T, s driver.Store, m *model, u string, now time.Time, when string) {
	t.Helper()
	got, err := s.ListUser(bg, u)
	if err != nil {
		t.Fatalf("%s: ListUser(%q): %v", when, u, err)
	}
	want := m.userLive(u, now)
	if len(got) != len(want) {
		t.Fatalf("%s: ListUser(%q): got %s, want %s", when, u, infoCreated(got), infoCreated(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID {
			t.Fatalf("%s: ListUser(%q): got %s, want %s", when, u, infoCreated(got), infoCreated(want))
		}
		if diff := metaDiff(got[i].Meta, want[i].Meta); diff != "" {
			t.Fatalf("%s: ListUser(%q)[%d] %s: metadata differs: %s", when, u, i, got[i].ID.Handle(), diff)
		}
	}
}

// infoCreated lists sessions with their Created times.
func infoCreated(infos []driver.Info) string {
	out := "["
	for i, in := range infos {
		if i > 0 {
			out += " "
		}
		out += in.ID.Handle() + "@" + in.Created.Format("15:04:05.000")
	}
	return out + "]"
}

// showErrs describes the errors a commit may return.
func showErrs(errs []error) string {
	if len(errs) == 0 {
		return "nil"
	}
	out := ""
	for i, err := range errs {
		if i > 0 {
			out += " or "
		}
		out += err.Error()
	}
	return out
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

// testModel runs a few hundred operations, from a fixed seed, against the
// store and the model. It never moves time: every record either expired long
// ago or lives for minutes.
func testModel(t *testing.T, s driver.Store) {
	RunModel(t, s, ModelConfig{Ops: 300, Seed: 14})
}
