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
	"github.com/latchsec/latch/driver"
)

// revocationMargin is added to the end of every per-session record that
// Revoke and Renewed keep. The core gives as that end the latest time any
// copy of the cookie could be opened, read on the clock of the process
// that ends the session; the margin covers
//
//   - a process whose clock is behind the revocation store's (the record
//     expires by the store's clock, the cookie by the opening process's),
//     by up to a minute;
//   - a request that opened the session before it ended and seals it again
//     afterwards (its commit stamps a later last-seen time), up to a
//     minute after the revocation.
const revocationMargin = time.Minute

// maxRenewalHops bounds how many renewals Revoke follows from the session
// it was given to the one the chain ends at, as memstore and boltstore
// bound Delete: each hop is a renewal of the session (Renew, Login,
// Reauthenticate) since the cookie that Revoke was given was sealed, and a
// longer chain means a Revocations that loops.
const maxRenewalHops = 1024

// Revoke refuses, from now on, every cookie that names the session id: a
// copy of the cookie taken before a logout, and a cookie that a request
// already in progress seals again under id. When id was renewed (see
// Renewed), the session it was renewed into is revoked too, and so on down
// the chain: a logout that races a renewal, or that carries a cookie the
// renewal replaced, ends the renewed session, whichever request the
// revocation store saw first.
//
// The revocation of id is kept until until (the time after which Open
// refuses the cookie as expired anyway, but never less than now) plus one
// minute (see the package doc), in Options.Revocations. A session that
// Revoke reaches by following a renewal may live longer than id would
// have (a login makes a remember-me session out of an anonymous one), and
// its end is not known here: its revocation is kept for
// RevocationLifetime, which outlasts any session.
//
// It returns driver.ErrNotSupported when no Revocations are configured: the
// cookie then stays valid until its timeouts.
func (s *Store) Revoke(ctx context.Context, id driver.Hash, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.revs == nil {
		return fmt.Errorf("cookiestore: revoke session: no Options.Revocations configured: %w", driver.ErrNotSupported)
	}
	if id.IsZero() {
		return errors.New("cookiestore: revoke session: zero session hash")
	}
	now := s.now()
	end := later(until, now).Add(revocationMargin)
	for hops := 0; ; hops++ {
		err := s.revs.Revoke(ctx, id, end.UTC())
		if err == nil {
			return nil
		}
		var moved *driver.RenewedError
		if !errors.As(err, &moved) {
			return fmt.Errorf("cookiestore: revoke session: %w", err)
		}
		switch {
		case moved.To.IsZero() || moved.To == id:
			return fmt.Errorf("cookiestore: revoke session: Revocations.Revoke says %s was renewed into %s", id.Handle(), moved.To.Handle())
		case hops == maxRenewalHops:
			return fmt.Errorf("cookiestore: revoke session: the session was renewed more than %d times", maxRenewalHops)
		}
		// id's cookies are refused already, as renewed, for as long as
		// they could be opened: go on at the session it became.
		id = moved.To
		end = later(end, now.Add(RevocationLifetime))
	}
}

