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
//	keys, err := latch.LoadKeys()
//	if err != nil {
//		log.Fatal(err)
//	}
//	revs, err := boltstore.Open("revocations.db", nil) // durable: see Revocation
//	if err != nil {
//		log.Fatal(err)
//	}
//	store, err := cookiestore.New(keys, cookiestore.Options{
//		Revocations: cookiestore.StoreRevocations(revs),
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	m, err := latch.New(latch.Config{Stateless: store, Keys: keys})
//
// # The cookie
//
// A value is "KEYID." followed by base64url (no padding) of a random
// 96-bit nonce and the AES-256-GCM ciphertext. The AES key is derived for
// each keyring key with Keyring.DeriveKey(id, "cookie-aead", 32) (HKDF),
// and the additional data binds the cookie name and the key id, so a value
// is refused under another cookie name or another key id. The plaintext is
// a compact binary envelope: the session hash, the time of sealing, the
// latch.Meta, and the values as one JSON object. Values come back as
// latch.DecodeValue gives them (numbers as json.Number), as from every
// store that serialises; use the Session's typed getters.
//
// The primary key seals; fallback keys open, and a value sealed under a
// fallback key is sealed again under the primary on the same request. A
// value under a retired key is refused (latch.ReasonRetiredKey), under an
// unknown key id too (ReasonUnknownKey); one that does not authenticate
// gives ReasonBadMAC and one of the wrong shape ReasonMalformed. Shape and
// length are checked before any cryptography, and a value longer than
// MaxCookieSize is refused at once. A random nonce is safe for about four
// billion seals under one key: rotate the primary key long before.
//
// Nothing in the cookie is readable without the key: neither the values,
// nor the user id, nor the client hints. Only its length shows (see
// Options.Compress).
//
// # Revocation
//
// A cookie cannot be deleted from the server, so ending a stateless
// session means refusing its cookie from then on. Options.Revocations
// keeps what that takes (StoreRevocations keeps it in any latch.Store,
// FuncRevocations in the application's own tables):
//
//   - Store.Revoke refuses every cookie of one session. The Manager calls
//     it on Session.Logout, and for the cookie that a renewal replaces
//     (Session.Login, Renew, Reauthenticate): a copy of the cookie taken
//     before a logout or a demotion, or before a value was popped in the
//     renewing request, is refused from then on, as is a cookie that a
//     request still running seals again under the ended session. The
//     revocation is kept until the replaced cookie would have expired
//     anyway, plus a minute for clocks that disagree.
//   - Store.RevokeUser records a per-user "not before" time: every
//     authenticated cookie of the user sealed before it is refused.
//     Manager.RevokeUser and Session.RevokeOthers call it; RevokeOthers
//     then seals the current session again, so it alone survives.
//
// Open looks up every cookie that authenticates and has not expired:
// whether its session was revoked, and for an authenticated session the
// user's not-before time too. That is one lookup for an anonymous session
// and two for an authenticated one: Revoke names a session but not its
// user, so the two answers live under two keys (with StoreRevocations,
// two Loads of its store, one after the other). When a lookup fails, the
// request fails with 503: a revocation is never skipped.
//
// Keep revocations in a durable store that every process shares
// (boltstore for one process, redisstore or pgstore for several). With
// memstore, a restart forgets them, and the cookies they ended are
// accepted again until their timeouts.
//
// Without Revocations, Revoke and RevokeUser return
// latch.ErrNotSupported. Logout then clears the browser's cookie, but a
// copy of that cookie stays valid until its idle or absolute timeout, and
// so does every cookie a renewal replaced; Manager.RevokeUser and
// Session.RevokeOthers fail.
//
// # Cost
//
// Measured with go test -bench in this package on a 2-CPU machine shared
// with other work (GOMAXPROCS=1, medians of 20 runs, before and after
// per-session revocation, run in turns), with StoreRevocations over a
// memstore that holds no revocation for the session or its user (the
// common case):
//
//   - A lookup (BenchmarkLookup) takes about 0.1 µs and allocates
//     nothing.
//   - Opening an authenticated cookie (BenchmarkOpen) makes two lookups
//     where it made one: 2.38 µs before, 2.44 µs after (2.51 and 2.57 µs
//     for a user with a not-before time in force). An anonymous cookie
//     makes one lookup where it made none: 2.3 µs before and after, the
//     0.1 µs lost in the noise between two builds. Decrypting and
//     decoding the cookie is the rest; allocations are unchanged (21
//     anonymous, 22 authenticated).
//   - Revoke (BenchmarkRevoke), once per renewal and logout, takes about
//     1.1 µs and four allocations: one new record in the memstore.
//
// On a networked store a lookup is one round trip, a Load: with
// redisstore or pgstore, an authenticated request waits for two round
// trips before the handler runs, an anonymous one for one.
//
// # What stateless mode cannot do
//
//   - There is no server-side list of sessions: Manager.Sessions and
//     Manager.Revoke return latch.ErrNotSupported, and MaxSessionsPerUser
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
//   - A revocation is kept until the cookie the revoking request saw
//     would expire, plus a minute. A request that ran at the same time can have sealed
//     the session with a later last-seen time: that copy is refused while
//     the revocation is kept, and accepted again after it, until its own
//     idle deadline.
//   - A request that opened the session before another request ended it,
//     and commits after, seals it again. After a logout or a renewal its
//     change is sealed under the revoked ID and refused: if that response
//     reaches the browser after the renewal's, the change is lost and the
//     user is signed out. After RevokeUser the cookie is sealed after the
//     not-before time, and it is accepted. Worst, a renewal that opened
//     the session before a logout and completes after it gives a new
//     cookie that nothing revoked: a logout racing a renewal does not end
//     the renewed session, as it does with a server-side store (Revoke is
//     not told where a renewal went, so it cannot follow it).
//   - A cookie that a renewal replaced is refused as not found, like one
//     that a logout ended (Revoke does not say which), so the Manager
//     clears it: when the browser sent the old cookie on another request
//     at the same moment, that response may arrive last and clear the
//     new cookie, which signs the user out.
//   - The whole session must fit in one cookie: when name=value would pass
//     4,096 bytes, Seal returns an error matching ErrTooLarge and the
//     Manager fails the request with it rather than send a cookie the
//     browser would drop. The metadata and encryption take about 300
//     bytes, most of it the user agent; keep values small (ids, not
//     documents).
//   - Every change, and every idle refresh (at most once per
//     Config.TouchInterval), sends the whole cookie again.
//   - Revocation needs a lookup per request that carries a session (two
//     for an authenticated one): the store is smaller, not gone.
//   - Several processes order a RevokeUser and a seal by their clocks,
//     which must agree; within one process the order is exact.
package cookiestore
