// Package bench measures latch beside the two session libraries Go
// programs use most, github.com/alexedwards/scs/v2 and
// github.com/gorilla/sessions, on the same requests, in the same run.
//
// New builds one library ("lib") with three handlers that do the same thing
// in every library: Read (a page view that reads one value of a logged-in
// session and writes it in the body), Write (sets one value to a new number
// on every request) and Login (a request without a session that logs a user
// in: new session ID, user recorded, cookie sent). The library "bare" is the
// same handlers with no session at all: the floor every ratio is measured
// against.
//
// The go test benchmarks (bench_test.go), the behaviour figures of
// cmd/compare and the HTTP server that bench/e2e.sh loads with wrk all use
// these handlers, so every figure compares the same work. BENCHMARKS.md at
// the repository root holds the figures of one run and how to rerun them.
package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"
	"github.com/gorilla/sessions"
	"github.com/latchsec/latch"
	"github.com/latchsec/latch/boltstore"
	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
	"github.com/latchsec/latch/redisstore"
	"github.com/redis/go-redis/v9"
)

// The session every library starts from: user User logged in, value
// ThemeValue under ThemeKey. Write handlers set WriteKey.
const (
	User       = "alice"
	ThemeKey   = "theme"
	ThemeValue = "dark"
	WriteKey   = "n"
)

// IdleTimeout and AbsoluteTimeout are the limits every library is given:
// latch's defaults, which scs takes as IdleTimeout and Lifetime.
const (
	IdleTimeout     = 30 * time.Minute
	AbsoluteTimeout = 12 * time.Hour
)

// Library names.
const (
	Bare          = "bare"
	LatchMem      = "latch-mem"
	LatchBolt     = "latch-bolt"
	LatchCookie   = "latch-cookie"
	LatchRedis    = "latch-redis"
	SCSMem        = "scs-mem"
	SCSRedis      = "scs-redis"
	GorillaCookie = "gorilla-cookie"
)

// Names lists the libraries that need no server, in the order the
// benchmarks run them. RedisNames lists those that need Options.RedisURL.
var (
	Names      = []string{Bare, LatchMem, LatchBolt, LatchCookie, SCSMem, GorillaCookie}
	RedisNames = []string{Bare, LatchRedis, SCSRedis}
)

// ErrUnknownLib is returned by New for a name not in Names or RedisNames.
var ErrUnknownLib = errors.New("bench: unknown library")

// Options configure New. The zero value suits every library but latch-bolt
// (which needs Dir) and the Redis ones (which need RedisURL).
type Options struct {
	// Dir is a directory for latch-bolt's database file.
	Dir string
	// RedisURL is a redis:// URL for latch-redis and scs-redis. Each Lib
	// keeps its keys under its own random prefix.
	RedisURL string
	// Now is latch's clock (Config.Now and the store's). Default time.Now.
	// scs and gorilla read the system clock and cannot take another.
	Now func() time.Time
	// WrapLatch, when set, wraps latch's session store (not cookie mode's),
	// for example to count writes.
	WrapLatch func(driver.Store) driver.Store
	// WrapSCS, when set, wraps scs's store (memstore or go-redis).
	WrapSCS func(scs.Store) scs.Store
}

// Lib is one session library set up for the benchmarks.
type Lib struct {
	// Name is one of the library names.
	Name string
	// Read reads ThemeKey and writes its value as the body.
	Read http.Handler
	// Write sets WriteKey to a new number on each request and writes it
	// as the body.
	Write http.Handler
	// Login starts a session, logs User in and sets ThemeKey.
	Login http.Handler
	// Cookie is the value of a Cookie request header naming a session
	// that Login made ("" for bare).
	Cookie string
	// CookieName is the name of the session cookie ("" for bare).
	CookieName string

	// Latch is the manager of the latch libraries, SCS the manager of the
	// scs ones, Gorilla the store of gorilla-cookie; the others are nil.
	Latch   *latch.Manager
	SCS     *scs.SessionManager
	Gorilla *sessions.CookieStore
	// Redis is the client of scs-redis, or latch-redis's store client.
	Redis redis.UniversalClient
	// Prefix is the Redis key prefix of this Lib.
	Prefix string

	n       atomic.Int64
	closers []func() error
}

