package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/storetest"
	"github.com/redis/go-redis/v9"
)

// serverEnv returns the value of the environment variable that names a test
// server. Unset, the test fails under CI and is skipped otherwise.
func serverEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not set: scripts/test must start the Redis servers (redisstore/testservers.sh)", name)
		}
		t.Skipf("%s not set; start servers with: eval \"$(./testservers.sh start DIR)\"", name)
	}
	return v
}

// deployment is one kind of Redis deployment the tests run against.
type deployment struct {
	name string
	env  string
	// client connects to the deployment named by the variable's value.
	client func(t testing.TB, v string) redis.UniversalClient
}

var deployments = []deployment{
	{"Standalone", "LATCH_TEST_REDIS_URL", func(t testing.TB, v string) redis.UniversalClient {
		o, err := redis.ParseURL(v)
		if err != nil {
			t.Fatalf("LATCH_TEST_REDIS_URL: %v", err)
		}
		return redis.NewClient(o)
	}},
	{"Cluster", "LATCH_TEST_REDIS_CLUSTER", func(t testing.TB, v string) redis.UniversalClient {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(v, ",")})
	}},
	{"Sentinel", "LATCH_TEST_REDIS_SENTINEL", func(t testing.TB, v string) redis.UniversalClient {
		master, addrs, ok := strings.Cut(v, "@")
		if !ok || master == "" || addrs == "" {
			t.Fatalf("LATCH_TEST_REDIS_SENTINEL: want mastername@host:port,...")
		}
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: master, SentinelAddrs: strings.Split(addrs, ","),
		})
	}},
}

var versionOnce sync.Map // deployment name -> logged

// connect returns a client for d and logs the server version once.
func connect(t *testing.T, d deployment) redis.UniversalClient {
	t.Helper()
	client := d.client(t, serverEnv(t, d.env))
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("%s: ping: %v", d.env, err)
	}
	if _, done := versionOnce.LoadOrStore(d.name, true); !done {
		t.Logf("%s: redis_version %s", d.name, serverVersion(t, ctx, client))
	}
	return client
}

func serverVersion(t *testing.T, ctx context.Context, client redis.UniversalClient) string {
	t.Helper()
	info, err := client.Info(ctx, "server").Result()
	if err != nil {
		t.Fatalf("INFO server: %v", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return "unknown"
}

// randomPrefix returns a key prefix that no other test uses, so tests can
// share a server.
func randomPrefix(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "latchtest:" + hex.EncodeToString(b[:]) + ":"
}

// newTestStore returns a store on client with a fresh prefix, whose keys are
// removed when the test ends.
func newTestStore(t *testing.T, client redis.UniversalClient, opts ...Options) *Store {
	t.Helper()
	prefix := randomPrefix(t)
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Prefix = prefix
	s, err := New(client, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { removeKeys(t, client, prefix) })
	return s
}

// removeKeys deletes every key under prefix (SCAN is fine in a test).
func removeKeys(t testing.TB, client redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	switch c := client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	}
	if err != nil {
		t.Errorf("cleanup of %s*: %v", prefix, err)
	}
}

// forEachDeployment runs fn as a subtest per deployment.
func forEachDeployment(t *testing.T, fn func(t *testing.T, client redis.UniversalClient)) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) { fn(t, connect(t, d)) })
	}
}

func TestConformance(t *testing.T) {
	forEachDeployment(t, func(t *testing.T, client redis.UniversalClient) {
		storetest.Run(t, func(t *testing.T) driver.Store { return newTestStore(t, client) })
	})
}

// TestModelSeeds runs storetest's model with more seeds than the Model case
// does. On Cluster a commit is a sequence of scripts on several slots; these
// seeds found what one seed did not: a renewal to an expired result left
// no forward, an update with Clear dropped the field a forward's Delete
// recognises its record by, an update that changed Created left the index
// score (the eviction order) behind, a failed commit left its score and
// its reservation mark behind, and a written commit's mark counted an
// entry against MaxPerUser after its session was gone.
func TestModelSeeds(t *testing.T) {
	seeds := 24
	if testing.Short() {
		seeds = 4
	}
	forEachDeployment(t, func(t *testing.T, client redis.UniversalClient) {
		for seed := range uint64(seeds) {
			t.Run(fmt.Sprint(seed), func(t *testing.T) {
				storetest.RunModel(t, newTestStore(t, client), storetest.ModelConfig{Ops: 300, Seed: 100 + seed})
			})
		}
	})
}

