package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/storetest"
)

const envURL = "LATCH_TEST_POSTGRES_URL"

var (
	poolOnce sync.Once
	poolErr  error
	shared   *pgxpool.Pool
)

// testPool returns a pool on the test server, shared by the package's
// tests, or skips (fails under CI=true) when none is configured.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(envURL + " not set: scripts/test must start a PostgreSQL server (pgstore/testserver.sh)")
		}
		t.Skip(envURL + " not set; start a server with pgstore/testserver.sh")
	}
	poolOnce.Do(func() {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			poolErr = errors.New("invalid " + envURL)
			return
		}
		cfg.MaxConns = 16
		shared, poolErr = pgxpool.NewWithConfig(context.Background(), cfg)
		if poolErr == nil {
			poolErr = shared.Ping(context.Background())
		}
	})
	if poolErr != nil {
		t.Fatalf("connect to %s: %v", envURL, poolErr)
	}
	return shared
}

// TestMain closes the shared pool after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

// uniqueTable returns a table name no other test or run uses.
func uniqueTable(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "latch_test_" + hex.EncodeToString(b[:])
}

// dropTables removes a test's table, its forwards table and its version
// table.
func dropTables(t testing.TB, pool *pgxpool.Pool, table string) {
	t.Helper()
	tn, err := parseTable(table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, err := pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+tn.ident("")+", "+tn.ident("_forwards")+", "+tn.ident("_version"))
		if err != nil {
			t.Errorf("drop test tables: %v", err)
		}
	})
}

// newTestStore returns a migrated Store on a fresh table, closed and
// dropped when the test ends.
func newTestStore(t testing.TB, o Options) *Store {
	t.Helper()
	return newTestStoreAfter(t, o, time.After)
}

// newTestStoreAfter is newTestStore with the sweeper scheduled by after.
func newTestStoreAfter(t testing.TB, o Options, after func(time.Duration) <-chan time.Time) *Store {
	t.Helper()
	pool := testPool(t)
	if o.Table == "" {
		o.Table = uniqueTable(t)
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = -1 // tests sweep explicitly
	}
	if o.OnError == nil {
		o.OnError = func(err error) { t.Errorf("sweeper: %v", err) }
	}
	dropTables(t, pool, o.Table)
	s, err := newStore(pool, o, after)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pool := testPool(t)
	var version string
	if err := pool.QueryRow(context.Background(), "SHOW server_version").Scan(&version); err != nil {
		t.Fatalf("SHOW server_version: %v", err)
	}
	t.Logf("PostgreSQL server version %s", version)
	storetest.Run(t, func(t *testing.T) driver.Store {
		return newTestStore(t, Options{})
	})
}

func randomHash(t testing.TB) driver.Hash {
	t.Helper()
	var h driver.Hash
	if _, err := rand.Read(h[:]); err != nil {
		t.Fatal(err)
	}
	return h
}

func liveMeta(user string) driver.Meta {
	now := time.Now().UTC()
	return driver.Meta{
		UserID:          user,
		Created:         now,
		LastSeen:        now,
		IdleTimeout:     30 * time.Minute,
		AbsoluteTimeout: 12 * time.Hour,
	}
}

// countRows returns how many rows the store's table holds, dead or alive.
func countRows(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+s.table.ident("")).Scan(&n); err != nil {
		t.Fatalf("count rows: %v", err)
	}
	return n
}

// insertRows creates n sessions that expire at now()+offset by the
// database's clock.
func insertRows(t *testing.T, s *Store, n int, offset time.Duration) {
	t.Helper()
	ctx := context.Background()
	ids := make([][]byte, 0, n)
	for range n {
		id := randomHash(t)
		if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: liveMeta("")}); err != nil {
			t.Fatalf("create: %v", err)
		}
		ids = append(ids, id[:])
	}
	// Move the deadlines by the database's clock, so the test does not
	// depend on this host's clock agreeing with the server's.
	_, err := s.pool.Exec(ctx, "UPDATE "+s.table.ident("")+" SET expires_at = now() + $1::interval WHERE id = ANY($2)", offset, ids)
	if err != nil {
		t.Fatalf("set expiry: %v", err)
	}
}

