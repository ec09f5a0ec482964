package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// SchemaVersion is the version of the schema this package reads and
// writes. Migrate brings a database up to it; a database at a newer version
// (written by a newer pgstore) is refused rather than damaged.
const SchemaVersion = 3

// migrations[i] brings the schema from version i to i+1. Each step is
// idempotent (IF NOT EXISTS), so that a schema applied by hand before the
// version table existed is adopted as it is. $T is the table, $IU and $IE
// its indexes (in the table's schema), $F the forwards table and $FE its
// index, $V the version table.
//
// Version 2 adds the forwards table. It only adds: a pgstore of version 1
// still running beside a newer one (during a rolling upgrade) reads and
// writes the sessions table as before, and sees a renewed session's old
// hash as missing, as it always did.
//
// Version 3 adds the device_key and device_bound_at columns
// (driver.Meta.DeviceKey and DeviceBoundAt, the key of a device-bound
// session and when it was registered), empty for every existing row. A pgstore of
// version 2 running beside it leaves the column as it is on an update,
// but a renewal it makes stores the row without the key: the session
// then stops being device-bound (latch treats it as never registered),
// which fails open, never locks a user out.
var migrations = []string{
	`CREATE TABLE IF NOT EXISTS $T (
    id                  bytea       PRIMARY KEY CHECK (octet_length(id) = 32),
    user_id             text        NOT NULL DEFAULT '',
    created             timestamptz NOT NULL,
    last_seen           timestamptz NOT NULL,
    auth_time           timestamptz,
    idle_timeout_ns     bigint      NOT NULL,
    absolute_timeout_ns bigint      NOT NULL,
    grace_ns            bigint      NOT NULL DEFAULT 0,
    remember            boolean     NOT NULL DEFAULT false,
    ua                  bytea       NOT NULL DEFAULT '',
    ip                  text        NOT NULL DEFAULT '',
    expires_at          timestamptz NOT NULL,
    data                jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object')
);
CREATE INDEX IF NOT EXISTS $IU ON $T (user_id, created);
CREATE INDEX IF NOT EXISTS $IE ON $T (expires_at);`,
	`CREATE TABLE IF NOT EXISTS $F (
    id          bytea       PRIMARY KEY CHECK (octet_length(id) = 32),
    forward_to  bytea       NOT NULL CHECK (octet_length(forward_to) = 32),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS $FE ON $F (expires_at);`,
	`ALTER TABLE $T ADD COLUMN IF NOT EXISTS device_key text NOT NULL DEFAULT '';
ALTER TABLE $T ADD COLUMN IF NOT EXISTS device_bound_at timestamptz;`,
}

const versionTable = `CREATE TABLE IF NOT EXISTS $V (
    id      integer PRIMARY KEY CHECK (id = 1),
    version integer NOT NULL
);`

const setVersion = `INSERT INTO $V (id, version) VALUES (1, $version)
    ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version;`

func (t tableName) replacer() *strings.Replacer {
	return strings.NewReplacer(
		"$T", t.ident(""),
		"$IU", pgx.Identifier{t.name + "_user_created_idx"}.Sanitize(),
		"$IE", pgx.Identifier{t.name + "_expires_at_idx"}.Sanitize(),
		"$V", t.ident("_version"),
		"$FE", pgx.Identifier{t.name + "_forwards_exp_idx"}.Sanitize(),
		"$F", t.ident("_forwards"),
	)
}

// SchemaSQL returns the SQL that creates the current schema for the given
// table name ("" for DefaultTable), for operators who create the schema
// themselves instead of calling Migrate. The package doc shows it for the
// default table. Applying it to a database that already has the schema
// changes nothing; to upgrade an older schema, call Migrate.
func SchemaSQL(table string) (string, error) {
	if table == "" {
		table = DefaultTable
	}
	t, err := parseTable(table)
	if err != nil {
		return "", err
	}
	r := t.replacer()
	var b strings.Builder
	b.WriteString("BEGIN;\n")
	b.WriteString(r.Replace(versionTable) + "\n")
	for _, m := range migrations {
		b.WriteString(r.Replace(m) + "\n")
	}
	// DO NOTHING: never lower the version of a newer schema.
	b.WriteString(r.Replace(`INSERT INTO $V (id, version) VALUES (1, `) + fmt.Sprint(SchemaVersion) + ")\n    ON CONFLICT (id) DO NOTHING;\n")
	b.WriteString("COMMIT;\n")
	return b.String(), nil
}

// Migrate creates the sessions table, the forwards table that renewals
// leave behind (see the package doc), their indexes and a version table, or
// brings an older schema up to SchemaVersion. It is idempotent and safe to
// call from several instances at once (they serialise on an advisory lock).
// It refuses a schema newer than this package, and checks that an existing
// table has the columns the Store uses.
func (s *Store) Migrate(ctx context.Context) error {
	r := s.table.replacer()
	err := s.inTx(ctx, "migrate", func(tx pgx.Tx) error {
		// Key 0 of the table's lock class; a user whose key collides
		// merely waits for the migration.
		if _, err := tx.Exec(ctx, s.q.lockUser, pgx.NamedArgs{"class": s.lockClass, "key": int32(0)}); err != nil {
			return fmt.Errorf("pgstore: migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, r.Replace(versionTable)); err != nil {
			return fmt.Errorf("pgstore: migrate: version table: %w", err)
		}
		var version int
		err := tx.QueryRow(ctx, r.Replace(`SELECT version FROM $V WHERE id = 1`)).Scan(&version)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("pgstore: migrate: read version: %w", err)
		}
		if version > SchemaVersion {
			return fmt.Errorf("pgstore: migrate: schema version %d is newer than this pgstore supports (%d)", version, SchemaVersion)
		}
		if version < 0 {
			return fmt.Errorf("pgstore: migrate: invalid schema version %d", version)
		}
		for v := version; v < SchemaVersion; v++ {
			if _, err := tx.Exec(ctx, r.Replace(migrations[v])); err != nil {
				return fmt.Errorf("pgstore: migrate: to version %d: %w", v+1, err)
			}
		}
		if version != SchemaVersion {
			if _, err := tx.Exec(ctx, strings.ReplaceAll(r.Replace(setVersion), "$version", fmt.Sprint(SchemaVersion))); err != nil {
				return fmt.Errorf("pgstore: migrate: record version: %w", err)
			}
		}
		// A table of this name made by something else would pass the IF
		// NOT EXISTS above: check that every column is there.
		if _, err := tx.Exec(ctx, r.Replace(`SELECT id, `+metaCols+`, expires_at, data FROM $T LIMIT 0`)); err != nil {
			return fmt.Errorf("pgstore: migrate: table %s lacks the expected columns: %w", s.table, err)
		}
		if _, err := tx.Exec(ctx, r.Replace(`SELECT id, forward_to, expires_at FROM $F LIMIT 0`)); err != nil {
			return fmt.Errorf("pgstore: migrate: table %s_forwards lacks the expected columns: %w", s.table, err)
		}
		return nil
	})
	return err
}