// counter is a go-redis hook that counts round trips: every command or
// pipeline sent on its own.
type counter struct{ n atomic.Int64 }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

func hash(t *testing.T) driver.Hash {
	t.Helper()
	var h driver.Hash
	if _, err := rand.Read(h[:]); err != nil {
		t.Fatal(err)
	}
	return h
}

func meta(user string, now time.Time) driver.Meta {
	return driver.Meta{
		UserID: user, Created: now, LastSeen: now, AuthTime: now,
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
	}
}

// TestRoundTrips proves that a Load is one round trip, and a Commit too on
// a standalone or Sentinel deployment, once the scripts are cached.
func TestRoundTrips(t *testing.T) {
	for _, d := range deployments {
		if d.name == "Cluster" {
			continue // see TestClusterRoundTrips
		}
		t.Run(d.name, func(t *testing.T) {
			client := connect(t, d)
			hook := &counter{}
			client.AddHook(hook)
			s := newTestStore(t, client)
			ctx := context.Background()
			now := time.Now()
			user := "rt-" + randomPrefix(t)
			a, b := hash(t), hash(t)
			// Warm up: load the scripts into the server's cache.
			if err := s.Commit(ctx, &driver.Commit{ID: a, Create: true, Meta: meta("", now)}); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, hash(t)); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name string
				op   func() error
			}{
				{"Load", func() error { _, err := s.Load(ctx, a); return err }},
				{"Commit", func() error {
					return s.Commit(ctx, &driver.Commit{ID: a, Meta: meta("", now), Set: map[string]any{"k": 1}})
				}},
				{"CommitLoginRenewWithLimit", func() error {
					return s.Commit(ctx, &driver.Commit{ID: b, From: a, Create: true, Meta: meta(user, now),
						MaxPerUser: 2, EvictOldest: true, Set: map[string]any{"k": 2}})
				}},
				{"Delete", func() error { return s.Delete(ctx, b) }},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					before := hook.n.Load()
					if err := tc.op(); err != nil {
						t.Fatalf("%s: %v", tc.name, err)
					}
					if got := hook.n.Load() - before; got != 1 {
						t.Errorf("%s took %d round trips, want 1", tc.name, got)
					}
				})
			}
		})
	}
}

