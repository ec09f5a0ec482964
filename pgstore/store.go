package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/latchsec/latch/driver"
)

// Load returns the live record stored under id, driver.ErrNotFound, or a
// *driver.RenewedError when a renewal left a forward under id. A row whose
// expires_at has passed by the database's clock is never returned.
func (s *Store) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: load: %w", err)
	}
	if id.IsZero() {
		return nil, driver.ErrNotFound
	}
	row := s.pool.QueryRow(ctx, s.q.load, pgx.NamedArgs{"id": id[:]})
	var (
		rec  driver.Record
		data map[string]string
	)
	if err := scanMeta(row, &rec.Meta, &data); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, s.missing(ctx, "load", id)
		}
		return nil, wrap("load", err)
	}
	vals, err := decodeValues(data)
	if err != nil {
		return nil, err
	}
	rec.Values = vals
	return &rec, nil
}

// missing says why no live session row is stored under id: a
// *driver.RenewedError when a live forward is, driver.ErrNotFound otherwise.
// Callers ask it after the statement that missed the row, so a renewal
// that moved the row before that statement has committed its forward.
func (s *Store) missing(ctx context.Context, op string, id driver.Hash) error {
	var to []byte
	err := s.pool.QueryRow(ctx, s.q.forwardOf, pgx.NamedArgs{"id": id[:]}).Scan(&to)
	if err != nil {
		return wrap(op, err) // ErrNoRows becomes driver.ErrNotFound
	}
	return renewedTo(op, to)
}

func renewedTo(op string, to []byte) error {
	if len(to) != driver.HashSize {
		return fmt.Errorf("pgstore: %s: stored forward has %d bytes, want %d", op, len(to), driver.HashSize)
	}
	e := &driver.RenewedError{}
	copy(e.To[:], to)
	return e
}

