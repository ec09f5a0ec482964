package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/redis/go-redis/v9"
)

// The tests in this file force the interleavings that ordering.go lists:
// they stop a renewal (or a Delete, or a DeleteUser) between two of its
// steps, run another operation in the gap, let the first one go on, and
// check that every session that was to end did end. On Cluster the steps
// are the store's own (Store.pause); on a standalone server and behind
// Sentinel, where every operation is one script, a go-redis hook holds the
// script back before it is sent (a paused pipeline).

// gate holds the goroutine that reaches it until the test opens it.
type gate struct {
	reached, open chan struct{}
	taken         atomic.Bool
}

func newGate() *gate {
	return &gate{reached: make(chan struct{}), open: make(chan struct{})}
}

// wait blocks the first caller until the gate opens; later callers pass
// at once (the operation run in the gap may pass the same point).
func (g *gate) wait() {
	if g.taken.CompareAndSwap(false, true) {
		close(g.reached)
		<-g.open
	}
}

// pauseAt makes s stop at step once, until the returned gate opens.
func pauseAt(s *Store, step string) *gate {
	g := newGate()
	s.pause = func(name string) {
		if name == step {
			g.wait()
		}
	}
	return g
}

// inGap runs first in a goroutine, waits until it reaches g, runs gap,
// opens g and returns first's error.
func inGap(t *testing.T, g *gate, first func() error, gap func()) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- first() }()
	select {
	case <-g.reached:
	case err := <-done:
		t.Fatalf("the operation finished (%v) without reaching its pause", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the operation did not reach its pause in 10 s")
	}
	gap()
	close(g.open)
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the paused operation did not finish in 10 s")
		return nil
	}
}

// ended checks that no hash in ids names a live session: Load gives
// ErrNotFound (or a RenewedError, which matches it and names a hash that
// is checked too), and no Commit lands there.
func ended(t *testing.T, s *Store, why string, ids ...driver.Hash) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		for hop := 0; hop < maxHops; hop++ {
			_, err := s.Load(ctx, id)
			if !errors.Is(err, driver.ErrNotFound) {
				t.Errorf("%s: Load(%s): got %v, want ErrNotFound", why, id.Handle(), err)
				break
			}
			var re *driver.RenewedError
			if !errors.As(err, &re) {
				break
			}
			id = re.To
		}
		err := s.Commit(ctx, &driver.Commit{ID: id, Meta: meta("", time.Now()), Set: map[string]any{"x": 1}})
		if !errors.Is(err, driver.ErrNotFound) {
			t.Errorf("%s: Commit(%s): got %v, want ErrNotFound", why, id.Handle(), err)
		}
	}
}

// live checks that id names a live session.
func live(t *testing.T, s *Store, why string, id driver.Hash) {
	t.Helper()
	if _, err := s.Load(context.Background(), id); err != nil {
		t.Errorf("%s: Load(%s): %v, want the live session", why, id.Handle(), err)
	}
}

