// Package pgstore keeps latch sessions in PostgreSQL, through a pgx
// connection pool. Use it when several application instances share one
// database, or when sessions must survive a restart and the database is
// already there.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	store, err := pgstore.New(pool, pgstore.Options{}) // or pgstore.Open(ctx, url, pgstore.Options{})
//	...
//	defer store.Close()
//	if err := store.Migrate(ctx); err != nil { ... } // or apply the SQL below
//
// # What is stored
//
// One row per session, keyed by the SHA-256 of the session ID (never the ID
// itself, so a leaked table gives nobody a usable session). The metadata
// has one column each; expires_at is the earlier of the idle and absolute
// deadlines, plus Meta.Grace. The values live in the jsonb column data, one
// field per key. Each field is a JSON string holding the value as
// driver.EncodeValue wrote it: the extra layer lets every value round-trip
// exactly, since jsonb normalises numbers and cannot hold the NUL
// character. Timestamps are kept to the microsecond, rounded down, so a
// deadline is never extended. The client user agent is bytea because HTTP
// headers may carry bytes that are not UTF-8; user IDs, client IPs and
// value keys must be valid UTF-8 without NUL, and a commit that breaks
// this is refused with an error.
//
// A renewal (driver.Commit.From) leaves a forward in a second table,
// "<Table>_forwards": the old hash, the new hash, and the expires_at of the
// record it replaced. A forward is not a session: it has no user, no
// metadata and no values, so ListUser, DeleteUser and MaxPerUser never see
// it. While it lives, Load of the old hash and a commit to it return
// *driver.RenewedError naming the new hash, and Create refuses the old hash
// with driver.ErrExists; once it expires, the old hash is simply not found.
//
// # Expiry and the database clock
//
// Every expiry decision uses the database's clock (statement_timestamp(),
// which is now() outside a transaction): Load, ListUser and DeleteUser
// never report a row whose expires_at has passed, and a commit to such a
// row returns driver.ErrNotFound and writes nothing; a forward is followed
// only while its expires_at has not passed. So application servers with
// skewed clocks agree on what is live. Expired rows of both tables are
// deleted in batches (Options.SweepBatch per statement) by a background
// goroutine every Options.SweepInterval; its errors go to
// Options.OnError. Close stops it.
//
// # Concurrency
//
// Every statement runs under PostgreSQL's default READ COMMITTED isolation;
// the ordering that driver.Store asks for comes from row locks and from one
// advisory lock per user (pg_advisory_xact_lock, keyed by a hash of the
// table name and of the user ID), never from a stricter isolation level.
//
// A plain commit that keeps the session's user is one UPDATE that patches
// data key by key,
//
//	data = (data - deleted_keys) || set_values
//
// so two requests that change different keys of one session both keep their
// change. It takes no advisory lock.
//
// A renewal is one statement, sent in the same round trip as the advisory
// lock of the commit's user: it locks the old row, inserts the new one
// with the old data patched, and only if the insert succeeded deletes the
// old row and leaves the forward. A renewal into a taken hash writes
// nothing. When the old row belongs to another user (a login as someone
// else, a logout by renewal), the statement writes nothing and runs again
// holding both users' locks. Creations of a user's sessions, commits that
// change a session's user, and commits under MaxPerUser (which count and
// evict in the same transaction, begun in the same round trip) take the
// same advisory locks. Locks are always taken in the order of their keys,
// so two of these transactions never wait for each other in a cycle;
// should PostgreSQL still abort one as a deadlock, it is run again.
// Anonymous sessions (user "") take no advisory lock, and ListUser and
// DeleteUser of "" find no sessions, as in the other stores.
//
// A Load or a commit that finds no live session row under its hash looks
// for a forward in a second statement, after the first: a renewal that
// moved the row before the first has committed its forward by then.
//
// Delete and DeleteUser are ordered against renewals:
//
//   - Delete removes the session row in one statement. When the hash holds
//     a forward instead, it deletes the forward and goes on at its target,
//     hop by hop (at most 16), in one transaction. A renewal of the hash
//     holds its row lock: Delete waits for it and then finds the forward,
//     or deletes the row first and the renewal finds nothing and returns
//     driver.ErrNotFound.
//   - DeleteUser holds the user's advisory lock while it deletes, and reads
//     the user's rows only once it holds it. A renewal of one of the user's
//     sessions holds the same lock, so it has either committed (and
//     DeleteUser deletes the session at its new hash) or waits, and then
//     finds the session gone and returns driver.ErrNotFound. A commit with
//     MaxPerUser that evicts is ordered the same way. keep is followed
//     through the live forwards it left, so the session keep was renewed
//     into is kept.
//
// The package's TestHeld tests show each order: they hold one of two
// racing operations open just before its commit, with every lock it took,
// while the other runs, and check the outcome.
//
// # Schema
//
// Store.Migrate creates the schema, or upgrades an older one; it is
// idempotent. Version 2 of the schema added the forwards table and changed
// nothing else: run Migrate (or the SQL below) before starting a pgstore
// that leaves forwards. A pgstore of version 1 still running beside it
// during a rolling upgrade keeps working, but neither leaves nor follows
// forwards, so the ordering above holds only between upgraded instances.
// Version 3 added the device_key and device_bound_at columns (the key of a device-bound
// session, latch.DeviceBound); a version-2 pgstore beside it keeps working,
// and a renewal it makes drops the binding of that session (see the
// migrations in schema.go).
// Operators who apply schema changes themselves can run this SQL instead
// (SchemaSQL returns it for another table name):
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
//	CREATE TABLE IF NOT EXISTS "latch_sessions_forwards" (
//	    id          bytea       PRIMARY KEY CHECK (octet_length(id) = 32),
//	    forward_to  bytea       NOT NULL CHECK (octet_length(forward_to) = 32),
//	    expires_at  timestamptz NOT NULL
//	);
//	CREATE INDEX IF NOT EXISTS "latch_sessions_forwards_exp_idx" ON "latch_sessions_forwards" (expires_at);
//	ALTER TABLE "latch_sessions" ADD COLUMN IF NOT EXISTS device_key text NOT NULL DEFAULT '';
//	ALTER TABLE "latch_sessions" ADD COLUMN IF NOT EXISTS device_bound_at timestamptz;
//	INSERT INTO "latch_sessions_version" (id, version) VALUES (1, 3)
//	    ON CONFLICT (id) DO NOTHING;
//	COMMIT;
//
// To delete expired rows from a scheduler instead of the goroutine (set
// Options.SweepInterval negative), repeat each until it deletes nothing:
//
//	DELETE FROM "latch_sessions" WHERE id IN (
//	    SELECT id FROM "latch_sessions" WHERE expires_at <= statement_timestamp()
//	    ORDER BY expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED);
//	DELETE FROM "latch_sessions_forwards" WHERE id IN (
//	    SELECT id FROM "latch_sessions_forwards" WHERE expires_at <= statement_timestamp()
//	    ORDER BY expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED);
//
// # Tests
//
// The tests run against the server at LATCH_TEST_POSTGRES_URL, each in a
// table of its own. testserver.sh starts a throw-away server for them.
package pgstore
