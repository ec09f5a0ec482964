package latch

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
)

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
	// IdleTimeout and AbsoluteTimeout are the limits in force for this
	// session (remember-me sessions have their own).
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
	// From is the base, and it is deleted in the same operation. If no live
	// record exists under From the store returns ErrNotFound and writes
	// nothing, so a session revoked during a request is never resurrected
	// under a new ID.
	From Hash
	// Create says that ID is new. With From zero the base is an empty
	// record. A store returns ErrExists rather than overwrite a live record.
	// Without Create and From, the base is the record under ID, and the
	// store returns ErrNotFound if it is gone or expired.
	Create bool
	// Meta replaces the metadata of the base record.
	Meta Meta
	// Clear drops every value of the base before Delete and Set apply.
	Clear bool
	// Delete lists keys to remove; Set maps keys to new values.
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
// The package storetest checks a Store against this contract.
type Store interface {
	// Load returns the live record stored under id, or ErrNotFound.
	Load(ctx context.Context, id Hash) (*Record, error)
	// Commit applies c atomically; see Commit.
	Commit(ctx context.Context, c *Commit) error
	// Delete removes the record under id and its index entry. Deleting a
	// missing record is not an error.
	Delete(ctx context.Context, id Hash) error
	// ListUser returns the user's live sessions, oldest first by Created.
	ListUser(ctx context.Context, userID string) ([]Info, error)
	// DeleteUser removes every session of the user except keep (which may
	// be zero) and returns how many it removed.
	DeleteUser(ctx context.Context, userID string, keep Hash) (int, error)
}

// Stateless is implemented by a Store that keeps each session in its
// cookie rather than on the server (package cookiestore). A Manager whose
// Store implements it seals the whole record into the cookie on every
// commit and opens it on every request; the Store methods then serve only
// revocation: Delete does nothing (a cookie cannot be deleted remotely),
// DeleteUser ends every session of the user sealed before the call (a
// per-user "not before" time, ASVS 7.4.1), and Load, Commit and ListUser
// return ErrNotSupported.
type Stateless interface {
	Store
	// Open authenticates and decodes value, the content of the cookie
	// called name. It returns the record, a hash naming the session (it
	// changes on every renewal), and whether the value must be sealed again
	// (it was sealed under a fallback key). A value that is not a live
	// session gives a refusal reason, one of the Reason constants
	// (ReasonNotFound for a revoked session). err reports a failure of the
	// revocation lookup only.
	Open(ctx context.Context, name, value string, now time.Time) (rec *Record, id Hash, reseal bool, reason string, err error)
	// Seal encodes rec, the session named id, as the value of the cookie
	// called name. It fails when the cookie would pass the browsers'
	// 4,096-byte limit.
	Seal(ctx context.Context, name string, id Hash, rec *Record, now time.Time) (string, error)
}
