// Package storeurl opens a latch store named by one configuration string,
// so that an application (and the latch command's --store flag) takes its
// store from a URL:
//
//	memory                               memstore: sessions in this process
//	bolt:PATH                            boltstore: a file on this machine
//	redis://[user:password@]host:port[/db][?option=value...]
//	rediss://...                         Redis over TLS
//	redis+sentinel://[user:password@]host:port[,host:port...]/master[/db]
//	redis+cluster://[user:password@]host:port[,host:port...]
//	rediss+sentinel://..., rediss+cluster://...
//	postgres://user:password@host:port/db[?sslmode=...]   (or postgresql://)
//
// The Redis forms are redisstore.Open's, the PostgreSQL form
// pgstore.Open's: see them for the options each takes. Open connects (a
// Redis PING, a PostgreSQL ping), creates or upgrades pgstore's schema
// (pgstore.Migrate) and returns a Store that the application closes when
// it is done.
//
// A store URL often holds a password, so no error of this package repeats
// the URL or any part of it after the scheme: an unknown kind is named by
// its scheme only when the text has the form scheme://..., and the stores'
// own errors keep to the same rule.
//
// This package is its own module, since it depends on every store's
// module; an application that uses one store can import that store alone.
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/latchsec/latch/boltstore"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
	"github.com/latchsec/latch/pgstore"
	"github.com/latchsec/latch/redisstore"
)

// Forms lists the accepted store URLs, for usage messages.
const Forms = "memory, bolt:PATH, redis://HOST:PORT/DB, rediss://..., redis+sentinel://HOST:PORT,HOST:PORT/MASTER, redis+cluster://HOST:PORT,HOST:PORT, postgres://USER@HOST:PORT/DB"

// The kinds of store Open returns, in Store.Kind.
const (
	Memory   = "memory"
	Bolt     = "bolt"
	Redis    = "redis"
	Postgres = "postgres"
)

// ErrUnknownKind is matched (with errors.Is) by Open's error for a URL
// that names no store this package knows.
var ErrUnknownKind = errors.New("storeurl: unknown store kind")

// Options holds each store's options, for the kind the URL names; the
// others are ignored. The zero value gives every store its defaults.
type Options struct {
	Memory   memstore.Options
	Bolt     boltstore.Options
	Redis    redisstore.Options
	Postgres pgstore.Options
	// NoMigrate leaves pgstore's schema as it is: Open neither creates nor
	// upgrades it (run pgstore's Migrate from a deployment step instead).
	// Default false.
	NoMigrate bool
}

// Store is an open store. Close releases what Open acquired: the sweeper
// goroutine, the file, the client or the connection pool.
type Store struct {
	driver.Store
	io.Closer
	// Kind is Memory, Bolt, Redis or Postgres.
	Kind string
	// Path is the bolt file, "" for the other kinds.
	Path string
}

// Open opens the store that url names (see the package documentation for
// the forms), with opts for its kind. Errors never repeat the URL, which
// may hold a password; an unknown form matches ErrUnknownKind.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	scheme := strings.ToLower(schemeOf(url))
	switch {
	case url == "memory" || url == "memory:":
		s, err := memstore.New(opts.Memory)
		if err != nil {
			return nil, err
		}
		return &Store{Store: s, Closer: s, Kind: Memory}, nil
	case scheme == "bolt":
		return openBolt(url[len("bolt:"):], opts.Bolt)
	case scheme == "redis", scheme == "rediss", strings.HasPrefix(scheme, "redis+"), strings.HasPrefix(scheme, "rediss+"):
		s, err := redisstore.Open(ctx, url, opts.Redis)
		if err != nil {
			return nil, err
		}
		return &Store{Store: s, Closer: s, Kind: Redis}, nil
	case scheme == "postgres", scheme == "postgresql":
		return openPostgres(ctx, url, opts)
	}
	if before, _, ok := strings.Cut(url, "://"); ok && strings.EqualFold(before, scheme) && validScheme.MatchString(scheme) {
		return nil, fmt.Errorf("%w %q; use one of %s", ErrUnknownKind, scheme, Forms)
	}
	return nil, fmt.Errorf("%w; use one of %s", ErrUnknownKind, Forms)
}

// validScheme matches what RFC 3986 allows as a scheme, kept short: only
// such a text is repeated in an error.
var validScheme = regexp.MustCompile(`^[a-z][a-z0-9+.-]{0,31}$`)

// schemeOf returns the text before the first ":", or "".
func schemeOf(url string) string {
	scheme, _, ok := strings.Cut(url, ":")
	if !ok {
		return ""
	}
	return scheme
}

func openBolt(path string, opts boltstore.Options) (*Store, error) {
	path = strings.TrimPrefix(path, "//")
	if path == "" {
		return nil, errors.New("storeurl: bolt:PATH needs a file path")
	}
	s, err := boltstore.Open(path, opts)
	if err != nil {
		return nil, err
	}
	return &Store{Store: s, Closer: s, Kind: Bolt, Path: path}, nil
}

func openPostgres(ctx context.Context, url string, opts Options) (*Store, error) {
	s, err := pgstore.Open(ctx, url, opts.Postgres)
	if err != nil {
		return nil, err
	}
	if !opts.NoMigrate {
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return &Store{Store: s, Closer: s, Kind: Postgres}, nil
}
