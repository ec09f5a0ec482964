package latch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync/atomic"
	"time"

	"github.com/latchsec/latch/driver"
)

// backend is where a Manager keeps its sessions. New chooses it once:
// serverBackend keeps records in a Store and names them with signed
// tokens; cookieBackend seals each session into its cookie. Nothing else
// in the package asks which one it has.
type backend interface {
	// open returns the session that a cookie value names, or why none.
	open(ctx context.Context, tok string, now time.Time) (driver.Opened, error)
	// reissue returns tok issued again under the key that signs at now,
	// or "" when the session must be written again to get a new cookie.
	reissue(tok string, now time.Time) string
	// save writes w and reports where the session now lives.
	save(ctx context.Context, w *write) (saved, error)
	// expired forgets a session that has ended by a timeout.
	expired(ctx context.Context, id driver.Hash) error
	// end ends one session, named by a hash that may since have been
	// renewed (a store follows the forward). until is when it would end
	// anyway (zero when not known): a cookie backend refuses its cookies
	// until then.
	end(ctx context.Context, id driver.Hash, until time.Time) error
	// endUser ends every session of user but keep. n is how many, or -1
	// when that cannot be known; reseal says that keep ended too and must
	// be written again to survive.
	endUser(ctx context.Context, user string, keep driver.Hash) (n int, reseal bool, err error)
	// list returns the user's sessions, as Store.ListUser.
	list(ctx context.Context, user string) ([]driver.Info, error)
	// limits reports whether the backend can count a user's sessions
	// (Config.MaxSessionsPerUser).
	limits() bool
	// setKeys makes r the keyring that signs, seals and verifies from now
	// on; on an error the keyring in use stays.
	setKeys(r *Keyring) error
}

// write is one commit of a session, as the Session prepares it.
type write struct {
	c    driver.Commit  // c.Create is set, and c.ID fresh, for a creation or renewal
	id   [IDSize]byte   // the session ID behind c.ID when it is fresh
	vals map[string]any // the values after c, as this request sees them
	prev driver.Meta    // the metadata this request loaded (zero for a new session)
	now  time.Time
}

// saved is where a write left the session.
type saved struct {
	id    driver.Hash    // the hash the session now lives under
	token string         // the new cookie value, "" to leave the cookie alone
	meta  driver.Meta    // the metadata as stored
	vals  map[string]any // the values as stored
}

// maxForwardHops bounds how many renewals a commit follows: each hop is a
// renewal by another request of the same session during this one.
const maxForwardHops = 8

// ---------------------------------------------------------------------------
// Server mode

type serverBackend struct {
	store  driver.Store
	name   string                 // the cookie name, bound into every token
	tokens atomic.Pointer[tokens] // swapped whole when the keyring changes
}

func (b *serverBackend) setKeys(r *Keyring) error {
	t, err := newTokens(r, b.name)
	if err != nil {
		return err
	}
	b.tokens.Store(t)
	return nil
}

func (b *serverBackend) open(ctx context.Context, tok string, now time.Time) (driver.Opened, error) {
	h, fallback, reason := b.tokens.Load().verify(tok, now)
	if reason != "" {
		return driver.Opened{Refused: reason}, nil
	}
	rec, err := b.store.Load(ctx, h)
	switch {
	case errors.Is(err, driver.ErrRenewed):
		return driver.Opened{ID: h, Refused: ReasonRenewed}, nil
	case errors.Is(err, ErrNotFound):
		return driver.Opened{ID: h, Refused: ReasonNotFound}, nil
	case err != nil:
		return driver.Opened{}, err
	}
	return driver.Opened{Record: rec, ID: h, Fallback: fallback}, nil
}

func (b *serverBackend) reissue(tok string, now time.Time) string {
	return b.tokens.Load().reissue(tok, now)
}

func (b *serverBackend) save(ctx context.Context, w *write) (saved, error) {
	var signer *tokenKey
	if w.c.Create {
		// Before the store is written, so that a keyring with no key to
		// sign with leaves no record behind that no cookie names.
		k, err := b.tokens.Load().signer(w.now)
		if err != nil {
			return saved{}, err
		}
		signer = k
	}
	err := b.store.Commit(ctx, &w.c)
	if err == nil {
		out := saved{id: w.c.ID, meta: w.c.Meta, vals: w.vals}
		if w.c.Create {
			out.token = signer.sign(&w.id)
		}
		return out, nil
	}
	var moved *driver.RenewedError
	if errors.As(err, &moved) && !w.c.Create {
		return b.follow(ctx, w, moved.To)
	}
	return saved{}, err
}

// follow lands an update on the session that its base was renewed into by
// another request meanwhile: its changes go to the renewed session, and the
// cookie is left to the request that renewed it. Only a session of the same
// user is followed, and nothing in its metadata but the last-seen time
// changes; a session that a login gave to another user (or to a user, from
// an anonymous one) is not this request's to write, and follow returns
// *RenewedError for it.
//
// A renewal is never followed: landing it would credit what it stands for
// (a fresh authentication, a change of privilege) to the session whose
// cookie the other request holds, which may be a stolen copy's. save
// returns its *RenewedError instead; Login then starts a fresh session, and
// Renew and Reauthenticate fail as they do for an ended session.
func (b *serverBackend) follow(ctx context.Context, w *write, to driver.Hash) (saved, error) {
	for range maxForwardHops {
		rec, err := b.store.Load(ctx, to)
		var moved *driver.RenewedError
		if errors.As(err, &moved) {
			to = moved.To
			continue
		}
		if err != nil {
			return saved{}, err
		}
		if rec.UserID != w.prev.UserID || rec.UserID != w.c.Meta.UserID {
			return saved{}, &driver.RenewedError{To: to}
		}
		c := driver.Commit{ID: to, Meta: rec.Meta, Clear: w.c.Clear, Delete: w.c.Delete, Set: w.c.Set}
		c.Meta.LastSeen = later(rec.LastSeen, w.c.Meta.LastSeen)
		err = b.store.Commit(ctx, &c)
		if errors.As(err, &moved) {
			to = moved.To
			continue
		}
		if err != nil {
			return saved{}, err
		}
		return saved{id: to, meta: c.Meta, vals: applyCommit(rec.Values, &c)}, nil
	}
	return saved{}, errTooManyHops
}

