package pgstore

import "fmt"

// queries holds the SQL of every statement, built once per table name.
// Statements use pgx named arguments (@name).
//
// Expiry is always judged by the database's clock. The statements use
// statement_timestamp(), not now(): inside a transaction now() is the time
// the transaction began, and a commit that waited for a user's lock would
// judge a row by a stale clock and could renew a session that had just
// expired. Outside a transaction the two are the same.
type queries struct {
	load          string
	forwardOf     string // the live forward under @id
	updateSame    string // plain commit that keeps the stored user
	updateLocked  string // plain commit under the users' locks
	insert        string // Create without From
	renew         string // From: replace the old row by a forward, insert the new one
	lockUser      string
	listOthers    string // the user's live sessions except @id, oldest first, if @id is live
	evict         string
	deleteOne     string
	deleteForward string
	listUser      string
	deleteUser    string
	sweep         string
	sweepForwards string
	serverVersion string
}

// maxHops bounds the forwards that Delete and DeleteUser's keep follow in
// a row. A chain is as long as the renewals of one session within the
// lifetime of its oldest forward; the bound only stops a corrupt cycle.
const maxHops = 16

// metaCols are the metadata columns, in the order scanMeta reads them.
const metaCols = `user_id, created, last_seen, auth_time, idle_timeout_ns, absolute_timeout_ns, grace_ns, remember, ua, ip, device_key, device_bound_at`

// metaArgs are the named arguments for metaCols plus expires_at.
const metaArgs = `@user_id, @created, @last_seen, @auth_time, @idle_timeout_ns, @absolute_timeout_ns, @grace_ns, @remember, @ua, @ip, @device_key, @device_bound_at, @expires_at`

// setMeta assigns every metadata column and expires_at from the arguments.
const setMeta = `user_id = @user_id, created = @created, last_seen = @last_seen, auth_time = @auth_time,
	idle_timeout_ns = @idle_timeout_ns, absolute_timeout_ns = @absolute_timeout_ns, grace_ns = @grace_ns,
	remember = @remember,
	ua = @ua, ip = @ip, device_key = @device_key, device_bound_at = @device_bound_at, expires_at = @expires_at`

// patch is the new value of data given the base value base: Clear, then
// Delete, then Set, applied key by key so that a concurrent commit to other
// keys keeps its change.
func patch(base string) string {
	return `(CASE WHEN @clear::boolean THEN '{}'::jsonb ELSE ` + base + ` - @delete::text[] END) || @set::jsonb`
}

// replaceDead is the conflict clause of an insert: a row still stored
// under the ID but already expired is dead and may be replaced; a live one
// is left untouched (the insert then affects no row).
// The table is aliased "s" in every insert.
const replaceDead = `ON CONFLICT (id) DO UPDATE SET
	user_id = EXCLUDED.user_id, created = EXCLUDED.created, last_seen = EXCLUDED.last_seen,
	auth_time = EXCLUDED.auth_time, idle_timeout_ns = EXCLUDED.idle_timeout_ns,
	absolute_timeout_ns = EXCLUDED.absolute_timeout_ns, grace_ns = EXCLUDED.grace_ns, remember = EXCLUDED.remember,
	ua = EXCLUDED.ua, ip = EXCLUDED.ip, device_key = EXCLUDED.device_key, device_bound_at = EXCLUDED.device_bound_at, expires_at = EXCLUDED.expires_at, data = EXCLUDED.data
	WHERE s.expires_at <= statement_timestamp()`

// noForward is the condition of an insert under @id: no live forward
// holds the hash.
const noForward = `NOT EXISTS (SELECT 1 FROM $F WHERE id = @id AND expires_at > statement_timestamp())`

// lockedUser is true for the row in "cur" when the statement may write
// it: an anonymous row, or one of a user whose lock the transaction holds
// (@locked). A statement that finds another user writes nothing and
// reports the user, and the caller runs it again holding that user's lock
// too.
const lockedUser = `(cur.user_id = '' OR cur.user_id = ANY(@locked::text[]))`