func TestSweepBatches(t *testing.T) {
	tests := []struct {
		name      string
		batch     int
		expired   int
		live      int
		wantSwept int
	}{
		{"empty table", 3, 0, 2, 0},
		{"fewer than one batch", 3, 2, 2, 2},
		{"exactly one batch", 3, 3, 1, 3},
		{"several batches", 3, 10, 4, 10},
		{"batch of one", 1, 4, 1, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, Options{SweepBatch: tc.batch})
			insertRows(t, s, tc.expired, -time.Minute)
			insertRows(t, s, tc.live, time.Hour)
			n, err := s.Sweep(context.Background())
			if err != nil {
				t.Fatalf("Sweep: %v", err)
			}
			if n != tc.wantSwept {
				t.Errorf("Sweep deleted %d rows, want %d", n, tc.wantSwept)
			}
			if got := countRows(t, s); got != tc.live {
				t.Errorf("%d rows left, want the %d live ones", got, tc.live)
			}
		})
	}
}

// fakeClock fires the sweeper on demand: its After stands in for
// time.After (see newStore). Every call of After is announced on waits, so
// a test knows when the sweeper is idle again.
type fakeClock struct {
	waits chan time.Duration
	fire  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{waits: make(chan time.Duration, 16), fire: make(chan time.Time)}
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.waits <- d
	return c.fire
}

// tick waits for the sweeper to ask for the next interval, then lets it run.
func (c *fakeClock) tick(t *testing.T) {
	t.Helper()
	select {
	case <-c.waits:
	case <-time.After(10 * time.Second):
		t.Fatal("sweeper never waited for its interval")
	}
	select {
	case c.fire <- time.Now():
	case <-time.After(10 * time.Second):
		t.Fatal("sweeper did not take the tick")
	}
}

// idle waits until the sweeper finished its sweep and waits again.
func (c *fakeClock) idle(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.waits:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("sweeper did not finish its sweep")
	}
	return 0
}

func TestSweeper(t *testing.T) {
	clock := newFakeClock()
	errs := make(chan error, 4)
	s := newTestStoreAfter(t, Options{
		SweepInterval: 7 * time.Minute,
		SweepBatch:    2,
		OnError:       func(err error) { errs <- err },
	}, clock.After)
	insertRows(t, s, 5, -time.Minute)
	insertRows(t, s, 1, time.Hour)

	clock.tick(t)
	if d := clock.idle(t); d != 7*time.Minute {
		t.Errorf("sweeper waited %v, want Options.SweepInterval 7m", d)
	}
	if got := countRows(t, s); got != 1 {
		t.Errorf("%d rows after a sweep, want 1 live row", got)
	}

	// A failing sweep is reported, not swallowed, and the sweeper goes on.
	if _, err := s.pool.Exec(context.Background(), "DROP TABLE "+s.table.ident("")); err != nil {
		t.Fatal(err)
	}
	clock.fire <- time.Now()
	clock.idle(t)
	select {
	case err := <-errs:
		if !errors.Is(err, ErrNoTable) {
			t.Errorf("OnError got %v, want an error wrapping ErrNoTable", err)
		}
	default:
		t.Error("OnError was not called for a failed sweep")
	}

	// Close stops the goroutine and waits for it.
	s.Close()
	select {
	case <-s.done:
	default:
		t.Error("sweeper still running after Close")
	}
	s.Close() // idempotent
}

