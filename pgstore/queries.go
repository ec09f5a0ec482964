package pgstore

import "strings"

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
	update        string // plain commit, any user
	updateSame    string // plain commit that keeps the stored user
	insert        string // Create without From
	renew         string // From: delete the old row, insert the new one
	lockUser      string
	isLive        string
	listOthers    string // the user's live sessions except @id, oldest first
	evict         string
	deleteOne     string
	listUser      string
	deleteUser    string
	sweep         string
	serverVersion string
}

// metaCols are the metadata columns, in the order scanMeta reads them.
const metaCols = `user_id, created, last_seen, auth_time, idle_timeout_ns, absolute_timeout_ns, grace_ns, remember, ua, ip`

// metaArgs are the named arguments for metaCols plus expires_at.
const metaArgs = `@user_id, @created, @last_seen, @auth_time, @idle_timeout_ns, @absolute_timeout_ns, @grace_ns, @remember, @ua, @ip, @expires_at`

// setMeta assigns every metadata column and expires_at from the arguments.
const setMeta = `user_id = @user_id, created = @created, last_seen = @last_seen, auth_time = @auth_time,
	idle_timeout_ns = @idle_timeout_ns, absolute_timeout_ns = @absolute_timeout_ns, grace_ns = @grace_ns,
	remember = @remember,
	ua = @ua, ip = @ip, expires_at = @expires_at`

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
	ua = EXCLUDED.ua, ip = EXCLUDED.ip, expires_at = EXCLUDED.expires_at, data = EXCLUDED.data
	WHERE s.expires_at <= statement_timestamp()`

func buildQueries(table tableName) queries {
	t := table.ident("")
	r := strings.NewReplacer("$T", t)
	return queries{
		load: r.Replace(`SELECT ` + metaCols + `, data FROM $T WHERE id = @id AND expires_at > statement_timestamp()`),

		update: r.Replace(`UPDATE $T SET ` + setMeta + `, data = ` + patch("data") + `
	WHERE id = @id AND expires_at > statement_timestamp()`),

		updateSame: r.Replace(`UPDATE $T SET ` + setMeta + `, data = ` + patch("data") + `
	WHERE id = @id AND expires_at > statement_timestamp() AND user_id = @user_id`),

		insert: r.Replace(`INSERT INTO $T AS s (id, ` + metaCols + `, expires_at, data)
	VALUES (@id, ` + metaArgs + `, @set::jsonb)
	` + replaceDead),

		// One statement: the old row is deleted only if it is live, and the
		// new row is built from its data. The caller's transaction rolls
		// back when the old row existed but a live row holds the new ID.
		renew: r.Replace(`WITH old AS (
		DELETE FROM $T WHERE id = @from AND expires_at > statement_timestamp() RETURNING data
	), ins AS (
		INSERT INTO $T AS s (id, ` + metaCols + `, expires_at, data)
		SELECT @id, ` + metaArgs + `, ` + patch("old.data") + ` FROM old
		` + replaceDead + `
		RETURNING 1
	)
	SELECT (SELECT count(*) FROM old), (SELECT count(*) FROM ins)`),

		lockUser: `SELECT pg_advisory_xact_lock(@class::integer, @key::integer)`,

		isLive: r.Replace(`SELECT EXISTS (SELECT 1 FROM $T WHERE id = @id AND expires_at > statement_timestamp())`),

		listOthers: r.Replace(`SELECT id FROM $T WHERE user_id = @user_id AND id <> @id AND expires_at > statement_timestamp()
	ORDER BY created, id`),

		evict: r.Replace(`DELETE FROM $T WHERE id = ANY(@ids::bytea[])`),

		deleteOne: r.Replace(`DELETE FROM $T WHERE id = @id`),

		listUser: r.Replace(`SELECT id, ` + metaCols + ` FROM $T WHERE user_id = @user_id AND expires_at > statement_timestamp()
	ORDER BY created, id`),

		// Dead rows of the user go too; only live ones are counted.
		deleteUser: r.Replace(`WITH d AS (
		DELETE FROM $T WHERE user_id = @user_id AND id <> @keep RETURNING expires_at
	)
	SELECT count(*) FILTER (WHERE expires_at > statement_timestamp()) FROM d`),

		// SKIP LOCKED: several instances may sweep at once without
		// waiting on each other or on rows a commit holds.
		sweep: r.Replace(`DELETE FROM $T WHERE id IN (
		SELECT id FROM $T WHERE expires_at <= statement_timestamp() ORDER BY expires_at LIMIT @limit FOR UPDATE SKIP LOCKED
	) AND expires_at <= statement_timestamp()`),

		serverVersion: `SHOW server_version`,
	}
}
