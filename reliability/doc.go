// Package reliability holds latch's fault and load tests. It has no API:
// everything is in its tests, which run a real latch Manager and handler on
// loopback and drive it with a bounded Go HTTP client.
//
// Fault tests (TestFaultRedis, TestFaultPostgres) start their own
// redis-server and PostgreSQL (through ../pgstore/testserver.sh) on free
// loopback ports in 17800-17899, stop the server in the middle of a load and
// start it again. They check that every request made while the store is
// down fails closed with 503 and an EventStoreError, that nothing panics
// and no goroutine leaks, that the service recovers by itself, and that
// every commit acknowledged with 200 before the fault is still there after
// the restart. Redis runs with appendonly yes and appendfsync always and is
// killed with SIGKILL; PostgreSQL is stopped with pg_ctl's fast mode (the
// test server runs with synchronous_commit=off, which only a clean
// shutdown makes durable). When the server binaries are missing these tests
// skip, or fail when CI=true.
//
// The load test (TestLoad) runs sessions that log in, read, write (two
// keys at once, from two goroutines) and log out concurrently against a
// Manager on memstore and on boltstore, and checks zero 5xx, zero lost
// updates and a flat live heap after warm-up. It runs 5 s per store by
// default; LATCH_RELIABILITY_LOAD (a Go duration) sets the time per store
// for a longer run, and LATCH_RELIABILITY_WORKERS the number of concurrent
// sessions (default 32).
//
// Killing boltstore with kill -9 during a write load is covered by
// TestCrashDurability in package boltstore.
package reliability