func TestCloseInterruptsSweepWait(t *testing.T) {
	s := newTestStore(t, Options{SweepInterval: time.Hour})
	finished := make(chan struct{})
	go func() {
		s.Close()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while the sweeper waited an hour")
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{}) // migrated once

	// Twice is harmless and keeps the data.
	id := randomHash(t)
	if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: liveMeta("u"), Set: map[string]any{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if _, err := s.Load(ctx, id); err != nil {
		t.Fatalf("Load after second Migrate: %v", err)
	}
	var version int
	if err := s.pool.QueryRow(ctx, "SELECT version FROM "+s.table.ident("_version")).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != SchemaVersion {
		t.Errorf("recorded schema version %d, want %d", version, SchemaVersion)
	}

	// Concurrent migrations of a fresh table serialise.
	fresh := uniqueTable(t)
	dropTables(t, s.pool, fresh)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			st, err := New(s.pool, Options{Table: fresh, SweepInterval: -1})
			if err != nil {
				errs[i] = err
				return
			}
			defer st.Close()
			errs[i] = st.Migrate(ctx)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate %d: %v", i, err)
		}
	}

	// A newer schema is refused, not damaged.
	if _, err := s.pool.Exec(ctx, "UPDATE "+s.table.ident("_version")+" SET version = $1", SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Migrate over a newer schema: got %v, want a 'newer' error", err)
	}
}

func TestMigrateForeignTable(t *testing.T) {
	pool := testPool(t)
	table := uniqueTable(t)
	dropTables(t, pool, table)
	if _, err := pool.Exec(context.Background(), "CREATE TABLE "+table+" (id bytea PRIMARY KEY, payload text)"); err != nil {
		t.Fatal(err)
	}
	s, err := New(pool, Options{Table: table, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Migrate(context.Background())
	if err == nil || !strings.Contains(err.Error(), "column") || !strings.HasPrefix(err.Error(), "pgstore: migrate: ") {
		t.Errorf("Migrate over another table of the same name: got %v, want a pgstore: migrate: error about a column", err)
	}
}

func TestSchemaSQL(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	table := "hand_" + uniqueTable(t)
	dropTables(t, pool, table)
	sql, err := SchemaSQL(table)
	if err != nil {
		t.Fatal(err)
	}
	// An operator applies it by hand, twice; Migrate then has nothing to do.
	for i := range 2 {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("apply SchemaSQL (%d): %v", i+1, err)
		}
	}
	s, err := New(pool, Options{Table: table, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after SchemaSQL: %v", err)
	}
	id := randomHash(t)
	if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: liveMeta("")}); err != nil {
		t.Fatalf("Commit on a hand-made schema: %v", err)
	}
}

// TestDocSchema keeps the SQL in the package doc equal to SchemaSQL.
func TestDocSchema(t *testing.T) {
	sql, err := SchemaSQL("")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var doc strings.Builder
	for line := range strings.Lines(string(src)) {
		if rest, ok := strings.CutPrefix(line, "//\t"); ok {
			doc.WriteString(rest)
		}
	}
	if !strings.Contains(doc.String(), sql) {
		t.Errorf("doc.go does not show the current schema; it should contain:\n%s", sql)
	}
}

func TestNoTable(t *testing.T) {
	pool := testPool(t)
	s, err := New(pool, Options{Table: uniqueTable(t), SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Load(context.Background(), randomHash(t))
	if !errors.Is(err, ErrNoTable) {
		t.Errorf("Load before Migrate: got %v, want ErrNoTable", err)
	}
	if errors.Is(err, driver.ErrNotFound) {
		t.Error("Load before Migrate must fail closed, not report ErrNotFound")
	}
}

// TestExactValues covers what the shared suite does not: values and client
// hints that PostgreSQL text and jsonb cannot hold as they are.
func TestExactValues(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	tests := []struct {
		name string
		ua   string
		set  map[string]any
	}{
		{"NUL in a string value", "ua", map[string]any{"k": "a\x00b"}},
		{"invalid UTF-8 in a value", "ua", map[string]any{"k": "\xff\xfe"}},
		{"number beyond float64", "ua", map[string]any{"n": uint64(1<<64 - 1)}},
		{"exponent", "ua", map[string]any{"f": 1e300}},
		{"user agent not UTF-8", "Mozilla/5.0 \xe9\xff", nil},
		{"empty key", "ua", map[string]any{"": "v"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := randomHash(t)
			m := liveMeta("")
			m.UserAgent = tc.ua
			if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: m, Set: tc.set}); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			rec, err := s.Load(ctx, id)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if rec.UserAgent != tc.ua {
				t.Errorf("UserAgent = %q, want %q", rec.UserAgent, tc.ua)
			}
			for k, v := range tc.set {
				// The meaning EncodeValue and DecodeValue give v.
				enc, err := driver.EncodeValue(v)
				if err != nil {
					t.Fatal(err)
				}
				want, err := driver.DecodeValue(enc)
				if err != nil {
					t.Fatal(err)
				}
				if got := rec.Values[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("value %q = %#v, want %#v", k, got, want)
				}
			}
		})
	}
}

