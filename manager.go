package latch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/latchsec/latch/driver"
)

// Defaults for the Config fields. They follow OWASP's session management
// cheat sheet and ASVS level 2.
const (
	DefaultCookieName              = "__Host-session"
	DefaultInsecureCookieName      = "session"
	DefaultIdleTimeout             = 30 * time.Minute
	DefaultAbsoluteTimeout         = 12 * time.Hour
	DefaultRememberIdleTimeout     = 7 * 24 * time.Hour
	DefaultRememberAbsoluteTimeout = 30 * 24 * time.Hour
	DefaultGuessLimit              = 20
	DefaultGuessWindow             = time.Minute
	DefaultGuessIPv6Prefix         = 64
	// MaxRememberTimeout bounds remember-me limits: browsers cap cookie
	// lifetimes at 400 days.
	MaxRememberTimeout = 400 * 24 * time.Hour
)

// BindingPolicy says what happens when a session comes back from a client
// whose user-agent family or network differs from the one recorded at login.
type BindingPolicy uint8

const (
	BindingReport BindingPolicy = iota // emit EventBindingMismatch only (default)
	BindingOff                         // no check, no client hints kept for binding
	BindingRenew                       // emit the event and give the session a new ID
	BindingEnd                         // emit the event and end the session
)

// Config configures a Manager. Its zero value, with a Store, is the secure
// configuration: every field documents its default.
type Config struct {
	// Store keeps the sessions on the server: memstore for one process,
	// boltstore for one machine, redisstore or pgstore for several. Set
	// exactly one of Store and Stateless.
	Store driver.Store
	// Stateless keeps each session in its cookie instead (package
	// cookiestore): nothing on the server but, optionally, revocations.
	Stateless driver.Stateless

	// Keys signs session tokens, and stays for the Manager's life. Set
	// Keys or KeySource, not both. Default: KeySource KeysFromEnv(), from
	// the LATCH_KEYS or LATCH_KEYS_FILE environment variable; New fails
	// without keys.
	Keys *Keyring
	// KeySource supplies a keyring that may change while the Manager runs:
	// FileKeys, KeysFromEnv, or a KeySourceFunc around a secrets manager's
	// client. New reads it and fails if its keyring is bad; the Manager
	// reads it again every KeyReloadInterval and takes a changed keyring
	// that passes every check, else keeps the one in use (see ReloadKeys).
	// A Stateless that is a KeySetter (cookiestore.Store) gets every
	// keyring taken. Call Close to stop the reloads. Default none.
	KeySource KeySource
	// KeyReloadInterval is how often the Manager reads KeySource again.
	// Default 1 second (DefaultKeyReloadInterval), right for a file; a
	// KeySourceFunc that calls a secrets manager's API wants minutes, and
	// a staged key's activation delay must be longer (see README, "Keys
	// that change while the program runs"). Negative: never, call
	// ReloadKeys instead. A StaticKeys source is never read again.
	KeyReloadInterval time.Duration

	// CookieName is the session cookie's name. Default "__Host-session"
	// ("session" with InsecureCookie). A name starting with "__Host-"
	// requires Secure, Path=/ and no Domain, which latch always uses.
	CookieName string
	// SameSite is the cookie's SameSite attribute. Default Lax, so that a
	// link from another site keeps the user signed in but cross-site POSTs
	// carry no session. Strict is stronger; None is refused.
	SameSite http.SameSite
	// InsecureCookie drops the Secure attribute and the __Host- prefix.
	// Default false. Secure cookies work on http://localhost in every
	// current browser, so this is only for plain-HTTP hosts other than
	// loopback; New logs a warning every time it is set.
	InsecureCookie bool

	// IdleTimeout ends a session after this long without activity. Default
	// 30 minutes.
	//
	// A session keeps the limits in force when it began or last logged in,
	// and every limit here can only shorten them: lowering one (with a
	// restart) applies to every existing session at once, raising one only
	// to sessions that log in after it. The same holds for the three
	// timeouts below.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after the last
	// authentication (or after creation, for an anonymous session),
	// whatever the activity. Default 12 hours.
	AbsoluteTimeout time.Duration
	// RememberIdleTimeout and RememberAbsoluteTimeout are the limits of a
	// remember-me session (Login with Remember(true)), which also gets a
	// persistent cookie. Defaults 7 and 30 days; at most 400 days.
	RememberIdleTimeout     time.Duration
	RememberAbsoluteTimeout time.Duration
	// TouchInterval throttles idle refreshes: a request that changes
	// nothing writes to the store (and refreshes a persistent cookie) only
	// when the stored last-seen time is at least this old. A session can
	// therefore end up to TouchInterval before its idle deadline, never
	// after it. Default IdleTimeout/10 (3 minutes for the default).
	TouchInterval time.Duration

	// MaxSessionsPerUser limits the sessions one user may have at once
	// (ASVS 7.1.2). Default 0: no limit. At the limit, Login ends the
	// user's oldest session, or fails with ErrSessionLimit when
	// RefuseOverLimit is set. Sessions that have ended by a timeout do
	// not count: a login deletes them first (one Store.ListUser).
	MaxSessionsPerUser int
	RefuseOverLimit    bool

	// GuessLimit is the number of refused tokens (malformed, bad MAC,
	// unknown or retired key) one client may send in GuessWindow before
	// latch emits EventGuessing and answers its requests that carry a bad
	// token with 429. Default 20 per minute. Negative disables the check.
	GuessLimit  int
	GuessWindow time.Duration
	// GuessIPv6Prefix is the length in bits of the IPv6 network that the
	// guessing counter counts as one client, since a host that holds a
	// /64 can send each request from another address of it. Default 64;
	// 1 to 128 (128 counts every address apart). IPv4 clients are counted
	// per address, and an IPv4-mapped IPv6 address (::ffff:192.0.2.1) as
	// that IPv4 address.
	GuessIPv6Prefix int
	// GuessReportOnly emits EventGuessing without answering 429. Default
	// false.
	GuessReportOnly bool

	// Binding is the policy for a session that comes back with another
	// user-agent family or client network. Default BindingReport.
	Binding BindingPolicy

	// ClientIP returns the client address of a request, for the guessing
	// counter, binding and session lists. Default: the host of
	// r.RemoteAddr. Behind a proxy, return the address the proxy reports,
	// and only when the request really came through it.
	ClientIP func(r *http.Request) string

	// ErrorHandler answers a request when the store fails. Default: 503
	// Service Unavailable with a short text body, or 500 Internal Server
	// Error when the session is too large for the store (ErrTooLarge: a
	// retry cannot help). latch never falls back to a fresh session on a
	// store error.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// OnEvent receives every event, synchronously; keep it fast. Default
	// none.
	OnEvent func(Event)
	// Logger receives every event. Default slog.Default(). Use
	// slog.New(slog.DiscardHandler) to silence it.
	Logger *slog.Logger

	// DeviceBound turns on device-bound sessions (DBSC): a browser that
	// supports them binds the session to a key that never leaves the
	// device, and a copied cookie stops working elsewhere within
	// minutes. Default off; set DeviceBound.Mode to DeviceBoundEnforce
	// (or DeviceBoundReportOnly) to turn it on. See DeviceBound.
	DeviceBound DeviceBound

	// Now is the clock. Default time.Now. Tests inject their own.
	Now func() time.Time
}

