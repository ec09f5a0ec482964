package latch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// DefaultKeyReloadInterval is how often a Manager reads its KeySource
// again by default.
const DefaultKeyReloadInterval = time.Second

// keyWatch is a Manager's KeySource and what it last made of it.
type keyWatch struct {
	src KeySource

	mu      sync.Mutex        // one reload at a time
	inUse   [sha256.Size]byte // hash of the text the keyring in use came from
	refused string            // why the last refusal happened, to report a refusal once

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// startKeys reads the source for New: a keyring that cannot be read or
// parsed stops New. It returns the keyring and the text's hash.
func startKeys(ctx context.Context, src KeySource, now time.Time) (*Keyring, [sha256.Size]byte, error) {
	text, err := src.ReadKeys(ctx)
	if err != nil {
		return nil, [sha256.Size]byte{}, err
	}
	r, err := parseKeys(now, string(text))
	if err != nil {
		return nil, [sha256.Size]byte{}, fmt.Errorf("%s: %w", sourceName(src), err)
	}
	return r, sha256.Sum256(text), nil
}

// watch polls the source every interval until Close.
func (m *Manager) watch(interval time.Duration) {
	defer close(m.keys.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-m.keys.stop:
			return
		case <-t.C:
			m.reload(context.Background(), false)
		}
	}
}

// ReloadKeys reads the Manager's KeySource now, as the background reload
// does every Config.KeyReloadInterval, and takes the keyring it gives if
// that differs from the one in use and passes every check. A keyring that
// fails a check (a source that cannot be read, a file with a loose mode,
// an entry that does not parse, a weak key, no key that can sign now) is
// refused: the keyring in use stays, ReloadKeys returns why, and
// EventKeysRefused reports it once for each new reason. A keyring taken is
// reported by EventKeysReloaded. A keyring whose signing key retires
// before a session it signs could end (Keyring.CheckSigning), which New
// refuses at start, is taken on a reload, and its EventKeysReloaded
// carries the problem as Err and is logged as an error: refusing it would
// keep serving a key that the new keyring removed (latch rotate --revoke),
// and instances would take it at different moments as their clocks pass
// the handover. Call it from a SIGHUP handler to reload at once: a file
// that FileKeys finds changed is read a second time at once, rather than
// at the next poll, since the application says it is complete. Without a
// KeySource it returns an error.
func (m *Manager) ReloadKeys(ctx context.Context) error {
	if m.keys == nil {
		return errors.New("latch: ReloadKeys: the Manager has no Config.KeySource")
	}
	return m.reload(ctx, true)
}

// reload reads the source and takes the keyring it gives. asked says the
// application asked for it (ReloadKeys): a file caught changing is then
// read again at once; the background reload waits for its next poll.
func (m *Manager) reload(ctx context.Context, asked bool) error {
	w := m.keys
	w.mu.Lock()
	defer w.mu.Unlock()
	text, err := w.src.ReadKeys(ctx)
	if err == nil && asked && settling(w.src) {
		text, err = w.src.ReadKeys(ctx)
	}
	if err != nil {
		return m.refuseKeys(ctx, err)
	}
	h := sha256.Sum256(text)
	if h == w.inUse {
		w.refused = ""
		return nil
	}
	now := m.now()
	r, err := parseKeys(now, string(text))
	if err == nil {
		err = m.backend.setKeys(r)
	}
	if err != nil {
		return m.refuseKeys(ctx, fmt.Errorf("%s: %w", sourceName(w.src), err))
	}
	m.keyring.Store(r)
	w.inUse, w.refused = h, ""
	ev := Event{Kind: EventKeysReloaded, Reason: describeKeys(r, now)}
	// A signing key that retires too soon is taken all the same, and
	// reported: refusing it would keep the keyring in use, with a key the
	// new one may have removed (latch rotate --revoke), and instances
	// would take it at different moments, as their clocks pass the
	// handover, signing with keys the others do not know yet.
	if err := r.CheckSigning(now, longestSession(&m.cfg)); err != nil {
		ev.Err = fmt.Errorf("%s: keyring taken, but %w", sourceName(w.src), err)
	}
	m.emit(ctx, ev)
	return nil
}

// refuseKeys reports a refused reload once per reason and returns err.
func (m *Manager) refuseKeys(ctx context.Context, err error) error {
	err = fmt.Errorf("latch: keyring reload refused, the keyring in use stays: %w", err)
	if msg := err.Error(); msg != m.keys.refused {
		m.keys.refused = msg
		m.emit(ctx, Event{Kind: EventKeysRefused, Reason: "the keyring in use stays", Err: err})
	}
	return err
}

// longestSession is the longest a session can last: a signing key must
// not retire before a session it signs could end (Keyring.CheckSigning).
func longestSession(cfg *Config) time.Duration {
	return max(cfg.AbsoluteTimeout, cfg.RememberAbsoluteTimeout)
}

// describeKeys names a keyring's keys for an event: ids only, and the one
// that signs at now.
func describeKeys(r *Keyring, now time.Time) string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.ID
	}
	s, _ := r.SigningKey(now)
	return "keys " + strings.Join(ids, ", ") + "; signing with " + s.ID
}

// Keyring returns the keyring in use: Config.Keys, or the last keyring
// taken from Config.KeySource.
func (m *Manager) Keyring() *Keyring { return m.keyring.Load() }

// Close stops the Manager's background reload of its KeySource. A Manager
// without a KeySource has nothing to stop. Close does not wait for
// requests in flight, and the Manager keeps serving with the keyring in
// use.
func (m *Manager) Close() error {
	if m.keys == nil || m.keys.stop == nil {
		return nil
	}
	m.keys.stopOnce.Do(func() { close(m.keys.stop) })
	<-m.keys.done
	return nil
}
