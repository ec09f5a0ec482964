package cookiestore

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/latchsec/latch"
)

// Revocations keeps, per user, a "not before" time: a cookie of the user
// sealed before it is refused. It is the only way to end a stateless
// session before its timeouts, and it costs one lookup per request that
// carries an authenticated session. Implementations must be safe for
// concurrent use.
type Revocations interface {
	// NotBefore returns the user's not-before time, or the zero time when
	// none is recorded. An error makes Open fail, and the Manager answers
	// 503: a revocation that cannot be checked is never ignored.
	NotBefore(ctx context.Context, user string) (time.Time, error)
	// Revoke records at as the user's not-before time. It never moves an
	// existing time backwards.
	Revoke(ctx context.Context, user string, at time.Time) error
}

// RevocationLifetime is how long StoreRevocations keeps a not-before
// record: longer than any session can live (latch caps every timeout at
// latch.MaxRememberTimeout) plus the stores' grace, so the record goes
// away only when no cookie sealed before it can still be accepted.
const RevocationLifetime = latch.MaxRememberTimeout + time.Hour

// notBeforeKey is the value key of a not-before record.
const notBeforeKey = "not_before_ns"

// StoreRevocations keeps not-before times in st, any latch.Store (memstore,
// boltstore, redisstore, pgstore), so that every process that shares st
// sees a revocation at once. A user's time is a record stored under the
// SHA-256 of "latch-not-before\x00"+user, with no user id (it is in no
// user's index, so DeleteUser on st never removes it), expiring
// RevocationLifetime after the time it holds. st must be durable and shared
// by every process that opens the cookies: a store that forgets a
// revocation (memstore across a restart) brings the cookies it ended back.
//
// Two Revoke calls for one user at the same moment may both write, and the
// earlier time may win; the difference is the time between the two calls.
func StoreRevocations(st latch.Store) Revocations {
	return &storeRevocations{st: st}
}

type storeRevocations struct {
	st latch.Store
}

func notBeforeHash(user string) latch.Hash {
	return sha256.Sum256([]byte("latch-not-before\x00" + user))
}

// NotBefore implements Revocations.
func (r *storeRevocations) NotBefore(ctx context.Context, user string) (time.Time, error) {
	rec, err := r.st.Load(ctx, notBeforeHash(user))
	if errors.Is(err, latch.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("cookiestore: load not-before time: %w", err)
	}
	t, err := notBefore(rec)
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// notBefore reads the time out of a not-before record. The value is a
// decimal string of Unix nanoseconds, which every store gives back as it
// was set.
func notBefore(rec *latch.Record) (time.Time, error) {
	var s string
	switch v := rec.Values[notBeforeKey].(type) {
	case string:
		s = v
	case json.Number:
		s = string(v)
	default:
		return time.Time{}, errors.New("cookiestore: not-before record holds no time")
	}
	ns, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, errors.New("cookiestore: not-before record holds no time")
	}
	return time.Unix(0, ns).UTC(), nil
}

// Revoke implements Revocations.
func (r *storeRevocations) Revoke(ctx context.Context, user string, at time.Time) error {
	if user == "" {
		return errors.New("cookiestore: revoke: empty user id")
	}
	ns, err := unixNano(at)
	if err != nil {
		return fmt.Errorf("cookiestore: revoke: %w", err)
	}
	h := notBeforeHash(user)
	for range 3 {
		c := &latch.Commit{
			ID:   h,
			Meta: latch.Meta{Created: at, LastSeen: at, IdleTimeout: RevocationLifetime, AbsoluteTimeout: RevocationLifetime},
			Set:  map[string]any{notBeforeKey: strconv.FormatInt(ns, 10)},
		}
		rec, err := r.st.Load(ctx, h)
		switch {
		case errors.Is(err, latch.ErrNotFound):
			c.Create = true
		case err != nil:
			return fmt.Errorf("cookiestore: revoke: load not-before time: %w", err)
		default:
			if old, err := notBefore(rec); err == nil && !old.Before(at) {
				return nil // a later revocation is already in force
			}
		}
		err = r.st.Commit(ctx, c)
		if errors.Is(err, latch.ErrExists) || errors.Is(err, latch.ErrNotFound) {
			continue // another writer created or the record expired meanwhile: read again
		}
		if err != nil {
			return fmt.Errorf("cookiestore: revoke: store not-before time: %w", err)
		}
		return nil
	}
	return errors.New("cookiestore: revoke: the not-before record kept changing; try again")
}

// FuncRevocations adapts two functions to Revocations, for applications
// that keep the not-before time themselves (a column of the users table,
// for example). Both functions are required; New refuses a FuncRevocations
// with either missing.
type FuncRevocations struct {
	// NotBeforeFunc returns the user's not-before time, or the zero time.
	NotBeforeFunc func(ctx context.Context, user string) (time.Time, error)
	// RevokeFunc records the user's not-before time; it must keep the
	// later of the stored time and at.
	RevokeFunc func(ctx context.Context, user string, at time.Time) error
}

var errIncompleteFuncs = errors.New("cookiestore: FuncRevocations needs both NotBeforeFunc and RevokeFunc")

// NotBefore implements Revocations by calling NotBeforeFunc.
func (f FuncRevocations) NotBefore(ctx context.Context, user string) (time.Time, error) {
	if f.NotBeforeFunc == nil {
		return time.Time{}, errIncompleteFuncs
	}
	return f.NotBeforeFunc(ctx, user)
}

// Revoke implements Revocations by calling RevokeFunc.
func (f FuncRevocations) Revoke(ctx context.Context, user string, at time.Time) error {
	if f.RevokeFunc == nil {
		return errIncompleteFuncs
	}
	return f.RevokeFunc(ctx, user, at)
}

// checkRevocations refuses, at New, revocations that could only fail.
func checkRevocations(r Revocations) error {
	switch f := r.(type) {
	case FuncRevocations:
		if f.NotBeforeFunc == nil || f.RevokeFunc == nil {
			return errIncompleteFuncs
		}
	case *FuncRevocations:
		if f == nil || f.NotBeforeFunc == nil || f.RevokeFunc == nil {
			return errIncompleteFuncs
		}
	case *storeRevocations:
		if f.st == nil {
			return errors.New("cookiestore: StoreRevocations needs a store")
		}
		if _, ok := f.st.(latch.Stateless); ok {
			return errors.New("cookiestore: StoreRevocations needs a server-side store (memstore, boltstore, redisstore, pgstore), not a cookie store")
		}
	}
	return nil
}
