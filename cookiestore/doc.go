// Package cookiestore keeps latch sessions in the session cookie itself,
// encrypted and authenticated, so that no session store is needed.
//
// Give a Store to latch.New as Config.Stateless, instead of a
// Config.Store: the Manager then seals the whole session (its values and
// its metadata) into the cookie on every commit, and opens the cookie on
// every request. The Session API is the same as with a server-side store:
// Login renews the session, and the idle, absolute and remember-me
// timeouts are enforced from the authenticated timestamps inside the
// cookie, never from the cookie's lifetime.
//
//	src, err := latch.KeysFromEnv() // LATCH_KEYS, or LATCH_KEYS_FILE read again while running
//	if err != nil {
//		log.Fatal(err)
//	}
//	keys, err := latch.LoadKeysFrom(ctx, src) // the keyring to start with
//	if err != nil {
//		log.Fatal(err)
//	}
//	revs, err := boltstore.Open("revocations.db", boltstore.Options{}) // durable: see Revocation
//	if err != nil {
//		log.Fatal(err)
//	}
//	store, err := cookiestore.New(keys, cookiestore.Options{
//		Revocations: cookiestore.StoreRevocations(revs),
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	m, err := latch.New(latch.Config{Stateless: store, KeySource: src})
//
// With Config.KeySource the Manager gives the Store every keyring it
// takes (Store.SetKeys): a key staged, activated or removed in the file
// reaches the cookies as it reaches the Manager. With Config.Keys the
// Store keeps the keyring it was built with.
//
// # The cookie
//
// A value is "KEYID." followed by base64url (no padding) of a random
// 96-bit nonce and the AES-256-GCM ciphertext. The AES key is derived for
// each keyring key with Keyring.DeriveKey(id, "cookie-aead", 32) (HKDF),
// and the additional data binds the cookie name and the key id, so a value
// is refused under another cookie name or another key id. The plaintext is
// a compact binary envelope: the session hash, the time of sealing, and
// the record in driver's record encoding (driver.AppendRecord), the one
// memstore and boltstore keep: the driver.Meta, then each value as JSON.
// Values come back as driver.DecodeValue gives them (numbers as
// json.Number), as from every store that serialises; use the Session's
// typed getters. A cookie sealed in the envelope of earlier versions
// (values as one JSON object) still opens until it expires, and is sealed
// again in the current one on its next commit.
//
// The keyring's signing key at the time (latch.Keyring.SigningKey: the
// newest key that is activated and not retired) seals; every other key that
// is not retired opens, and a value sealed under one of them is sealed again
// under the signing key on the same request. A
// value under a retired key is refused (driver.ReasonRetiredKey), under an
// unknown key id too (ReasonUnknownKey); one that does not authenticate
// gives ReasonBadMAC and one of the wrong shape ReasonMalformed. Shape and
// length are checked before any cryptography, and a value longer than
// MaxCookieSize is refused at once. A random nonce is safe for about four
// billion seals under one key: rotate keys long before.
//
// Nothing in the cookie is readable without the key: neither the values,
// nor the user id, nor the client hints. Only its length shows (see
// Options.Compress).
//
// # Revocation
//
// A cookie cannot be deleted from the server, so ending a stateless
// session means refusing its cookie from then on. Options.Revocations
// keeps what that takes (StoreRevocations keeps it in any driver.Store,
// FuncRevocations in the application's own tables):
//
//   - Store.Revoke refuses every cookie of one session; the Manager calls
//     it on Session.Logout. A copy of the cookie taken before the logout
//     is refused from then on, as is a cookie that a request still running
//     seals again under the ended session. Open refuses them as
//     driver.ReasonNotFound, and the Manager clears the browser's cookie.
//   - Store.Renewed refuses every cookie of the session that a renewal
//     replaced (Session.Login, Renew, Reauthenticate) and records which
//     session it became. A copy taken before a demotion, or before a
//     value was popped in the renewing request, is refused from then on.
//     Open refuses them as driver.ReasonRenewed, and the Manager leaves the
//     browser's cookie alone, as the browser most likely holds the new
//     one already.
//   - Store.RevokeUser records a per-user "not before" time: every
//     authenticated cookie of the user sealed before it is refused.
//     Manager.RevokeUser and Session.RevokeOthers call it; RevokeOthers
//     then seals the current session again, so it alone survives.
//
// The revocation store orders a logout and a renewal of one session that
// run at the same time, in two requests or two processes. A session has
// one record, revoked or renewed, which Revoke and Renewed create only if
// none exists (atomically) and which never changes kind, so the first of
// the two wins and the other sees it:
//
//   - Logout first: the renewal fails and sends no cookie (Renew and
//     Reauthenticate return an error matching driver.ErrNotFound; Login
//     starts a fresh session instead, as the user has just proved who
//     they are).
//   - Renewal first: Revoke finds where the session went and revokes that
//     session too, and so on down a chain of renewals (at most 1,024). A
//     logout sent with a cookie that a renewal replaced (the browser sent
//     it before the renewal's answer arrived) ends the renewed session the
//     same way.
//   - Two renewals of one session: Renewed succeeds for one and fails
//     with a *driver.RenewedError for the other (it matches
//     driver.ErrNotFound, so that renewal fails as above): a renewal never
//     forks a session into two live ones.
//
// After a logout that succeeded, neither the cookie it was sent with nor
// one that a renewal racing it sent is accepted (but see the late commits
// under "What stateless mode cannot do"). A FuncRevocations must create a
// session's record atomically if absent for this to hold (see
// Revocations): a look-up followed by a write lets both requests find
// nothing.
//
// The Manager gives, as the end of a session's record, the latest that
// any copy of its cookie sealed so far can be opened. The record is kept
// one minute past that, for two reasons: it ends by the revocation store's
// clock while the cookie expires by the clock of the process that opens
// it, so a process whose clock is up to a minute behind still refuses the
// cookie until it has expired; and a request that opened the session
// before it ended and commits within the minute after seals a copy with a
// later last-seen time, which stays refused until it expires. A session
// that Revoke reaches by following a renewal may live longer than the one
// it was given (a login makes a remember-me session of an anonymous one),
// and its end is not known there: its record is kept for
// RevocationLifetime (400 days and an hour).
//
// Open looks up every cookie that authenticates and has not expired: the
// record of its session, and for an authenticated session that it does
// not refuse, the user's not-before time too. That is one lookup for an
// anonymous session, or for a session revoked or renewed, and two for an
// authenticated one: a session's record names no user, so the two
// answers live under two keys (with StoreRevocations, two Loads of its
// store, one after the other). When a lookup fails, the request fails
// with 503: a revocation is never skipped.
//
// Keep revocations in a durable store that every process shares
// (boltstore for one process, redisstore or pgstore for several). With
// memstore, a restart forgets them, and the cookies they ended are
// accepted again until their timeouts.
//
// Without Revocations, Revoke, Renewed and RevokeUser return
// driver.ErrNotSupported. Logout then clears the browser's cookie, but a
// copy of that cookie stays valid until its idle or absolute timeout, and
// so does every cookie a renewal replaced; Manager.RevokeUser and
// Session.RevokeOthers fail.
//
// # Cost
//
// Measured with go test -bench in this package on a 2-CPU machine shared
// with other work (GOMAXPROCS=1, medians of 20 runs, run in turns with
// the version that recorded a renewal as a revocation), with
// StoreRevocations over a memstore:
//
//   - Open makes the same lookups as before: one for an anonymous
//     session, two for an authenticated one, one for a cookie that its
//     session's record refuses. A lookup (BenchmarkLookup) takes about
//     0.1 µs and allocates nothing when nothing is recorded, the common
//     case. Opening a cookie (BenchmarkOpen) takes 2.5 to 3 µs in both
//     versions, with the same allocations (21 anonymous, 22
//     authenticated). Their medians differ by -5 to +13%, and by -5 to
//     +10% on the paths whose code did not change (no revocations, a bad
//     MAC): within the noise of this machine. Decrypting and decoding the
//     cookie is most of it.
//   - A renewal (BenchmarkRenewed) records where the session went: one
//     Commit of a record that holds a value, 2.4 µs and 12 allocations,
//     where revoking the replaced session took 1.6 µs and 4 (a record
//     with no value). A renewal that loses to a logout or to another
//     renewal is a failed Commit and a Load: 2.3 µs and 17 allocations.
//   - A logout (BenchmarkRevoke) is unchanged: one Commit, 1.5 µs and 4
//     allocations. Each renewal it follows adds a failed Commit and a
//     Load.
//
// On a networked store each of these is a round trip: with redisstore or
// pgstore an authenticated request waits for two before the handler
// runs, an anonymous one for one, and a renewal or a logout for one more
// (two more per renewal a logout follows). The store holds one record per
// renewal and per logout, each until the cookie it refuses could no
// longer be opened plus a minute, and one for RevocationLifetime per
// logout that followed a renewal.
//
// # What stateless mode cannot do
//
//   - There is no server-side list of sessions: Manager.Sessions and
//     Manager.Revoke return driver.ErrNotSupported, and MaxSessionsPerUser
//     cannot be enforced.
//   - A value removed without a renewal (Session.Pop, Delete, or a Set
//     over it) is still in every older copy of the cookie, and whoever
//     sends an older copy back gets the value back: the server cannot
//     tell an older copy of a session's cookie from the newest. Renew the
//     session in the request that removes a one-time value; its older
//     copies are then refused (with Revocations).
//   - Without Revocations, a cookie that a renewal replaced stays valid
//     until its timeouts: a copy captured before a demotion and Renew
//     keeps the old privileges, and one captured before a Pop and Renew
//     keeps the value. A logout only asks this browser to drop its
//     cookie.
//   - A request that opened the session before a logout or a renewal, and
//     commits more than a minute after it, seals a copy whose last-seen
//     time is later than the end the revocation was given: that copy is
//     refused while the revocation is kept, and accepted again after it,
//     for the difference, until its own idle deadline.
//   - A request that opened the session before another request ended it,
//     and commits after, seals it again without a renewal. After a logout
//     or a renewal its change is sealed under the ended ID and refused: if
//     that response reaches the browser after the renewal's, the change
//     is lost and the user is signed out (a server-side store lands the
//     change on the renewed session instead). After RevokeUser the cookie
//     is sealed after the not-before time, and it is accepted.
//   - The whole session must fit in one cookie: when name=value would pass
//     4,096 bytes, Seal returns an error matching ErrTooLarge and the
//     Manager fails the request with it rather than send a cookie the
//     browser would drop. The metadata and encryption take about 300
//     bytes, most of it the user agent; keep values small (ids, not
//     documents).
//   - Every change, and every idle refresh (at most once per
//     Config.TouchInterval), sends the whole cookie again.
//   - Revocation needs a lookup per request that carries a session (two
//     for an authenticated one), and a write per renewal and per logout:
//     the store is smaller, not gone.
//   - Several processes order a RevokeUser and a seal by their clocks,
//     which must agree; within one process the order is exact.
package cookiestore
