package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/latchsec/latch/driver"
)

// Defaults for Options fields left at their zero value.
const (
	// DefaultTable is the table that holds the sessions.
	DefaultTable = "latch_sessions"
	// DefaultSweepInterval is the pause between two sweeps of expired
	// rows.
	DefaultSweepInterval = 5 * time.Minute
	// DefaultSweepBatch is the number of expired rows one DELETE removes.
	DefaultSweepBatch = 1000
	// MaxSweepBatch bounds Options.SweepBatch so that one sweep statement
	// never holds many row locks at once.
	MaxSweepBatch = 100000
	// maxTableLen leaves room for the suffixes of the derived index,
	// forwards-table and version-table names (the longest is
	// "_forwards_exp_idx") within PostgreSQL's 63-byte identifier limit.
	maxTableLen = 40
)

// ErrNoTable is returned, wrapped, when the sessions table or its forwards
// table (schema version 2) does not exist, or the sessions table lacks a
// column of the current schema (device_key, version 3): run Store.Migrate
// or apply the SQL in the package documentation.
var ErrNoTable = errors.New("pgstore: sessions or forwards table, or one of their columns, does not exist (run Migrate or apply the schema in the package doc)")

// Options configure a Store. The zero value is ready to use; each field
// documents its default. There is no clock to set: every expiry decision
// is taken by the database's clock (see the package doc).
type Options struct {
	// Table is the sessions table, optionally schema-qualified
	// ("auth.sessions"). Each part must be a plain SQL identifier: a letter
	// or underscore, then letters, digits or underscores, at most 40 bytes
	// for the table name. The schema must exist; Migrate creates only the
	// table, its indexes and the version table "<Table>_version" beside
	// it. Default: "latch_sessions".
	Table string
	// SweepInterval is the pause between two sweeps of the background
	// goroutine that deletes expired rows. Zero means DefaultSweepInterval
	// (5 minutes); a negative value starts no background sweeper (call
	// Store.Sweep yourself, or schedule the DELETE from the package doc).
	// Expired rows are never returned, swept or not.
	SweepInterval time.Duration
	// SweepBatch is the number of expired rows one DELETE statement of a
	// sweep removes; a sweep repeats it until fewer rows are left. Zero
	// means DefaultSweepBatch (1000); New refuses a negative value or one
	// above MaxSweepBatch.
	SweepBatch int
	// OnError receives every error of the background sweeper (they never
	// contain a session ID or a value). Default (nil): logged with slog at
	// level Error.
	OnError func(error)
}

// identRE matches one plain, unquoted SQL identifier part.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// tableName is a validated, possibly schema-qualified table name.
type tableName struct {
	schema string // "" when unqualified
	name   string
}

func parseTable(s string) (tableName, error) {
	var t tableName
	parts := strings.Split(s, ".")
	switch len(parts) {
	case 1:
		t.name = parts[0]
	case 2:
		t.schema, t.name = parts[0], parts[1]
		if !identRE.MatchString(t.schema) || len(t.schema) > 63 {
			return t, errors.New("pgstore: invalid schema name in Options.Table: want letters, digits and underscores, at most 63 bytes")
		}
	default:
		return t, errors.New("pgstore: invalid Options.Table: want \"table\" or \"schema.table\"")
	}
	if !identRE.MatchString(t.name) || len(t.name) > maxTableLen {
		return t, fmt.Errorf("pgstore: invalid table name in Options.Table: want letters, digits and underscores, at most %d bytes", maxTableLen)
	}
	return t, nil
}

// ident returns the quoted identifier of the table with the given suffix,
// in the table's schema.
func (t tableName) ident(suffix string) string {
	if t.schema == "" {
		return pgx.Identifier{t.name + suffix}.Sanitize()
	}
	return pgx.Identifier{t.schema, t.name + suffix}.Sanitize()
}

