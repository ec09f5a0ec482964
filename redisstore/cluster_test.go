package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/redis/go-redis/v9"
)

func clusterStore(t *testing.T) (*Store, *redis.ClusterClient) {
	t.Helper()
	client := connect(t, deployments[1])
	s := newTestStore(t, client)
	if !s.cluster {
		t.Fatal("store on a ClusterClient is not in cluster mode")
	}
	return s, client.(*redis.ClusterClient)
}

func keySlot(t *testing.T, c *redis.ClusterClient, key string) int64 {
	t.Helper()
	n, err := c.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// slotsApart returns two hashes whose records live on different slots.
func slotsApart(t *testing.T, s *Store, c *redis.ClusterClient) (driver.Hash, driver.Hash) {
	t.Helper()
	a := hash(t)
	for range 100 {
		b := hash(t)
		if keySlot(t, c, s.sessionKey(a)) != keySlot(t, c, s.sessionKey(b)) {
			return a, b
		}
	}
	t.Fatal("no two hashes on different slots in 100 tries")
	return a, a
}

// TestClusterKeys checks the key layout the package doc describes: a
// user's index and its pending hash share one slot whatever the user ID,
// and a renewal really moves a session between slots.
func TestClusterKeys(t *testing.T) {
	s, c := clusterStore(t)
	ctx := context.Background()
	for _, user := range []string{"alice", "}{", "{x}", "a}b{c", "%"} {
		idx := s.userKey(user)
		if got, want := keySlot(t, c, pendingKey(idx)), keySlot(t, c, idx); got != want {
			t.Errorf("user %q: pending hash on slot %d, index on slot %d", user, got, want)
		}
	}
	from, to := slotsApart(t, s, c)
	now := time.Now()
	if err := s.Commit(ctx, &driver.Commit{ID: from, Create: true, Meta: meta("", now), Set: map[string]any{"cart": 3}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, &driver.Commit{ID: to, From: from, Create: true, Meta: meta("carol", now),
		Set: map[string]any{"step": "login"}}); err != nil {
		t.Fatalf("renewal across slots: %v", err)
	}
	if _, err := s.Load(ctx, from); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("Load(From) after renewal: got %v, want ErrNotFound", err)
	}
	rec, err := s.Load(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rec.Values["cart"]) != "3" || rec.Values["step"] != "login" || rec.UserID != "carol" {
		t.Fatalf("renewed record: %v %+v", rec.Values, rec.Meta)
	}
	infos, err := s.ListUser(ctx, "carol")
	if err != nil || len(infos) != 1 || infos[0].ID != to {
		t.Fatalf("ListUser after login: %d sessions, %v", len(infos), err)
	}
}

// TestClusterRenewFailures checks that a renewal that cannot complete on
// Cluster puts the old record back and leaves no reservation that counts
// against the limit.
func TestClusterRenewFailures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// setup stores what the test needs and returns the commit to try.
		setup    func(t *testing.T, s *Store, from, to driver.Hash, user string) *driver.Commit
		want     error
		fromKept bool
	}{
		{"IntoLiveHash", func(t *testing.T, s *Store, from, to driver.Hash, user string) *driver.Commit {
			mustCommit(t, s, &driver.Commit{ID: from, Create: true, Meta: meta(user, time.Now()), Set: map[string]any{"a": 1}})
			mustCommit(t, s, &driver.Commit{ID: to, Create: true, Meta: meta("someone-else", time.Now())})
			return &driver.Commit{ID: to, From: from, Create: true, Meta: meta(user, time.Now()), MaxPerUser: 1}
		}, driver.ErrExists, true},
		{"FromMissing", func(t *testing.T, s *Store, from, to driver.Hash, user string) *driver.Commit {
			return &driver.Commit{ID: to, From: from, Create: true, Meta: meta(user, time.Now()), MaxPerUser: 1}
		}, driver.ErrNotFound, false},
		{"AtLimit", func(t *testing.T, s *Store, from, to driver.Hash, user string) *driver.Commit {
			mustCommit(t, s, &driver.Commit{ID: hash(t), Create: true, Meta: meta(user, time.Now())})
			mustCommit(t, s, &driver.Commit{ID: from, Create: true, Meta: meta("", time.Now()), Set: map[string]any{"a": 1}})
			return &driver.Commit{ID: to, From: from, Create: true, Meta: meta(user, time.Now()), MaxPerUser: 1}
		}, driver.ErrSessionLimit, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := clusterStore(t)
			from, to := slotsApart(t, s, c)
			user := "renewfail-" + randomPrefix(t)
			commit := tc.setup(t, s, from, to, user)
			before, err := s.ListUser(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(ctx, commit); !errors.Is(err, tc.want) {
				t.Fatalf("Commit: got %v, want %v", err, tc.want)
			}
			if tc.fromKept {
				rec, err := s.Load(ctx, from)
				if err != nil {
					t.Fatalf("Load(From) after the failed renewal: %v", err)
				}
				if fmt.Sprint(rec.Values["a"]) != "1" {
					t.Errorf("From's values after the failed renewal: %v", rec.Values)
				}
				ttl, err := c.PTTL(ctx, s.sessionKey(from)).Result()
				if err != nil || ttl <= 0 {
					t.Errorf("From's PTTL after the failed renewal: %v, %v; want a TTL", ttl, err)
				}
			}
			after, err := s.ListUser(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Errorf("ListUser: %d sessions before, %d after the failed renewal", len(before), len(after))
			}
			// The failed commit left no reservation that counts: a session
			// fits exactly as many places as before.
			n, err := c.ZCard(ctx, s.userKey(user)).Result()
			if err != nil || int(n) != len(before) {
				t.Errorf("index holds %d entries, %v; want %d", n, err, len(before))
			}
		})
	}
}

