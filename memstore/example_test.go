package memstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
)

func ExampleNew() {
	store, err := memstore.New(memstore.Options{SweepInterval: 5 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// latch hands a store only the SHA-256 of a session ID.
	id := driver.Hash(sha256.Sum256([]byte("an ID from crypto/rand, not this")))
	now := time.Now()
	ctx := context.Background()
	err = store.Commit(ctx, &driver.Commit{
		ID:     id,
		Create: true,
		Meta: driver.Meta{
			UserID: "alice", Created: now, LastSeen: now, AuthTime: now,
			IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
		},
		Set: map[string]any{"theme": "dark"},
	})
	if err != nil {
		log.Fatal(err)
	}

	rec, err := store.Load(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := store.ListUser(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.UserID, rec.Values["theme"], len(sessions))
	// Output: alice dark 1
}