// Renewed records that the session named from was renewed into the
// session named to: from's cookies are refused from now on (Open gives
// driver.ReasonRenewed for them), until until plus one minute (see
// Revoke), and a later Revoke of from goes on to to.
//
// The revocation store settles a renewal that races a logout or another
// renewal of from: the first to record anything for from wins. Renewed
// returns an error matching driver.ErrNotFound, recording nothing, when
// from was revoked first (the renewal must fail: the session ended), and
// one that holds a *driver.RenewedError naming the other session when
// another request renewed from first. In both cases nothing refuses to's
// cookie, so the caller must not hand it out; the Manager does not.
//
// It returns driver.ErrNotSupported when no Revocations are configured: the
// replaced cookie then stays valid until its timeouts.
func (s *Store) Renewed(ctx context.Context, from, to driver.Hash, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.revs == nil {
		return fmt.Errorf("cookiestore: renewed: no Options.Revocations configured: %w", driver.ErrNotSupported)
	}
	if from.IsZero() || to.IsZero() {
		return errors.New("cookiestore: renewed: zero session hash")
	}
	if from == to {
		return errors.New("cookiestore: renewed: a session renewed into itself")
	}
	end := later(until, s.now()).Add(revocationMargin)
	err := s.revs.Renewed(ctx, from, to, end.UTC())
	if err == nil {
		return nil
	}
	var moved *driver.RenewedError
	switch {
	case errors.As(err, &moved):
		return fmt.Errorf("cookiestore: renewed: another request renewed session %s first: %w", from.Handle(), err)
	case errors.Is(err, driver.ErrNotFound):
		return fmt.Errorf("cookiestore: renewed: session %s was revoked first: %w", from.Handle(), err)
	}
	return fmt.Errorf("cookiestore: renewed: %w", err)
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
// It returns driver.ErrNotSupported when no Revocations are configured.
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
		return fmt.Errorf("cookiestore: revoke user: no Options.Revocations configured: %w", driver.ErrNotSupported)
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

// refused says why the session in e is refused by the revocations: ""
// when it is not, driver.ReasonRenewed for a session that a renewal
// replaced, driver.ReasonNotFound for one revoked by itself or with every
// session of its user. That is one lookup for an anonymous session, two
// for an authenticated one.
func (s *Store) refused(ctx context.Context, e *envelope) (driver.Reason, error) {
	reason, err := s.revs.Revoked(ctx, e.id)
	switch {
	case err != nil:
		return "", err
	case reason == driver.ReasonNotFound || reason == driver.ReasonRenewed:
		return reason, nil
	case reason != "":
		return "", fmt.Errorf("Revocations.Revoked gave %q, not \"\", %q or %q", reason, driver.ReasonNotFound, driver.ReasonRenewed)
	case e.rec.UserID == "":
		return "", nil
	}
	nb, err := s.revs.NotBefore(ctx, e.rec.UserID)
	if err != nil {
		return "", err
	}
	if e.sealed.Before(nb) {
		return driver.ReasonNotFound, nil
	}
	return "", nil
}

// Revocations keeps what lets a Store refuse cookies it handed out: for
// each session that was logged out or renewed, one record that says
// which (revoked, or renewed into another session) and until when to
// refuse its cookies; for each user whose sessions were all ended, a "not
// before" time (a cookie of the user sealed before it is refused). It is
// the only way to end a stateless session before its timeouts. Open asks
// it about every cookie it accepts: Revoked for every session, NotBefore
// as well for an authenticated one. Implementations must be safe for
// concurrent use, across every process that shares them.
//
// # Ordering
//
// A renewal (Renewed) and a logout (Revoke) of the same session can run
// at the same time, in two requests or two processes. What orders them is
// that the session's record is created only if absent, atomically, and
// never changes kind afterwards: whichever of Revoke and Renewed creates
// it first wins, and the other sees it. So:
//
//   - Revoke first: Renewed finds the session revoked and fails, and the
//     renewal with it; nothing survives the logout.
//   - Renewed first: Revoke finds where the session went and the Store
//     revokes that session too.
//   - Two renewals: one wins, the other gets a *driver.RenewedError and
//     fails, so a session never forks into two live ones.
//
// A read followed by a write (look up, and then store if nothing was
// found) does not give this: two callers can both find nothing, and
// the logout then misses the renewed session. An implementation needs
// an insert that fails on an existing key: a unique key with INSERT ... ON
// CONFLICT DO NOTHING (and a look at the row when nothing was inserted),
// SET NX in Redis, a driver.Commit with Create (StoreRevocations).
//
// An error from Revoked or NotBefore makes Open fail, and the Manager
// answers 503: a revocation that cannot be checked is never ignored.
type Revocations interface {
	// Revoke records that the session named id is revoked until until,
	// creating its record if none exists. When id is revoked already,
	// it keeps the later of the two ends and returns nil. When id was
	// renewed (a record that Renewed created), it records nothing and
	// returns a *driver.RenewedError naming the session id was renewed
	// into: the Store then revokes that one.
	Revoke(ctx context.Context, id driver.Hash, until time.Time) error
	// Renewed records that the session named from was renewed into to,
	// until until, only if no record exists for from. When one does, it
	// records nothing and returns driver.ErrNotFound if from was revoked,
	// or a *driver.RenewedError naming the session that from was renewed
	// into if another renewal came first (nil if that renewal was into
	// to: a retry).
	Renewed(ctx context.Context, from, to driver.Hash, until time.Time) error
	// Revoked returns why the session named id is refused now: "" when
	// nothing is recorded for it (or its record has ended),
	// driver.ReasonNotFound when it was revoked, driver.ReasonRenewed when
	// it was renewed. Any other reason is an error.
	Revoked(ctx context.Context, id driver.Hash) (driver.Reason, error)
	// RevokeUser records at as the user's not-before time. It never moves
	// an existing time backwards.
	RevokeUser(ctx context.Context, user string, at time.Time) error
	// NotBefore returns the user's not-before time, or the zero time when
	// none is recorded.
	NotBefore(ctx context.Context, user string) (time.Time, error)
}

// RevocationLifetime is how long StoreRevocations keeps a not-before
// record, and how long Revoke keeps the revocation of a session that it
// reached by following a renewal: longer than any session can live
// (latch caps every timeout at latch.MaxRememberTimeout) plus the stores'
// grace, so the record goes away only when no cookie it refuses can still
// be accepted.
const RevocationLifetime = latch.MaxRememberTimeout + time.Hour

// Value keys of StoreRevocations' records.
const (
	notBeforeKey = "not_before_ns"
	renewedToKey = "renewed_to"
)

// StoreRevocations keeps revocations in st, any driver.Store (memstore,
// boltstore, redisstore, pgstore), so that every process that shares st
// sees a revocation at once. st must be durable and shared by every
// process that opens the cookies: a store that forgets a revocation
// (memstore across a restart) brings the cookies it ended back.
//
// Each revocation is one record of st with no user id (it is in no
// user's index, so DeleteUser on st never removes it):
//
//   - a session, under the SHA-256 of "latch-revoked-session\x00"
//     followed by the session hash, expiring at until: with no values
//     for a revoked session, with the hex of the session it became under
//     "renewed_to" for a renewed one;
//   - a user's not-before time, under the SHA-256 of
//     "latch-not-before\x00"+user, expiring RevocationLifetime after the
//     time it holds.
//
// A session's record is created with a driver.Commit with Create, which
// every driver.Store applies atomically (ErrExists when a live record is
// there): that is the ordering Revocations asks for. Revoke and Renewed
// are one Commit when nothing was recorded for the session, and a Load
// more (and a Commit, to extend a revocation) when something was.
// Revoked and NotBefore are one st.Load each, which finds nothing for a
// session or a user that was never revoked.
//
// Two revocations of one user (or two of one session) at the same moment
// may both write, and the earlier time may win; the difference is the
// time between the two calls.
//
// A session's record from an earlier version of this package (which
// recorded every ended session as revoked) reads as revoked. An earlier
// version sharing st reads a renewed record as revoked, and its Revoke
// keeps such a record a renewal (at most extending it) without following
// it: upgrade every process before relying on a logout ending a racing
// renewal.
func StoreRevocations(st driver.Store) Revocations {
	return &storeRevocations{st: st}
}

type storeRevocations struct {
	st driver.Store
}

// revokedHash names the record of session id.
func revokedHash(id driver.Hash) driver.Hash {
	const prefix = "latch-revoked-session\x00"
	var b [len(prefix) + driver.HashSize]byte
	copy(b[:], prefix)
	copy(b[len(prefix):], id[:])
	return sha256.Sum256(b[:])
}

// notBeforeHash names the record that holds user's not-before time.
func notBeforeHash(user string) driver.Hash {
	return sha256.Sum256([]byte("latch-not-before\x00" + user))
}

// expiringAt is the metadata of a record that expires at until: its
// deadline is until, with no grace.
func expiringAt(until time.Time) driver.Meta {
	return driver.Meta{Created: until, LastSeen: until}
}

// renewedTo reads a session's record: the session it was renewed into,
// or the zero hash for a revoked session (a record with no renewed_to,
// as every record was before renewals were recorded).
func renewedTo(rec *driver.Record) (driver.Hash, error) {
	v, ok := rec.Values[renewedToKey]
	if !ok {
		return driver.Hash{}, nil
	}
	s, _ := v.(string)
	to, err := driver.ParseHash(s)
	if err != nil || to.IsZero() {
		return driver.Hash{}, errors.New("cookiestore: renewed-session record holds no session hash")
	}
	return to, nil
}

// createSession creates the record of session id as c describes it, and
// when one exists already, returns it instead (nil for a created one).
// A record that expires between the two steps is created again.
func (r *storeRevocations) createSession(ctx context.Context, id driver.Hash, c func() *driver.Commit) (*driver.Record, error) {
	for range 3 {
		err := r.st.Commit(ctx, c())
		if !errors.Is(err, driver.ErrExists) {
			return nil, err
		}
		rec, err := r.st.Load(ctx, revokedHash(id))
		if errors.Is(err, driver.ErrNotFound) {
			continue // it expired meanwhile: create it again
		}
		return rec, err
	}
	return nil, errors.New("the session's record kept expiring; try again")
}

// Revoke implements Revocations.
func (r *storeRevocations) Revoke(ctx context.Context, id driver.Hash, until time.Time) error {
	if id.IsZero() {
		return errors.New("cookiestore: revoke: zero session hash")
	}
	if _, err := unixNano(until); err != nil {
		return fmt.Errorf("cookiestore: revoke: %w", err)
	}
	h, meta := revokedHash(id), expiringAt(until)
	for range 3 {
		rec, err := r.createSession(ctx, id, func() *driver.Commit {
			return &driver.Commit{ID: h, Create: true, Meta: meta}
		})
		switch {
		case err != nil:
			return fmt.Errorf("cookiestore: revoke: store revoked session: %w", err)
		case rec == nil:
			return nil
		}
		to, err := renewedTo(rec)
		switch {
		case err != nil:
			return err
		case !to.IsZero():
			return &driver.RenewedError{To: to}
		case !rec.ExpiresAt().Before(until):
			return nil
		}
		// Revoked already (two requests logged out the same session):
		// keep the later end. The update sets no value, so it cannot
		// turn the record into another kind, whatever happened to it
		// since the Load.
		err = r.st.Commit(ctx, &driver.Commit{ID: h, Meta: meta})
		if errors.Is(err, driver.ErrNotFound) {
			continue // it expired meanwhile
		}
		if err != nil {
			return fmt.Errorf("cookiestore: revoke: store revoked session: %w", err)
		}
		return nil
	}
	return errors.New("cookiestore: revoke: the revoked-session record kept changing; try again")
}

// Renewed implements Revocations.
func (r *storeRevocations) Renewed(ctx context.Context, from, to driver.Hash, until time.Time) error {
	if from.IsZero() || to.IsZero() {
		return errors.New("cookiestore: renewed: zero session hash")
	}
	if _, err := unixNano(until); err != nil {
		return fmt.Errorf("cookiestore: renewed: %w", err)
	}
	h, meta, hex := revokedHash(from), expiringAt(until), to.String()
	rec, err := r.createSession(ctx, from, func() *driver.Commit {
		return &driver.Commit{ID: h, Create: true, Meta: meta, Set: map[string]any{renewedToKey: hex}}
	})
	switch {
	case err != nil:
		return fmt.Errorf("cookiestore: renewed: store renewed session: %w", err)
	case rec == nil:
		return nil
	}
	prev, err := renewedTo(rec)
	switch {
	case err != nil:
		return err
	case prev.IsZero():
		return driver.ErrNotFound // revoked first
	case prev == to:
		return nil // this renewal, recorded already
	}
	return &driver.RenewedError{To: prev}
}

// Revoked implements Revocations.
func (r *storeRevocations) Revoked(ctx context.Context, id driver.Hash) (driver.Reason, error) {
	rec, err := r.st.Load(ctx, revokedHash(id))
	switch {
	case err == nil:
	case errors.Is(err, driver.ErrNotFound):
		return "", nil
	default:
		return "", fmt.Errorf("cookiestore: load revoked session: %w", err)
	}
	if _, ok := rec.Values[renewedToKey]; ok {
		return driver.ReasonRenewed, nil
	}
	return driver.ReasonNotFound, nil
}

// NotBefore implements Revocations.
func (r *storeRevocations) NotBefore(ctx context.Context, user string) (time.Time, error) {
	rec, err := r.st.Load(ctx, notBeforeHash(user))
	if errors.Is(err, driver.ErrNotFound) {
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
func notBefore(rec *driver.Record) (time.Time, error) {
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
		c := &driver.Commit{
			ID:   h,
			Meta: driver.Meta{Created: at, LastSeen: at, IdleTimeout: RevocationLifetime, AbsoluteTimeout: RevocationLifetime},
			Set:  map[string]any{notBeforeKey: strconv.FormatInt(ns, 10)},
		}
		rec, err := r.st.Load(ctx, h)
		switch {
		case errors.Is(err, driver.ErrNotFound):
			c.Create = true
		case err != nil:
			return fmt.Errorf("cookiestore: revoke user: load not-before time: %w", err)
		default:
			if old, err := notBefore(rec); err == nil && !old.Before(at) {
				return nil // a later revocation is already in force
			}
		}
		err = r.st.Commit(ctx, c)
		if errors.Is(err, driver.ErrExists) || errors.Is(err, driver.ErrNotFound) {
			continue // another writer created or the record expired meanwhile: read again
		}
		if err != nil {
			return fmt.Errorf("cookiestore: revoke user: store not-before time: %w", err)
		}
		return nil
	}
	return errors.New("cookiestore: revoke user: the not-before record kept changing; try again")
}

// FuncRevocations adapts five functions to Revocations, for applications
// that keep revocations themselves (a not-before column of the users
// table and a table of ended sessions, for example). Every function is
// required; New refuses a FuncRevocations with one missing. Each function
// has the contract of the Revocations method it implements; the ordering
// of a renewal against a logout rests on RevokeFunc and RenewedFunc
// creating a session's record only if none exists, in one atomic step
// (see Revocations).
type FuncRevocations struct {
	// RevokeFunc records that session id is revoked until until, only if
	// nothing is recorded for id (atomically); when id is revoked already
	// it keeps the later of the stored end and until, and when id was
	// renewed it records nothing and returns &driver.RenewedError{To: the
	// session id was renewed into}. It may forget the record after its
	// end.
	RevokeFunc func(ctx context.Context, id driver.Hash, until time.Time) error
	// RenewedFunc records that session from was renewed into to, until
	// until, only if nothing is recorded for from (atomically). When
	// something is, it records nothing and returns driver.ErrNotFound if
	// from was revoked, &driver.RenewedError{To: the recorded session} if
	// from was renewed into another session, and nil if into to.
	RenewedFunc func(ctx context.Context, from, to driver.Hash, until time.Time) error
	// RevokedFunc returns driver.ReasonNotFound for a revoked session,
	// driver.ReasonRenewed for a renewed one, and "" for a session with no
	// record or one whose end is past.
	RevokedFunc func(ctx context.Context, id driver.Hash) (driver.Reason, error)
	// RevokeUserFunc records the user's not-before time; it must keep the
	// later of the stored time and at.
	RevokeUserFunc func(ctx context.Context, user string, at time.Time) error
	// NotBeforeFunc returns the user's not-before time, or the zero time.
	NotBeforeFunc func(ctx context.Context, user string) (time.Time, error)
}

var errIncompleteFuncs = errors.New("cookiestore: FuncRevocations needs RevokeFunc, RenewedFunc, RevokedFunc, RevokeUserFunc and NotBeforeFunc")

// Revoke implements Revocations by calling RevokeFunc.
func (f FuncRevocations) Revoke(ctx context.Context, id driver.Hash, until time.Time) error {
	if f.RevokeFunc == nil {
		return errIncompleteFuncs
	}
	return f.RevokeFunc(ctx, id, until)
}

// Renewed implements Revocations by calling RenewedFunc.
func (f FuncRevocations) Renewed(ctx context.Context, from, to driver.Hash, until time.Time) error {
	if f.RenewedFunc == nil {
		return errIncompleteFuncs
	}
	return f.RenewedFunc(ctx, from, to, until)
}

// Revoked implements Revocations by calling RevokedFunc.
func (f FuncRevocations) Revoked(ctx context.Context, id driver.Hash) (driver.Reason, error) {
	if f.RevokedFunc == nil {
		return "", errIncompleteFuncs
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
	return f.RevokeFunc != nil && f.RenewedFunc != nil && f.RevokedFunc != nil && f.RevokeUserFunc != nil && f.NotBeforeFunc != nil
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
