// Package driver is what a session store implements for latch, as
// database/sql/driver is for database/sql: the Store contract (a record per
// session under the SHA-256 of its ID, atomic commits, renewals that leave
// forwards, a per-user index), the Stateless contract of cookie sessions,
// the value codec every store uses, and the record codec (AppendRecord,
// DecodeRecord, Reader) that the stores which keep a session as bytes
// share. Applications need none of it: they
// use package latch, and pick a store package (memstore, boltstore,
// redisstore, pgstore, cookiestore) that implements it.
//
// The package storetest checks a Store against this contract.
package driver

import (
	"context"
	"encoding/hex"
	"errors"
	"time"
)

// Errors that stores return and callers branch on with errors.Is.
var (
	// ErrNotFound means no live record exists under the hash: it was never
	// stored, it was deleted, or it expired. Stores never return an expired
	// record.
	ErrNotFound = errors.New("latch: session not found")
	// ErrExists means a Commit with Create set found a record already stored
	// under the new hash. With 256-bit random IDs this only happens on a bug
	// or an attack; the record is left untouched.
	ErrExists = errors.New("latch: session already exists")
	// ErrSessionLimit means the user already has Commit.MaxPerUser live
	// sessions and the policy refuses new ones.
	ErrSessionLimit = errors.New("latch: too many sessions for this user")
	// ErrNotSupported is returned by optional operations a store or mode
	// cannot perform.
	ErrNotSupported = errors.New("latch: operation not supported")
	// ErrRenewed is matched by a *RenewedError: the hash names a session
	// that a renewal moved to another hash.
	ErrRenewed = errors.New("latch: session renewed under a new ID")
	// ErrTooLarge is matched by the error a store returns when a session
	// is larger than it can keep, such as a cookie session over the
	// browser's 4096-byte limit. Retrying does not help: the application
	// stores too much in the session.
	ErrTooLarge = errors.New("latch: session too large for the store")
)

// RenewedError is what Load and Commit return for a hash that a renewal
// (a Commit with From) replaced, for as long as the store keeps the
// forward the renewal left (see Commit.From). To is the hash the session
// was renewed into; it may itself have been renewed since.
//
// It matches ErrRenewed and also ErrNotFound (errors.Is), so code that
// knows only ErrNotFound treats the old hash as gone, which it is: the old
// token is never valid again. latch itself uses To only to land the
// commit of a request that loaded the session before the renewal, and to
// leave the browser's fresh cookie alone.
type RenewedError struct {
	To Hash
}

// Error says the session was renewed, naming the new hash by its handle.
func (e *RenewedError) Error() string {
	return "latch: session renewed under a new ID (now " + e.To.Handle() + ")"
}

// Is makes errors.Is(err, ErrRenewed) and errors.Is(err, ErrNotFound) true.
func (e *RenewedError) Is(target error) bool {
	return target == ErrRenewed || target == ErrNotFound
}

// HashSize is the size in bytes of a Hash.
const HashSize = 32

// Hash is the SHA-256 of a session ID. It is the only form in which a store
// ever sees a session: a leaked store gives an attacker hashes, and a hash
// cannot be turned back into a token that latch accepts.
type Hash [HashSize]byte

// IsZero reports whether h is the zero hash (no session).
func (h Hash) IsZero() bool { return h == Hash{} }

// String returns h in lower-case hex, the form stores use as a key.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Handle returns a short, non-secret name for the session: the first 8
// bytes of h in hex. It is safe for logs, events and "your sessions" pages,
// and it is what Manager.Revoke takes. Knowing a handle, or the whole hash,
// does not let anyone use the session.
func (h Hash) Handle() string { return hex.EncodeToString(h[:8]) }

// ParseHash parses the hex form returned by Hash.String.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*HashSize {
		return h, errors.New("latch: malformed hash")
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, errors.New("latch: malformed hash")
	}
	return h, nil
}

