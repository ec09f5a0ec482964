package latch

import (
	"context"
	"time"

	"github.com/latchsec/latch/driver"
)

// SessionInfo describes one of a user's sessions for a "your sessions"
// page. It holds no token.
type SessionInfo struct {
	Handle          string    `json:"handle"`
	Created         time.Time `json:"created"`
	LastSeen        time.Time `json:"last_seen"`
	AuthTime        time.Time `json:"auth_time"`
	IdleExpiresAt   time.Time `json:"idle_expires_at"`
	AbsoluteExpires time.Time `json:"absolute_expires_at"`
	Remember        bool      `json:"remember"`
	UserAgent       string    `json:"user_agent,omitempty"`
	IP              string    `json:"ip,omitempty"`
	// DeviceBound says the session is bound to a device key
	// (Config.DeviceBound): a copy of its cookies stops working on
	// another device when the bound cookie expires.
	DeviceBound bool `json:"device_bound"`
	Current     bool `json:"current"`
}

// Deadline is the earlier of IdleExpiresAt and AbsoluteExpires: when the
// session ends unless it is used again before then.
func (si SessionInfo) Deadline() time.Time {
	if si.AbsoluteExpires.Before(si.IdleExpiresAt) {
		return si.AbsoluteExpires
	}
	return si.IdleExpiresAt
}

// ListSessions returns the sessions of userID that st holds and that are
// live at now, oldest first. It is what Manager.Sessions does, for programs
// that hold a Store but no Manager (an admin tool has no keyring and needs
// none). When current is not zero (it is the hash of the request's
// session), that session has Current set.
//
// Stores keep a record for a short grace after its deadline, so that a late
// request learns which timeout ended it; ListSessions leaves such sessions
// out, as latch would refuse them. A store error is returned as the store
// reported it.
func ListSessions(ctx context.Context, st driver.Store, userID string, current driver.Hash, now time.Time) ([]SessionInfo, error) {
	return listSessions(ctx, st.ListUser, userID, current, now)
}

func listSessions(ctx context.Context, list func(context.Context, string) ([]driver.Info, error), userID string, current driver.Hash, now time.Time) ([]SessionInfo, error) {
	infos, err := list(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]SessionInfo, 0, len(infos))
	for i := range infos {
		in := &infos[i]
		if !now.Before(in.Deadline()) {
			continue
		}
		out = append(out, SessionInfo{
			Handle:          in.ID.Handle(),
			Created:         in.Created,
			LastSeen:        in.LastSeen,
			AuthTime:        in.AuthTime,
			IdleExpiresAt:   in.IdleDeadline(),
			AbsoluteExpires: in.AbsoluteDeadline(),
			Remember:        in.Remember,
			UserAgent:       in.UserAgent,
			IP:              in.IP,
			DeviceBound:     in.DeviceKey != "",
			Current:         !current.IsZero() && in.ID == current,
		})
	}
	return out, nil
}

// RevokeSession deletes the session of userID whose handle (Hash.Handle,
// SessionInfo.Handle) is handle. It is what Manager.Revoke does, without
// the event, for programs that hold a Store but no Manager.
//
// Only the user's own sessions are searched, so a handle of another user's
// session is not found, and a handle matches only in full: a prefix, a
// whole hash or another letter case is not found either. RevokeSession
// returns ErrNotFound then, and a store error as the store reported it. A
// session that another request renews between the listing and the
// deletion is still ended: Store.Delete follows the renewal.
func RevokeSession(ctx context.Context, st driver.Store, userID, handle string) error {
	return revokeSession(ctx, st.ListUser, func(ctx context.Context, id driver.Hash, _ time.Time) error { return st.Delete(ctx, id) }, userID, handle)
}

func revokeSession(ctx context.Context, list func(context.Context, string) ([]driver.Info, error), end func(context.Context, driver.Hash, time.Time) error, userID, handle string) error {
	infos, err := list(ctx, userID)
	if err != nil {
		return err
	}
	for i := range infos {
		if infos[i].ID.Handle() == handle {
			return end(ctx, infos[i].ID, infos[i].ExpiresAt())
		}
	}
	return ErrNotFound
}