// listed checks that ListUser names exactly ids.
func listed(t *testing.T, s *Store, user, why string, ids ...driver.Hash) {
	t.Helper()
	infos, err := s.ListUser(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	got := map[driver.Hash]bool{}
	for _, in := range infos {
		got[in.ID] = true
	}
	want := map[driver.Hash]bool{}
	for _, id := range ids {
		want[id] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: ListUser(%s) lists %d sessions, want %d", why, user, len(got), len(want))
	}
}

// renewal is the fixture of one test: a user with two sessions, from (to
// be renewed into to) and other.
type renewal struct {
	s               *Store
	user            string
	from, to, other driver.Hash
}

func newRenewal(t *testing.T, s *Store) *renewal {
	t.Helper()
	r := &renewal{s: s, user: "order-" + randomPrefix(t), from: hash(t), to: hash(t), other: hash(t)}
	now := time.Now()
	mustCommit(t, s, &driver.Commit{ID: r.other, Create: true, Meta: meta(r.user, now.Add(-time.Second))})
	mustCommit(t, s, &driver.Commit{ID: r.from, Create: true, Meta: meta(r.user, now), Set: map[string]any{"base": 1}})
	return r
}

// renew renews from into to, as a Renew of the signed-in user does.
func (r *renewal) renew() error {
	return r.s.Commit(context.Background(), &driver.Commit{ID: r.to, From: r.from, Create: true,
		Meta: meta(r.user, time.Now()), Set: map[string]any{"renewed": true}})
}

// TestClusterPausedRenewal stops a Cluster renewal after each of its first
// two steps (reserve; take, which leaves the forward) and runs, in the gap,
// each operation that must be ordered against it.
func TestClusterPausedRenewal(t *testing.T) {
	ctx := context.Background()
	type check func(t *testing.T, r *renewal, renewErr error)
	tests := []struct {
		name string
		gap  func(t *testing.T, r *renewal)
		// want is checked after the renewal returned.
		want check
	}{
		{"Delete", func(t *testing.T, r *renewal) {
			if err := r.s.Delete(ctx, r.from); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, r *renewal, renewErr error) {
			if !errors.Is(renewErr, driver.ErrNotFound) {
				t.Errorf("renewal after Delete: got %v, want ErrNotFound", renewErr)
			}
			ended(t, r.s, "after Delete", r.from, r.to)
			listed(t, r.s, r.user, "after Delete", r.other)
		}},
		{"DeleteUser", func(t *testing.T, r *renewal) {
			if n, err := r.s.DeleteUser(ctx, r.user, driver.Hash{}); err != nil || n != 2 {
				t.Errorf("DeleteUser: %d, %v; want 2", n, err)
			}
		}, func(t *testing.T, r *renewal, renewErr error) {
			if !errors.Is(renewErr, driver.ErrNotFound) {
				t.Errorf("renewal after DeleteUser: got %v, want ErrNotFound", renewErr)
			}
			ended(t, r.s, "after DeleteUser", r.from, r.to, r.other)
			listed(t, r.s, r.user, "after DeleteUser")
		}},
		{"DeleteUserKeepsIt", func(t *testing.T, r *renewal) {
			if n, err := r.s.DeleteUser(ctx, r.user, r.from); err != nil || n != 1 {
				t.Errorf("DeleteUser keeping the session: %d, %v; want 1", n, err)
			}
		}, func(t *testing.T, r *renewal, renewErr error) {
			if renewErr != nil {
				t.Errorf("renewal of the kept session: %v", renewErr)
			}
			live(t, r.s, "kept and renewed", r.to)
			ended(t, r.s, "DeleteUser keeping another", r.other)
			listed(t, r.s, r.user, "after DeleteUser", r.to)
		}},
		{"Eviction", func(t *testing.T, r *renewal) {
			// A new login with a limit of one evicts every older session.
			login := hash(t)
			mustCommit(t, r.s, &driver.Commit{ID: login, Create: true, Meta: meta(r.user, time.Now().Add(time.Hour)),
				MaxPerUser: 1, EvictOldest: true})
			r.other = login // the survivor, checked below
		}, func(t *testing.T, r *renewal, renewErr error) {
			if !errors.Is(renewErr, driver.ErrNotFound) {
				t.Errorf("renewal of an evicted session: got %v, want ErrNotFound", renewErr)
			}
			ended(t, r.s, "evicted", r.from, r.to)
			live(t, r.s, "the login that evicted", r.other)
			listed(t, r.s, r.user, "after the eviction", r.other)
		}},
	}
	for _, step := range []string{stepRenewReserved, stepRenewTaken} {
		for _, tc := range tests {
			t.Run(strings.ReplaceAll(step, " ", "")+"/"+tc.name, func(t *testing.T) {
				s, _ := clusterStore(t)
				r := newRenewal(t, s)
				g := pauseAt(s, step)
				err := inGap(t, g, r.renew, func() { tc.gap(t, r) })
				s.pause = nil
				tc.want(t, r, err)
			})
		}
	}
}

// TestClusterPausedUpdate runs a plain update of From while a Cluster
// renewal is stopped at each of its first two steps. Before the take it
// lands, and the renewed record has it. After the take it waits for the
// renewal: when the renewal completes, it gets a RenewedError naming the
// new hash, which by then holds the session; when the renewal fails and
// puts From back, it lands in From.
func TestClusterPausedUpdate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, step string
		fail       bool // the renewal's create fails: its new hash is taken
	}{
		{"BeforeTake", stepRenewReserved, false},
		{"AfterTake", stepRenewTaken, false},
		{"AfterTakeRenewalFails", stepRenewTaken, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := clusterStore(t)
			r := newRenewal(t, s)
			if tc.fail {
				mustCommit(t, s, &driver.Commit{ID: r.to, Create: true, Meta: meta("someone-else", time.Now())})
			}
			g := pauseAt(s, tc.step)
			type result struct {
				err     error
				loadErr error // Load of the named hash, right after
				took    time.Duration
			}
			update := func() result {
				start := time.Now()
				err := s.Commit(ctx, &driver.Commit{ID: r.from, Meta: meta(r.user, time.Now()), Set: map[string]any{"late": 1}})
				res := result{err: err, took: time.Since(start)}
				var re *driver.RenewedError
				if errors.As(err, &re) {
					_, res.loadErr = s.Load(ctx, re.To)
				}
				return res
			}
			done := make(chan result, 1)
			renewErr := inGap(t, g, r.renew, func() {
				if tc.step == stepRenewReserved {
					done <- update() // whole, before the take
					return
				}
				go func() { done <- update() }()
				time.Sleep(50 * time.Millisecond) // the update is waiting
			})
			res := <-done
			s.pause = nil
			var re *driver.RenewedError
			switch {
			case tc.fail:
				if !errors.Is(renewErr, driver.ErrExists) || res.err != nil {
					t.Fatalf("renewal into a taken hash: %v; update meanwhile: %v; want ErrExists, nil", renewErr, res.err)
				}
				rec, err := s.Load(ctx, r.from)
				if err != nil || fmt.Sprint(rec.Values["late"]) != "1" {
					t.Fatalf("From after the failed renewal: %v, %v; want the update landed", err, rec)
				}
				return
			case renewErr != nil:
				t.Fatalf("renewal: %v", renewErr)
			case tc.step == stepRenewReserved && res.err != nil:
				t.Fatalf("update before the take: %v, want nil", res.err)
			case tc.step == stepRenewTaken && !(errors.As(res.err, &re) && re.To == r.to):
				t.Fatalf("update after the take: got %v, want a RenewedError naming the new hash", res.err)
			case res.loadErr != nil:
				t.Fatalf("Load of the hash the RenewedError named, right after: %v", res.loadErr)
			case res.took >= forwardWait:
				t.Fatalf("the update waited %v, as long as forwardWait: it did not see the renewal land", res.took)
			}
			rec, err := s.Load(ctx, r.to)
			if err != nil {
				t.Fatal(err)
			}
			if _, landed := rec.Values["late"]; landed != (tc.step == stepRenewReserved) {
				t.Errorf("renewed record %v: the update landed %v, want %v", rec.Values, landed, tc.step == stepRenewReserved)
			}
			if _, err := s.Load(ctx, r.from); !errors.As(err, &re) || re.To != r.to {
				t.Errorf("Load(From) after the renewal: got %v, want RenewedError to the new hash", err)
			}
		})
	}
}

