package redisstore

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// TestUserChangeFreesLimit: a plain update that moves a session to another
// user frees its place under the first user at once, so that user's next
// session is not refused by MaxPerUser (found by storetest's Model case on
// Cluster, where the moved session's reservation mark still counted).
func TestUserChangeFreesLimit(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := connect(t, d)
			s := newTestStore(t, client)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Millisecond)
			var a, b driver.Hash
			rand.Read(a[:])
			rand.Read(b[:])
			if err := s.Commit(ctx, &driver.Commit{ID: a, Create: true, Meta: meta("u-first", now)}); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(ctx, &driver.Commit{ID: a, Meta: meta("u-second", now)}); err != nil {
				t.Fatal(err)
			}
			err := s.Commit(ctx, &driver.Commit{ID: b, Create: true, Meta: meta("u-first", now), MaxPerUser: 1})
			if err != nil {
				t.Fatalf("a new session of the first user after its only session moved to another user: %v", err)
			}
			// Moving a session to a user whose only session moved away.
			var c driver.Hash
			rand.Read(c[:])
			if err := s.Commit(ctx, &driver.Commit{ID: c, Create: true, Meta: meta("u-third", now)}); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(ctx, &driver.Commit{ID: b, Meta: meta("u-third", now)}); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(ctx, &driver.Commit{ID: c, Meta: meta("u-first", now), MaxPerUser: 1}); err != nil {
				t.Fatalf("moving a session to a user whose only session moved away: %v", err)
			}
		})
	}
}