// Manager issues, loads and commits sessions. Build one with New; it is
// safe for concurrent use.
type Manager struct {
	cfg     Config
	backend backend // where sessions live: chosen once, in New
	keyring atomic.Pointer[Keyring]
	keys    *keyWatch // the KeySource, nil without one
	guard   *guard
	dbsc    *dbsc // device-bound sessions, nil when off
	log     *slog.Logger
	now     func() time.Time

	plainHTTP atomic.Bool // EventPlainHTTP was emitted
}

// New validates cfg, fills in the defaults and returns a Manager. It
// refuses weak keys and insecure combinations, so a misconfiguration stops
// the program at start rather than at the first request.
func New(cfg Config) (*Manager, error) {
	switch {
	case cfg.Store == nil && cfg.Stateless == nil:
		return nil, errors.New("latch: Config.Store is required (memstore.New(memstore.Options{}) for one process, boltstore for one machine, redisstore or pgstore for several; or Config.Stateless for cookie sessions)")
	case cfg.Store != nil && cfg.Stateless != nil:
		return nil, errors.New("latch: set Config.Store or Config.Stateless, not both")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var watch *keyWatch
	switch {
	case cfg.Keys != nil && cfg.KeySource != nil:
		return nil, errors.New("latch: set Config.Keys or Config.KeySource, not both")
	case cfg.Keys == nil:
		if cfg.KeySource == nil {
			src, err := KeysFromEnv()
			if err != nil {
				return nil, err
			}
			cfg.KeySource = src
		}
		r, h, err := startKeys(context.Background(), cfg.KeySource, cfg.Now())
		if err != nil {
			return nil, err
		}
		cfg.Keys = r
		watch = &keyWatch{src: cfg.KeySource, inUse: h}
	}
	if cfg.KeyReloadInterval == 0 {
		cfg.KeyReloadInterval = DefaultKeyReloadInterval
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
		if cfg.InsecureCookie {
			cfg.CookieName = DefaultInsecureCookieName
		}
	}
	if err := checkCookieName(cfg.CookieName); err != nil {
		return nil, err
	}
	if cfg.InsecureCookie {
		if strings.HasPrefix(cfg.CookieName, "__Host-") || strings.HasPrefix(cfg.CookieName, "__Secure-") {
			return nil, fmt.Errorf("latch: cookie name %q needs the Secure attribute, which InsecureCookie turns off", cfg.CookieName)
		}
		cfg.Logger.Warn("latch: InsecureCookie is set: the session cookie is sent without Secure and can be stolen over plain HTTP; use it only for development")
	}
	switch cfg.SameSite {
	case 0, http.SameSiteDefaultMode:
		cfg.SameSite = http.SameSiteLaxMode
	case http.SameSiteLaxMode, http.SameSiteStrictMode:
	case http.SameSiteNoneMode:
		return nil, errors.New("latch: SameSite=None sends the session cookie on cross-site requests; use Lax or Strict")
	default:
		return nil, fmt.Errorf("latch: unknown SameSite mode %d", cfg.SameSite)
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
		max  time.Duration
	}{
		{"IdleTimeout", &cfg.IdleTimeout, DefaultIdleTimeout, MaxRememberTimeout},
		{"AbsoluteTimeout", &cfg.AbsoluteTimeout, DefaultAbsoluteTimeout, MaxRememberTimeout},
		{"RememberIdleTimeout", &cfg.RememberIdleTimeout, DefaultRememberIdleTimeout, MaxRememberTimeout},
		{"RememberAbsoluteTimeout", &cfg.RememberAbsoluteTimeout, DefaultRememberAbsoluteTimeout, MaxRememberTimeout},
		{"GuessWindow", &cfg.GuessWindow, DefaultGuessWindow, 24 * time.Hour},
	}
	for _, d := range durations {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < 0 || *d.v > d.max {
			return nil, fmt.Errorf("latch: %s %v is out of range (0 < d <= %v)", d.name, *d.v, d.max)
		}
	}
	if cfg.IdleTimeout > cfg.AbsoluteTimeout {
		return nil, fmt.Errorf("latch: IdleTimeout %v is longer than AbsoluteTimeout %v", cfg.IdleTimeout, cfg.AbsoluteTimeout)
	}
	if cfg.RememberIdleTimeout > cfg.RememberAbsoluteTimeout {
		return nil, fmt.Errorf("latch: RememberIdleTimeout %v is longer than RememberAbsoluteTimeout %v", cfg.RememberIdleTimeout, cfg.RememberAbsoluteTimeout)
	}
	if cfg.TouchInterval == 0 {
		cfg.TouchInterval = cfg.IdleTimeout / 10
	}
	if cfg.TouchInterval < 0 || cfg.TouchInterval > cfg.IdleTimeout/2 {
		return nil, fmt.Errorf("latch: TouchInterval %v must be positive and at most half of IdleTimeout", cfg.TouchInterval)
	}
	if cfg.MaxSessionsPerUser < 0 {
		return nil, errors.New("latch: MaxSessionsPerUser must not be negative")
	}
	if cfg.GuessLimit == 0 {
		cfg.GuessLimit = DefaultGuessLimit
	}
	if cfg.GuessIPv6Prefix == 0 {
		cfg.GuessIPv6Prefix = DefaultGuessIPv6Prefix
	}
	if cfg.GuessIPv6Prefix < 1 || cfg.GuessIPv6Prefix > 128 {
		return nil, fmt.Errorf("latch: GuessIPv6Prefix %d is out of range (1 to 128 bits)", cfg.GuessIPv6Prefix)
	}
	if cfg.Binding > BindingEnd {
		return nil, fmt.Errorf("latch: unknown binding policy %d", cfg.Binding)
	}
	if err := checkDeviceBound(&cfg); err != nil {
		return nil, err
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteHost
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = defaultErrorHandler
	}
	if err := cfg.Keys.CheckSigning(cfg.Now(), longestSession(&cfg)); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, now: cfg.Now, keys: watch}
	if cfg.Stateless != nil {
		m.backend = &cookieBackend{st: cfg.Stateless, name: cfg.CookieName, push: watch != nil}
	} else {
		m.backend = &serverBackend{store: cfg.Store, name: cfg.CookieName}
	}
	if err := m.backend.setKeys(cfg.Keys); err != nil {
		return nil, err
	}
	m.keyring.Store(cfg.Keys)
	if cfg.MaxSessionsPerUser > 0 && !m.backend.limits() {
		return nil, errors.New("latch: MaxSessionsPerUser needs a server-side store: a cookie store cannot count a user's sessions")
	}
	if cfg.DeviceBound.Mode != DeviceBoundOff {
		m.dbsc = newDBSC(m)
	}
	if cfg.GuessLimit > 0 {
		m.guard = newGuard(cfg.GuessLimit, cfg.GuessWindow, cfg.GuessIPv6Prefix)
	}
	if watch != nil && !isStatic(cfg.KeySource) && cfg.KeyReloadInterval > 0 {
		watch.stop, watch.done = make(chan struct{}), make(chan struct{})
		go m.watch(cfg.KeyReloadInterval)
	}
	return m, nil
}

