package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// Sweep deletes expired rows (by the database's clock), sessions and the
// forwards renewals left, in batches of Options.SweepBatch until a batch
// finds fewer, and returns how many it deleted. Each batch is its own
// statement, so a sweep never holds many locks, and rows that a commit is
// holding are skipped until the next sweep. The background goroutine
// calls Sweep every Options.SweepInterval; call it yourself when that is
// negative.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	total := 0
	for _, sql := range []string{s.q.sweep, s.q.sweepForwards} {
		for {
			tag, err := s.pool.Exec(ctx, sql, pgx.NamedArgs{"limit": s.batchSize})
			if err != nil {
				return total, wrap("sweep", err)
			}
			n := int(tag.RowsAffected())
			total += n
			if n < s.batchSize {
				break
			}
		}
	}
	return total, nil
}

// sweeper runs Sweep every s.interval until ctx is cancelled by Close,
// reporting every failure through s.onError.
func (s *Store) sweeper(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.after(s.interval):
		}
		if _, err := s.Sweep(ctx); err != nil {
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				return // Close interrupted the sweep: not a failure.
			}
			s.onError(err)
		}
	}
}
