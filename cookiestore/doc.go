// Package cookiestore keeps latch sessions in the session cookie itself,
// encrypted and authenticated, so that no session store is needed.
//
// Give a Store to latch.New as Config.Store. The Manager notices that it
// implements latch.Stateless and seals the whole session (its values and
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
//	m, err := latch.New(latch.Config{Store: store, Keys: keys})
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
// A cookie cannot be deleted from the server. Options.Revocations keeps a
// per-user "not before" time instead (StoreRevocations keeps it in any
// latch.Store, FuncRevocations in the application's own tables): every
// authenticated cookie of the user sealed before that time is refused.
// Store.DeleteUser records it, which is what Manager.RevokeUser,
// Session.RevokeOthers and Session.Logout call; RevokeOthers then seals
// the current session again, so it alone survives. DeleteUser returns -1,
// since the number of cookies a user holds is unknown. When the lookup
// fails, the request fails with 503: a revocation is never skipped.
//
// Keep the not-before times in a durable store that every process shares
// (boltstore for one process, redisstore or pgstore for several). With
// memstore, a restart forgets them, and the cookies they ended are
// accepted again until their timeouts.
//
// Without Revocations, DeleteUser returns latch.ErrNotSupported: logout
// clears the browser's cookie, but it cannot stop a stolen copy of the
// cookie, which stays valid until its idle or absolute timeout.
//
// # What stateless mode cannot do
//
//   - There is no server-side list of sessions: Manager.Sessions and
//     Manager.Revoke return latch.ErrNotSupported, and MaxSessionsPerUser
//     cannot be enforced.
//   - With Revocations configured, logging out ends all of the user's
//     sessions, on every device, because a not-before time is per user,
//     not per cookie. Without Revocations, logging out ends nothing on the
//     server: it only asks this browser to drop its cookie.
//   - A request that was already in progress when a revocation was
//     recorded can still send back a freshly sealed cookie; server-side
//     stores refuse such late commits, a cookie cannot.
//   - The whole session must fit in one cookie: when name=value would pass
//     4,096 bytes, Seal returns an error matching ErrTooLarge and the
//     Manager fails the request with it rather than send a cookie the
//     browser would drop. The metadata and encryption take about 300
//     bytes, most of it the user agent; keep values small (ids, not
//     documents).
//   - Every change, and every idle refresh (at most once per
//     Config.TouchInterval), sends the whole cookie again.
//   - Revocation needs a lookup per request that carries an authenticated
//     session: the store is smaller, not gone.
//   - Several processes order a revocation and a seal by their clocks,
//     which must agree; within one process the order is exact.
package cookiestore