// checkCookieName allows the token characters of RFC 6265.
func checkCookieName(name string) error {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return fmt.Errorf("latch: invalid cookie name %q", name)
		}
	}
	return nil
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func defaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	h := w.Header()
	h.Del("Set-Cookie")
	h.Set("Cache-Control", "no-store")
	if errors.Is(err, ErrTooLarge) {
		http.Error(w, "Internal server error: the session is too large to be saved.", http.StatusInternalServerError)
		return
	}
	http.Error(w, "Service temporarily unavailable: the session store cannot be reached.", http.StatusServiceUnavailable)
}

// CookieName returns the name of the session cookie.
func (m *Manager) CookieName() string { return m.cfg.CookieName }

// Config returns the configuration in force, with defaults filled in and
// Keys the keyring in use (with a KeySource too, the one last taken from
// it).
func (m *Manager) Config() Config {
	c := m.cfg
	c.Keys = m.Keyring()
	return c
}

// Sessions lists the live sessions of a user, oldest first. current, when
// not nil, marks the session of the request in hand. It is ListSessions on
// the Manager's store and clock, and reports a store failure as an
// EventStoreError.
func (m *Manager) Sessions(ctx context.Context, userID string, current *Session) ([]SessionInfo, error) {
	var cur driver.Hash
	if current != nil {
		cur = current.hashNow()
	}
	list, err := listSessions(ctx, m.listInForce, userID, cur, m.now())
	if err != nil {
		return nil, m.storeError(ctx, fmt.Errorf("latch: list sessions: %w", err))
	}
	return list, nil
}

