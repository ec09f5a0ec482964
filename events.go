package latch

import (
	"context"
	"log/slog"
	"time"
)

// EventKind says what happened to a session.
type EventKind uint8

// The events latch reports. Each goes to Config.OnEvent and to
// Config.Logger.
const (
	EventCreated             EventKind = iota + 1 // a new session was stored (logged at Debug when it has no user)
	EventRenewed                                  // the session got a new ID (Renew, Login, Reauthenticate)
	EventLogin                                    // a user logged in
	EventLogout                                   // a user logged out; the record is deleted
	EventExpired                                  // a session ended by a timeout; Reason is "idle" or "absolute"
	EventRevoked                                  // a session was ended by Revoke, RevokeUser, RevokeOthers, a limit or a binding policy
	EventInvalidToken                             // a token was refused; Reason says why (see the Reason constants)
	EventFallbackKey                              // a token signed by a fallback key was accepted and re-issued
	EventStoreError                               // the store failed; Err holds the error
	EventGuessing                                 // a client passed the limit of refused tokens in the window; Reason names the counted address or IPv6 network
	EventBindingMismatch                          // a session came back with another client family or network
	EventLateChange                               // a change that needed a cookie came after the response began
	EventKeysReloaded                             // a changed keyring from Config.KeySource was taken; Reason names its key ids; Err, when set, says its signing key retires before a session could end (logged as an error)
	EventKeysRefused                              // a keyring from Config.KeySource was refused and the one in use stays; Err says why
	EventPlainHTTP                                // a Secure session cookie was set on a plain-HTTP request to a host other than loopback, which browsers drop; Reason names cause and fix (emitted once per Manager)
	EventBadValue                                 // a value changed after Set could not be encoded; Reason names the key, the request's changes were not saved
	EventDeviceRegistered                         // a session was bound to a device key (Config.DeviceBound); Reason names the algorithm and the DBSC session
	EventDeviceRefreshed                          // a device-bound session proved its key and got a new bound cookie
	EventDeviceRefused                            // a registration or refresh proof was refused (bad signature, another key, a replayed or foreign challenge, malformed); Reason says which and why
	EventDeviceCookieMissing                      // a request of a device-bound session came without a valid bound cookie; Reason says what was wrong and whether the request was refused (DeviceBoundEnforce) or only reported
)

var eventNames = [...]string{
	EventCreated:         "created",
	EventRenewed:         "renewed",
	EventLogin:           "login",
	EventLogout:          "logout",
	EventExpired:         "expired",
	EventRevoked:         "revoked",
	EventInvalidToken:    "invalid-token",
	EventFallbackKey:     "fallback-key",
	EventStoreError:      "store-error",
	EventGuessing:        "guessing",
	EventBindingMismatch: "binding-mismatch",
	EventLateChange:      "late-change",
	EventKeysReloaded:    "keys-reloaded",
	EventKeysRefused:     "keys-refused",
	EventPlainHTTP:       "plain-http",
	EventBadValue:        "bad-value",

	EventDeviceRegistered:    "device-registered",
	EventDeviceRefreshed:     "device-refreshed",
	EventDeviceRefused:       "device-refused",
	EventDeviceCookieMissing: "device-cookie-missing",
}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "unknown"
}

// Event describes one thing that happened to a session. It never holds a
// token or a key: sessions are named by their Handle.
type Event struct {
	Kind   EventKind
	Time   time.Time
	Handle string // the session's non-secret handle, "" when there is none
	UserID string
	Client string // the client address as Config.ClientIP gives it
	Reason string
	Err    error
}

// level is the slog level an event is logged at. An anonymous session's
// creation is routine (any visitor whose request stores a value makes
// one), so it goes to Debug; a session created with a user is Info.
func (e *Event) level() slog.Level {
	switch e.Kind {
	case EventInvalidToken, EventGuessing, EventBindingMismatch, EventFallbackKey, EventPlainHTTP,
		EventDeviceRefused, EventDeviceCookieMissing:
		return slog.LevelWarn
	case EventStoreError, EventLateChange, EventKeysRefused, EventBadValue:
		return slog.LevelError
	case EventKeysReloaded:
		if e.Err != nil { // taken, with a signing key that retires too soon
			return slog.LevelError
		}
	case EventCreated:
		if e.UserID == "" {
			return slog.LevelDebug
		}
	}
	return slog.LevelInfo
}

func (m *Manager) emit(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = m.now()
	}
	if m.cfg.OnEvent != nil {
		m.cfg.OnEvent(e)
	}
	lvl := e.level()
	if !m.log.Enabled(ctx, lvl) {
		return
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("event", e.Kind.String()))
	if e.Handle != "" {
		attrs = append(attrs, slog.String("session", e.Handle))
	}
	if e.UserID != "" {
		attrs = append(attrs, slog.String("user", e.UserID))
	}
	if e.Client != "" {
		attrs = append(attrs, slog.String("client", e.Client))
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
	}
	m.log.LogAttrs(ctx, lvl, "latch session", attrs...)
}
