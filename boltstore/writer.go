package boltstore

import (
	"context"
	"errors"

	"github.com/latchsec/latch/driver"
	bolt "go.etcd.io/bbolt"
)

// Group commit.
//
// Every Commit is applied inside a bbolt write transaction that is written
// and fsynced before Commit returns. When Commits arrive while a transaction
// is being written, the writer goroutine applies the ones that queued up in
// the next transaction, one after the other, so that they share one fsync.
// A lone Commit is written at once: grouping adds no delay, only throughput
// under load.
//
// Each request is applied whole or not at all, and one request's failure
// never reaches another's result. A request that fails before it changed
// anything (buckets.wrote stays false) with one of the errors of
// cleanFailure leaves the transaction as it found it, so the others in its
// transaction still commit. Any other failure (a change made, or an
// unexpected error) aborts the transaction, and each request is then run
// again on its own, in its own transaction, which its error rolls back.

// maxBatch bounds how many Commits share one transaction.
const maxBatch = 128

// errClosed is returned by Commit after Close.
var errClosed = errors.New("boltstore: store is closed")

// errRerun aborts a batch's transaction so that its requests run alone.
var errRerun = errors.New("boltstore: batch aborted")

// request is one Commit waiting for the writer.
type request struct {
	fn   func(buckets) error
	done chan error
}

// cleanFailure reports whether err is a refusal that a request returns
// before making any change. A *driver.RenewedError matches
// driver.ErrNotFound.
func cleanFailure(err error) bool {
	return errors.Is(err, driver.ErrNotFound) || errors.Is(err, driver.ErrExists) ||
		errors.Is(err, driver.ErrSessionLimit) || errors.Is(err, ErrCorrupt)
}

// write hands fn to the writer goroutine and waits for its result. Once
// handed over, the request completes even if ctx is cancelled, so that the
// result reported is the one on disk.
func (s *Store) write(ctx context.Context, fn func(buckets) error) error {
	r := &request{fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- r:
	case <-s.closing:
		return errClosed
	case <-ctx.Done():
		return checkCtx(ctx)
	}
	return <-r.done
}

// writer runs batches of requests until Close.
func (s *Store) writer() {
	defer close(s.writerDone)
	for {
		var first *request
		select {
		case first = <-s.writes:
		case <-s.closing:
			return
		}
		batch := []*request{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.runBatch(batch)
	}
}

// runBatch applies batch in one transaction, or each request in its own
// when that fails.
func (s *Store) runBatch(batch []*request) {
	if len(batch) == 1 {
		batch[0].done <- s.update(batch[0].fn)
		return
	}
	results := make([]error, len(batch))
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		for i, r := range batch {
			wrote := false
			b.wrote = &wrote
			err := r.fn(b)
			if err != nil && (wrote || !cleanFailure(err)) {
				return errRerun
			}
			results[i] = err
		}
		return nil
	})
	if err != nil {
		for _, r := range batch {
			r.done <- s.update(r.fn)
		}
		return
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}