// Commit applies c atomically; see driver.Commit. A plain commit that keeps
// the session's user is one UPDATE statement that patches the data column
// key by key, so concurrent commits to different keys both survive. Every
// other commit that writes a user's session first takes that user's
// advisory lock (see the package doc), in the same round trip; commits
// under a MaxPerUser limit then count the user's sessions in the same
// transaction.
func (s *Store) Commit(ctx context.Context, c *driver.Commit) error {
	args, err := commitArgs(c)
	if err != nil {
		return err
	}
	limited := c.MaxPerUser > 0 && c.Meta.UserID != ""
	switch {
	case !c.From.IsZero():
		return s.lockedWrite(ctx, c, s.q.renew, args, limited)
	case c.Create:
		return s.create(ctx, c, args, limited)
	}
	// A plain commit: try the common case, same user, as one statement.
	// It needs no lock: a DeleteUser that runs at the same time either
	// waits for the row or has deleted it.
	tag, err := s.pool.Exec(ctx, s.q.updateSame, args)
	if err != nil {
		return wrap("commit", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// Gone, renewed, or the user changes.
	return s.lockedWrite(ctx, c, s.q.updateLocked, args, limited)
}

// create inserts a new session. A user's session is inserted under the
// user's lock, and counted against MaxPerUser when limited.
func (s *Store) create(ctx context.Context, c *driver.Commit, args pgx.NamedArgs, limited bool) error {
	var then func(pgx.Tx) error
	if limited {
		then = func(tx pgx.Tx) error { return s.enforceLimit(ctx, tx, c) }
	}
	return retry(func() error {
		return s.locked(ctx, []string{c.Meta.UserID}, s.q.insert, args, func(br pgx.BatchResults) error {
			tag, err := br.Exec()
			if err != nil {
				return wrap("commit", err)
			}
			if tag.RowsAffected() == 0 {
				return driver.ErrExists
			}
			return nil
		}, then)
	})
}

// maxLockTries bounds how often lockedWrite runs its statement again
// because the row's user was not among the locked ones.
const maxLockTries = 8

// errNoWrite rolls back a limited commit whose statement wrote nothing;
// lockedWrite then says why.
var errNoWrite = errors.New("pgstore: nothing written")

// lockedWrite runs a renewal (sql is q.renew) or a plain commit that the
// one-statement path could not apply (q.updateLocked) under the locks of
// the commit's user and of the user stored in the row it writes. Both
// statements report the row's user and write nothing when that user's
// lock is not held; the first try locks the commit's user only, which is
// the row's user too unless the commit changes it, and a second try adds
// the user found.
func (s *Store) lockedWrite(ctx context.Context, c *driver.Commit, sql string, args pgx.NamedArgs, limited bool) error {
	at := c.ID // the row the statement reads
	if !c.From.IsZero() {
		at = c.From
	}
	users := []string{c.Meta.UserID}
	for try := 1; ; try++ {
		args["locked"] = users
		var (
			found *string // the row's user; nil when no live row is stored
			wrote int64
		)
		read := func(br pgx.BatchResults) error {
			if err := br.QueryRow().Scan(&found, &wrote); err != nil {
				return wrap("commit", err)
			}
			return nil
		}
		var then func(pgx.Tx) error
		if limited {
			then = func(tx pgx.Tx) error {
				if wrote == 0 {
					return errNoWrite // rolled back, nothing to undo
				}
				return s.enforceLimit(ctx, tx, c)
			}
		}
		err := retry(func() error { return s.locked(ctx, users, sql, args, read, then) })
		if errors.Is(err, errNoWrite) {
			err = nil
		}
		switch {
		case err != nil:
			return err
		case found == nil:
			return s.missing(ctx, "commit", at)
		case wrote > 0:
			return nil
		case *found != "" && !slices.Contains(users, *found):
			if try == maxLockTries {
				return errors.New("pgstore: commit: the session's user kept changing; gave up")
			}
			users = append(users, *found)
		case !c.From.IsZero():
			// From is live and locked: the insert found ID taken.
			return driver.ErrExists
		default:
			return fmt.Errorf("pgstore: commit: row found but not written")
		}
	}
}

// locked sends, in one round trip, the statements that take the advisory
// locks of users (in the order of their keys, so that two transactions
// never wait for each other's), then sql, and lets read consume sql's
// result. "" (anonymous) takes no lock.
//
// With then nil, the batch runs as one implicit transaction: the locks are
// held until sql's writes commit, at the end of the round trip. Otherwise
// the batch begins a transaction, then runs in it after read, and the
// transaction commits if both return nil.
func (s *Store) locked(ctx context.Context, users []string, sql string, args pgx.NamedArgs, read func(pgx.BatchResults) error, then func(pgx.Tx) error) error {
	keys := lockKeys(users)
	b := &pgx.Batch{}
	if then != nil {
		b.BeginTx(pgx.TxOptions{})
	}
	for _, k := range keys {
		b.Queue(s.q.lockUser, pgx.NamedArgs{"class": s.lockClass, "key": k})
	}
	b.Queue(sql, args)
	if then == nil && s.hold != "" {
		b.Queue(s.hold)
	}
	br := s.pool.SendBatch(ctx, b)
	err := func() error {
		if then != nil {
			if _, err := br.Exec(); err != nil {
				return wrap("begin", err)
			}
		}
		for range keys {
			if _, err := br.Exec(); err != nil {
				return wrap("lock user", err)
			}
		}
		return read(br)
	}()
	// Close reads what is left and, for an implicit transaction, reports
	// a failed commit.
	if cerr := br.Close(); err == nil && cerr != nil {
		err = wrap("commit", cerr)
	}
	if then == nil {
		return err
	}
	tx := br.Tx()
	if err == nil {
		err = then(tx)
	}
	return s.end(ctx, tx, "commit", err)
}

// lockKeys returns the advisory lock keys of users, sorted, without
// duplicates and without the anonymous "".
func lockKeys(users []string) []int32 {
	keys := make([]int32, 0, len(users))
	for _, u := range users {
		if u != "" {
			keys = append(keys, userLockKey(u))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// enforceLimit runs after the commit's row is written, under the user's
// lock: if the row is live and the user's other live sessions leave no
// room for it, it evicts the oldest or refuses (and the caller's
// transaction rolls back). Anonymous sessions (empty UserID) are never
// limited.
func (s *Store) enforceLimit(ctx context.Context, tx pgx.Tx, c *driver.Commit) error {
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
		return driver.ErrSessionLimit
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
	return s.end(ctx, tx, op, f(tx))
}

// end commits tx if err is nil, and rolls it back otherwise.
func (s *Store) end(ctx context.Context, tx pgx.Tx, op string, err error) error {
	if err == nil && s.hold != "" {
		_, err = tx.Exec(ctx, s.hold)
	}
	if err != nil {
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

// maxConflictTries bounds retry.
const maxConflictTries = 3

// retry runs f again when PostgreSQL aborted its transaction to break a
// deadlock or a serialization conflict: the transaction was rolled back,
// so running it again is safe. The locks are taken in a fixed order and
// the statements run under READ COMMITTED, so neither is expected; this
// keeps a rare one from reaching the user as an error.
func retry(f func() error) error {
	for try := 1; ; try++ {
		err := f()
		var pgErr *pgconn.PgError
		if try == maxConflictTries || !errors.As(err, &pgErr) || (pgErr.Code != "40P01" && pgErr.Code != "40001") {
			return err
		}
	}
}

// Delete removes the session under id. When id holds a forward, it removes
// the forward and goes on at its target, hop by hop, in one transaction,
// deleting the session at the end of the chain. Deleting a missing record
// is not an error.
//
// Delete and a renewal of a hash of the chain are ordered by the row lock
// of that hash: a renewal that got there first has committed its forward
// by the time Delete's statement reads the hash, and one that comes later
// finds the row gone and fails with driver.ErrNotFound.
func (s *Store) Delete(ctx context.Context, id driver.Hash) error {
	if s.hold == "" {
		// The common case, a session row, as one statement.
		tag, err := s.pool.Exec(ctx, s.q.deleteOne, pgx.NamedArgs{"id": id[:]})
		if err != nil {
			return wrap("delete", err)
		}
		if tag.RowsAffected() > 0 {
			return nil
		}
	}
	return retry(func() error {
		return s.inTx(ctx, "delete", func(tx pgx.Tx) error {
			return s.deleteChain(ctx, tx, id, s.hold == "")
		})
	})
}

// deleteChain deletes the session under h, or the forward under h and
// then, hop by hop, what its target holds. An expired forward is deleted
// but not followed. The session row of each hash
// is deleted before its forward is looked for, each in a statement of its
// own, so that a renewal of the hash that commits in between is seen.
// With skipFirst the caller has already deleted h's session row.
func (s *Store) deleteChain(ctx context.Context, tx pgx.Tx, h driver.Hash, skipFirst bool) error {
	for hop := 0; hop <= maxHops; hop++ {
		if hop > 0 || !skipFirst {
			tag, err := tx.Exec(ctx, s.q.deleteOne, pgx.NamedArgs{"id": h[:]})
			if err != nil {
				return wrap("delete", err)
			}
			if tag.RowsAffected() > 0 {
				return nil
			}
		}
		var (
			to   []byte
			live bool
		)
		err := tx.QueryRow(ctx, s.q.deleteForward, pgx.NamedArgs{"id": h[:]}).Scan(&to, &live)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !live) {
			return nil
		}
		if err != nil {
			return wrap("delete", err)
		}
		if len(to) != driver.HashSize {
			return fmt.Errorf("pgstore: delete: stored forward has %d bytes, want %d", len(to), driver.HashSize)
		}
		copy(h[:], to)
	}
	// Rolled back: the chain stays whole for a later Delete.
	return fmt.Errorf("pgstore: delete: more than %d forwards in a row", maxHops)
}

// ListUser returns the user's live sessions, oldest first by Created. The
// anonymous user "" has none: anonymous sessions are in no user's index.
func (s *Store) ListUser(ctx context.Context, userID string) ([]driver.Info, error) {
	if err := checkText("user ID", userID); err != nil {
		return nil, err
	}
	if userID == "" {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("pgstore: list user: %w", err)
		}
		return []driver.Info{}, nil
	}
	rows, err := s.pool.Query(ctx, s.q.listUser, pgx.NamedArgs{"user_id": userID})
	if err != nil {
		return nil, wrap("list user", err)
	}
	defer rows.Close()
	var out []driver.Info
	for rows.Next() {
		var (
			info driver.Info
			id   []byte
		)
		if err := scanMeta(rows, &info.Meta, nil, &id); err != nil {
			return nil, wrap("list user", err)
		}
		if len(id) != driver.HashSize {
			return nil, fmt.Errorf("pgstore: list user: stored id has %d bytes, want %d", len(id), driver.HashSize)
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
// zero, and is followed through the forwards its renewals left) and
// returns how many live sessions it removed. Expired rows of the user are
// deleted too but not counted. The anonymous user "" has no sessions.
//
// It holds the user's advisory lock, which every renewal, creation, user
// change and eviction of the user's sessions also takes, and reads the
// user's rows only once it holds it: a renewal that moved a session to a
// new hash before is seen at its new hash, and one that comes later finds
// its session gone.
func (s *Store) DeleteUser(ctx context.Context, userID string, keep driver.Hash) (int, error) {
	if err := checkText("user ID", userID); err != nil {
		return 0, err
	}
	if userID == "" {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("pgstore: delete user: %w", err)
		}
		return 0, nil
	}
	var n int64
	args := pgx.NamedArgs{"user_id": userID, "keep": keep[:]}
	err := retry(func() error {
		return s.locked(ctx, []string{userID}, s.q.deleteUser, args, func(br pgx.BatchResults) error {
			if err := br.QueryRow().Scan(&n); err != nil {
				return wrap("delete user", err)
			}
			return nil
		}, nil)
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// commitArgs validates c and returns the named arguments of every commit
// statement.
func commitArgs(c *driver.Commit) (pgx.NamedArgs, error) {
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
	if err := checkText("device key", m.DeviceKey); err != nil {
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
	var boundAt any // NULL when not bound
	if !m.DeviceBoundAt.IsZero() {
		boundAt = dbTime(m.DeviceBoundAt)
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
		"device_key":          m.DeviceKey,
		"device_bound_at":     boundAt,
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
// driver.EncodeValue and kept as a JSON string holding that encoding. The
// extra layer lets any value round-trip exactly: jsonb itself normalises
// numbers and refuses the NUL character that a Go string may contain.
func encodeValues(set map[string]any) (string, error) {
	obj := make(map[string]string, len(set))
	for k, v := range set {
		if err := checkText("value key", k); err != nil {
			return "", err
		}
		b, err := driver.EncodeValue(v)
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
		v, err := driver.DecodeValue([]byte(enc))
		if err != nil {
			return nil, fmt.Errorf("pgstore: load: stored value: %w", err)
		}
		vals[k] = v
	}
	return vals, nil
}

// scanMeta scans metaCols, then data when data is non-nil, from row. With
// id non-nil, the id column comes first.
func scanMeta(row pgx.Row, m *driver.Meta, data *map[string]string, id ...*[]byte) error {
	var (
		authTime, boundAt           *time.Time
		idleNS, absoluteNS, graceNS int64
		ua                          []byte
	)
	dest := make([]any, 0, 14)
	for _, p := range id {
		dest = append(dest, p)
	}
	dest = append(dest, &m.UserID, &m.Created, &m.LastSeen, &authTime, &idleNS, &absoluteNS, &graceNS, &m.Remember, &ua, &m.IP, &m.DeviceKey, &boundAt)
	if data != nil {
		dest = append(dest, data)
	}
	if err := row.Scan(dest...); err != nil {
		return err
	}
	if authTime != nil {
		m.AuthTime = *authTime
	}
	if boundAt != nil {
		m.DeviceBoundAt = *boundAt
	}
	m.IdleTimeout = time.Duration(idleNS)
	m.AbsoluteTimeout = time.Duration(absoluteNS)
	m.Grace = time.Duration(graceNS)
	m.UserAgent = string(ua)
	return nil
}
