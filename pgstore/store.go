package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/latchsec/latch"
)

// Load returns the live record stored under id, or latch.ErrNotFound. A row
// whose expires_at has passed by the database's clock is never returned.
func (s *Store) Load(ctx context.Context, id latch.Hash) (*latch.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: load: %w", err)
	}
	if id.IsZero() {
		return nil, latch.ErrNotFound
	}
	row := s.pool.QueryRow(ctx, s.q.load, pgx.NamedArgs{"id": id[:]})
	var (
		rec  latch.Record
		data map[string]string
	)
	if err := scanMeta(row, &rec.Meta, &data); err != nil {
		return nil, wrap("load", err)
	}
	vals, err := decodeValues(data)
	if err != nil {
		return nil, err
	}
	rec.Values = vals
	return &rec, nil
}

// Commit applies c atomically; see latch.Commit. A plain commit is one
// UPDATE statement that patches the data column key by key, so concurrent
// commits to different keys both survive. Renewals, and commits that add a
// session to a user under a MaxPerUser limit, run in one transaction; the
// limit is enforced under a per-user advisory lock that serialises
// concurrent logins of one user.
func (s *Store) Commit(ctx context.Context, c *latch.Commit) error {
	args, err := commitArgs(c)
	if err != nil {
		return err
	}
	limited := c.MaxPerUser > 0 && c.Meta.UserID != ""
	switch {
	case !c.From.IsZero():
		return s.inTx(ctx, "commit", func(tx pgx.Tx) error { return s.renew(ctx, tx, c, args, limited) })
	case c.Create && !limited:
		return s.insert(ctx, s.pool, args)
	case c.Create:
		return s.inTx(ctx, "commit", func(tx pgx.Tx) error {
			if err := s.lockUser(ctx, tx, c.Meta.UserID); err != nil {
				return err
			}
			if err := s.insert(ctx, tx, args); err != nil {
				return err
			}
			return s.enforceLimit(ctx, tx, c)
		})
	case !limited:
		return s.update(ctx, s.pool, s.q.update, args)
	}
	// A plain commit under a limit: the limit applies only when the user
	// changes. Try the common case, same user, as one statement first.
	tag, err := s.pool.Exec(ctx, s.q.updateSame, args)
	if err != nil {
		return wrap("commit", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// Gone, or the user changes: the row now counts for the new user.
	return s.inTx(ctx, "commit", func(tx pgx.Tx) error {
		if err := s.lockUser(ctx, tx, c.Meta.UserID); err != nil {
			return err
		}
		if err := s.update(ctx, tx, s.q.update, args); err != nil {
			return err
		}
		return s.enforceLimit(ctx, tx, c)
	})
}

// dbtx is what pgxpool.Pool and pgx.Tx have in common here.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (s *Store) update(ctx context.Context, db dbtx, sql string, args pgx.NamedArgs) error {
	tag, err := db.Exec(ctx, sql, args)
	if err != nil {
		return wrap("commit", err)
	}
	if tag.RowsAffected() == 0 {
		return latch.ErrNotFound
	}
	return nil
}

func (s *Store) insert(ctx context.Context, db dbtx, args pgx.NamedArgs) error {
	tag, err := db.Exec(ctx, s.q.insert, args)
	if err != nil {
		return wrap("commit", err)
	}
	if tag.RowsAffected() == 0 {
		return latch.ErrExists
	}
	return nil
}

func (s *Store) renew(ctx context.Context, tx pgx.Tx, c *latch.Commit, args pgx.NamedArgs, limited bool) error {
	if limited {
		if err := s.lockUser(ctx, tx, c.Meta.UserID); err != nil {
			return err
		}
	}
	var deleted, inserted int64
	if err := tx.QueryRow(ctx, s.q.renew, args).Scan(&deleted, &inserted); err != nil {
		return wrap("commit", err)
	}
	switch {
	case deleted == 0:
		return latch.ErrNotFound
	case inserted == 0:
		// The old row is deleted in this transaction: the rollback that
		// follows this error restores it.
		return latch.ErrExists
	}
	if limited {
		return s.enforceLimit(ctx, tx, c)
	}
	return nil
}

func (s *Store) lockUser(ctx context.Context, tx pgx.Tx, userID string) error {
	_, err := tx.Exec(ctx, s.q.lockUser, pgx.NamedArgs{"class": s.lockClass, "key": userLockKey(userID)})
	if err != nil {
		return wrap("lock user", err)
	}
	return nil
}

// enforceLimit runs after the commit's row is written, under the user's
// lock: if the row is live and the user's other live sessions leave no
// room for it, it evicts the oldest or refuses (and the caller's
// transaction rolls back). Anonymous sessions (empty UserID) are never
// limited.
func (s *Store) enforceLimit(ctx context.Context, tx pgx.Tx, c *latch.Commit) error {
	// A result that is already expired adds no live session.
	var live bool
	if err := tx.QueryRow(ctx, s.q.isLive, pgx.NamedArgs{"id": c.ID[:]}).Scan(&live); err != nil {
		return wrap("session limit", err)
	}
	if !live {
		return nil
	}
	rows, err := tx.Query(ctx, s.q.listOthers, pgx.NamedArgs{"user_id": c.Meta.UserID, "id": c.ID[:]})
	if err != nil {
		return wrap("session limit", err)
	}
	others, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return wrap("session limit", err)
	}
	excess := len(others) - (c.MaxPerUser - 1)
	if excess <= 0 {
		return nil
	}
	if !c.EvictOldest {
		return latch.ErrSessionLimit
	}
	if _, err := tx.Exec(ctx, s.q.evict, pgx.NamedArgs{"ids": others[:excess]}); err != nil {
		return wrap("session limit", err)
	}
	return nil
}

