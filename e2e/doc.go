// Package e2e holds latch's end-to-end tests. They build the latch command,
// start real "latch demo" processes on loopback ports, each in its own
// temporary directory, and drive them three ways:
//
//   - over HTTP with a plain client that sets its own Cookie headers
//     (http_test.go): cookie attributes, fixation, logout replay, idle
//     expiry, forged and oversized cookies, TLS with HSTS and the HTTP
//     redirect, weak keys refused before listening;
//   - in a real headless Chromium through chromedp (browser_test.go): the
//     cookie hidden from scripts, revoking another device, a password change
//     ending the other sessions, the expiry banner, re-authentication for the
//     sensitive action, with a screenshot of every page;
//   - in Debian's Chromium with device-bound sessions (DBSC) switched on,
//     over HTTPS (dbsc_test.go): the registration, a refresh when the
//     bound cookie is gone, and what a copy of the cookies on another
//     client is worth; the comment there says what each switch enables;
//   - two instances sharing one Redis and one PostgreSQL (shared_test.go):
//     a session made on one is valid on the other, and a logout or a revoke
//     on one is refused on the other at once.
//
// Servers and the browser come from the environment, as everywhere in latch:
// LATCH_TEST_REDIS_URL, LATCH_TEST_POSTGRES_URL and LATCH_TEST_CHROMIUM. When
// one is unset the tests that need it are skipped, or fail when CI=true.
// scripts/test sets them all.
//
// Every browser test saves full-page screenshots under artifacts/screenshots
// at the repository root (ignored by git). To refresh the two the README
// shows:
//
//	cd e2e && LATCH_TEST_CHROMIUM=/usr/bin/chromium go test -run Browser -update-docs
//
// The tests build the latch command once per run; LATCH_E2E_LATCH names a
// binary to test instead, such as a release build.
//
// Each demo's output is checked for the keys and session tokens the test
// saw: none may appear in a log.
package e2e
