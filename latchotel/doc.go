// Package latchotel reports what latch does as OpenTelemetry metrics and
// spans.
//
// Metrics counts latch's events (sessions created, logins, logouts,
// expiries by limit, revocations, refused tokens by reason, guessing, store
// errors): give its OnEvent to latch.Config.OnEvent. WrapStore wraps a
// driver.Store so that every store operation is timed in the histogram
// db.client.operation.duration and traced as a client span named after the
// operation (Load, Commit, Delete, ListUser, DeleteUser).
//
// Neither ever records a token, a session hash, a handle, a user id (which
// is personal data) or a client address: attributes take only the closed
// sets of values listed in the README (a reason, a limit, an operation
// name, an error's Go type), so that metrics stay low in cardinality and
// safe to ship to a monitoring service.
//
// Prometheus users read these through the OpenTelemetry Prometheus
// exporter (go.opentelemetry.io/otel/exporters/prometheus), as the latch
// command's demo does with --metrics-addr.
//
// This package is its own module, so that latch's core module keeps to the
// standard library.
package latchotel