// TestClusterRoundTrips checks the Cluster costs the package doc states:
// Load and a commit that changes no user are one round trip each; a login
// (a renewal into a user) four, six with a session limit (a pipeline to
// two nodes at once counts as one); a Delete two,
// and one more for each forward it follows; a DeleteUser three, and one
// more for each hop of forwards.
func TestClusterRoundTrips(t *testing.T) {
	client := connect(t, deployments[1])
	s := newTestStore(t, client)
	ctx := context.Background()
	now := time.Now()
	user := "crt-" + randomPrefix(t)
	a, anon, b, anon2, c, e := hash(t), hash(t), hash(t), hash(t), hash(t), hash(t)
	mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta(user, now)})
	mustCommit(t, s, &driver.Commit{ID: anon, Create: true, Meta: meta("", now)})
	mustCommit(t, s, &driver.Commit{ID: anon2, Create: true, Meta: meta("", now)})
	mustCommit(t, s, &driver.Commit{ID: e, Create: true, Meta: meta("", now)})
	mustCommit(t, s, &driver.Commit{ID: hash(t), From: e, Create: true, Meta: meta("", now)})
	// Warm up: load every script into the servers' caches.
	warm := hash(t)
	mustCommit(t, s, &driver.Commit{ID: warm, Create: true, Meta: meta(user, now)})
	mustCommit(t, s, &driver.Commit{ID: hash(t), From: warm, Create: true, Meta: meta(user, now), MaxPerUser: 9})
	if err := s.Delete(ctx, warm); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteUser(ctx, "nobody-"+user, driver.Hash{}); err != nil {
		t.Fatal(err)
	}
	hook := &counter{}
	client.AddHook(hook)
	tests := []struct {
		name string
		want int64
		op   func() error
	}{
		{"Load", 1, func() error { _, err := s.Load(ctx, a); return err }},
		{"CommitSameUser", 1, func() error {
			m := meta(user, now)
			m.LastSeen = now.Add(time.Minute)
			return s.Commit(ctx, &driver.Commit{ID: a, Meta: m, Set: map[string]any{"k": 1}})
		}},
		{"Login", 4, func() error {
			return s.Commit(ctx, &driver.Commit{ID: b, From: anon, Create: true, Meta: meta(user, now)})
		}},
		{"LoginWithLimit", 6, func() error {
			return s.Commit(ctx, &driver.Commit{ID: c, From: anon2, Create: true, Meta: meta(user, now), MaxPerUser: 9})
		}},
		{"DeleteRecord", 2, func() error { return s.Delete(ctx, b) }},
		{"DeleteThroughForward", 3, func() error { return s.Delete(ctx, anon2) }},
		{"DeleteUser", 3, func() error {
			_, err := s.DeleteUser(ctx, user, driver.Hash{})
			return err
		}},
		{"LoadForward", 1, func() error {
			if _, err := s.Load(ctx, e); !errors.Is(err, driver.ErrRenewed) {
				return fmt.Errorf("Load of a forward: %v", err)
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := hook.n.Load()
			if err := tc.op(); err != nil {
				t.Fatal(err)
			}
			if got := hook.n.Load() - before; got != tc.want {
				t.Errorf("%s took %d round trips, want %d", tc.name, got, tc.want)
			}
		})
	}
}

// TestRecordTTL checks that every record and index carries a Redis TTL no
// later than its deadline, and that a commit whose deadline passed leaves
// no key behind.
func TestRecordTTL(t *testing.T) {
	forEachDeployment(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		now := time.Now()
		user := "ttl-" + randomPrefix(t)
		tests := []struct {
			name    string
			meta    driver.Meta
			wantTTL time.Duration // 0: no key
		}{
			{"Idle", meta(user, now), 30 * time.Minute},
			{"Absolute", func() driver.Meta {
				m := meta(user, now)
				m.AuthTime = now.Add(-12*time.Hour + 10*time.Minute)
				return m
			}(), 10 * time.Minute},
			{"Expired", func() driver.Meta {
				m := meta(user, now.Add(-time.Hour))
				return m
			}(), 0},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s := newTestStore(t, client)
				id := hash(t)
				if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: tc.meta}); err != nil {
					t.Fatal(err)
				}
				ttl, err := client.PTTL(ctx, s.sessionKey(id)).Result()
				if err != nil {
					t.Fatal(err)
				}
				if tc.wantTTL == 0 {
					if ttl != -2*time.Nanosecond && ttl != -2*time.Millisecond && ttl >= 0 {
						t.Fatalf("PTTL = %v, want no key", ttl)
					}
					return
				}
				if ttl <= 0 || ttl > tc.wantTTL || ttl < tc.wantTTL-time.Minute {
					t.Errorf("record PTTL = %v, want at most %v and close to it", ttl, tc.wantTTL)
				}
				ittl, err := client.PTTL(ctx, s.userKey(user)).Result()
				if err != nil {
					t.Fatal(err)
				}
				if ittl < ttl-time.Second {
					t.Errorf("index PTTL = %v, shorter than the record's %v", ittl, ttl)
				}
			})
		}
	})
}