// TestStoredForm checks what an operator sees in the table.
func TestStoredForm(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	id := randomHash(t)
	m := liveMeta("alice")
	m.Created = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: m, Set: map[string]any{"n": 42}}); err != nil {
		t.Fatal(err)
	}
	var (
		rawID   []byte
		user    string
		created time.Time
		data    string
	)
	err := s.pool.QueryRow(ctx, "SELECT id, user_id, created, data::text FROM "+s.table.ident("")).Scan(&rawID, &user, &created, &data)
	if err != nil {
		t.Fatal(err)
	}
	if string(rawID) != string(id[:]) || user != "alice" {
		t.Errorf("stored id %x user %q, want %x %q", rawID, user, id[:], "alice")
	}
	if want := m.Created.Truncate(time.Microsecond); !created.Equal(want) {
		t.Errorf("stored created %v, want %v (rounded down to the microsecond)", created, want)
	}
	if data != `{"n": "42"}` {
		t.Errorf("stored data %s, want {\"n\": \"42\"}", data)
	}
}

// TestLoadUsesDatabaseClock checks that expiry follows now() in the
// database, whatever the application's clock says.
func TestLoadUsesDatabaseClock(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	id := randomHash(t)
	// By the application's clock this session lives for 30 minutes.
	if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: liveMeta("u")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "UPDATE "+s.table.ident("")+" SET expires_at = now() - interval '1 millisecond'"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, id); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Load of a row expired by the database clock: got %v, want ErrNotFound", err)
	}
	if err := s.Commit(ctx, &driver.Commit{ID: id, Meta: liveMeta("u")}); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Commit to a row expired by the database clock: got %v, want ErrNotFound", err)
	}
	if list, err := s.ListUser(ctx, "u"); err != nil || len(list) != 0 {
		t.Errorf("ListUser: got %d sessions, %v; want none", len(list), err)
	}
}

