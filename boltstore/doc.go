// Package boltstore is a latch.Store kept in a single bbolt database file:
// the default store for an application that runs on one machine.
//
// Open the file once at start and close it at shutdown:
//
//	store, err := boltstore.Open("/var/lib/myapp/sessions.db", nil)
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
// all, and a lone Commit is never delayed.
//
// # Layout
//
// Records are keyed by the raw SHA-256 hash of the session ID (the store
// never sees the ID itself). A record holds the session metadata in a small
// binary header and each value encoded on its own with latch.EncodeValue, so
// that a Commit changes only the keys it names; a CRC-32C over the record
// turns disk corruption into an error matching ErrCorrupt rather than wrong
// data.
//
// Two index buckets sit next to the records. The expiry index, keyed by
// expiry time and hash, lets the background sweeper delete expired sessions
// in bounded batches without scanning the store; Load checks expiry against
// the clock itself, so an expired session is never returned even before it
// is swept. The user index, keyed by user ID and hash, serves ListUser,
// DeleteUser and the per-user session limit without scanning the store.
//
// # Locking
//
// bbolt takes an exclusive lock on the file. A second process (or a second
// Store in the same process) that opens the same file gets an error matching
// ErrInUse after Options.OpenTimeout, one second by default, instead of
// waiting forever.
package boltstore