// TestClock checks that liveness follows the injected clock, not the
// servers' clocks.
func TestClock(t *testing.T) {
	forEachDeployment(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		var mu sync.Mutex
		now := time.Now()
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		s := newTestStore(t, client, Options{Now: clock})
		user := "clock-" + randomPrefix(t)
		id := hash(t)
		if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: meta(user, clock())}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(ctx, id); err != nil {
			t.Fatalf("Load before the deadline: %v", err)
		}
		advance(31 * time.Minute)
		if _, err := s.Load(ctx, id); !errors.Is(err, driver.ErrNotFound) {
			t.Fatalf("Load after the idle deadline: got %v, want ErrNotFound", err)
		}
		if infos, err := s.ListUser(ctx, user); err != nil || len(infos) != 0 {
			t.Fatalf("ListUser after the deadline: got %d sessions, %v; want none", len(infos), err)
		}
		err := s.Commit(ctx, &driver.Commit{ID: id, Meta: meta(user, clock())})
		if !errors.Is(err, driver.ErrNotFound) {
			t.Fatalf("Commit after the deadline: got %v, want ErrNotFound", err)
		}
	})
}

// TestHostileNames checks user IDs that contain hash-tag braces and other
// bytes, on every deployment (on Cluster a bad tag would split a user's
// keys over slots and fail with CROSSSLOT).
func TestHostileNames(t *testing.T) {
	forEachDeployment(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		tests := []struct{ name, user string }{
			{"Braces", "}{"},
			{"OpenBrace", "{alice"},
			{"CloseFirst", "}x{y}"},
			{"Email", "alice@example.com"},
			{"Unicode", "ユーザー"},
			{"Binary", "\x00\xff\n"},
			{"Percent", "%7B"},
		}
		s := newTestStore(t, client)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				a, b := hash(t), hash(t)
				now := time.Now()
				for _, id := range []driver.Hash{a, b} {
					err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: meta(tc.user, now), MaxPerUser: 5})
					if err != nil {
						t.Fatalf("Commit: %v", err)
					}
				}
				infos, err := s.ListUser(ctx, tc.user)
				if err != nil || len(infos) != 2 {
					t.Fatalf("ListUser: got %d sessions, %v; want 2", len(infos), err)
				}
				n, err := s.DeleteUser(ctx, tc.user, a)
				if err != nil || n != 1 {
					t.Fatalf("DeleteUser: got %d, %v; want 1", n, err)
				}
				if _, err := s.Load(ctx, a); err != nil {
					t.Fatalf("Load(kept): %v", err)
				}
			})
		}
	})
}

// TestCorruptRecord checks that a record damaged in Redis gives an error
// that names the session by handle only, not ErrNotFound and not a panic.
func TestCorruptRecord(t *testing.T) {
	forEachDeployment(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		future := time.Now().Add(time.Hour).UnixMilli()
		tests := []struct {
			name   string
			fields []any
		}{
			{"BadExpiry", []any{"meta", "{}", "exp", "soon"}},
			{"BadMeta", []any{"meta", "{", "exp", future}},
			{"BadValue", []any{"meta", "{}", "exp", future, "v:k", "{nope"}},
			{"WrongType", nil},
		}
		s := newTestStore(t, client)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				id := hash(t)
				key := s.sessionKey(id)
				var err error
				if tc.fields == nil {
					err = client.Set(ctx, key, "x", time.Minute).Err()
				} else {
					err = client.HSet(ctx, key, tc.fields...).Err()
				}
				if err != nil {
					t.Fatal(err)
				}
				_, err = s.Load(ctx, id)
				if err == nil || errors.Is(err, driver.ErrNotFound) {
					t.Fatalf("Load: got %v, want a corruption error", err)
				}
				if !strings.HasPrefix(err.Error(), "redisstore: ") || strings.Contains(err.Error(), id.String()) {
					t.Errorf("error %q: want the redisstore prefix and no full hash", err)
				}
			})
		}
	})
}

