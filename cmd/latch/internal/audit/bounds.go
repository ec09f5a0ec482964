package audit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrIncomplete is returned, with the partial report, when the audit was
// interrupted (its context cancelled, as on Ctrl-C) or reached
// Config.MaxDuration: the report holds the checks that finished before,
// and marks the others as not finished.
var ErrIncomplete = errors.New("audit: incomplete")

// errMaxDuration is the cause of a run stopped at Config.MaxDuration.
var errMaxDuration = errors.New("audit: --max-duration reached")

// defaultMaxDuration is what a run may take beyond its longest wait when
// Config.MaxDuration is not set.
const defaultMaxDuration = time.Hour

// limit bounds the run: ctx ends when parent does, when MaxDuration has
// passed on the wall clock, or when a wait would end past the deadline
// on the auditor's clock (see sleep). stop releases it.
func (a *auditor) limit(parent context.Context) (ctx context.Context, stop func()) {
	inner, cancel := context.WithCancelCause(parent)
	ctx, cancelTimer := context.WithTimeoutCause(inner, a.cfg.MaxDuration, errMaxDuration)
	a.ctx, a.cancel, a.deadline = ctx, cancel, a.cfg.Now().Add(a.cfg.MaxDuration)
	sleep := a.cfg.Sleep
	a.cfg.Sleep = func(ctx context.Context, d time.Duration) error {
		if a.cfg.Now().Add(d).After(a.deadline) {
			a.cancel(errMaxDuration)
			return fmt.Errorf("audit: %w", context.Cause(a.ctx))
		}
		return sleep(ctx, d)
	}
	return ctx, func() { cancelTimer(); cancel(nil) }
}

// stopped returns why the run stopped early, "" when it did not.
func (a *auditor) stopped() string {
	if a.ctx == nil || a.ctx.Err() == nil {
		return ""
	}
	if errors.Is(context.Cause(a.ctx), errMaxDuration) {
		return fmt.Sprintf("reached --max-duration (%s)", fmtDuration(a.cfg.MaxDuration))
	}
	return "was interrupted"
}