// TestClusterStalledRenewal stops a Cluster renewal after its take for
// longer than forwardWait: a Load of From waits that long, then answers
// the RenewedError anyway.
func TestClusterStalledRenewal(t *testing.T) {
	ctx := context.Background()
	s, _ := clusterStore(t)
	r := newRenewal(t, s)
	g := pauseAt(s, stepRenewTaken)
	var loadErr error
	var took time.Duration
	err := inGap(t, g, r.renew, func() {
		start := time.Now()
		_, loadErr = s.Load(ctx, r.from)
		took = time.Since(start)
	})
	s.pause = nil
	if err != nil {
		t.Fatal(err)
	}
	var re *driver.RenewedError
	if !errors.As(loadErr, &re) || re.To != r.to || took < forwardWait || took > forwardWait+time.Second {
		t.Fatalf("Load(From) beside a stalled renewal: %v after %v; want a RenewedError after about %v", loadErr, took, forwardWait)
	}
	live(t, s, "the renewed session once the renewal went on", r.to)
}

// TestClusterPausedDeleteUser stops a Cluster DeleteUser after it read the
// index and runs a whole renewal of one of the user's sessions in the gap:
// DeleteUser follows the forward and ends the renewed session, or keeps it
// when the renewed session is the one to keep.
func TestClusterPausedDeleteUser(t *testing.T) {
	ctx := context.Background()
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			s, _ := clusterStore(t)
			r := newRenewal(t, s)
			var k driver.Hash
			want := 2
			if keep {
				k, want = r.from, 1
			}
			g := pauseAt(s, stepDeleteUserRead)
			var n int
			err := inGap(t, g, func() error {
				var err error
				n, err = s.DeleteUser(ctx, r.user, k)
				return err
			}, func() {
				if err := r.renew(); err != nil {
					t.Errorf("renewal in the gap: %v", err)
				}
			})
			s.pause = nil
			if err != nil || n != want {
				t.Fatalf("DeleteUser: %d, %v; want %d", n, err, want)
			}
			ended(t, s, "DeleteUser", r.other)
			if keep {
				live(t, s, "kept session renewed in the gap", r.to)
				listed(t, s, r.user, "after DeleteUser", r.to)
			} else {
				ended(t, s, "renewed in the gap", r.from, r.to)
				listed(t, s, r.user, "after DeleteUser")
			}
		})
	}
}