// inTx runs f in a transaction, committed when f returns nil and rolled
// back otherwise.
func (s *Store) inTx(ctx context.Context, op string, f func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap(op, err)
	}
	if err := f(tx); err != nil {
		// The rollback error, if any, adds nothing: the transaction is
		// not committed either way.
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap(op, err)
	}
	return nil
}

// Delete removes the record under id. Deleting a missing record is not an
// error.
func (s *Store) Delete(ctx context.Context, id latch.Hash) error {
	if _, err := s.pool.Exec(ctx, s.q.deleteOne, pgx.NamedArgs{"id": id[:]}); err != nil {
		return wrap("delete", err)
	}
	return nil
}

// ListUser returns the user's live sessions, oldest first by Created.
func (s *Store) ListUser(ctx context.Context, userID string) ([]latch.Info, error) {
	if err := checkText("user ID", userID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, s.q.listUser, pgx.NamedArgs{"user_id": userID})
	if err != nil {
		return nil, wrap("list user", err)
	}
	defer rows.Close()
	var out []latch.Info
	for rows.Next() {
		var (
			info latch.Info
			id   []byte
		)
		if err := scanMeta(rows, &info.Meta, nil, &id); err != nil {
			return nil, wrap("list user", err)
		}
		if len(id) != latch.HashSize {
			return nil, fmt.Errorf("pgstore: list user: stored id has %d bytes, want %d", len(id), latch.HashSize)
		}
		copy(info.ID[:], id)
		out = append(out, info)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list user", err)
	}
	return out, nil
}

// DeleteUser removes every session of the user except keep (which may be
// zero) and returns how many live sessions it removed. Expired rows of the
// user are deleted too but not counted.
func (s *Store) DeleteUser(ctx context.Context, userID string, keep latch.Hash) (int, error) {
	if err := checkText("user ID", userID); err != nil {
		return 0, err
	}
	var n int64
	err := s.pool.QueryRow(ctx, s.q.deleteUser, pgx.NamedArgs{"user_id": userID, "keep": keep[:]}).Scan(&n)
	if err != nil {
		return 0, wrap("delete user", err)
	}
	return int(n), nil
}