// errTooManyHops means a commit met more forwards than maxForwardHops: a
// store whose forwards loop, or a session renewed in a tight loop.
var errTooManyHops = fmt.Errorf("latch: the session was renewed more than %d times during one request", maxForwardHops)

func (b *serverBackend) expired(ctx context.Context, id driver.Hash) error {
	return b.store.Delete(ctx, id)
}

func (b *serverBackend) end(ctx context.Context, id driver.Hash, _ time.Time) error {
	return b.store.Delete(ctx, id)
}

func (b *serverBackend) endUser(ctx context.Context, user string, keep driver.Hash) (int, bool, error) {
	n, err := b.store.DeleteUser(ctx, user, keep)
	return n, false, err
}

func (b *serverBackend) list(ctx context.Context, user string) ([]driver.Info, error) {
	return b.store.ListUser(ctx, user)
}

func (b *serverBackend) limits() bool { return true }

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// applyCommit returns base's values with c's changes applied, as a store
// applies them.
func applyCommit(base map[string]any, c *driver.Commit) map[string]any {
	out := make(map[string]any, len(base)+len(c.Set))
	if !c.Clear {
		maps.Copy(out, base)
	}
	for _, k := range c.Delete {
		delete(out, k)
	}
	maps.Copy(out, c.Set)
	return out
}

// ---------------------------------------------------------------------------
// Cookie mode

type cookieBackend struct {
	st   driver.Stateless
	name string
	push bool // give the Stateless every keyring (Config.KeySource)
}

// setKeys gives r to a Stateless that encrypts with the keyring, when the
// keyring comes from a KeySource. Config.Keys alone leaves the Stateless
// with the keyring it was built with.
func (b *cookieBackend) setKeys(r *Keyring) error {
	ks, ok := b.st.(KeySetter)
	if !b.push || !ok {
		return nil
	}
	return ks.SetKeys(r)
}

func (b *cookieBackend) open(ctx context.Context, tok string, now time.Time) (driver.Opened, error) {
	return b.st.Open(ctx, b.name, tok, now)
}

// reissue returns "": a sealed session gets its new cookie by being
// sealed again.
func (b *cookieBackend) reissue(string, time.Time) string { return "" }

// save seals the session into a new cookie. A renewal then revokes the
// cookie it replaces, so that a copy taken before a demotion, or before a
// value was popped, is refused from now on.
func (b *cookieBackend) save(ctx context.Context, w *write) (saved, error) {
	tok, err := b.st.Seal(ctx, b.name, w.c.ID, &driver.Record{Meta: w.c.Meta, Values: w.vals}, w.now)
	if err != nil {
		return saved{}, fmt.Errorf("latch: seal session cookie: %w", err)
	}
	if !w.c.From.IsZero() {
		err := b.st.Renewed(ctx, w.c.From, w.c.ID, cookiesEnd(&w.prev, w.now))
		switch {
		case errors.Is(err, ErrNotSupported):
			// No revocations: the replaced cookie stays valid until its
			// timeouts (see package cookiestore).
		case errors.Is(err, ErrNotFound):
			return saved{}, err // revoked meanwhile, or renewed (*RenewedError)
		case err != nil:
			return saved{}, fmt.Errorf("latch: refuse the replaced session cookie: %w", err)
		}
	}
	return saved{id: w.c.ID, token: tok, meta: w.c.Meta, vals: w.vals}, nil
}

// cookiesEnd is the latest that any cookie of a session, as m describes it
// at now, can still be opened: a copy that another request sealed meanwhile
// may carry a later last-seen time than m, but none passes the absolute
// deadline or now plus the idle timeout.
func cookiesEnd(m *driver.Meta, now time.Time) time.Time {
	end := now.Add(m.IdleTimeout)
	if abs := m.AbsoluteDeadline(); abs.Before(end) {
		end = abs
	}
	return end.Add(m.Grace)
}

func (b *cookieBackend) expired(context.Context, driver.Hash) error { return nil }

// end refuses the session's cookies until they would expire anyway.
// Without revocations a Stateless cannot, and a copy of the cookie stays
// valid until its timeouts (see package cookiestore).
func (b *cookieBackend) end(ctx context.Context, id driver.Hash, until time.Time) error {
	err := b.st.Revoke(ctx, id, until)
	if errors.Is(err, ErrNotSupported) {
		return nil
	}
	return err
}

func (b *cookieBackend) endUser(ctx context.Context, user string, keep driver.Hash) (int, bool, error) {
	if err := b.st.RevokeUser(ctx, user); err != nil {
		return 0, false, err
	}
	return -1, !keep.IsZero(), nil
}

func (b *cookieBackend) list(context.Context, string) ([]driver.Info, error) {
	return nil, fmt.Errorf("latch: list sessions: a cookie store keeps no list of them: %w", ErrNotSupported)
}

func (b *cookieBackend) limits() bool { return false }