func mustCommit(t *testing.T, s *Store, c *driver.Commit) {
	t.Helper()
	if err := s.Commit(context.Background(), c); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// TestClusterEvictedInFlight drives the reservation protocol by hand: a
// commit whose reserved place is evicted by a later one before it finishes
// deletes its own record when it finishes, so the limit holds.
func TestClusterEvictedInFlight(t *testing.T) {
	s, _ := clusterStore(t)
	ctx := context.Background()
	user := "inflight-" + randomPrefix(t)
	now := time.Now()
	b, c := hash(t), hash(t)
	cb := &driver.Commit{ID: b, Create: true, Meta: meta(user, now), MaxPerUser: 1, EvictOldest: true}
	ab, err := s.prepare(cb)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := s.reserve(ctx, cb, ab, true)
	if err != nil {
		t.Fatalf("reserve b: %v", err)
	}
	// c logs in while b is between reserve and write; it evicts b.
	mustCommit(t, s, &driver.Commit{ID: c, Create: true, Meta: meta(user, now.Add(time.Millisecond)), MaxPerUser: 1, EvictOldest: true})
	// b's write lands, then b finishes and finds itself evicted.
	reply, err := s.runCommit(ctx, cb, ab, opCreate, indexNone, rb.deadline)
	if err != nil || reply[0] != "OK" {
		t.Fatalf("write b: %v %v", reply, err)
	}
	if err := s.finish(ctx, cb, ab, rb, nil); err != nil {
		t.Fatalf("finish b: %v", err)
	}
	if _, err := s.Load(ctx, b); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Load(b): got %v, want ErrNotFound (evicted while in flight)", err)
	}
	infos, err := s.ListUser(ctx, user)
	if err != nil || len(infos) != 1 || infos[0].ID != c {
		t.Fatalf("ListUser: %d sessions, %v; want only c", len(infos), err)
	}
}

// TestClusterReservation checks the two guards of a reservation: a write
// that comes after the reservation's deadline writes nothing, and a
// ListUser that finds a reserved place without a record does not prune it.
func TestClusterReservation(t *testing.T) {
	s, c := clusterStore(t)
	ctx := context.Background()
	user := "resv-" + randomPrefix(t)
	id := hash(t)
	cm := &driver.Commit{ID: id, Create: true, Meta: meta(user, time.Now())}
	a, err := s.prepare(cm)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.reserve(ctx, cm, a, true)
	if err != nil {
		t.Fatal(err)
	}
	if infos, err := s.ListUser(ctx, user); err != nil || len(infos) != 0 {
		t.Fatalf("ListUser with only a reservation: %d sessions, %v; want none", len(infos), err)
	}
	if _, err := c.ZScore(ctx, a.uidx, id.String()).Result(); err != nil {
		t.Fatalf("the reserved entry was pruned: %v", err)
	}
	reply, err := s.runCommit(ctx, cm, a, opCreate, indexNone, r.deadline-reservationGrace.Milliseconds())
	if err != nil || reply[0] != "STALE" {
		t.Fatalf("write after the deadline: got %v, %v; want STALE", reply, err)
	}
	if n, err := c.Exists(ctx, s.sessionKey(id)).Result(); err != nil || n != 0 {
		t.Fatalf("a stale write left a record: %d, %v", n, err)
	}
}