// String returns the table name as given.
func (t tableName) String() string {
	if t.schema == "" {
		return t.name
	}
	return t.schema + "." + t.name
}

// Store is a driver.Store on PostgreSQL. It is safe for concurrent use by
// any number of goroutines, processes and machines sharing the database.
type Store struct {
	pool     *pgxpool.Pool
	ownsPool bool
	table    tableName
	q        queries
	// lockClass is the first key of the per-user advisory locks, derived
	// from the table name so that two tables never share locks.
	lockClass int32

	interval  time.Duration
	batchSize int
	onError   func(error)
	// after schedules the sweeper: time.After, or a fake in the tests.
	// Nothing else in the store reads a local clock.
	after func(time.Duration) <-chan time.Time

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once

	// hold, set by tests only, is a statement that every write runs last,
	// in its transaction, just before the commit: a test makes it wait on
	// a lock the test holds, to keep the write's transaction open while a
	// concurrent operation runs.
	hold string
}

var _ driver.Store = (*Store)(nil)

// New returns a Store that keeps sessions in pool's database. It does not
// touch the database: call Migrate once (or apply the SQL from the package
// doc) before the first request. Unless Options.SweepInterval is negative,
// New starts a goroutine that deletes expired rows; Close stops it. The
// caller keeps ownership of pool and closes it after Close.
func New(pool *pgxpool.Pool, opts Options) (*Store, error) {
	return newStore(pool, opts, time.After)
}

// newStore is New with the sweeper scheduled by after, which tests replace
// to run sweeps on demand.
func newStore(pool *pgxpool.Pool, o Options, after func(time.Duration) <-chan time.Time) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: nil pool")
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	table, err := parseTable(o.Table)
	if err != nil {
		return nil, err
	}
	switch {
	case o.SweepBatch == 0:
		o.SweepBatch = DefaultSweepBatch
	case o.SweepBatch < 0 || o.SweepBatch > MaxSweepBatch:
		return nil, fmt.Errorf("pgstore: Options.SweepBatch %d out of range 1..%d", o.SweepBatch, MaxSweepBatch)
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.OnError == nil {
		o.OnError = func(err error) { slog.Error("pgstore: background sweep failed", "err", err) }
	}
	h := fnv.New32a()
	h.Write([]byte("latch/pgstore:" + table.String()))
	s := &Store{
		pool:      pool,
		table:     table,
		q:         buildQueries(table),
		lockClass: int32(h.Sum32()),
		interval:  o.SweepInterval,
		batchSize: o.SweepBatch,
		onError:   o.OnError,
		after:     after,
		done:      make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if s.interval > 0 {
		go s.sweeper(ctx)
	} else {
		close(s.done)
	}
	return s, nil
}

// Open connects to the database at url (a PostgreSQL URL or key=value
// connection string, as pgxpool.ParseConfig accepts), checks that it
// answers, and returns a Store over a pool it owns: Close closes the pool
// too. Like New, it does not create the schema.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included: report
		// only that it is malformed.
		return nil, errors.New("pgstore: invalid database URL")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	s, err := New(pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownsPool = true
	return s, nil
}

// Close stops the background sweeper and waits for it to return; when the
// Store came from Open it also closes the pool. Close is idempotent and
// always returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		if s.ownsPool {
			s.pool.Close()
		}
	})
	return nil
}

// Table returns the (possibly schema-qualified) name of the sessions table.
func (s *Store) Table() string { return s.table.String() }

// userLockKey is the second key of a user's advisory lock. Collisions only
// serialise two users' logins needlessly; they never break correctness.
func userLockKey(userID string) int32 {
	h := fnv.New32a()
	h.Write([]byte(userID))
	return int32(h.Sum32())
}

// wrap prefixes err with the operation and maps PostgreSQL errors that have
// a clearer meaning here.
func wrap(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return driver.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "42703") { // undefined_table, undefined_column
		return fmt.Errorf("pgstore: %s: %w: %w", op, ErrNoTable, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}