// Close releases the stores and clients of l. It deletes the Redis keys
// l made.
func (l *Lib) Close() error {
	var errs []error
	for i := len(l.closers) - 1; i >= 0; i-- {
		errs = append(errs, l.closers[i]())
	}
	l.closers = nil
	return errors.Join(errs...)
}

// Handle is the request-side view of a session in every library, for
// the figures of cmd/compare and the tests. The benchmarked handlers do
// not use it: they call each library directly, as an application would.
type Handle interface {
	Get(key string) any
	Set(key string, v any)
}

// Handler wraps fn in l's session middleware and gives it the request's
// session. For gorilla-cookie, values set by fn are saved when fn returns
// (fn must then not write the body). For bare, fn gets nil.
func (l *Lib) Handler(fn func(h Handle, w http.ResponseWriter, r *http.Request)) http.Handler {
	switch {
	case l.Latch != nil:
		return l.Latch.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := latch.FromContext(r.Context())
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fn(latchHandle{s}, w, r)
		}))
	case l.SCS != nil:
		return l.SCS.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fn(scsHandle{l.SCS, r.Context()}, w, r)
		}))
	case l.Gorilla != nil:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, err := l.Gorilla.Get(r, "session")
			if err != nil {
				http.Error(w, "bad session", http.StatusBadRequest)
				return
			}
			h := &gorillaHandle{s: sess}
			fn(h, w, r)
			if h.dirty {
				if err := sess.Save(r, w); err != nil {
					http.Error(w, "save", http.StatusInternalServerError)
				}
			}
		})
	default:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fn(nil, w, r) })
	}
}

type latchHandle struct{ s *latch.Session }

func (h latchHandle) Get(key string) any    { return h.s.Get(key) }
func (h latchHandle) Set(key string, v any) { h.s.Set(key, v) }

type scsHandle struct {
	sm  *scs.SessionManager
	ctx context.Context
}

func (h scsHandle) Get(key string) any    { return h.sm.Get(h.ctx, key) }
func (h scsHandle) Set(key string, v any) { h.sm.Put(h.ctx, key, v) }

type gorillaHandle struct {
	s     *sessions.Session
	dirty bool
}

func (h *gorillaHandle) Get(key string) any { return h.s.Values[key] }
func (h *gorillaHandle) Set(key string, v any) {
	h.s.Values[key] = v
	h.dirty = true
}

// Peek returns a handler that writes the value of key, formatted with
// fmt.Sprint ("" when unset), without changing anything the application
// sees.
func (l *Lib) Peek(key string) http.Handler {
	return l.Handler(func(h Handle, w http.ResponseWriter, r *http.Request) {
		if h == nil {
			return
		}
		if v := h.Get(key); v != nil {
			io.WriteString(w, fmt.Sprint(v))
		}
	})
}

// New sets up the library called name (see Names and RedisNames) and logs
// one session in, whose cookie is Lib.Cookie.
func New(ctx context.Context, name string, opts Options) (*Lib, error) {
	l := &Lib{Name: name}
	var err error
	switch name {
	case Bare:
		l.bare()
		return l, nil
	case LatchMem, LatchBolt, LatchCookie, LatchRedis:
		err = l.latch(ctx, opts)
	case SCSMem, SCSRedis:
		err = l.scs(ctx, opts)
	case GorillaCookie:
		l.gorilla()
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownLib, name)
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	if err := l.login(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// login runs Login once and keeps the session cookie it sets.
func (l *Lib) login() error {
	rec := httptest.NewRecorder()
	l.Login.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/login", nil))
	if rec.Code != http.StatusOK {
		return fmt.Errorf("bench: %s: login answered %d", l.Name, rec.Code)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == l.CookieName && c.Value != "" {
			l.Cookie = c.Name + "=" + c.Value
			return nil
		}
	}
	return fmt.Errorf("bench: %s: login set no %q cookie", l.Name, l.CookieName)
}

func (l *Lib) next() int { return int(l.n.Add(1)) }

func writeString(w http.ResponseWriter, s string) { io.WriteString(w, s) }

func (l *Lib) bare() {
	l.Read = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeString(w, ThemeValue)
	})
	l.Write = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeString(w, strconv.Itoa(l.next()))
	})
	l.Login = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeString(w, "ok")
	})
}