// TestConcurrentLogins runs many concurrent logins of one user with a
// limit, on every deployment, and checks the invariants: never more live
// sessions than the limit, and every live session in the user's index.
func TestConcurrentLogins(t *testing.T) {
	const logins, limit = 24, 3
	forEachDeployment(t, func(t *testing.T, client redis.UniversalClient) {
		for _, evict := range []bool{true, false} {
			t.Run(fmt.Sprintf("EvictOldest=%v", evict), func(t *testing.T) {
				s := newTestStore(t, client)
				ctx := context.Background()
				user := "logins-" + randomPrefix(t)
				anon := make([]driver.Hash, logins)
				ids := make([]driver.Hash, logins)
				for i := range anon {
					anon[i], ids[i] = hash(t), hash(t)
					mustCommit(t, s, &driver.Commit{ID: anon[i], Create: true, Meta: meta("", time.Now())})
				}
				var wg sync.WaitGroup
				errs := make([]error, logins)
				for i := range logins {
					wg.Go(func() {
						m := meta(user, time.Now().Add(time.Duration(i)*time.Millisecond))
						errs[i] = s.Commit(ctx, &driver.Commit{ID: ids[i], From: anon[i], Create: true, Meta: m,
							MaxPerUser: limit, EvictOldest: evict})
					})
					if i%4 == 0 {
						wg.Go(func() { _, _ = s.ListUser(ctx, user) })
					}
				}
				wg.Wait()
				ok := 0
				for i, err := range errs {
					switch {
					case err == nil:
						ok++
					case !evict && errors.Is(err, driver.ErrSessionLimit):
					default:
						t.Errorf("login %d: %v", i, err)
					}
				}
				live := map[driver.Hash]bool{}
				for _, id := range ids {
					if _, err := s.Load(ctx, id); err == nil {
						live[id] = true
					} else if !errors.Is(err, driver.ErrNotFound) {
						t.Fatal(err)
					}
				}
				if len(live) > limit {
					t.Errorf("%d live sessions, limit %d", len(live), limit)
				}
				if !evict && ok != limit {
					t.Errorf("%d logins succeeded without eviction, want exactly %d", ok, limit)
				}
				infos, err := s.ListUser(ctx, user)
				if err != nil {
					t.Fatal(err)
				}
				listed := map[driver.Hash]bool{}
				for _, in := range infos {
					listed[in.ID] = true
				}
				for id := range live {
					if !listed[id] {
						t.Errorf("live session %s missing from the user's index", id.Handle())
					}
				}
				if len(listed) != len(live) {
					t.Errorf("ListUser lists %d sessions, %d are live", len(listed), len(live))
				}
			})
		}
	})
}

// TestClusterEvictionCut cuts a login with MaxPerUser 1 and EvictOldest
// after one of its steps (its context is cancelled there, as a request's
// deadline would), after its reservation chose the user's session for
// eviction, and logs in again: once that second login returns, at most
// one session of the user is live, and ListUser names it.
func TestClusterEvictionCut(t *testing.T) {
	tests := []struct {
		name  string
		step  string
		renew bool // the cut login renews an anonymous session
	}{
		{"CreateReserved", stepCommitReserved, false},
		{"RenewReserved", stepRenewReserved, true},
		{"RenewTaken", stepRenewTaken, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := clusterStore(t)
			user := "cut-" + randomPrefix(t)
			now := time.Now()
			old, cut, next := hash(t), hash(t), hash(t)
			login := func(id driver.Hash, at time.Time) *driver.Commit {
				return &driver.Commit{ID: id, Create: true, Meta: meta(user, at), MaxPerUser: 1, EvictOldest: true}
			}
			mustCommit(t, s, login(old, now))
			c := login(cut, now.Add(time.Millisecond))
			if tt.renew {
				c.From = hash(t)
				mustCommit(t, s, &driver.Commit{ID: c.From, Create: true, Meta: meta("", now)})
			}
			ctx, cancel := context.WithCancel(context.Background())
			s.pause = func(step string) {
				if step == tt.step {
					cancel()
				}
			}
			if err := s.Commit(ctx, c); !errors.Is(err, context.Canceled) {
				t.Fatalf("cut login: got %v, want context.Canceled", err)
			}
			s.pause = nil
			mustCommit(t, s, login(next, now.Add(2*time.Millisecond)))
			var alive []driver.Hash
			for _, id := range []driver.Hash{old, cut, next} {
				if _, err := s.Load(context.Background(), id); err == nil {
					alive = append(alive, id)
				}
			}
			if len(alive) > 1 {
				t.Errorf("%d live sessions after the second login, limit 1", len(alive))
			}
			listed(t, s, user, "after the second login", alive...)
		})
	}
}