// TestRenewIntoLiveRowKeepsOld checks the rollback of a renewal whose new
// ID is taken: both records stay as they were.
func TestRenewIntoLiveRowKeepsOld(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	from, taken := randomHash(t), randomHash(t)
	for _, id := range []driver.Hash{from, taken} {
		if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: liveMeta("u"), Set: map[string]any{"who": id.Handle()}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, max := range []int{0, 5} {
		err := s.Commit(ctx, &driver.Commit{ID: taken, From: from, Create: true, Meta: liveMeta("u"), MaxPerUser: max})
		if !errors.Is(err, driver.ErrExists) {
			t.Fatalf("renew into a live ID (MaxPerUser %d): got %v, want ErrExists", max, err)
		}
		for _, id := range []driver.Hash{from, taken} {
			rec, err := s.Load(ctx, id)
			if err != nil {
				t.Fatalf("Load %s after the failed renewal: %v", id.Handle(), err)
			}
			if rec.Values["who"] != id.Handle() {
				t.Errorf("record %s changed: who = %v", id.Handle(), rec.Values["who"])
			}
		}
	}
}

// offlinePool returns a pool that never connects (nothing listens on port
// 1): enough for checks that fail before any query.
func offlinePool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestNewOptions(t *testing.T) {
	pool := offlinePool(t)
	tests := []struct {
		name      string
		opts      Options
		wantErr   string
		wantTable string
	}{
		{"zero options", Options{}, "", "latch_sessions"},
		{"custom table", Options{Table: "my_sessions"}, "", "my_sessions"},
		{"schema-qualified", Options{Table: "auth.sessions"}, "", "auth.sessions"},
		{"quote in name", Options{Table: `x"; DROP TABLE users; --`}, "invalid table name", ""},
		{"space in name", Options{Table: "my sessions"}, "invalid table name", ""},
		{"leading digit", Options{Table: "1sessions"}, "invalid table name", ""},
		{"too long", Options{Table: strings.Repeat("a", 41)}, "at most 40", ""},
		{"three parts", Options{Table: "a.b.c"}, "want \"table\"", ""},
		{"empty schema", Options{Table: ".sessions"}, "invalid schema", ""},
		{"bad schema", Options{Table: "a-b.sessions"}, "invalid schema", ""},
		{"negative batch", Options{SweepBatch: -1}, "SweepBatch", ""},
		{"huge batch", Options{SweepBatch: MaxSweepBatch + 1}, "SweepBatch", ""},
		{"max batch", Options{SweepBatch: MaxSweepBatch}, "", "latch_sessions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.SweepInterval = -1
			s, err := New(pool, o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New: got error %v, want one containing %q", err, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "pgstore: ") {
					t.Errorf("error %q lacks the pgstore: prefix", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer s.Close()
			if s.Table() != tc.wantTable {
				t.Errorf("Table() = %q, want %q", s.Table(), tc.wantTable)
			}
		})
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil pool): got nil error")
	}
}

func TestNewDefaults(t *testing.T) {
	s, err := New(offlinePool(t), Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case <-s.done:
	default:
		t.Error("New started a sweeper with a negative SweepInterval")
	}
	if s.batchSize != DefaultSweepBatch {
		t.Errorf("batch size %d, want %d", s.batchSize, DefaultSweepBatch)
	}
	clock := newFakeClock()
	s2, err := newStore(offlinePool(t), Options{}, clock.After)
	if err != nil {
		t.Fatal(err)
	}
	if d := clock.idle(t); d != DefaultSweepInterval {
		t.Errorf("sweeper interval %v, want %v", d, DefaultSweepInterval)
	}
	s2.Close()
}

func TestCommitRefusesBadInput(t *testing.T) {
	s, err := New(offlinePool(t), Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id, other := driver.Hash{1}, driver.Hash{2}
	meta := func(f func(*driver.Meta)) driver.Meta {
		m := liveMeta("u")
		f(&m)
		return m
	}
	tests := []struct {
		name    string
		c       *driver.Commit
		wantErr string
	}{
		{"nil commit", nil, "nil commit"},
		{"zero ID", &driver.Commit{Create: true, Meta: liveMeta("u")}, "zero session ID"},
		{"negative MaxPerUser", &driver.Commit{ID: id, Create: true, Meta: liveMeta("u"), MaxPerUser: -1}, "negative MaxPerUser"},
		{"renewal to itself", &driver.Commit{ID: id, From: id, Meta: liveMeta("u")}, "same ID"},
		{"user ID not UTF-8", &driver.Commit{ID: id, Create: true, Meta: meta(func(m *driver.Meta) { m.UserID = "\xff" })}, "user ID is not valid UTF-8"},
		{"user ID with NUL", &driver.Commit{ID: id, Create: true, Meta: meta(func(m *driver.Meta) { m.UserID = "a\x00" })}, "user ID contains a NUL"},
		{"IP not UTF-8", &driver.Commit{ID: id, Create: true, Meta: meta(func(m *driver.Meta) { m.IP = "\xc0" })}, "client IP"},
		{"set key with NUL", &driver.Commit{ID: id, From: other, Meta: liveMeta("u"), Set: map[string]any{"a\x00": 1}}, "value key contains a NUL"},
		{"delete key not UTF-8", &driver.Commit{ID: id, Meta: liveMeta("u"), Delete: []string{"\xff"}}, "value key is not valid UTF-8"},
		{"value that cannot be encoded", &driver.Commit{ID: id, Create: true, Meta: liveMeta("u"), Set: map[string]any{"ch": make(chan int)}}, "encode session value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Commit(context.Background(), tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Commit: got %v, want an error containing %q", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "pgstore: ") {
				t.Errorf("error %q lacks the pgstore: prefix", err)
			}
		})
	}
	for _, user := range []string{"\xff", "a\x00b"} {
		if _, err := s.ListUser(context.Background(), user); err == nil {
			t.Errorf("ListUser(%q): got nil error", user)
		}
		if _, err := s.DeleteUser(context.Background(), user, driver.Hash{}); err == nil {
			t.Errorf("DeleteUser(%q): got nil error", user)
		}
	}
}