// Meta is the metadata of a session: who it belongs to and its clock.
// Timestamps are kept in the record, and every timeout is enforced from them
// on the server, never from a cookie's lifetime.
type Meta struct {
	// UserID is the authenticated user, or "" for an anonymous session.
	UserID string `json:"user,omitempty"`
	// Created is when the session (this chain of renewed IDs) began.
	Created time.Time `json:"created"`
	// LastSeen is the last recorded activity. Updates are throttled, so it
	// may lag real activity by at most Config.TouchInterval.
	LastSeen time.Time `json:"last_seen"`
	// AuthTime is the last authentication (login or re-authentication),
	// zero for an anonymous session.
	AuthTime time.Time `json:"auth_time,omitempty"`
	// IdleTimeout and AbsoluteTimeout are the limits in force when the
	// session began or last logged in (remember-me sessions have their
	// own). latch enforces the shorter of these and its configuration's.
	IdleTimeout     time.Duration `json:"idle_timeout"`
	AbsoluteTimeout time.Duration `json:"absolute_timeout"`
	// Remember is set for a remember-me session (persistent cookie).
	Remember bool `json:"remember,omitempty"`
	// UserAgent and IP are client hints recorded when the session was
	// created or last authenticated, shown in session lists and used for
	// the optional binding check.
	UserAgent string `json:"ua,omitempty"`
	IP        string `json:"ip,omitempty"`
	// Grace keeps the record in the store this long after its deadline,
	// so that latch can still read it and say which timeout ended the
	// session. latch never accepts a session after Deadline(); stores
	// keep it until ExpiresAt().
	Grace time.Duration `json:"grace,omitempty"`
	// DeviceKey is the public key a device-bound session (DBSC, see
	// latch.DeviceBound) registered, as the base64url (no padding) of its
	// PKIX DER encoding; "" for a session that is not device-bound.
	// latch sets it only by a renewal (a Commit with From), so a
	// concurrent update that loaded the record before cannot undo it: it
	// lands through the forward and keeps the renewed record's metadata.
	// A store keeps it as it keeps UserAgent: as an opaque string.
	DeviceKey string `json:"dk,omitempty"`
	// DeviceBoundAt is when DeviceKey was registered. It is kept with
	// DeviceKey (a store may drop it when DeviceKey is ""): latch lets a
	// bound session's requests through without a bound cookie for a few
	// seconds after it, since the browser sends requests before the
	// registration's answer reaches it.
	DeviceBoundAt time.Time `json:"dk_at,omitzero"`
}

// IdleDeadline is when the session ends if no further activity is seen.
func (m *Meta) IdleDeadline() time.Time { return m.LastSeen.Add(m.IdleTimeout) }

// AbsoluteDeadline is when the session ends whatever the activity: the
// absolute timeout counted from the last authentication, or from creation
// for an anonymous session.
func (m *Meta) AbsoluteDeadline() time.Time {
	start := m.AuthTime
	if start.IsZero() {
		start = m.Created
	}
	return start.Add(m.AbsoluteTimeout)
}

// Deadline is the earlier of the two deadlines: the end of the session.
func (m *Meta) Deadline() time.Time {
	idle, abs := m.IdleDeadline(), m.AbsoluteDeadline()
	if abs.Before(idle) {
		return abs
	}
	return idle
}

// ExpiresAt is Deadline plus Grace: the time from which a store must no
// longer return the record, and may forget it.
func (m *Meta) ExpiresAt() time.Time { return m.Deadline().Add(m.Grace) }

// Record is a session as a store keeps it.
//
// A record returned by Store.Load may be shared with the store and with other
// requests: callers must treat it, and its Values map, as read-only. latch
// never modifies one; changes travel as a Commit.
type Record struct {
	Meta
	// Values holds the application's data. Stores keep values serialised
	// by EncodeValue (JSON) and read them back with DecodeValue (or
	// DecodeValueString, its faster twin for a string), so a value
	// read back may have another Go type than the one set: a json.Number
	// for a number, a map[string]any for a struct (use the Session's typed
	// getters).
	Values map[string]any
}

