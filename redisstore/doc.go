// Package redisstore is a driver.Store on Redis: standalone, Sentinel or
// Cluster, through a redis.UniversalClient of github.com/redis/go-redis/v9.
//
//	store, err := redisstore.Open(ctx, "redis://127.0.0.1:6379/0", redisstore.Options{})
//	// or redis+sentinel://h1:26379,h2:26379/mymaster
//	// or redis+cluster://h1:7000,h2:7001
//	if err != nil { ... }
//	defer store.Close()
//
// or, with a client configured by the application,
//
//	store, err := redisstore.New(client, redisstore.Options{Prefix: "myapp:"})
//
// # Keys and records
//
// A session is a Redis hash under PREFIX + "s:{" + hex(SHA-256 of the ID) +
// "}": the metadata as fields (user, expiry, the JSON of driver.Meta) and one
// field per value, "v:" + key, encoded with driver.EncodeValue. A commit
// therefore touches only the values it names, inside a Lua script, so two
// requests that change different keys of one session both keep their
// change. A user's index is a sorted set under PREFIX + "u:{" + escaped user
// ID + "}" of session hashes scored by Meta.Created; the user ID is
// path-escaped so that no ID can end or split the hash tag. The store keeps
// only hashes of IDs, never an ID.
//
// A renewal (a commit with From) leaves, under the old hash, a forward: a
// small hash naming the new one, which Redis expires when the replaced
// record would have expired. Load and Commit answer a *driver.RenewedError
// for it, and Delete and DeleteUser follow it. A forward is in no user's
// index. On Cluster, Delete and DeleteUser may also leave a tombstone, for
// one minute, on the hash a forward names (see below).
//
// Every write sets the key's time to live from Meta.ExpiresAt(): the store
// computes the time remaining on its own clock (Options.Now) and gives it to
// Redis (PEXPIRE), so an application and servers whose clocks disagree
// still expire a session on time by the application's clock, and Load checks
// the deadline again before returning a record (or a forward). A commit
// whose deadline has already passed deletes the record rather than write
// one without a time to live. User indexes live as long as the absolute
// deadline of their longest session. Nothing needs a sweeper, and no request
// runs KEYS or SCAN.
//
// # Round trips
//
// Load is one HGETALL. The metadata that latch wrote is decoded without
// reflection, and the values by driver.DecodeValueString (anything else,
// such as a record written by hand, goes to encoding/json and reads the
// same), so a read-only request costs the round trip and little more.
//
// On a standalone server or behind Sentinel, each Commit, Delete and
// DeleteUser is one script call (EVALSHA, falling back to EVAL when the
// server's script cache lacks it), and Redis runs one script at a time:
//
//   - Commit reads the base record, makes the checks for driver.ErrNotFound,
//     driver.ErrExists, driver.ErrSessionLimit and a forward's
//     driver.RenewedError, evicts the oldest sessions, writes the record,
//     and for a renewal renames the old record and leaves the forward, and
//     updates the user index, all atomically.
//   - Delete deletes what the key holds and, while that is a forward, goes
//     on at its target (16 keys at most), deleting the record at the end of
//     the chain and its index entry.
//   - DeleteUser reads the user index and deletes every listed record of
//     the user but keep and the sessions keep was renewed into, in the same
//     script.
//
// So a renewal runs wholly before a Delete or DeleteUser of its session
// (which then follows its forward, or finds the new hash in the index) or
// wholly after it (and finds its old record gone: driver.ErrNotFound). The
// same holds for an eviction by a commit with MaxPerUser. ListUser reads
// the index, then the records in one pipeline, then prunes dead entries.
//
// # Cluster
//
// Redis Cluster runs a script only if all its keys are in one hash slot.
// Load must find a session from its hash alone, so a session's key carries
// its own hash as hash tag; the user's keys carry the user's tag. A session
// cannot share a slot with its user (the user is unknown when an anonymous
// session is created, and a login may move a session to any user), and a
// renewal moves a session between two random slots. No choice of tags puts
// every key of a commit in one slot, short of putting every session in one
// slot, which would give up the cluster's sharding.
//
// So on Cluster a commit that adds a session to a user's index, changes its
// place there (Meta.Created), or extends how long that index must live, is
// a sequence of scripts, each atomic on its own slot, in an order that
// keeps every live session of a user in the user's index:
//
//  1. reserve (user's slot): the entry is added first, with a reservation
//     mark that names the hash a renewal moves from; the MaxPerUser limit
//     is decided here, atomically against the other reservations, and the
//     sessions to evict are chosen and marked. A renewal of a session that
//     another commit has already chosen to evict fails here.
//  2. write (session's slots): the record is written, unless the
//     reservation is older than half its grace (checked against the
//     server's clock). A renewal first takes the old record: it reads it
//     and replaces it by a pending forward in one script; then it creates
//     the new record from it, a create that refuses a tombstone; then it
//     marks the forward final. If the create fails for another reason, the
//     old record is put back, unless a Delete has removed the forward.
//  3. finish: the evicted sessions are ended as DeleteUser ends them
//     (below), then their entries and the old hash's entry are removed
//     from the index.
//
// Delete visits the chain of forwards one script per key: it deletes each
// forward, and at a forward's target that holds no record yet (a renewal
// between its take and its create) it leaves a tombstone, which makes that
// create fail, and the renewal with it (driver.ErrNotFound). DeleteUser
// reads the index and its reservation marks in one script, follows keep's
// forwards and keeps the targets of renewals of keep in flight, then ends
// every other listed session as Delete does (one pipeline per hop), but
// only records of the user. A renewal of one of the user's sessions is
// listed by its old hash whatever step it is at, so it either completed
// before DeleteUser reached it (its new record is deleted through the
// forward) or fails after. The file ordering.go lists every interleaving
// and why it ends the session; ordering_test.go forces each of them.
//
// Load and Commit that meet a pending forward wait, polling, until the new
// record is written (at most two seconds, then they answer the
// driver.RenewedError anyway), so that a request told the session moved
// finds it at its new hash.
//
// Entries are removed only after their records are gone, and an entry whose
// record is missing is pruned only once its reservation mark is older than
// the grace (one minute), or its record was written before the index was
// read, so a ListUser running beside a login cannot drop the new entry. A
// failure between steps leaves, at worst, an index entry without a live
// record, which ListUser and DeleteUser skip and prune; or, for a renewal
// whose connection fails after the take, no session at all: the user
// signs in again (fail closed). Under MaxPerUser without eviction,
// such a leftover counts against the limit for at most the grace
// (TestClusterCutRenewalLockout). A commit cut after it chose sessions to
// evict leaves them live, marked evicted and no longer counted: the next
// commit that evicts deletes them too, so that once it returns the user
// has no more live sessions than the limit (TestClusterEvictionCut).
//
// Commits that keep the user and Meta.Created and do not extend the
// absolute deadline (the common case: touching LastSeen, setting values,
// anonymous sessions) are still one script call on Cluster, and so is a
// Load, of a forward too. A login is four round trips (six with a session
// limit), a Delete two and one more for each forward it follows, a
// DeleteUser three and one more for each hop of forwards
// (TestClusterRoundTrips counts them).
//
// # What the tests show
//
// On every deployment the storetest conformance suite checks forwards
// (Forward, DeleteFollowsForward) and runs 200 rounds of each race
// (LogoutRacesRenewal, RevokeUserRacesRenewal, RevokeOthersKeepsRenewed,
// EvictionRacesRenewal, UpdateRacesRenewal, RenewRacesCommit): after Delete
// or DeleteUser returns, no session it ended can be loaded or committed to
// under any hash, a renewal racing it succeeds (and its result is gone) or
// fails with driver.ErrNotFound, a kept session's renewal survives, and an
// update racing a renewal lands in the renewed record or is told where the
// session moved. On Cluster, TestClusterPausedRenewal, TestClusterPausedUpdate,
// TestClusterPausedDelete, TestClusterPausedDeleteUser and
// TestClusterRestoreAfterDelete stop a renewal, a Delete or a DeleteUser
// between its steps and run the other in the gap, and
// TestClusterStalledRenewal shows the bound on the wait for a pending
// forward; on a standalone server and behind Sentinel, TestPausedScripts
// holds one operation's script back in the client while the other runs.
//
// What they do not cover: a client that stalls between two steps of a
// Cluster renewal for longer than forwardWait (a request told the session
// moved may then not find it yet) or than the reservation's grace (its
// create is refused as stale, which assumes that the Redis nodes' clocks
// agree within half a minute); and a failover that loses acknowledged
// writes (below).
//
// # Replication and failover
//
// Redis replicates asynchronously: a failover can lose the last writes a
// master acknowledged. A lost session write costs a sign-in; a lost
// revocation would bring a signed-out session back. Options.ReplicaAcks makes
// Delete, DeleteUser and renewals wait (WAIT, in the same round trip) until
// a number of replicas have the write, and report an error otherwise.
//
// # Errors
//
// Redis errors are returned wrapped ("redisstore: ...: %w"); a missing or
// expired record is driver.ErrNotFound. A cancelled context is checked
// before any command and honoured by go-redis during one. Errors name a
// session by driver.Hash.Handle only and never repeat a URL, which may hold a
// password.
//
// # Tests
//
// The tests run the storetest conformance suite and this package's own
// checks against real servers named by LATCH_TEST_REDIS_URL,
// LATCH_TEST_REDIS_CLUSTER and LATCH_TEST_REDIS_SENTINEL;
// testservers.sh starts all three on loopback.
package redisstore
