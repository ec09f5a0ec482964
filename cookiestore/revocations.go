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

// revocationMargin is added to every per-session revocation, so that a
// process whose clock is a little behind the one that revoked still
// refuses the cookie until it has expired by its own clock.
const revocationMargin = time.Minute

// Revoke refuses, from now on, every cookie that names the session id: a
// copy of the cookie taken before a logout, or before the renewal that
// replaced it (Renew, Login, Reauthenticate), and a cookie that a request
// already in progress seals again under id. The revocation is kept until
// until (the time after which Open refuses the cookie as expired anyway,
// but never less than now) plus one minute for clocks that disagree, in
// Options.Revocations. It returns latch.ErrNotSupported when no
// Revocations are configured: the cookie then stays valid until its
// timeouts.
func (s *Store) Revoke(ctx context.Context, id latch.Hash, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.revs == nil {
		return fmt.Errorf("cookiestore: revoke session: no Options.Revocations configured: %w", latch.ErrNotSupported)
	}
	if id.IsZero() {
		return errors.New("cookiestore: revoke session: zero session hash")
	}
	until = later(until, s.now()).Add(revocationMargin)
	if err := s.revs.Revoke(ctx, id, until.UTC()); err != nil {
		return fmt.Errorf("cookiestore: revoke session: %w", err)
	}
	return nil
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// RevokeUser ends every session of userID sealed before the call, by
// recording a "not before" time in Options.Revocations; the Manager seals
// the session it wants to keep (Session.RevokeOthers) again afterwards.
// It returns latch.ErrNotSupported when no Revocations are configured.
//
// The not-before time is the later of Options.Now and one nanosecond past
// the last seal of this Store, and later seals by this Store never go
// below it: within one process a revocation falls strictly between the
// seals before it and those after it, whatever the clock's resolution.
// Across processes it relies on their clocks agreeing.
func (s *Store) RevokeUser(ctx context.Context, userID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.revs == nil {
		return fmt.Errorf("cookiestore: revoke user: no Options.Revocations configured: %w", latch.ErrNotSupported)
	}
	if userID == "" {
		return errors.New("cookiestore: revoke user: empty user id")
	}
	now, err := unixNano(s.now())
	if err != nil {
		return fmt.Errorf("cookiestore: revoke user: %w", err)
	}
	nb := max(now, s.lastSeal.Load()+1)
	for {
		f := s.floor.Load()
		if nb <= f || s.floor.CompareAndSwap(f, nb) {
			break
		}
	}
	if err := s.revs.RevokeUser(ctx, userID, time.Unix(0, nb).UTC()); err != nil {
		return fmt.Errorf("cookiestore: revoke user: %w", err)
	}
	return nil
}

// revoked reports whether the session in e was revoked by itself or with
// every session of its user: one lookup for an anonymous session, two for
// an authenticated one.
func (s *Store) revoked(ctx context.Context, e *envelope) (bool, error) {
	if revoked, err := s.revs.Revoked(ctx, e.id); revoked || err != nil {
		return revoked, err
	}
	if e.meta.UserID == "" {
		return false, nil
	}
	nb, err := s.revs.NotBefore(ctx, e.meta.UserID)
	if err != nil {
		return false, err
	}
	return e.sealed.Before(nb), nil
}

// Revocations keeps what lets a Store refuse cookies it handed out: for
// each session that was logged out or renewed, its hash and until when to
// refuse it; for each user whose sessions were all ended, a "not before"
// time (a cookie of the user sealed before it is refused). It is the only
// way to end a stateless session before its timeouts. Open asks it about
// every cookie it accepts: Revoked for every session, NotBefore as well
// for an authenticated one. Implementations must be safe for concurrent
// use.
//
// An error from Revoked or NotBefore makes Open fail, and the Manager
// answers 503: a revocation that cannot be checked is never ignored.
type Revocations interface {
	// Revoke records that the session named id is refused until until.
	// It never shortens a revocation already recorded for id.
	Revoke(ctx context.Context, id latch.Hash, until time.Time) error
	// Revoked reports whether the session named id is refused now.
	Revoked(ctx context.Context, id latch.Hash) (bool, error)
	// RevokeUser records at as the user's not-before time. It never moves
	// an existing time backwards.
	RevokeUser(ctx context.Context, user string, at time.Time) error
	// NotBefore returns the user's not-before time, or the zero time when
	// none is recorded.
	NotBefore(ctx context.Context, user string) (time.Time, error)
}

// RevocationLifetime is how long StoreRevocations keeps a not-before
// record: longer than any session can live (latch caps every timeout at
// latch.MaxRememberTimeout) plus the stores' grace, so the record goes
// away only when no cookie sealed before it can still be accepted.
const RevocationLifetime = latch.MaxRememberTimeout + time.Hour

// notBeforeKey is the value key of a not-before record.
const notBeforeKey = "not_before_ns"

// StoreRevocations keeps revocations in st, any latch.Store (memstore,
// boltstore, redisstore, pgstore), so that every process that shares st
// sees a revocation at once. st must be durable and shared by every
// process that opens the cookies: a store that forgets a revocation
// (memstore across a restart) brings the cookies it ended back.
//
// Each revocation is one record of st with no user id (it is in no
// user's index, so DeleteUser on st never removes it):
//
//   - a revoked session, under the SHA-256 of
//     "latch-revoked-session\x00" followed by the session hash, with no
//     values, expiring at until;
//   - a user's not-before time, under the SHA-256 of
//     "latch-not-before\x00"+user, expiring RevocationLifetime after the
//     time it holds.
//
// Revoked and NotBefore are one st.Load each, which finds nothing for a
// session or a user that was never revoked.
//
// Two revocations of one user (or one session) at the same moment may both
// write, and the earlier time may win; the difference is the time between
// the two calls.
func StoreRevocations(st latch.Store) Revocations {
	return &storeRevocations{st: st}
}

type storeRevocations struct {
	st latch.Store
}

// revokedHash names the record that revokes session id.
func revokedHash(id latch.Hash) latch.Hash {
	const prefix = "latch-revoked-session\x00"
	var b [len(prefix) + latch.HashSize]byte
	copy(b[:], prefix)
	copy(b[len(prefix):], id[:])
	return sha256.Sum256(b[:])
}

// notBeforeHash names the record that holds user's not-before time.
func notBeforeHash(user string) latch.Hash {
	return sha256.Sum256([]byte("latch-not-before\x00" + user))
}

// Revoke implements Revocations.
func (r *storeRevocations) Revoke(ctx context.Context, id latch.Hash, until time.Time) error {
	if id.IsZero() {
		return errors.New("cookiestore: revoke: zero session hash")
	}
	if _, err := unixNano(until); err != nil {
		return fmt.Errorf("cookiestore: revoke: %w", err)
	}
	h := revokedHash(id)
	// A record that expires at until: its deadline is until, with no grace.
	meta := latch.Meta{Created: until, LastSeen: until}
	for range 3 {
		err := r.st.Commit(ctx, &latch.Commit{ID: h, Create: true, Meta: meta})
		if !errors.Is(err, latch.ErrExists) {
			if err != nil {
				return fmt.Errorf("cookiestore: revoke: store revoked session: %w", err)
			}
			return nil
		}
		// Revoked already (two requests renewed or logged out the same
		// session): keep the later end.
		rec, err := r.st.Load(ctx, h)
		switch {
		case errors.Is(err, latch.ErrNotFound):
			continue // it expired meanwhile: create it again
		case err != nil:
			return fmt.Errorf("cookiestore: revoke: load revoked session: %w", err)
		case !rec.ExpiresAt().Before(until):
			return nil
		}
		err = r.st.Commit(ctx, &latch.Commit{ID: h, Meta: meta})
		if errors.Is(err, latch.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cookiestore: revoke: store revoked session: %w", err)
		}
		return nil
	}
	return errors.New("cookiestore: revoke: the revoked-session record kept changing; try again")
}

// Revoked implements Revocations.
func (r *storeRevocations) Revoked(ctx context.Context, id latch.Hash) (bool, error) {
	_, err := r.st.Load(ctx, revokedHash(id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, latch.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("cookiestore: load revoked session: %w", err)
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

// RevokeUser implements Revocations.
func (r *storeRevocations) RevokeUser(ctx context.Context, user string, at time.Time) error {
	if user == "" {
		return errors.New("cookiestore: revoke user: empty user id")
	}
	ns, err := unixNano(at)
	if err != nil {
		return fmt.Errorf("cookiestore: revoke user: %w", err)
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
			return fmt.Errorf("cookiestore: revoke user: load not-before time: %w", err)
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
			return fmt.Errorf("cookiestore: revoke user: store not-before time: %w", err)
		}
		return nil
	}
	return errors.New("cookiestore: revoke user: the not-before record kept changing; try again")
}

// FuncRevocations adapts four functions to Revocations, for applications
// that keep revocations themselves (a not-before column of the users
// table and a table of revoked session hashes, for example). Every
// function is required; New refuses a FuncRevocations with one missing.
type FuncRevocations struct {
	// RevokeFunc records that session id is refused until until; it must
	// keep the later of a stored time and until, and may forget the
	// session after it.
	RevokeFunc func(ctx context.Context, id latch.Hash, until time.Time) error
	// RevokedFunc reports whether session id is revoked and its time not
	// yet past.
	RevokedFunc func(ctx context.Context, id latch.Hash) (bool, error)
	// RevokeUserFunc records the user's not-before time; it must keep the
	// later of the stored time and at.
	RevokeUserFunc func(ctx context.Context, user string, at time.Time) error
	// NotBeforeFunc returns the user's not-before time, or the zero time.
	NotBeforeFunc func(ctx context.Context, user string) (time.Time, error)
}

var errIncompleteFuncs = errors.New("cookiestore: FuncRevocations needs RevokeFunc, RevokedFunc, RevokeUserFunc and NotBeforeFunc")

// Revoke implements Revocations by calling RevokeFunc.
func (f FuncRevocations) Revoke(ctx context.Context, id latch.Hash, until time.Time) error {
	if f.RevokeFunc == nil {
		return errIncompleteFuncs
	}
	return f.RevokeFunc(ctx, id, until)
}

// Revoked implements Revocations by calling RevokedFunc.
func (f FuncRevocations) Revoked(ctx context.Context, id latch.Hash) (bool, error) {
	if f.RevokedFunc == nil {
		return false, errIncompleteFuncs
	}
	return f.RevokedFunc(ctx, id)
}

// RevokeUser implements Revocations by calling RevokeUserFunc.
func (f FuncRevocations) RevokeUser(ctx context.Context, user string, at time.Time) error {
	if f.RevokeUserFunc == nil {
		return errIncompleteFuncs
	}
	return f.RevokeUserFunc(ctx, user, at)
}

// NotBefore implements Revocations by calling NotBeforeFunc.
func (f FuncRevocations) NotBefore(ctx context.Context, user string) (time.Time, error) {
	if f.NotBeforeFunc == nil {
		return time.Time{}, errIncompleteFuncs
	}
	return f.NotBeforeFunc(ctx, user)
}

// complete reports whether every function is set.
func (f *FuncRevocations) complete() bool {
	return f.RevokeFunc != nil && f.RevokedFunc != nil && f.RevokeUserFunc != nil && f.NotBeforeFunc != nil
}

// checkRevocations refuses, at New, revocations that could only fail.
func checkRevocations(r Revocations) error {
	switch f := r.(type) {
	case FuncRevocations:
		if !f.complete() {
			return errIncompleteFuncs
		}
	case *FuncRevocations:
		if f == nil || !f.complete() {
			return errIncompleteFuncs
		}
	case *storeRevocations:
		if f.st == nil {
			return errors.New("cookiestore: StoreRevocations needs a store")
		}
	}
	return nil
}