func buildQueries(table tableName) queries {
	r := table.replacer()
	return queries{
		load: r.Replace(`SELECT ` + metaCols + `, data FROM $T WHERE id = @id AND expires_at > statement_timestamp()`),

		forwardOf: r.Replace(`SELECT forward_to FROM $F WHERE id = @id AND expires_at > statement_timestamp()`),

		updateSame: r.Replace(`UPDATE $T SET ` + setMeta + `, data = ` + patch("data") + `
	WHERE id = @id AND expires_at > statement_timestamp() AND user_id = @user_id`),

		// The live row is locked first (FOR UPDATE waits for a renewal or a
		// delete of it, then reads its newest version); the UPDATE then
		// writes it only if its user's lock is held. The result is the
		// stored user (NULL: no live row) and the rows written.
		updateLocked: r.Replace(`WITH cur AS (
		SELECT user_id FROM $T WHERE id = @id AND expires_at > statement_timestamp() FOR UPDATE
	), upd AS (
		UPDATE $T SET ` + setMeta + `, data = ` + patch("data") + `
		WHERE id = @id AND EXISTS (SELECT 1 FROM cur WHERE ` + lockedUser + `)
		RETURNING 1
	)
	SELECT (SELECT user_id FROM cur), (SELECT count(*) FROM upd)`),

		insert: r.Replace(`INSERT INTO $T AS s (id, ` + metaCols + `, expires_at, data)
	SELECT @id, ` + metaArgs + `, @set::jsonb WHERE ` + noForward + `
	` + replaceDead),

		// One statement: the old row is locked if it is live and its user's
		// lock is held; the new row is built from its data; only if the new
		// row was written is the old one deleted and a forward to the new
		// hash left in its place, expiring when the old row would have. So
		// a renewal into a taken hash writes nothing. The result is the old
		// row's user (NULL: no live row) and the rows inserted.
		renew: r.Replace(`WITH cur AS (
		SELECT user_id, data, expires_at FROM $T WHERE id = @from AND expires_at > statement_timestamp() FOR UPDATE
	), ok AS (
		SELECT data, expires_at FROM cur WHERE ` + lockedUser + `
	), ins AS (
		INSERT INTO $T AS s (id, ` + metaCols + `, expires_at, data)
		SELECT @id, ` + metaArgs + `, ` + patch("ok.data") + ` FROM ok WHERE ` + noForward + `
		` + replaceDead + `
		RETURNING 1
	), del AS (
		DELETE FROM $T WHERE id = @from AND EXISTS (SELECT 1 FROM ins)
	), fwd AS (
		INSERT INTO $F (id, forward_to, expires_at)
		SELECT @from, @id, ok.expires_at FROM ok WHERE EXISTS (SELECT 1 FROM ins)
		ON CONFLICT (id) DO UPDATE SET forward_to = EXCLUDED.forward_to, expires_at = EXCLUDED.expires_at
	)
	SELECT (SELECT user_id FROM cur), (SELECT count(*) FROM ins)`),

		lockUser: `SELECT pg_advisory_xact_lock(@class::integer, @key::integer)`,

		// None when @id itself is not live: a commit whose result is
		// already expired adds no session, so it is never limited.
		listOthers: r.Replace(`SELECT id FROM $T WHERE user_id = @user_id AND id <> @id AND expires_at > statement_timestamp()
	AND EXISTS (SELECT 1 FROM $T WHERE id = @id AND expires_at > statement_timestamp())
	ORDER BY created, id`),

		evict: r.Replace(`DELETE FROM $T WHERE id = ANY(@ids::bytea[])`),

		deleteOne: r.Replace(`DELETE FROM $T WHERE id = @id`),

		// A dead forward goes too, but is not followed: its hash may have
		// been used again since.
		deleteForward: r.Replace(`DELETE FROM $F WHERE id = @id RETURNING forward_to, expires_at > statement_timestamp()`),

		listUser: r.Replace(`SELECT id, ` + metaCols + ` FROM $T WHERE user_id = @user_id AND expires_at > statement_timestamp()
	ORDER BY created, id`),

		// keep is followed through the live forwards its renewals left;
		// dead rows of the user go too, and only live ones are counted.
		deleteUser: r.Replace(`WITH RECURSIVE keep (id, hops) AS (
		SELECT @keep::bytea, 0
		UNION ALL
		SELECT f.forward_to, keep.hops + 1 FROM $F f JOIN keep ON f.id = keep.id
		WHERE keep.hops < ` + fmt.Sprint(maxHops) + ` AND f.expires_at > statement_timestamp()
	), d AS (
		DELETE FROM $T WHERE user_id = @user_id AND id NOT IN (SELECT id FROM keep) RETURNING expires_at
	)
	SELECT count(*) FILTER (WHERE expires_at > statement_timestamp()) FROM d`),

		// SKIP LOCKED: several instances may sweep at once without
		// waiting on each other or on rows a commit holds.
		sweep: r.Replace(`DELETE FROM $T WHERE id IN (
		SELECT id FROM $T WHERE expires_at <= statement_timestamp() ORDER BY expires_at LIMIT @limit FOR UPDATE SKIP LOCKED
	) AND expires_at <= statement_timestamp()`),

		sweepForwards: r.Replace(`DELETE FROM $F WHERE id IN (
		SELECT id FROM $F WHERE expires_at <= statement_timestamp() ORDER BY expires_at LIMIT @limit FOR UPDATE SKIP LOCKED
	) AND expires_at <= statement_timestamp()`),

		serverVersion: `SHOW server_version`,
	}
}
