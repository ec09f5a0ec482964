package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/redis/go-redis/v9"
)

// TestSentinelFailover promotes the replica with SENTINEL FAILOVER and
// checks that a session written before the failover is still there after
// it, and can be committed to on the new master.
func TestSentinelFailover(t *testing.T) {
	v := serverEnv(t, "LATCH_TEST_REDIS_SENTINEL")
	master, addrs, _ := strings.Cut(v, "@")
	client := connect(t, deployments[2])
	s := newTestStore(t, client)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sentinel := redis.NewSentinelClient(&redis.Options{Addr: strings.Split(addrs, ",")[0]})
	defer sentinel.Close()
	replicas, err := sentinel.Replicas(ctx, master).Result()
	if err != nil {
		t.Fatalf("SENTINEL REPLICAS: %v", err)
	}
	if len(replicas) == 0 {
		t.Skip("the sentinel's master has no replica to fail over to")
	}
	before, err := sentinel.GetMasterAddrByName(ctx, master).Result()
	if err != nil {
		t.Fatal(err)
	}

	id := hash(t)
	user := "failover-" + randomPrefix(t)
	mustCommit(t, s, &driver.Commit{ID: id, Create: true, Meta: meta(user, time.Now()), Set: map[string]any{"a": 1}})
	// Wait until the replica has the write, as a failover of a live
	// deployment would lose the last unreplicated writes.
	eventually(t, ctx, "the replica to acknowledge the write", func() error {
		n, err := client.Do(ctx, "WAIT", 1, 1000).Int()
		if err == nil && n < 1 {
			err = errors.New("no replica acknowledged")
		}
		return err
	})
	start := time.Now()
	// A failover just after another one can be refused for a moment
	// (INPROG, NOGOODSLAVE) while the old master resynchronises.
	eventually(t, ctx, "SENTINEL FAILOVER to start", func() error {
		return sentinel.Failover(ctx, master).Err()
	})
	eventually(t, ctx, "the sentinel to name a new master", func() error {
		after, err := sentinel.GetMasterAddrByName(ctx, master).Result()
		if err != nil {
			return err
		}
		if strings.Join(after, ":") == strings.Join(before, ":") {
			return fmt.Errorf("master still %v", after)
		}
		return nil
	})
	eventually(t, ctx, "a commit on the new master", func() error {
		c := &driver.Commit{ID: id, Meta: meta(user, time.Now()), Set: map[string]any{"b": 2}}
		return s.Commit(ctx, c)
	})
	rec, err := s.Load(ctx, id)
	if err != nil {
		t.Fatalf("Load after failover: %v", err)
	}
	if fmt.Sprintf("%v %v", rec.Values["a"], rec.Values["b"]) != "1 2" {
		t.Fatalf("values after failover: %v", rec.Values)
	}
	infos, err := s.ListUser(ctx, user)
	if err != nil || len(infos) != 1 {
		t.Fatalf("ListUser after failover: %d sessions, %v", len(infos), err)
	}
	t.Logf("failover from %s took %v", strings.Join(before, ":"), time.Since(start).Round(time.Millisecond))
}

// eventually retries fn every 100ms until it succeeds or ctx ends.
func eventually(t *testing.T, ctx context.Context, what string, fn func() error) {
	t.Helper()
	for {
		err := fn()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error: %v)", what, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
		if errors.Is(err, driver.ErrNotFound) {
			t.Fatalf("waiting for %s: the session is gone: %v", what, err)
		}
	}
}
