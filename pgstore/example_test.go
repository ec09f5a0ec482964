package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/latchsec/latch/pgstore"
)

// A store over the application's own pool, with the schema created at
// start-up and sweep errors sent to the application's logger.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := pgstore.New(pool, pgstore.Options{
		Table:         "auth.sessions",
		SweepInterval: 10 * time.Minute,
		OnError:       func(err error) { log.Printf("session sweep: %v", err) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	// Pass store to latch's manager.
}

// The schema for a custom table, for an operator to review and apply.
func ExampleSchemaSQL() {
	sql, err := pgstore.SchemaSQL("auth.sessions")
	if err != nil {
		log.Fatal(err)
	}
	for line := range strings.Lines(sql) {
		if strings.HasPrefix(line, "CREATE") {
			fmt.Print(line)
		}
	}
	// Output:
	// CREATE TABLE IF NOT EXISTS "auth"."sessions_version" (
	// CREATE TABLE IF NOT EXISTS "auth"."sessions" (
	// CREATE INDEX IF NOT EXISTS "sessions_user_created_idx" ON "auth"."sessions" (user_id, created);
	// CREATE INDEX IF NOT EXISTS "sessions_expires_at_idx" ON "auth"."sessions" (expires_at);
	// CREATE TABLE IF NOT EXISTS "auth"."sessions_forwards" (
	// CREATE INDEX IF NOT EXISTS "sessions_forwards_exp_idx" ON "auth"."sessions_forwards" (expires_at);
}
