// Package redisstore is a latch.Store on Redis: standalone, Sentinel or
// Cluster, through a redis.UniversalClient of github.com/redis/go-redis/v9.
//
//	store, err := redisstore.Open(ctx, "redis://127.0.0.1:6379/0")
//	// or redis+sentinel://h1:26379,h2:26379/mymaster
//	// or redis+cluster://h1:7000,h2:7001
//	if err != nil { ... }
//	defer store.Close()
//
// or, with a client configured by the application,
//
//	store, err := redisstore.New(client, redisstore.WithPrefix("myapp:"))
//
// # Keys and records
//
// A session is a Redis hash under PREFIX + "s:{" + hex(SHA-256 of the ID) +
// "}": the metadata as fields (user, expiry, the JSON of latch.Meta) and one
// field per value, "v:" + key, encoded with latch.EncodeValue. A commit
// therefore touches only the values it names, inside a Lua script, so two
// requests that change different keys of one session both keep their
// change. A user's index is a sorted set under PREFIX + "u:{" + escaped user
// ID + "}" of session hashes scored by Meta.Created; the user ID is
// path-escaped so that no ID can end or split the hash tag. The store keeps
// only hashes of IDs, never an ID.
//
// Every write sets the key's time to live from Meta.ExpiresAt(): the store
// computes the time remaining on its own clock (WithClock) and gives it to
// Redis (PEXPIRE), so an application and servers whose clocks disagree
// still expire a session on time by the application's clock, and Load checks
// the deadline again before returning a record. A commit whose deadline has
// already passed deletes the record rather than write one without a time
// to live. User indexes live as long as the absolute deadline of their
// longest session. Nothing needs a sweeper, and no request runs KEYS or
// SCAN.
//
// # Round trips
//
// Load is one HGETALL. The metadata that latch wrote is decoded without
// reflection, and the values by latch.DecodeValueString (anything else,
// such as a record written by hand, goes to encoding/json and reads the
// same), so a read-only request costs the round trip and little more.
//
// On a standalone server or behind Sentinel, each Commit and each Delete is
// one script call (EVALSHA, falling back to EVAL when the server's script
// cache lacks it): the base record is read, the checks for
// latch.ErrNotFound, latch.ErrExists and latch.ErrSessionLimit made, the
// oldest sessions evicted, the record written or renamed (a renewal moves
// the record and deletes the old key in the same script) and the user index
// updated, all atomically. ListUser and DeleteUser read the index, then the
// records in one pipeline, then prune dead entries.
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
// So on Cluster a commit that adds a session to a user's index, or extends
// how long that index must live, is a sequence of scripts, each atomic on
// its own slot, in an order that keeps one invariant: every live session of
// a user is in the user's index (so DeleteUser, "sign out everywhere", can
// never miss one).
//
//  1. reserve (user's slot): the entry is added first, with a reservation
//     mark; the MaxPerUser limit is decided here, atomically against the
//     other reservations, and the sessions to evict are chosen and marked.
//  2. write (session's slot): the record is written, unless the reservation
//     is older than half its grace (checked against the server's clock). A
//     renewal first takes the old record (reads and deletes it in one
//     script), then creates the new one from it; if that fails, the old
//     record is put back.
//  3. finish: the evicted sessions are deleted, then their entries and the
//     old hash's entry are removed from the index.
//
// Entries are removed only after their records are gone, and an entry whose
// record is missing is pruned only once its reservation mark is older than
// the grace (one minute), so a ListUser running beside a login cannot drop
// the new entry. A failure between steps leaves, at worst, an index entry
// without a live record, which ListUser and DeleteUser skip and prune; or,
// for a renewal whose connection fails after the take, no session at all:
// the user signs in again (fail closed).
//
// Commits that change neither the user nor the absolute deadline (the
// common case: touching LastSeen, setting values, anonymous sessions) are
// still one script call on Cluster; a login is about six round trips, and a
// Delete two. Renewals on Cluster are not atomic across the two slots: a
// concurrent request on the old ID either lands before the take or gets
// latch.ErrNotFound, never a resurrected old ID.
//
// # Replication and failover
//
// Redis replicates asynchronously: a failover can lose the last writes a
// master acknowledged. A lost session write costs a sign-in; a lost
// revocation would bring a signed-out session back. WithReplicaAcks makes
// Delete, DeleteUser and renewals wait (WAIT, in the same round trip) until
// a number of replicas have the write, and report an error otherwise.
//
// # Errors
//
// Redis errors are returned wrapped ("redisstore: ...: %w"); a missing or
// expired record is latch.ErrNotFound. A cancelled context is checked
// before any command and honoured by go-redis during one. Errors name a
// session by latch.Hash.Handle only and never repeat a URL, which may hold a
// password.
//
// # Tests
//
// The tests run the storetest conformance suite and this package's own
// checks against real servers named by LATCH_TEST_REDIS_URL,
// LATCH_TEST_REDIS_CLUSTER and LATCH_TEST_REDIS_SENTINEL;
// testservers.sh starts all three on loopback.
package redisstore
