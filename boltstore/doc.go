// Package boltstore is a driver.Store kept in a single bbolt database file:
// the default store for an application that runs on one machine.
//
// Open the file once at start and close it at shutdown:
//
//	store, err := boltstore.Open("/var/lib/myapp/sessions.db", boltstore.Options{})
//	if err != nil {
//		log.Fatal(err) // e.g. the file is in use by another process
//	}
//	defer store.Close()
//
// # Durability
//
// Every Commit is applied inside a bbolt write transaction that is written
// and fsynced before Commit returns: a session that the application saw
// committed survives a crash or a kill -9 of the process. Commits that
// arrive while a transaction is being written are grouped into the next one
// and share its fsync (group commit); each is still applied whole or not at
// all, a Commit that fails leaves no trace and does not change another's
// result, and a lone Commit is never delayed.
//
// # Renewals and ordering
//
// A renewal (a Commit with From) writes the new record and replaces the
// old one by a forward to the new hash, in one transaction. Load and
// Commit on the old hash then return a *driver.RenewedError naming the new
// hash, and a Create on it returns driver.ErrExists, until the old record
// would have expired; then the forward counts as nothing and the sweeper
// deletes it. A forward is not a session: ListUser, DeleteUser and
// driver.Commit.MaxPerUser never see it, and it survives a restart like a
// record.
//
// bbolt runs one write transaction at a time, and Commit, Delete and
// DeleteUser each run in one, so a renewal is ordered against every
// deletion of its session. Delete follows forwards (removing them) to the
// record at the end of the chain, so a logout with an old hash ends the
// renewed session; a renewal that comes after the Delete finds no session
// and fails with driver.ErrNotFound. DeleteUser removes the user's sessions
// as they are when it runs, and its keep is followed through forwards to
// the session keep was renewed into. Delete follows at most 1,024 forwards
// from one hash and fails, changing nothing, on a longer chain.
//
// # Layout
//
// Records are keyed by the raw SHA-256 hash of the session ID (the store
// never sees the ID itself). A record is kept in driver's record encoding
// (driver.AppendRecord), the one the other stores that keep bytes use: the
// session metadata in a small binary header and each value encoded on its
// own with driver.EncodeValue, so that a Commit changes only the keys it
// names. A tag byte before it and a CRC-32C after it turn disk corruption
// into an error matching ErrCorrupt rather than wrong data. Forwards sit
// under their hash in the same bucket, tagged apart from records and
// checksummed the same way.
//
// Two index buckets sit next to the records. The expiry index, keyed by
// expiry time and hash, lets the background sweeper delete expired sessions
// in bounded batches without scanning the store; Load checks expiry against
// the clock itself, so an expired session is never returned even before it
// is swept. The expiry index holds forwards too. The user index, keyed by
// user ID and hash, serves ListUser, DeleteUser and the per-user session
// limit without scanning the store.
//
// The file records its format. This version writes "boltstore/3" (records
// in driver's record encoding). It opens a file of "boltstore/2" (which
// added forwards) or "boltstore/1" by migrating it, in the transaction
// that opens it: every record is rewritten in the new encoding and the
// file is marked "boltstore/3". An earlier version refuses a
// "boltstore/3" file rather than misread it, so a file cannot go back.
//
// # Locking
//
// bbolt takes an exclusive lock on the file. A second process (or a second
// Store in the same process) that opens the same file gets an error matching
// ErrInUse after Options.OpenTimeout, one second by default, instead of
// waiting forever.
package boltstore