func randomPrefix(lib string) string {
	return "bench:" + lib + ":" + rand.Text()[:10] + ":"
}

func (l *Lib) latch(ctx context.Context, opts Options) error {
	keys, err := latch.NewKeyring(latch.Key{ID: "k1", Secret: latch.GenerateKey()})
	if err != nil {
		return fmt.Errorf("bench: keyring: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	var store driver.Store
	var stateless driver.Stateless
	switch l.Name {
	case LatchMem:
		ms, err := memstore.New(memstore.Options{Now: now})
		if err != nil {
			return fmt.Errorf("bench: memstore: %w", err)
		}
		l.closers = append(l.closers, ms.Close)
		store = ms
	case LatchBolt:
		if opts.Dir == "" {
			return errors.New("bench: latch-bolt needs Options.Dir")
		}
		bs, err := boltstore.Open(filepath.Join(opts.Dir, "latch-bench.db"), boltstore.Options{Now: now})
		if err != nil {
			return fmt.Errorf("bench: boltstore: %w", err)
		}
		l.closers = append(l.closers, bs.Close)
		store = bs
	case LatchRedis:
		if opts.RedisURL == "" {
			return errors.New("bench: latch-redis needs Options.RedisURL")
		}
		l.Prefix = randomPrefix(l.Name)
		rs, err := redisstore.Open(ctx, opts.RedisURL, redisstore.Options{Prefix: l.Prefix, Now: now})
		if err != nil {
			return fmt.Errorf("bench: redisstore: %w", err)
		}
		l.Redis = rs.Client()
		l.closers = append(l.closers, rs.Close, func() error { return deletePrefix(rs.Client(), l.Prefix) })
		store = rs
	case LatchCookie:
		revs, err := memstore.New(memstore.Options{Now: now})
		if err != nil {
			return fmt.Errorf("bench: memstore: %w", err)
		}
		l.closers = append(l.closers, revs.Close)
		cs, err := cookiestore.New(keys, cookiestore.Options{Revocations: cookiestore.StoreRevocations(revs), Now: now})
		if err != nil {
			return fmt.Errorf("bench: cookiestore: %w", err)
		}
		stateless = cs
	}
	if opts.WrapLatch != nil && l.Name != LatchCookie {
		store = opts.WrapLatch(store)
	}
	m, err := latch.New(latch.Config{
		Store:           store,
		Stateless:       stateless,
		Keys:            keys,
		IdleTimeout:     IdleTimeout,
		AbsoluteTimeout: AbsoluteTimeout,
		Logger:          slog.New(slog.DiscardHandler),
		Now:             now,
	})
	if err != nil {
		return fmt.Errorf("bench: latch: %w", err)
	}
	l.Latch = m
	l.CookieName = m.CookieName()
	l.Read = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		writeString(w, s.GetString(ThemeKey))
	}))
	l.Write = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		n := l.next()
		s.Set(WriteKey, n)
		writeString(w, strconv.Itoa(n))
	}))
	l.Login = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Set(ThemeKey, ThemeValue)
		if err := s.Login(User); err != nil {
			http.Error(w, "login failed", http.StatusServiceUnavailable)
			return
		}
		writeString(w, "ok")
	}))
	return nil
}