func TestNew(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	tests := []struct {
		name    string
		client  redis.UniversalClient
		opts    Options
		wantErr string
	}{
		{"Defaults", client, Options{}, ""},
		{"Prefix", client, Options{Prefix: "app:"}, ""},
		{"BracePrefix", client, Options{Prefix: "a{b}:"}, "may not contain"},
		{"NegativeReplicaAcks", client, Options{ReplicaAcks: -1}, "negative"},
		{"ReplicaAcksWithoutTimeout", client, Options{ReplicaAcks: 1}, "ReplicaAckTimeout"},
		{"NilClient", nil, Options{}, "nil client"},
		{"TypedNilClient", (*redis.Client)(nil), Options{}, "nil client"},
		{"TypedNilCluster", (*redis.ClusterClient)(nil), Options{}, "nil client"},
		{"Ring", ring, Options{}, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.client, tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "redisstore: ") {
				t.Fatalf("New: got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestCommitInvalid checks commits refused before any round trip.
func TestCommitInvalid(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	s, err := New(client, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := driver.Hash{1}
	tests := []struct {
		name string
		c    *driver.Commit
		want string
	}{
		{"Nil", nil, "nil Commit"},
		{"ZeroID", &driver.Commit{Create: true}, "zero ID"},
		{"FromIsID", &driver.Commit{ID: h, From: h}, "From equals ID"},
		{"BadValue", &driver.Commit{ID: h, Create: true, Set: map[string]any{"f": func() {}}}, "value \"f\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Commit(context.Background(), tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Commit: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestListUserPrunes checks that ListUser drops the index entry of a
// session whose key is gone (expired in Redis or deleted behind the
// store's back), and that on Cluster it spares, for the reservation's
// grace, an entry whose commit is in flight (reserved, record not written
// yet). Before, an entry written less than the grace ago was spared too,
// and counted against MaxPerUser after its session was gone.
func TestListUserPrunes(t *testing.T) {
	forEachDeployment(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		s := newTestStore(t, client)
		user := "prune-" + randomPrefix(t)
		gone, kept := hash(t), hash(t)
		for _, id := range []driver.Hash{gone, kept} {
			mustCommit(t, s, &driver.Commit{ID: id, Create: true, Meta: meta(user, time.Now())})
		}
		if err := client.Del(ctx, s.sessionKey(gone)).Err(); err != nil {
			t.Fatal(err)
		}
		if s.cluster {
			// Written a second ago: prune compares the write's server time
			// with the time ListUser reads the index, in milliseconds, and
			// spares an entry written in the same millisecond.
			written := fmt.Sprintf("n%d", time.Now().Add(-time.Second).UnixMilli())
			if err := client.HSet(ctx, pendingKey(s.userKey(user)), gone.String(), written).Err(); err != nil {
				t.Fatal(err)
			}
		}
		card := func() int64 {
			n, err := client.ZCard(ctx, s.userKey(user)).Result()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		list := func() {
			infos, err := s.ListUser(ctx, user)
			if err != nil || len(infos) != 1 || infos[0].ID != kept {
				t.Fatalf("ListUser: %d sessions, %v; want only the kept one", len(infos), err)
			}
		}
		list()
		if n := card(); n != 1 {
			t.Fatalf("index entries after ListUser: %d, want 1", n)
		}
		if !s.cluster {
			return
		}
		// A commit in flight: its place reserved now, its record not
		// written yet.
		idx := s.userKey(user)
		flight := hash(t).String()
		if err := client.ZAdd(ctx, idx, redis.Z{Score: 1, Member: flight}).Err(); err != nil {
			t.Fatal(err)
		}
		if err := client.HSet(ctx, pendingKey(idx), flight, fmt.Sprintf("%d/", time.Now().UnixMilli())).Err(); err != nil {
			t.Fatal(err)
		}
		list()
		if n := card(); n != 2 {
			t.Fatalf("index entries with a commit in flight: %d, want 2 (grace)", n)
		}
		// End the grace of the reservation.
		if err := client.HDel(ctx, pendingKey(idx), flight).Err(); err != nil {
			t.Fatal(err)
		}
		list()
		if n := card(); n != 1 {
			t.Fatalf("index entries after the grace: %d, want 1", n)
		}
	})
}

// TestReplicaAcks checks WithReplicaAcks: on a server without replicas a
// revocation reports that it is not replicated; behind Sentinel (whose
// master has a replica) it succeeds. Routine commits never wait.
// waitForOnlineReplica waits until the master behind client reports a
// replica in state online, for at most 30 seconds.
func waitForOnlineReplica(t *testing.T, client redis.UniversalClient) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := client.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "state=online") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no online replica after 30 s: %v\n%s", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestReplicaAcks(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := connect(t, d)
			if d.name == "Cluster" {
				if _, err := New(client, Options{ReplicaAcks: 1, ReplicaAckTimeout: time.Second}); err == nil {
					t.Fatal("New accepted WithReplicaAcks on Cluster")
				}
				return
			}
			ctx := context.Background()
			wait := 200 * time.Millisecond // standalone: no replica, WAIT runs out
			if d.name == "Sentinel" {
				// A failover test may have just swapped master and replica:
				// wait until the replica has caught up with the new master.
				waitForOnlineReplica(t, client)
				wait = 2 * time.Second
			}
			s := newTestStore(t, client, Options{ReplicaAcks: 1, ReplicaAckTimeout: wait})
			user := "acks-" + randomPrefix(t)
			a, b, c := hash(t), hash(t), hash(t)
			mustCommit(t, s, &driver.Commit{ID: a, Create: true, Meta: meta(user, time.Now())})
			mustCommit(t, s, &driver.Commit{ID: c, Create: true, Meta: meta(user, time.Now())})
			renew := s.Commit(ctx, &driver.Commit{ID: b, From: a, Create: true, Meta: meta(user, time.Now())})
			_ = s.Delete(ctx, hash(t)) // warm the script cache
			hook := &counter{}
			client.AddHook(hook)
			del := s.Delete(ctx, b)
			if got := hook.n.Load(); got != 1 {
				t.Errorf("Delete with WAIT took %d round trips, want 1", got)
			}
			n, delUser := s.DeleteUser(ctx, user, driver.Hash{})
			replicated := d.name == "Sentinel"
			for name, err := range map[string]error{"renewal": renew, "Delete": del, "DeleteUser": delUser} {
				if replicated && err != nil {
					t.Errorf("%s: %v", name, err)
				}
				if !replicated && (err == nil || !strings.Contains(err.Error(), "0 of 1 replicas")) {
					t.Errorf("%s without replicas: got %v, want a replica error", name, err)
				}
			}
			// The writes happened either way.
			if n != 1 {
				t.Errorf("DeleteUser removed %d sessions, want 1", n)
			}
			for _, id := range []driver.Hash{a, b, c} {
				if _, err := s.Load(ctx, id); !errors.Is(err, driver.ErrNotFound) {
					t.Errorf("Load(%s): got %v, want ErrNotFound", id.Handle(), err)
				}
			}
		})
	}
	if _, err := New(redis.NewClient(&redis.Options{}), Options{ReplicaAcks: -1, ReplicaAckTimeout: time.Second}); err == nil {
		t.Error("New accepted a negative replica count")
	}
}

// TestListUserWithinGrace lists a session past its absolute deadline but
// within its Grace: the record is live until ExpiresAt, so the user's
// index must live as long (it used to be given the absolute deadline as
// its TTL, and vanished while such records were still live).
func TestListUserWithinGrace(t *testing.T) {
	forEachDeployment(t, func(t *testing.T, client redis.UniversalClient) {
		s := newTestStore(t, client)
		ctx := context.Background()
		user := "grace-" + randomPrefix(t)
		now := time.Now()
		m := meta(user, now)
		m.AuthTime = now.Add(-m.AbsoluteTimeout - time.Minute) // absolute deadline a minute ago
		m.Grace = time.Hour
		id := hash(t)
		mustCommit(t, s, &driver.Commit{ID: id, Create: true, Meta: m})
		if _, err := s.Load(ctx, id); err != nil {
			t.Fatalf("Load within the grace: %v", err)
		}
		listed(t, s, user, "within the grace", id)
		if n, err := s.DeleteUser(ctx, user, driver.Hash{}); err != nil || n != 1 {
			t.Errorf("DeleteUser within the grace: %d, %v; want 1", n, err)
		}
	})
}
