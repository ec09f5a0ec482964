// Package storeurl opens a latch store named by a URL, for the latch
// command's --store flags.
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/latchsec/latch/boltstore"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
	"github.com/latchsec/latch/pgstore"
	"github.com/latchsec/latch/redisstore"
)

// Forms lists the accepted store URLs, for usage messages.
const Forms = "bolt:PATH, memory, redis://HOST:PORT/DB, rediss://..., redis+sentinel://HOST:PORT,HOST:PORT/MASTER, redis+cluster://HOST:PORT,HOST:PORT, postgres://USER@HOST:PORT/DB"

// Store is an open store and how to close it.
type Store struct {
	driver.Store
	io.Closer
	// Kind is "bolt", "memory", "redis" or "postgres".
	Kind string
	// Path is the bolt file, "" for other kinds.
	Path string
}

// Open opens the store that u names. Errors never repeat the URL, which may
// hold a password.
func Open(ctx context.Context, u string) (*Store, error) {
	switch {
	case u == "memory" || u == "memory:":
		s, err := memstore.New(memstore.Options{})
		if err != nil {
			return nil, err
		}
		return &Store{Store: s, Closer: s, Kind: "memory"}, nil
	case strings.HasPrefix(u, "bolt:"):
		path := strings.TrimPrefix(strings.TrimPrefix(u, "bolt:"), "//")
		if path == "" {
			return nil, errors.New("store: bolt:PATH needs a file path")
		}
		s, err := boltstore.Open(path, boltstore.Options{})
		if err != nil {
			return nil, err
		}
		return &Store{Store: s, Closer: s, Kind: "bolt", Path: path}, nil
	case strings.HasPrefix(u, "redis://"), strings.HasPrefix(u, "rediss://"), strings.HasPrefix(u, "redis+"):
		s, err := redisstore.Open(ctx, u, redisstore.Options{})
		if err != nil {
			return nil, err
		}
		return &Store{Store: s, Closer: s, Kind: "redis"}, nil
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		s, err := pgstore.Open(ctx, u, pgstore.Options{})
		if err != nil {
			return nil, err
		}
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
		return &Store{Store: s, Closer: s, Kind: "postgres"}, nil
	}
	scheme, _, _ := strings.Cut(u, ":")
	return nil, fmt.Errorf("store: unknown kind %q; use one of %s", scheme, Forms)
}