// Commit is one atomic write to a store. A store applies all of it or none
// of it: the base record is read, Clear, Delete and Set apply to its values,
// Meta replaces its metadata, and the result is stored under ID with expiry
// Meta.ExpiresAt(). Values that the commit does not name are left as they
// are in the store at the time of the write, so two requests that change
// different keys of one session both keep their change.
type Commit struct {
	// ID is the hash the result is stored under.
	ID Hash
	// From, when non-zero, makes this a renewal: the record stored under
	// From is the base, and in the same atomic operation it is replaced by
	// a forward from From to ID. The store keeps the forward until the
	// ExpiresAt() of the record it replaced (the longest the old token
	// could still have been used) and may forget it after. A forward is
	// not a session: Load and a Commit on From return *RenewedError, and
	// ListUser, DeleteUser and MaxPerUser never count it. Delete and
	// DeleteUser follow it (see Store).
	//
	// If no live record exists under From the store returns ErrNotFound
	// and writes nothing, so a session revoked during a request is never
	// resurrected under a new ID; if From holds a forward, it returns
	// *RenewedError and writes nothing.
	From Hash
	// Create says that ID is new. With From zero the base is an empty
	// record. A store returns ErrExists rather than overwrite a live record
	// or a forward.
	//
	// Without Create and From (an update), the base is the record under
	// ID; the store returns ErrNotFound if it is gone or expired, and
	// *RenewedError if ID holds a forward. Either way it writes nothing.
	Create bool
	// Meta replaces the metadata of the base record.
	Meta Meta
	// Clear drops every value of the base before Delete and Set apply.
	Clear bool
	// Delete lists keys to remove; Set maps keys to new values. A value
	// that EncodeValue refuses fails the commit, with nothing written and
	// EncodeValue's *ValueError in the error (wrapped with %w), which the
	// Manager reports as the application's error, not the store's.
	Delete []string
	Set    map[string]any
	// MaxPerUser, when positive, limits the live sessions of Meta.UserID
	// if this commit adds a session to that user (Create, From, or a change
	// of user). At the limit, EvictOldest deletes the user's sessions with
	// the oldest Created time until one place is free; otherwise the store
	// returns ErrSessionLimit and writes nothing.
	MaxPerUser  int
	EvictOldest bool
}

// Info describes one live session of a user, for lists and revocation.
type Info struct {
	ID Hash
	Meta
}

// Store keeps session records. Every method honours ctx (a cancelled context
// returns its error) and reports failures as errors, never by returning an
// empty result: latch fails closed on any error that is not ErrNotFound.
//
// A store keeps, next to each record, an index from user ID to the user's
// sessions. The index may hold entries for expired or deleted sessions as
// long as ListUser and DeleteUser never report them.
//
// # Ordering against renewals
//
// Requests on one session run at the same time, and one of them may renew
// it (Commit with From) while another logs out or an administrator revokes
// it. A store orders every deletion against every renewal, so that the
// deletion ends the session whichever runs first:
//
//   - Delete(id) after a renewal of id finds the forward the renewal left
//     and follows it, hop by hop, deleting the record at the end of the
//     chain. Delete before a renewal makes the renewal fail with
//     ErrNotFound. A renewal that is half done when Delete runs (a store
//     that cannot do it in one atomic step) must not complete.
//   - DeleteUser(user, keep) removes every session of the user that is
//     live when it takes effect, including one that a renewal is moving
//     from one hash to another at that moment; a renewal of one of the
//     user's sessions either completes before it (and its result is
//     removed) or fails after it with ErrNotFound. keep is followed
//     through forwards: the session keep was renewed into is kept. A
//     Commit with MaxPerUser that evicts sessions is ordered the same way.
//
// After Delete or DeleteUser returns nil, no session they were asked to
// end can be loaded, committed to or renewed, under any hash.
//
// The package storetest checks a Store against this contract.
type Store interface {
	// Load returns the live record stored under id, ErrNotFound, or a
	// *RenewedError when id holds a forward.
	Load(ctx context.Context, id Hash) (*Record, error)
	// Commit applies c atomically; see Commit.
	Commit(ctx context.Context, c *Commit) error
	// Delete removes the record under id and its index entry; when id
	// holds a forward, it removes the forward and goes on at its target.
	// Deleting a missing record is not an error.
	Delete(ctx context.Context, id Hash) error
	// ListUser returns the user's live sessions, oldest first by Created.
	ListUser(ctx context.Context, userID string) ([]Info, error)
	// DeleteUser removes every session of the user except keep (which may
	// be zero, and is followed through forwards) and returns how many it
	// removed.
	DeleteUser(ctx context.Context, userID string, keep Hash) (int, error)
}

