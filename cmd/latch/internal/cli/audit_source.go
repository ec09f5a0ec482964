package cli

import (
	"context"
	"fmt"

	"github.com/latchsec/latch/cmd/latch/internal/audit"
	"github.com/latchsec/latch/cmd/latch/internal/review"
)

// sourceReview is what `latch audit URL --source PATH` learnt from the
// source before the live audit.
type sourceReview struct {
	keys    []audit.SourceKey
	compare audit.SourceReview
}

// reviewSource reviews the application's source at path (latch review's
// checks, compared with the live audit's afterwards) and collects the
// secret keys written in it or ever committed to its git history, which
// the audit tries against the live session cookie.
func reviewSource(ctx context.Context, path string) (*sourceReview, error) {
	hist, err := review.HistoryOf(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("--source: %w", err)
	}
	res, err := review.Run(ctx, path, review.Options{History: hist})
	if err != nil {
		return nil, fmt.Errorf("--source: %w", err)
	}
	keys, err := review.SourceKeys(ctx, path, hist)
	if err != nil {
		return nil, fmt.Errorf("--source: %w", err)
	}
	sr := &sourceReview{compare: audit.SourceReview{Report: res.Report, Lifetime: res.Lifetime, LifetimeWhere: res.LifetimeWhere}}
	for _, k := range keys {
		sr.keys = append(sr.keys, audit.SourceKey{Secret: k.Secret, Where: k.Where})
	}
	return sr, nil
}
