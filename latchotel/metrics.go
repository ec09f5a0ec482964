package latchotel

import (
	"context"
	"strings"

	"github.com/latchsec/latch"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of every meter and tracer this
// package makes.
const ScopeName = "github.com/latchsec/latch/latchotel"

// Attribute keys, besides the semantic conventions' error.type and
// db.operation.name.
const (
	// AttrAuthenticated says whether a new session had a user (bool).
	AttrAuthenticated = attribute.Key("latch.session.authenticated")
	// AttrLimit names the limit that ended a session: idle or absolute.
	AttrLimit = attribute.Key("latch.expiry.limit")
	// AttrRevocation says what revoked sessions: single, user, others,
	// binding, concurrent (ended or renewed by another request during
	// this one) or other.
	AttrRevocation = attribute.Key("latch.revocation.cause")
	// AttrTokenReason says why a token was refused (a latch.Reason).
	AttrTokenReason = attribute.Key("latch.token.reason")
	// AttrEventKind is an event's kind (latch.EventKind's String).
	AttrEventKind = attribute.Key("latch.event.kind")
	// AttrErrorType is the semantic conventions' error.type.
	AttrErrorType = attribute.Key("error.type")
)

// Options configures Metrics and the store wrapper. The zero value uses
// the global providers (otel.GetMeterProvider, otel.GetTracerProvider).
type Options struct {
	// MeterProvider makes the instruments. Default: the global one.
	MeterProvider metric.MeterProvider
	// DBSystem is the semantic conventions' db.system.name of the wrapped
	// store ("redis", "postgresql"), set on its measurements and spans.
	// Default "": the attribute is left out (memstore, boltstore).
	DBSystem string
}

// Metrics records latch's events as counters. Create one with NewMetrics;
// it is safe for concurrent use.
type Metrics struct {
	created, renewed, logins, logouts, expired, revoked metric.Int64Counter
	refused, guessing, storeErrors, events              metric.Int64Counter
}

// NewMetrics creates the counters on opts.MeterProvider.
func NewMetrics(opts Options) (*Metrics, error) {
	mp := opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName)
	m := &Metrics{}
	for _, c := range []struct {
		dst               *metric.Int64Counter
		name, unit, about string
	}{
		{&m.created, "latch.sessions.created", "{session}", "Sessions stored for the first time, by whether they had a user."},
		{&m.renewed, "latch.sessions.renewed", "{session}", "Sessions given a new ID (Login, Renew, Reauthenticate)."},
		{&m.logins, "latch.logins", "{login}", "Users logged in."},
		{&m.logouts, "latch.logouts", "{logout}", "Users logged out."},
		{&m.expired, "latch.sessions.expired", "{session}", "Sessions found ended by a timeout, by limit (idle, absolute)."},
		{&m.revoked, "latch.revocations", "{revocation}", "Revocations, by cause; one revocation may end several sessions."},
		{&m.refused, "latch.tokens.refused", "{token}", "Session tokens refused, by reason."},
		{&m.guessing, "latch.guessing.alerts", "{alert}", "Clients that passed the limit of refused tokens in the window."},
		{&m.storeErrors, "latch.store.errors", "{error}", "Store failures latch met, by error type."},
		{&m.events, "latch.events", "{event}", "Every event latch emits, by kind."},
	} {
		var err error
		*c.dst, err = meter.Int64Counter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.about))
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// OnEvent records e. Give it as latch.Config.OnEvent, or call it from
// your own OnEvent.
func (m *Metrics) OnEvent(e latch.Event) {
	ctx := context.Background()
	m.events.Add(ctx, 1, metric.WithAttributes(AttrEventKind.String(e.Kind.String())))
	switch e.Kind {
	case latch.EventCreated:
		m.created.Add(ctx, 1, metric.WithAttributes(AttrAuthenticated.Bool(e.UserID != "")))
	case latch.EventRenewed:
		m.renewed.Add(ctx, 1)
	case latch.EventLogin:
		m.logins.Add(ctx, 1)
	case latch.EventLogout:
		m.logouts.Add(ctx, 1)
	case latch.EventExpired:
		m.expired.Add(ctx, 1, metric.WithAttributes(AttrLimit.String(oneOf(e.Reason, string(latch.ReasonIdle), string(latch.ReasonAbsolute)))))
	case latch.EventRevoked:
		m.revoked.Add(ctx, 1, metric.WithAttributes(AttrRevocation.String(revocationCause(e.Reason))))
	case latch.EventInvalidToken:
		m.refused.Add(ctx, 1, metric.WithAttributes(AttrTokenReason.String(oneOf(e.Reason, tokenReasons...))))
	case latch.EventGuessing:
		m.guessing.Add(ctx, 1) // its Reason names a client network: left out
	case latch.EventStoreError:
		m.storeErrors.Add(ctx, 1, metric.WithAttributes(AttrErrorType.String(errorType(e.Err))))
	}
}

// tokenReasons are the reasons a token is refused.
var tokenReasons = []string{
	string(latch.ReasonMalformed), string(latch.ReasonUnknownKey), string(latch.ReasonRetiredKey),
	string(latch.ReasonBadMAC), string(latch.ReasonNotFound), string(latch.ReasonDuplicate),
	string(latch.ReasonRenewed), string(latch.ReasonIdle), string(latch.ReasonAbsolute), string(latch.ReasonBinding),
}

// oneOf returns v when it is one of known, otherwise "other": an attribute
// never carries text latch did not define.
func oneOf(v string, known ...string) string {
	for _, k := range known {
		if v == k {
			return v
		}
	}
	return "other"
}

// revocationCause names the cause of an EventRevoked from its Reason.
func revocationCause(reason string) string {
	switch {
	case reason == "revoked":
		return "single"
	case reason == string(latch.ReasonBinding):
		return "binding"
	case strings.HasPrefix(reason, "all sessions of the user"):
		return "user"
	case strings.HasPrefix(reason, "other sessions of the user"):
		return "others"
	case strings.HasPrefix(reason, "ended during the request"), strings.HasPrefix(reason, "renewed by another request"):
		return "concurrent"
	}
	return "other"
}
