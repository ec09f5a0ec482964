package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchsec/latch/driver"
)

// sweeper runs Sweep every interval until ctx is cancelled by Close.
func (s *Store) sweeper(ctx context.Context, interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.onError(err)
			}
		}
	}
}

// Sweep deletes every session that has expired by the store's clock and
// returns how many it deleted. Expired forwards (see Commit) are deleted
// too, and not counted: they are not sessions. It walks the expiry index from the oldest
// entry, never the whole store, and deletes at most Options.SweepBatch
// sessions per write transaction, checking ctx between transactions.
//
// An expired record that cannot be decoded is deleted too, and reported in
// the error (which matches ErrCorrupt) after the sweep completes.
//
// The background sweeper calls Sweep every Options.SweepInterval; calling it
// directly is only needed when SweepInterval is negative.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	total := 0
	var corrupt []error
	var resume []byte
	for {
		if err := checkCtx(ctx); err != nil {
			return total, err
		}
		n, next, bad, err := s.sweepBatch(s.now(), resume)
		total += n
		corrupt = append(corrupt, bad...)
		if err != nil {
			return total, fmt.Errorf("boltstore: sweep: %w", err)
		}
		if next == nil {
			break
		}
		resume = next
	}
	if len(corrupt) > 0 {
		return total, fmt.Errorf("boltstore: sweep: deleted %d unreadable expired record(s): %w",
			len(corrupt), errors.Join(corrupt...))
	}
	return total, nil
}

// sweepBatch handles, in one transaction, up to s.batch expiry index
// entries that are due at now, starting after the key resume (from the
// first entry when nil). It returns how many sessions it deleted, the key to
// resume from when more entries may be due (nil when done), and the errors
// of the unreadable records it deleted.
func (s *Store) sweepBatch(now time.Time, resume []byte) (deleted int, next []byte, corrupt []error, err error) {
	nowNanos := expiryNanos(now)
	err = s.update(func(b buckets) error {
		deleted, next, corrupt = 0, nil, nil
		var due [][]byte
		c := b.expiry.Cursor()
		k, _ := c.First()
		if resume != nil {
			k, _ = c.Seek(resume)
			if bytes.Equal(k, resume) {
				k, _ = c.Next()
			}
		}
		for ; k != nil; k, _ = c.Next() {
			nanos, _, ok := parseExpiryKey(k)
			if ok && nanos > nowNanos {
				break
			}
			if len(due) == s.batch {
				next = due[len(due)-1]
				break
			}
			due = append(due, bytes.Clone(k))
		}
		for _, k := range due {
			n, bad, err := sweepEntry(b, k, now)
			if err != nil {
				return err
			}
			deleted += n
			if bad != nil {
				corrupt = append(corrupt, bad)
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, nil, err
	}
	return deleted, next, corrupt, nil
}

// sweepEntry handles one due expiry index entry k: it deletes the entry,
// and the record or forward it points at if that has expired.
func sweepEntry(b buckets, k []byte, now time.Time) (deleted int, corrupt, err error) {
	if err := b.deleteKey(b.expiry, k); err != nil {
		return 0, nil, fmt.Errorf("boltstore: expiry index: %w", err)
	}
	_, id, ok := parseExpiryKey(k)
	if !ok {
		return 0, nil, nil // malformed entry: dropped
	}
	r, f, rerr := b.get(id, false)
	switch {
	case rerr == nil && f != nil:
		return 0, nil, sweepForward(b, k, id, f, now)
	case rerr != nil:
		// The record was due and cannot be read: delete it. Its user
		// index entry, if any, is pruned by the next write that reads
		// the user's index.
		if err := b.remove(id, nil); err != nil {
			return 0, nil, err
		}
		return 1, rerr, nil
	case r == nil:
		return 0, nil, nil // the record went away: stale entry
	case live(r, now):
		// Only possible for the current entry when expiry times
		// saturate; a stale entry of an older expiry is just dropped.
		if bytes.Equal(expiryKey(r.meta.ExpiresAt(), id), k) {
			if err := b.putKey(b.expiry, k, nil); err != nil {
				return 0, nil, fmt.Errorf("boltstore: expiry index: %w", err)
			}
		}
		return 0, nil, nil
	}
	if err := b.remove(id, r); err != nil {
		return 0, nil, err
	}
	return 1, nil, nil
}

// sweepForward handles the due expiry index entry k (already deleted) of
// the forward f stored under id: it deletes an expired forward, and puts
// the entry back for a live one when it is the forward's own entry.
func sweepForward(b buckets, k []byte, id driver.Hash, f *forward, now time.Time) error {
	if f.live(now) {
		if !bytes.Equal(expiryKey(f.expires, id), k) {
			return nil
		}
		if err := b.putKey(b.expiry, k, nil); err != nil {
			return fmt.Errorf("boltstore: expiry index: %w", err)
		}
		return nil
	}
	return b.removeForward(id, f)
}
