package boltstore

import (
	"fmt"
	"time"

	"github.com/latchsec/latch/driver"
)

// Forwards.
//
// A renewal (a Commit with From) replaces the record under From by a
// forward to the new hash, in the transaction that writes the new record.
// The forward lives as long as the replaced record would have (its
// Meta.ExpiresAt()), under the same expiry index entry, so the sweeper
// removes it like a record. It has no user index entry: a forward is not a
// session.
//
// bbolt runs one write transaction at a time, and every operation here is
// one transaction, so a renewal and a Delete or DeleteUser of the same
// session never interleave: each sees the other done or not started.

// maxForwardHops bounds the forwards that Delete and DeleteUser follow from
// one hash. Delete removes each forward it follows, so even a cycle (which
// only a corrupt file could hold) ends; the bound only stops a chain far
// longer than renewals within one session's lifetime make. A Delete that
// reaches it fails, and would fail again, so it is set well above any
// real chain (the same bound as memstore's).
const maxForwardHops = 1024

// leaveForward replaces r, the live record stored under h, by a forward to
// the hash to that expires when r would have. The forward keeps r's expiry
// index entry (same time, same hash); r's user index entry goes.
func (b buckets) leaveForward(h driver.Hash, r *record, to driver.Hash) error {
	f := &forward{to: to, expires: r.meta.ExpiresAt()}
	if err := b.putKey(b.sessions, h[:], encodeForward(f)); err != nil {
		return fmt.Errorf("boltstore: session %s: %w", h.Handle(), err)
	}
	if k := expiryKey(f.expires, h); b.expiry.Get(k) == nil {
		if err := b.putKey(b.expiry, k, nil); err != nil {
			return fmt.Errorf("boltstore: expiry index: %w", err)
		}
	}
	return b.unindexUser(h, r)
}

// removeForward deletes the forward f stored under h and its expiry index
// entry.
func (b buckets) removeForward(h driver.Hash, f *forward) error {
	if err := b.deleteKey(b.sessions, h[:]); err != nil {
		return fmt.Errorf("boltstore: session %s: %w", h.Handle(), err)
	}
	if err := b.deleteKey(b.expiry, expiryKey(f.expires, h)); err != nil {
		return fmt.Errorf("boltstore: expiry index: %w", err)
	}
	return nil
}

// deleteChain removes what is stored under id. A live forward is removed
// and followed to its target, up to maxForwardHops times; the record at
// the end of the chain is removed with its index entries. An expired
// forward is removed and not followed: like Load, Delete takes it for
// nothing. A value that cannot be decoded is removed too (its index
// entries, if any, stay behind as stale entries that readers ignore).
//
// A chain longer than maxForwardHops is an error, and the transaction is
// rolled back: Delete never reports success for a session it did not end.
func deleteChain(b buckets, id driver.Hash, now time.Time) error {
	for range maxForwardHops + 1 {
		r, f, err := b.get(id, false)
		if err != nil {
			return b.remove(id, nil)
		}
		if f == nil {
			return b.remove(id, r)
		}
		if err := b.removeForward(id, f); err != nil {
			return err
		}
		if !f.live(now) {
			return nil
		}
		id = f.to
	}
	return fmt.Errorf("boltstore: session %s: more than %d forwards to follow", id.Handle(), maxForwardHops)
}

// followKeep returns the hash that keep names now: the target of the chain
// of live forwards that starts at keep, or keep itself when it holds no
// live forward. A chain longer than maxForwardHops, or a cycle, gives the
// zero hash (keep nothing): DeleteUser then ends one session too many
// rather than one too few.
func followKeep(b buckets, keep driver.Hash, now time.Time) driver.Hash {
	if keep.IsZero() {
		return keep
	}
	for range maxForwardHops + 1 {
		_, f, err := b.get(keep, false)
		if err != nil || f == nil || !f.live(now) {
			return keep
		}
		keep = f.to
	}
	return driver.Hash{}
}
