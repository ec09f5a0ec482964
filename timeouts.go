package latch

import (
	"context"

	"github.com/latchsec/latch/driver"
)

// inForce returns meta with the configuration's timeouts wherever they are
// shorter than the ones meta was written with.
//
// A record keeps the limits that were in force when its session began or
// last logged in, so a loosened configuration applies only to sessions
// that log in after it; a tightened one applies to every session at once:
// at its next request, in every report of its deadlines (Status,
// Deadlines, Sessions) and in a remember-me cookie's Max-Age. The record
// keeps its own limits, so that going back to the old configuration
// restores them, and so that a revocation of a stateless session lasts as
// long as a copy of its cookie sealed before the change (cookiesEnd).
func (m *Manager) inForce(meta driver.Meta) driver.Meta {
	idle, abs := m.cfg.IdleTimeout, m.cfg.AbsoluteTimeout
	if meta.Remember {
		idle, abs = m.cfg.RememberIdleTimeout, m.cfg.RememberAbsoluteTimeout
	}
	meta.IdleTimeout = min(meta.IdleTimeout, idle)
	meta.AbsoluteTimeout = min(meta.AbsoluteTimeout, abs)
	return meta
}

// listInForce is the backend's list with the timeouts in force.
func (m *Manager) listInForce(ctx context.Context, userID string) ([]driver.Info, error) {
	infos, err := m.backend.list(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]driver.Info, len(infos))
	for i, in := range infos {
		out[i] = driver.Info{ID: in.ID, Meta: m.inForce(in.Meta)}
	}
	return out, nil
}