// TestClusterPausedDelete stops a Cluster Delete after it removed the first
// forward of a chain A -> B, and renews B -> C in the gap: Delete follows
// on to C.
func TestClusterPausedDelete(t *testing.T) {
	ctx := context.Background()
	s, _ := clusterStore(t)
	user := "chain-" + randomPrefix(t)
	a, b, c := hash(t), hash(t), hash(t)
	mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta(user, time.Now())})
	mustCommit(t, s, &driver.Commit{ID: b, From: a, Create: true, Meta: meta(user, time.Now())})
	g := pauseAt(s, stepDeleteHop)
	err := inGap(t, g, func() error { return s.Delete(ctx, a) }, func() {
		if err := s.Commit(ctx, &driver.Commit{ID: c, From: b, Create: true, Meta: meta(user, time.Now())}); err != nil {
			t.Errorf("renewal in the gap: %v", err)
		}
	})
	s.pause = nil
	if err != nil {
		t.Fatal(err)
	}
	ended(t, s, "Delete of the chain's head", a, b, c)
	listed(t, s, user, "after Delete")
}

// TestClusterRestoreAfterDelete checks that a renewal whose create fails
// (its new hash is taken) does not put its old record back once a Delete
// has removed the forward, and that the Delete left the session that held
// the new hash alone.
func TestClusterRestoreAfterDelete(t *testing.T) {
	ctx := context.Background()
	s, _ := clusterStore(t)
	r := newRenewal(t, s)
	mustCommit(t, s, &driver.Commit{ID: r.to, Create: true, Meta: meta("someone-else", time.Now())})
	g := pauseAt(s, stepRenewTaken)
	err := inGap(t, g, r.renew, func() {
		if err := s.Delete(ctx, r.from); err != nil {
			t.Fatal(err)
		}
	})
	s.pause = nil
	if !errors.Is(err, driver.ErrExists) {
		t.Errorf("renewal into a taken hash: got %v, want ErrExists", err)
	}
	ended(t, s, "deleted while its renewal failed", r.from)
	live(t, s, "the session that held the new hash", r.to)
}

// pauseHook is a go-redis hook that holds back the first command, or
// pipeline, that match selects, until its gate opens.
type pauseHook struct {
	match func(cmd redis.Cmder) bool
	g     *gate
}

func (h *pauseHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *pauseHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.match(cmd) {
			h.g.wait()
		}
		return next(ctx, cmd)
	}
}

func (h *pauseHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if h.match(cmd) {
				h.g.wait()
				break
			}
		}
		return next(ctx, cmds)
	}
}

// isScript reports whether cmd runs a script (EVALSHA or EVAL).
func isScript(cmd redis.Cmder) bool {
	name, _ := cmd.Args()[0].(string)
	name = strings.ToLower(name)
	return name == "evalsha" || name == "eval"
}

