// Package latch is secure session management for net/http: sessions whose
// defaults are the secure configuration, and which stop the three classic
// attacks on sessions (fixation, hijacking and brute-force guessing).
//
// # Quick start
//
// Make a key once with "latch keygen" and give it to the program in the
// environment (LATCH_KEYS) or a file (LATCH_KEYS_FILE); never put it in
// code. Then:
//
//	store, _ := memstore.New(memstore.Options{}) // or boltstore, redisstore, pgstore
//	m, err := latch.New(latch.Config{Store: store})
//	if err != nil {
//		log.Fatal(err) // a weak or missing key stops the program here
//	}
//	mux := http.NewServeMux()
//	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
//		s, _ := latch.FromContext(r.Context())
//		if !checkPassword(r.FormValue("username"), r.FormValue("password")) {
//			http.Error(w, "wrong user or password", http.StatusUnauthorized)
//			return
//		}
//		if err := s.Login(r.FormValue("username")); err != nil { // new ID: no fixation
//			http.Error(w, "try again", http.StatusServiceUnavailable)
//			return
//		}
//		http.Redirect(w, r, "/", http.StatusSeeOther)
//	})
//	http.ListenAndServe(addr, m.Handler(mux))
//
// chi and other routers that take net/http middleware take Handler as it
// is. For gin and echo, the modules latchgin and latchecho give the same
// middleware, guards and status handler in those frameworks' shapes.
// Package latchtest runs handler tests on a Manager with a memory store and
// a clock that moves only when told to.
//
// # Where each mitigation lives
//
// Secret key: Keyring, ParseKeys, LoadKeys and CheckKey. Keys come from
// crypto/rand (GenerateKey), at least 32 bytes, from the environment or a
// file with mode 0600. New refuses keys that are short, published (a list
// of several hundred known default and example keys ships with latch,
// matched also with case, punctuation and look-alike letters changed),
// made of few distinct characters, repeating, counting, or text with low
// estimated entropy, while random keys in hex, base32 and base64 of 128
// bits or more pass; the error names the rule and never the key. Printing
// a Key or Keyring shows ids and times only; Key.SecretEntry is the one
// method that writes a secret. See "Keys and their lifecycle" below.
//
// Device-bound sessions (DBSC): Config.DeviceBound, off by default. With
// Mode DeviceBoundEnforce the response to Login offers a supporting browser
// (Secure-Session-Registration) to bind the session to a key that never
// leaves the device; the middleware serves the registration and refresh
// endpoints (DeviceBound.RegisterPath, RefreshPath: "/.latch/dbsc/register"
// and "/.latch/dbsc/refresh"), verifies the browser's ES256 or RS256 proofs
// over single-use challenges, keeps the public key in the record
// (driver.Meta.DeviceKey) and issues a short-lived __Host- bound cookie;
// a bound session's request without a valid one is treated as signed out
// (it goes on with a fresh anonymous session and a fresh challenge), and
// the bound session is left as it was. DeviceBoundReportOnly only
// emits the events (EventDeviceRegistered, EventDeviceRefreshed,
// EventDeviceRefused, EventDeviceCookieMissing). Renew and Reauthenticate
// keep the binding, Login starts a new one, Logout ends it.
// Session.DeviceBound, Session.DeviceVerified and SessionInfo.DeviceBound
// report it. Cookie sessions are refused: see DeviceBound.
//
// Key reload: a Manager with a Config.KeySource (by default KeysFromEnv:
// LATCH_KEYS, or the file named by LATCH_KEYS_FILE, read again every
// second) takes a changed keyring that can sign now and passes New's other
// checks, and refuses any other, keeping the one in use (EventKeysReloaded,
// EventKeysRefused, Manager.ReloadKeys); a signing key that retires before
// a session could end, which New refuses, is taken on a reload and logged
// as an error, so that a revocation always applies. FileKeys sees an in-place
// rewrite, a rename and the link swap of a Kubernetes volume;
// KeySourceFunc reads a secrets manager's API. A cookiestore.Store gets
// every keyring the Manager takes.
//
// Cookies: Secure, HttpOnly (always), SameSite=Lax, Path=/, no Domain and
// the __Host- prefix by default (Config.CookieName, Config.SameSite).
// Dropping Secure needs Config.InsecureCookie, which logs a warning at
// every start. HTTPS redirects plain HTTP (to HTTPSConfig.HTTPSPort) and
// sets HSTS; behind a TLS-terminating proxy, HTTPSConfig.ProxyHeader names
// the one header that proxy sets, and only the element it wrote counts.
//
// Timeouts: Config.IdleTimeout (30 minutes) and Config.AbsoluteTimeout (12
// hours from the last authentication), enforced on the server from the
// record's timestamps. Remember-me sessions (Login with Remember) have
// their own finite limits. A session keeps the limits of its login, and
// the configuration can only shorten them: a restart with a shorter limit
// applies to every session at once, a longer one only to new logins.
// Session.Deadlines and Manager.StatusHandler report the deadlines without
// extending the session, so a page can warn before expiry. Session.Ended says why a session ended, on the request
// that found it ended and, carried in a short-lived cookie that holds only
// the reason, on the next ones: the sign-in page a redirect leads to.
//
// Regeneration: Session.Login, Session.Reauthenticate and Session.Renew
// give the session a new ID; in the same store operation the old record
// becomes a forward that no request can load, so the old token never works
// again. Session.Logout deletes the record on the server. Users list
// and end their sessions with Manager.Sessions, Manager.Revoke and
// Session.RevokeOthers; administrators with Manager.RevokeUser.
// RequireRecentAuth guards sensitive actions.
//
// Fixation, hijacking and guessing: IDs are 256 bits from crypto/rand,
// sent with a key id and a truncated HMAC-SHA256 that binds the cookie
// name. A token is checked for shape, then MAC (constant time), and only
// then looked up, by its SHA-256: stores never see an ID, so a leaked
// store holds no usable token, and a forged token never reaches the store.
// Every refused token emits EventInvalidToken; a client that sends too
// many gets EventGuessing and 429 (Config.GuessLimit), counting IPv6
// clients by network (Config.GuessIPv6Prefix, /64). Config.Binding
// reports (or acts on) a session that comes back from another browser
// family or network.
//
// # Keys and their lifecycle
//
// A keyring entry is
//
//	ID:KEY[:YYYY-MM-DD] [activate=TIME] [retire=TIME]
//
// with TIME in RFC 3339 to the second or a date (a whole UTC day, included
// in the key's life); see ParseKeys for why the attributes follow a space.
// Every key that is not retired verifies. The key that signs is the newest
// valid one (Keyring.SigningKey): of the keys activated and not retired at
// the moment, the latest activation, ties to the first listed, so a keyring
// of plain entries signs with its first. It is chosen at every request: a
// staged key starts signing at its activation, a retiring signing key hands
// over to the next valid key, and with none left logins fail with
// ErrNoSigningKey rather than sign with a retired key. A token under
// another valid key is re-issued under the signing key (EventFallbackKey).
// New refuses a keyring whose signing key retires before a session it signs
// could end (Keyring.CheckSigning with the longer of AbsoluteTimeout and
// RememberAbsoluteTimeout); a reload takes such a keyring and reports it
// as an error (Manager.ReloadKeys), so that a revocation always applies.
//
// The lifecycle, with the latch command: generate and stage ("latch rotate
// --file KEYRING" adds a key that signs an hour later, once every instance
// has read it), activate (at that time, without a restart), retire (the
// replaced key verifies for --retire-after more, 31 days by default, then is
// refused), revoke ("latch rotate --file KEYRING --revoke ID" removes a
// leaked key at once).
//
// # Concurrency and writes
//
// A request that only reads writes nothing to the store unless the stored
// last-seen time is older than Config.TouchInterval, and sends no
// Set-Cookie unless the token changed. A request that changes values
// commits only the keys it changed, applied atomically by the store, so
// concurrent requests on one session never undo each other.
//
// A browser sends requests in parallel, so one request may renew the
// session while another writes to it, logs out, or is revoked. Every store
// orders the two: a request that loaded the session before another renewed
// it lands its changes on the renewed session (for the same user) and
// sends no cookie that could replace the new one; a logout or revocation
// that returns success has ended the session under every ID a concurrent
// renewal gave it. Session.Ended reports ReasonRenewed for a request that
// came with a cookie replaced meanwhile, and its cookie is left alone.
//
// # Values
//
// Session.Set keeps any value JSON can encode, and returns a *ValueError
// for one it cannot (or one it would store as {}, a struct whose fields it
// cannot see). Every store keeps values as JSON, so a value set in one
// request comes back in the next as JSON types; the getters (GetString,
// GetInt, GetFloat, GetBool, GetBytes, GetTime) and the generic Get accept
// both forms, so a []byte reads back as the []byte that was set. Get and
// GetJSON return ErrNoValue for a missing key.
//
// # Stores
//
// A store keeps sessions for the Manager: memstore (one process), boltstore
// (one machine), redisstore and pgstore (several), or cookiestore (in the
// cookie, Config.Stateless). Writing a store of your own means implementing
// the contract in package driver, and running package storetest against it.
//
// # Events
//
// Every lifecycle step (created, renewed, login, logout, expired, revoked,
// invalid token, fallback key, store error, guessing, binding mismatch,
// late change, bad value) goes to Config.OnEvent and Config.Logger, with the
// session's Handle, never its token.
package latch
