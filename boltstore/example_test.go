package boltstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/latchsec/latch/boltstore"
	"github.com/latchsec/latch/driver"
)

// A store is opened once and closed at shutdown. latch's Manager drives it;
// here it is called directly to show what it keeps.
func Example() {
	dir, err := os.MkdirTemp("", "boltstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := boltstore.Open(filepath.Join(dir, "sessions.db"), boltstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	id := driver.Hash(sha256.Sum256([]byte("a session ID from crypto/rand")))
	now := time.Now()
	err = store.Commit(ctx, &driver.Commit{
		ID:     id,
		Create: true,
		Meta: driver.Meta{
			UserID: "alice", Created: now, LastSeen: now, AuthTime: now,
			IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
		},
		Set:        map[string]any{"theme": "dark"},
		MaxPerUser: 5,
	})
	if err != nil {
		log.Fatal(err)
	}

	rec, err := store.Load(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("user:", rec.UserID, "theme:", rec.Values["theme"])

	sessions, err := store.ListUser(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice has", len(sessions), "session(s)")

	// A second process gets a clear error instead of hanging.
	if _, err := boltstore.Open(filepath.Join(dir, "sessions.db"), boltstore.Options{OpenTimeout: 100 * time.Millisecond}); err != nil {
		fmt.Println("second open refused")
	}
	// Output:
	// user: alice theme: dark
	// alice has 1 session(s)
	// second open refused
}