// TestPausedScripts is the paused pipeline on a standalone server and behind
// Sentinel: it holds back the first script that one operation sends (after
// whatever plain reads come before it) while another runs whole, in both
// orders. Each is one script, so whichever runs first, the second sees all
// of it. (Before forwards, DeleteUser read the index and then deleted hash
// by hash, and Delete of a renamed hash found nothing: the held DeleteUser
// and the held Delete missed the renewed session.)
func TestPausedScripts(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// op is the operation whose first script is held; gap runs
		// meanwhile.
		op   func(r *renewal) error
		gap  func(t *testing.T, r *renewal)
		want func(t *testing.T, r *renewal, opErr error)
	}{
		{"RenewalHeld/DeleteUser", (*renewal).renew,
			func(t *testing.T, r *renewal) {
				if n, err := r.s.DeleteUser(ctx, r.user, driver.Hash{}); err != nil || n != 2 {
					t.Errorf("DeleteUser: %d, %v; want 2", n, err)
				}
			},
			func(t *testing.T, r *renewal, err error) {
				if !errors.Is(err, driver.ErrNotFound) {
					t.Errorf("renewal after DeleteUser: got %v, want ErrNotFound", err)
				}
				ended(t, r.s, "after DeleteUser", r.from, r.to, r.other)
			}},
		{"DeleteUserHeld/Renewal",
			func(r *renewal) error {
				n, err := r.s.DeleteUser(ctx, r.user, driver.Hash{})
				if err == nil && n != 2 {
					err = fmt.Errorf("DeleteUser removed %d sessions, want 2", n)
				}
				return err
			},
			func(t *testing.T, r *renewal) {
				if err := r.renew(); err != nil {
					t.Errorf("renewal: %v", err)
				}
			},
			func(t *testing.T, r *renewal, err error) {
				if err != nil {
					t.Error(err)
				}
				ended(t, r.s, "renewed, then DeleteUser", r.from, r.to, r.other)
			}},
		{"DeleteUserHeld/RenewalOfKept",
			func(r *renewal) error {
				n, err := r.s.DeleteUser(ctx, r.user, r.from)
				if err == nil && n != 1 {
					err = fmt.Errorf("DeleteUser removed %d sessions, want 1", n)
				}
				return err
			},
			func(t *testing.T, r *renewal) {
				if err := r.renew(); err != nil {
					t.Errorf("renewal: %v", err)
				}
			},
			func(t *testing.T, r *renewal, err error) {
				if err != nil {
					t.Error(err)
				}
				live(t, r.s, "kept session renewed first", r.to)
				ended(t, r.s, "DeleteUser keeping another", r.other)
			}},
		{"RenewalHeld/Delete", (*renewal).renew,
			func(t *testing.T, r *renewal) {
				if err := r.s.Delete(ctx, r.from); err != nil {
					t.Error(err)
				}
			},
			func(t *testing.T, r *renewal, err error) {
				if !errors.Is(err, driver.ErrNotFound) {
					t.Errorf("renewal after Delete: got %v, want ErrNotFound", err)
				}
				ended(t, r.s, "after Delete", r.from, r.to)
				live(t, r.s, "the user's other session", r.other)
			}},
		{"DeleteHeld/Renewal",
			func(r *renewal) error { return r.s.Delete(ctx, r.from) },
			func(t *testing.T, r *renewal) {
				if err := r.renew(); err != nil {
					t.Errorf("renewal: %v", err)
				}
			},
			func(t *testing.T, r *renewal, err error) {
				if err != nil {
					t.Error(err)
				}
				ended(t, r.s, "renewed, then Delete", r.from, r.to)
				listed(t, r.s, r.user, "after Delete", r.other)
			}},
	}
	for _, d := range deployments {
		if d.name == "Cluster" {
			continue // see the TestClusterPaused tests
		}
		t.Run(d.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					client := connect(t, d)
					s := newTestStore(t, client)
					r := newRenewal(t, s)
					hook := &pauseHook{match: isScript, g: newGate()}
					client.AddHook(hook)
					err := inGap(t, hook.g, func() error { return tc.op(r) }, func() { tc.gap(t, r) })
					tc.want(t, r, err)
				})
			}
		})
	}
}