// Stateless keeps each session in its cookie rather than on the server
// (package cookiestore). Give one to New as Config.Stateless, instead of a
// Store: the Manager then seals the whole record into the cookie on every
// commit and opens it on every request.
//
// A cookie cannot be deleted remotely, so ending a stateless session means
// refusing its cookie from then on: Revoke refuses the cookies of one
// session (a logout), Renewed those that a renewal replaced, RevokeUser
// those of every session of a user. A Stateless without a server-side place
// to keep revocations returns ErrNotSupported from all three, and a copy of
// a cookie then stays valid until its timeouts.
type Stateless interface {
	// Open authenticates and decodes value, the content of the cookie
	// called name. A value that is not a live session comes back with
	// Opened.Refused set (ReasonNotFound for an expired or revoked one).
	// err reports a failure of the revocation lookup only; the Manager
	// then answers 503 rather than trust the cookie.
	Open(ctx context.Context, name, value string, now time.Time) (Opened, error)
	// Seal encodes rec, the session named id, as the value of the cookie
	// called name. It fails when the cookie would pass the browsers'
	// 4,096-byte limit.
	Seal(ctx context.Context, name string, id Hash, rec *Record, now time.Time) (string, error)
	// Revoke refuses every cookie of the session named id from now until
	// until, the time after which Open would refuse them anyway. If the
	// session was renewed (see Renewed), the session it was renewed into
	// is revoked too, and so on down the chain, so that a logout racing a
	// renewal ends both.
	Revoke(ctx context.Context, id Hash, until time.Time) error
	// Renewed records that the session named from was renewed into the
	// session named to: from's cookies are refused from now until until
	// (Open gives ReasonRenewed for them), and a later Revoke of from ends
	// to as well. It returns ErrNotFound, recording nothing, when from was
	// revoked already (the renewal must fail, as on a server store), and a
	// *RenewedError when another request renewed from first.
	Renewed(ctx context.Context, from, to Hash, until time.Time) error
	// RevokeUser refuses every cookie of the user's sessions sealed before
	// the call (a per-user "not before" time, ASVS 7.4.1).
	RevokeUser(ctx context.Context, userID string) error
}

// Reason says why a cookie names no live session. Package latch gives it to
// applications as latch.Reason (Session.Ended), with the reasons a session
// ends; the ones below are those a Stateless gives in Opened.Refused, and
// the Manager's own token checks.
type Reason string

// Reasons a cookie is refused.
const (
	ReasonMalformed  Reason = "malformed"   // wrong length, alphabet or shape
	ReasonUnknownKey Reason = "unknown-key" // key id not in the keyring
	ReasonRetiredKey Reason = "retired-key" // key past its retirement date
	ReasonBadMAC     Reason = "bad-mac"     // MAC does not verify: forged or tampered
	ReasonNotFound   Reason = "not-found"   // authentic but no live session: revoked, expired or logged out
	ReasonDuplicate  Reason = "duplicate"   // several cookies of the session's name (cookie tossing)
	// ReasonRenewed: the cookie named a session that has since been
	// renewed under a new ID (by a login, Renew or Reauthenticate on
	// another request). The old cookie is dead, but the Manager does not
	// clear it: the browser most likely holds the new one already.
	ReasonRenewed Reason = "renewed"
)

// Opened is what opening a session's cookie yields: the session, or why
// there is none.
type Opened struct {
	// Record is the live session; nil when Refused is set.
	Record *Record
	// ID names the session. A store keeps it under this hash; a cookie
	// session carries it, and it changes on every renewal. It may be set
	// for a refused session whose name is known (ReasonNotFound).
	ID Hash
	// Fallback is set when the cookie was signed or sealed under a
	// key other than the one that signs at the time (latch.Keyring.SigningKey):
	// the Manager issues it again under the signing key.
	Fallback bool
	// Refused says why the cookie names no live session, "" when it does.
	Refused Reason
}
