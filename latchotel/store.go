package latchotel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchsec/latch/driver"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Semantic-convention keys the store wrapper sets.
const (
	AttrDBOperation = attribute.Key("db.operation.name")
	AttrDBSystem    = attribute.Key("db.system.name")
)

// DurationMetric is the histogram of store operation latency, in seconds:
// the semantic conventions' database client metric.
const DurationMetric = "db.client.operation.duration"

// durationBuckets are the semantic conventions' advised boundaries, with
// finer ones below a millisecond, where in-process stores answer.
var durationBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}

// StoreOptions configures WrapStore. The zero value uses the global
// providers and sets no db.system.name.
type StoreOptions struct {
	Options
	// TracerProvider makes the spans. Default: the global one.
	TracerProvider trace.TracerProvider
}

// Store is a driver.Store that times and traces every operation of the
// store it wraps. Create one with WrapStore.
type Store struct {
	next     driver.Store
	tracer   trace.Tracer
	duration metric.Float64Histogram
	system   []attribute.KeyValue
	ops      [numOps]opAttrs
}

var _ driver.Store = (*Store)(nil)

// The operations, by index into Store.ops.
const (
	opLoad = iota
	opCommit
	opDelete
	opListUser
	opDeleteUser
	numOps
)

var opNames = [numOps]string{"Load", "Commit", "Delete", "ListUser", "DeleteUser"}

// opAttrs are one operation's attributes, made once so that a success
// records without allocating them.
type opAttrs struct {
	name  string
	attrs []attribute.KeyValue
	start []trace.SpanStartOption
	ok    []metric.RecordOption
}

// WrapStore returns next with every operation recorded in the histogram
// DurationMetric and as a client span named after the operation, with the
// attributes db.operation.name, db.system.name (when opts.DBSystem is set)
// and error.type on failure. A session that is not found (driver.ErrNotFound,
// a forward) is an answer, not a failure. No span or measurement carries a
// session hash, a user id or an error's text.
func WrapStore(next driver.Store, opts StoreOptions) (*Store, error) {
	if next == nil {
		return nil, errors.New("latchotel: WrapStore needs a store")
	}
	mp, tp := opts.MeterProvider, opts.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	h, err := mp.Meter(ScopeName).Float64Histogram(DurationMetric,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of latch session store operations."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		return nil, err
	}
	s := &Store{next: next, tracer: tp.Tracer(ScopeName), duration: h}
	if opts.DBSystem != "" {
		s.system = []attribute.KeyValue{AttrDBSystem.String(opts.DBSystem)}
	}
	for i, name := range opNames {
		attrs := append([]attribute.KeyValue{AttrDBOperation.String(name)}, s.system...)
		s.ops[i] = opAttrs{
			name:  name,
			attrs: attrs,
			start: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...)},
			ok:    []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))},
		}
	}
	return s, nil
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() driver.Store { return s.next }

// op is one store operation in flight.
type op struct {
	s     *Store
	attrs *opAttrs
	span  trace.Span
	start time.Time
}

func (s *Store) begin(ctx context.Context, i int) (context.Context, op) {
	a := &s.ops[i]
	ctx, span := s.tracer.Start(ctx, a.name, a.start...)
	return ctx, op{s: s, attrs: a, span: span, start: time.Now()}
}

// end records the operation's duration and outcome.
func (o op) end(err error) {
	elapsed := time.Since(o.start).Seconds()
	if err == nil || errors.Is(err, driver.ErrNotFound) {
		o.s.duration.Record(context.Background(), elapsed, o.attrs.ok...)
		o.span.End()
		return
	}
	typ := errorType(err)
	attrs := append(slices.Clip(o.attrs.attrs), AttrErrorType.String(typ))
	o.s.duration.Record(context.Background(), elapsed, metric.WithAttributes(attrs...))
	o.span.SetAttributes(AttrErrorType.String(typ))
	o.span.SetStatus(codes.Error, typ) // the type only: an error's text may name a key or a host
	o.span.End()
}

// errorType names err by its Go type, looking through wrapping to the
// first error that is not a plain wrapper: low in cardinality and free of
// whatever the message holds. A context's end is named as such.
func errorType(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded):
		return "context.DeadlineExceeded"
	case errors.Is(err, context.Canceled):
		return "context.Canceled"
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		if t := fmt.Sprintf("%T", err); t != "*fmt.wrapError" && t != "*fmt.wrapErrors" {
			return t
		}
		err = next
	}
	return fmt.Sprintf("%T", err)
}

// Load calls the wrapped store's Load.
func (s *Store) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	ctx, o := s.begin(ctx, opLoad)
	rec, err := s.next.Load(ctx, id)
	o.end(err)
	return rec, err
}

// Commit calls the wrapped store's Commit.
func (s *Store) Commit(ctx context.Context, c *driver.Commit) error {
	ctx, o := s.begin(ctx, opCommit)
	err := s.next.Commit(ctx, c)
	o.end(err)
	return err
}

// Delete calls the wrapped store's Delete.
func (s *Store) Delete(ctx context.Context, id driver.Hash) error {
	ctx, o := s.begin(ctx, opDelete)
	err := s.next.Delete(ctx, id)
	o.end(err)
	return err
}

// ListUser calls the wrapped store's ListUser.
func (s *Store) ListUser(ctx context.Context, userID string) ([]driver.Info, error) {
	ctx, o := s.begin(ctx, opListUser)
	infos, err := s.next.ListUser(ctx, userID)
	o.end(err)
	return infos, err
}

// DeleteUser calls the wrapped store's DeleteUser.
func (s *Store) DeleteUser(ctx context.Context, userID string, keep driver.Hash) (int, error) {
	ctx, o := s.begin(ctx, opDeleteUser)
	n, err := s.next.DeleteUser(ctx, userID, keep)
	o.end(err)
	return n, err
}