func (l *Lib) scs(ctx context.Context, opts Options) error {
	sm := scs.New()
	sm.IdleTimeout = IdleTimeout
	sm.Lifetime = AbsoluteTimeout
	sm.Cookie.Secure = true
	sm.Cookie.Persist = false
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "session store failed", http.StatusInternalServerError)
	}
	var store scs.Store
	switch l.Name {
	case SCSMem:
		// No cleanup goroutine: scs's StopCleanup races with the goroutine
		// it stops (it reads a field the goroutine writes), and a sweep
		// every minute never runs during a benchmark anyway. Find and
		// Commit are the same either way; cmd/compare measures the sweep.
		store = scsmem.NewWithCleanupInterval(0)
	case SCSRedis:
		if opts.RedisURL == "" {
			return errors.New("bench: scs-redis needs Options.RedisURL")
		}
		ro, err := redis.ParseURL(opts.RedisURL)
		if err != nil {
			return fmt.Errorf("bench: redis URL: %w", errors.New("malformed")) // the URL may hold a password
		}
		client := redis.NewClient(ro)
		if err := client.Ping(ctx).Err(); err != nil {
			client.Close()
			return fmt.Errorf("bench: redis: %w", err)
		}
		l.Prefix = randomPrefix(l.Name)
		l.Redis = client
		l.closers = append(l.closers, client.Close, func() error { return deletePrefix(client, l.Prefix) })
		store = goredisstore.NewWithPrefix(client, l.Prefix)
	}
	if opts.WrapSCS != nil {
		store = opts.WrapSCS(store)
	}
	sm.Store = store
	l.SCS = sm
	l.CookieName = sm.Cookie.Name
	l.Read = sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeString(w, sm.GetString(r.Context(), ThemeKey))
	}))
	l.Write = sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := l.next()
		sm.Put(r.Context(), WriteKey, n)
		writeString(w, strconv.Itoa(n))
	}))
	l.Login = sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
			return
		}
		sm.Put(r.Context(), "user", User)
		sm.Put(r.Context(), ThemeKey, ThemeValue)
		writeString(w, "ok")
	}))
	return nil
}

func (l *Lib) gorilla() {
	cs := sessions.NewCookieStore(latch.GenerateKey(), latch.GenerateKey()) // HMAC-SHA256 and AES-256
	cs.Options.HttpOnly = true
	cs.Options.Secure = true
	cs.Options.SameSite = http.SameSiteLaxMode
	cs.Options.MaxAge = 0
	l.Gorilla = cs
	l.CookieName = "session"
	l.Read = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := cs.Get(r, "session")
		if err != nil {
			http.Error(w, "bad session", http.StatusBadRequest)
			return
		}
		v, _ := sess.Values[ThemeKey].(string)
		writeString(w, v)
	})
	l.Write = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := cs.Get(r, "session")
		if err != nil {
			http.Error(w, "bad session", http.StatusBadRequest)
			return
		}
		n := l.next()
		sess.Values[WriteKey] = n
		if err := sess.Save(r, w); err != nil {
			http.Error(w, "save failed", http.StatusInternalServerError)
			return
		}
		writeString(w, strconv.Itoa(n))
	})
	l.Login = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := cs.Get(r, "session")
		if err != nil {
			http.Error(w, "bad session", http.StatusBadRequest)
			return
		}
		sess.Values["user"] = User
		sess.Values[ThemeKey] = ThemeValue
		if err := sess.Save(r, w); err != nil {
			http.Error(w, "save failed", http.StatusInternalServerError)
			return
		}
		writeString(w, "ok")
	})
}

// deletePrefix deletes the keys under prefix, so that runs against a
// shared Redis leave nothing behind.
func deletePrefix(c redis.UniversalClient, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return fmt.Errorf("bench: clean up redis keys: %w", err)
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("bench: clean up redis keys: %w", err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}