// commitArgs validates c and returns the named arguments of every commit
// statement.
func commitArgs(c *latch.Commit) (pgx.NamedArgs, error) {
	if c == nil {
		return nil, errors.New("pgstore: commit: nil commit")
	}
	if c.ID.IsZero() {
		return nil, errors.New("pgstore: commit: zero session ID")
	}
	if c.From == c.ID {
		return nil, errors.New("pgstore: commit: renewal to the same ID")
	}
	if c.MaxPerUser < 0 {
		return nil, fmt.Errorf("pgstore: commit: negative MaxPerUser %d", c.MaxPerUser)
	}
	m := &c.Meta
	if err := checkText("user ID", m.UserID); err != nil {
		return nil, err
	}
	if err := checkText("client IP", m.IP); err != nil {
		return nil, err
	}
	del := make([]string, 0, len(c.Delete))
	for _, k := range c.Delete {
		if err := checkText("value key", k); err != nil {
			return nil, err
		}
		del = append(del, k)
	}
	set, err := encodeValues(c.Set)
	if err != nil {
		return nil, err
	}
	var authTime any // NULL for an anonymous session
	if !m.AuthTime.IsZero() {
		authTime = dbTime(m.AuthTime)
	}
	var from any
	if !c.From.IsZero() {
		from = c.From[:]
	}
	return pgx.NamedArgs{
		"id":                  c.ID[:],
		"from":                from,
		"user_id":             m.UserID,
		"created":             dbTime(m.Created),
		"last_seen":           dbTime(m.LastSeen),
		"auth_time":           authTime,
		"idle_timeout_ns":     int64(m.IdleTimeout),
		"absolute_timeout_ns": int64(m.AbsoluteTimeout),
		"grace_ns":            int64(m.Grace),
		"remember":            m.Remember,
		"ua":                  []byte(m.UserAgent),
		"ip":                  m.IP,
		"expires_at":          dbTime(m.ExpiresAt()),
		"clear":               c.Clear,
		"delete":              del,
		"set":                 set,
	}, nil
}

// dbTime rounds t down to PostgreSQL's microsecond precision, so that a
// stored deadline is never later than the one latch computed, and the
// stored time is the time Load returns.
func dbTime(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// checkText refuses strings that a PostgreSQL text column or jsonb key
// cannot hold: invalid UTF-8 or a NUL byte. The string itself is not
// quoted in the error.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("pgstore: %s is not valid UTF-8", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("pgstore: %s contains a NUL byte", what)
	}
	return nil
}

// encodeValues returns the jsonb object for Set: each value encoded with
// latch.EncodeValue and kept as a JSON string holding that encoding. The
// extra layer lets any value round-trip exactly: jsonb itself normalises
// numbers and refuses the NUL character that a Go string may contain.
func encodeValues(set map[string]any) (string, error) {
	obj := make(map[string]string, len(set))
	for k, v := range set {
		if err := checkText("value key", k); err != nil {
			return "", err
		}
		b, err := latch.EncodeValue(v)
		if err != nil {
			return "", fmt.Errorf("pgstore: commit: %w", err)
		}
		obj[k] = string(b)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return "", fmt.Errorf("pgstore: commit: encode values: %w", err)
	}
	return string(b), nil
}

func decodeValues(data map[string]string) (map[string]any, error) {
	vals := make(map[string]any, len(data))
	for k, enc := range data {
		v, err := latch.DecodeValue([]byte(enc))
		if err != nil {
			return nil, fmt.Errorf("pgstore: load: stored value: %w", err)
		}
		vals[k] = v
	}
	return vals, nil
}

// scanMeta scans metaCols, then data when data is non-nil, from row. With
// id non-nil, the id column comes first.
func scanMeta(row pgx.Row, m *latch.Meta, data *map[string]string, id ...*[]byte) error {
	var (
		authTime                    *time.Time
		idleNS, absoluteNS, graceNS int64
		ua                          []byte
	)
	dest := make([]any, 0, 12)
	for _, p := range id {
		dest = append(dest, p)
	}
	dest = append(dest, &m.UserID, &m.Created, &m.LastSeen, &authTime, &idleNS, &absoluteNS, &graceNS, &m.Remember, &ua, &m.IP)
	if data != nil {
		dest = append(dest, data)
	}
	if err := row.Scan(dest...); err != nil {
		return err
	}
	if authTime != nil {
		m.AuthTime = *authTime
	}
	m.IdleTimeout = time.Duration(idleNS)
	m.AbsoluteTimeout = time.Duration(absoluteNS)
	m.Grace = time.Duration(graceNS)
	m.UserAgent = string(ua)
	return nil
}
