// Package pgstore keeps latch sessions in PostgreSQL, through a pgx
// connection pool. Use it when several application instances share one
// database, or when sessions must survive a restart and the database is
// already there.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	store, err := pgstore.New(pool, nil) // or pgstore.Open(ctx, url, nil)
//	...
//	defer store.Close()
//	if err := store.Migrate(ctx); err != nil { ... } // or apply the SQL below
//
// # What is stored
//
// One row per session, keyed by the SHA-256 of the session ID (never the ID
// itself, so a leaked table gives nobody a usable session). The metadata
// has one column each; expires_at is the earlier of the idle and absolute
// deadlines. The values live in the jsonb column data, one field per key.
// Each field is a JSON string holding the value as latch.EncodeValue wrote
// it: the extra layer lets every value round-trip exactly, since jsonb
// normalises numbers and cannot hold the NUL character. Timestamps are kept
// to the microsecond, rounded down, so a deadline is never extended. The
// client user agent is bytea because HTTP headers may carry bytes that are
// not UTF-8; user IDs, client IPs and value keys must be valid UTF-8
// without NUL, and a commit that breaks this is refused with an error.
//
// # Expiry and the database clock
//
// Every expiry decision uses the database's clock (statement_timestamp(),
// which is now() outside a transaction): Load, ListUser and DeleteUser
// never report a row whose expires_at has passed, and a commit to such a
// row returns latch.ErrNotFound and writes nothing. So application servers
// with skewed clocks agree on what is live. Expired
// rows are deleted in batches (Options.BatchSize per statement) by a
// background goroutine every Options.CleanupInterval; its errors go to
// Options.OnError. Close stops it.
//
// # Concurrency
//
// A plain commit is one UPDATE that patches data key by key,
//
//	data = (data - deleted_keys) || set_values
//
// so two requests that change different keys of one session both keep their
// change. A renewal (latch.Commit.From) deletes the old row and inserts the
// new one, data carried over, in one statement inside a transaction that
// rolls back if the new ID is taken. A commit that adds a session to a user
// with a MaxPerUser limit runs in a transaction holding
// pg_advisory_xact_lock on the user, so that concurrent logins of one user
// cannot both pass the limit.
//
// # Schema
//
// Store.Migrate creates the schema, or upgrades an older one; it is
// idempotent. Operators who apply schema changes themselves can run this
// SQL instead (SchemaSQL returns it for another table name):
//
//	BEGIN;
//	CREATE TABLE IF NOT EXISTS "latch_sessions_version" (
//	    id      integer PRIMARY KEY CHECK (id = 1),
//	    version integer NOT NULL
//	);
//	CREATE TABLE IF NOT EXISTS "latch_sessions" (
//	    id                  bytea       PRIMARY KEY CHECK (octet_length(id) = 32),
//	    user_id             text        NOT NULL DEFAULT '',
//	    created             timestamptz NOT NULL,
//	    last_seen           timestamptz NOT NULL,
//	    auth_time           timestamptz,
//	    idle_timeout_ns     bigint      NOT NULL,
//	    absolute_timeout_ns bigint      NOT NULL,
//	    grace_ns            bigint      NOT NULL DEFAULT 0,
//	    remember            boolean     NOT NULL DEFAULT false,
//	    ua                  bytea       NOT NULL DEFAULT '',
//	    ip                  text        NOT NULL DEFAULT '',
//	    expires_at          timestamptz NOT NULL,
//	    data                jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object')
//	);
//	CREATE INDEX IF NOT EXISTS "latch_sessions_user_created_idx" ON "latch_sessions" (user_id, created);
//	CREATE INDEX IF NOT EXISTS "latch_sessions_expires_at_idx" ON "latch_sessions" (expires_at);
//	INSERT INTO "latch_sessions_version" (id, version) VALUES (1, 1)
//	    ON CONFLICT (id) DO NOTHING;
//	COMMIT;
//
// To delete expired rows from a scheduler instead of the goroutine (set
// Options.CleanupInterval negative), repeat until it deletes nothing:
//
//	DELETE FROM "latch_sessions" WHERE id IN (
//	    SELECT id FROM "latch_sessions" WHERE expires_at <= statement_timestamp()
//	    ORDER BY expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED);
//
// # Tests
//
// The tests run against the server at LATCH_TEST_POSTGRES_URL, each in a
// table of its own. testserver.sh starts a throw-away server for them.
package pgstore