func TestOpenHidesPassword(t *testing.T) {
	const secret = "hunter2-very-secret"
	tests := []struct {
		name string
		url  string
	}{
		{"malformed port", "postgres://u:" + secret + "@127.0.0.1:notaport/db"},
		{"malformed URL", "postgres://u:" + secret + "@[::1/db"},
		{"unreachable server", "postgres://u:" + secret + "@127.0.0.1:1/db?connect_timeout=1"},
		{"bad option", "postgres://u:" + secret + "@127.0.0.1/db?sslmode=bogus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := Open(ctx, tc.url, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open: got nil error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error reveals the password: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "pgstore: ") {
				t.Errorf("error %q lacks the pgstore: prefix", err)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	testPool(t) // skips without a server
	ctx := context.Background()
	table := uniqueTable(t)
	dropTables(t, testPool(t), table)
	s, err := Open(ctx, os.Getenv(envURL), Options{Table: table, SweepInterval: -1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	pool := s.pool
	s.Close()
	// The pool Open made is the store's to close.
	if err := pool.Ping(ctx); err == nil {
		t.Error("pool still usable after Close of a Store from Open")
	}
}

// TestWrap checks how database errors map to latch errors.
func TestWrap(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"no rows", pgx.ErrNoRows, driver.ErrNotFound},
		{"canceled", context.Canceled, context.Canceled},
		{"deadline", context.DeadlineExceeded, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := wrap("op", tc.err); !errors.Is(got, tc.want) {
				t.Errorf("wrap(%v) = %v, want it to wrap %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestSchemaQualifiedTable(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	schema := "schema_" + uniqueTable(t)
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	s := newTestStore(t, Options{Table: schema + ".sessions"})
	id := randomHash(t)
	if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: liveMeta("u"), MaxPerUser: 2}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if list, err := s.ListUser(ctx, "u"); err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("ListUser: got %v, %v; want the one session", list, err)
	}
	var indexes int
	err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = 'sessions'", schema).Scan(&indexes)
	if err != nil {
		t.Fatal(err)
	}
	if indexes != 3 { // primary key, (user_id, created), expires_at
		t.Errorf("%d indexes on %s.sessions, want 3", indexes, schema)
	}
}

// TestLimitIgnoresDeadResult checks that a commit whose result is already
// expired adds no session, so it neither evicts nor is refused.
func TestLimitIgnoresDeadResult(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	old := randomHash(t)
	if err := s.Commit(ctx, &driver.Commit{ID: old, Create: true, Meta: liveMeta("u")}); err != nil {
		t.Fatal(err)
	}
	dead := liveMeta("u")
	dead.LastSeen = dead.LastSeen.Add(-time.Hour) // idle deadline passed
	for _, evict := range []bool{false, true} {
		err := s.Commit(ctx, &driver.Commit{ID: randomHash(t), Create: true, Meta: dead, MaxPerUser: 1, EvictOldest: evict})
		if err != nil {
			t.Errorf("expired commit at the limit (EvictOldest %v): got %v, want nil", evict, err)
		}
	}
	if _, err := s.Load(ctx, old); err != nil {
		t.Errorf("the live session was evicted by an expired commit: %v", err)
	}
}