// TestClusterCutRenewalLockout cuts a renewal after its take (the old
// record is a pending forward, the new one never written) for a user with
// MaxPerUser 1 and no eviction. A login right after is refused: the
// session in transit may still land. Once the reservation's grace has
// passed since the take (the test ages the marks the way the clock would),
// the renewal can no longer write its record, and a login succeeds: the
// user is locked out for the grace, no longer.
func TestClusterCutRenewalLockout(t *testing.T) {
	s, client := clusterStore(t)
	ctx := context.Background()
	user := "lockout-" + randomPrefix(t)
	now := time.Now()
	login := func(id driver.Hash, at time.Time) error {
		return s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: meta(user, at), MaxPerUser: 1})
	}
	from, to := hash(t), hash(t)
	if err := login(from, now); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	s.pause = func(step string) {
		if step == stepRenewTaken {
			cancel()
		}
	}
	err := s.Commit(cctx, &driver.Commit{ID: to, From: from, Create: true, Meta: meta(user, now), MaxPerUser: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cut renewal: got %v, want context.Canceled", err)
	}
	s.pause = nil
	if err := login(hash(t), now.Add(time.Millisecond)); !errors.Is(err, driver.ErrSessionLimit) {
		t.Fatalf("login while the renewal may still land: got %v, want ErrSessionLimit", err)
	}
	// The grace has passed since the reservation and the take.
	then := time.Now().Add(-reservationGrace - time.Second).UnixMilli()
	idx := s.userKey(user)
	if err := client.HSet(ctx, pendingKey(idx), to.String(), fmt.Sprintf("%d/%s", then, from)).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := then + reservationGrace.Milliseconds()/2
	if err := client.HSet(ctx, s.sessionKey(from), fieldPending, deadline).Err(); err != nil {
		t.Fatal(err)
	}
	if err := login(hash(t), now.Add(2*time.Millisecond)); err != nil {
		t.Errorf("login a grace after the cut renewal: %v", err)
	}
}

// TestClusterEvictionAbandoned: login V reserves its place; login D
// reserves after it and chooses V for eviction; login F reserves, no longer
// counts V, and lands while V's record is not written yet (so F cannot
// delete it). Then D fails and undoes its choice, and V lands. V must
// still be ended: F was let in because V was on its way out.
func TestClusterEvictionAbandoned(t *testing.T) {
	s, _ := clusterStore(t)
	ctx := context.Background()
	user := "abandoned-" + randomPrefix(t)
	now := time.Now()
	login := func(id driver.Hash, at time.Time) *driver.Commit {
		return &driver.Commit{ID: id, Create: true, Meta: meta(user, at), MaxPerUser: 1, EvictOldest: true}
	}
	v, d, f := hash(t), hash(t), hash(t)
	cv := login(v, now)
	av, err := s.prepare(cv)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := s.reserve(ctx, cv, av, true)
	if err != nil {
		t.Fatalf("reserve v: %v", err)
	}
	cd := login(d, now.Add(time.Millisecond))
	ad, err := s.prepare(cd)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := s.reserve(ctx, cd, ad, true)
	if err != nil || len(rd.marked) != 1 || rd.marked[0] != v.String() {
		t.Fatalf("reserve d: %v, %+v; want v chosen for eviction", err, rd)
	}
	mustCommit(t, s, login(f, now.Add(2*time.Millisecond)))
	if err := s.abandon(ctx, cd, ad, rd); err != nil {
		t.Fatalf("abandon d: %v", err)
	}
	reply, err := s.runCommit(ctx, cv, av, opCreate, indexNone, rv.deadline)
	if err != nil || reply[0] != "OK" {
		t.Fatalf("write v: %v %v", reply, err)
	}
	if err := s.finish(ctx, cv, av, rv, nil); err != nil {
		t.Fatalf("finish v: %v", err)
	}
	var alive []driver.Hash
	for _, id := range []driver.Hash{v, d, f} {
		if _, err := s.Load(ctx, id); err == nil {
			alive = append(alive, id)
		}
	}
	if len(alive) != 1 || alive[0] != f {
		t.Errorf("%d live sessions (f live: %v), want only f", len(alive), slices.Contains(alive, f))
	}
	listed(t, s, user, "after the logins", alive...)
}