// Revoke ends the user's session with the given handle. It returns
// ErrNotFound if the user has no such session. It is RevokeSession on the
// Manager's store, plus an EventRevoked, or an EventStoreError when the
// store fails.
func (m *Manager) Revoke(ctx context.Context, userID, handle string) error {
	err := revokeSession(ctx, m.backend.list, m.backend.end, userID, handle)
	switch {
	case errors.Is(err, ErrNotFound):
		return ErrNotFound
	case err != nil:
		return m.storeError(ctx, fmt.Errorf("latch: revoke: %w", err))
	}
	m.emit(ctx, Event{Kind: EventRevoked, Handle: handle, UserID: userID, Reason: "revoked"})
	return nil
}

// RevokeUser ends every session of a user, for example when the account is
// disabled or deleted (ASVS 7.4.2), and returns how many it ended.
func (m *Manager) RevokeUser(ctx context.Context, userID string) (int, error) {
	n, _, err := m.backend.endUser(ctx, userID, driver.Hash{})
	if err != nil {
		return n, m.storeError(ctx, fmt.Errorf("latch: revoke user: %w", err))
	}
	m.emit(ctx, Event{Kind: EventRevoked, UserID: userID, Reason: "all sessions of the user" + count(n)})
	return n, nil
}

// count describes n ended sessions for an event; stateless stores cannot
// count (n < 0).
func count(n int) string {
	if n < 0 {
		return ""
	}
	return fmt.Sprintf(" (%d)", n)
}

// storeError reports a store failure as an event and returns it.
// ErrNotSupported is a limit of the store, not a failure, and is returned
// as it is.
func (m *Manager) storeError(ctx context.Context, err error) error {
	if !errors.Is(err, ErrNotSupported) {
		m.emit(ctx, Event{Kind: EventStoreError, Err: err})
	}
	return err
}
