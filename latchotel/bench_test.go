//go:build unix

package latchotel_test

import (
	"context"
	"crypto/sha256"
	"syscall"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/latchotel"
	"github.com/latchsec/latch/memstore"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// discard is a span processor that drops ended spans: the benchmark
// measures making them, not exporting them.
type discard struct{}

func (discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discard) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discard) Shutdown(context.Context) error                  { return nil }
func (discard) ForceFlush(context.Context) error                { return nil }

// BenchmarkStore measures memstore's Load and Commit (an update of one
// value) bare, wrapped with the histogram only (spans off: a no-op tracer
// provider), and wrapped with the histogram and sampled spans, all on the
// real SDK. memstore answers in well under a microsecond, so this is the
// wrapper's cost at its most visible; a network store's round trip
// dwarfs it.
func BenchmarkStore(b *testing.B) {
	ms, err := memstore.New(memstore.Options{SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer ms.Close()
	id := driver.Hash(sha256.Sum256([]byte("bench")))
	now := time.Now()
	meta := driver.Meta{UserID: "alice", Created: now, LastSeen: now, AuthTime: now, IdleTimeout: time.Hour, AbsoluteTimeout: 12 * time.Hour}
	if err := ms.Commit(context.Background(), &driver.Commit{ID: id, Create: true, Meta: meta, Set: map[string]any{"theme": "dark"}}); err != nil {
		b.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(discard{}))
	wrap := func(tp latchotel.StoreOptions) driver.Store {
		s, err := latchotel.WrapStore(ms, tp)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	stores := []struct {
		name  string
		store driver.Store
	}{
		{"bare", ms},
		{"metrics", wrap(latchotel.StoreOptions{Options: latchotel.Options{MeterProvider: mp}, TracerProvider: noop.NewTracerProvider()})},
		{"metrics+spans", wrap(latchotel.StoreOptions{Options: latchotel.Options{MeterProvider: mp}, TracerProvider: tp})},
	}
	for _, s := range stores {
		b.Run("Load/"+s.name, func(b *testing.B) {
			ctx := context.Background()
			cpu := cpuTime()
			for b.Loop() {
				if _, err := s.store.Load(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
	for _, s := range stores {
		b.Run("Commit/"+s.name, func(b *testing.B) {
			ctx := context.Background()
			c := &driver.Commit{ID: id, Meta: meta, Set: map[string]any{"n": 0}}
			n := 0
			cpu := cpuTime()
			for b.Loop() {
				n++
				c.Set["n"] = n
				if err := s.store.Commit(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// cpuTime returns the CPU time the process has used so far, or 0 when the
// system cannot tell. On a shared machine CPU time per operation varies far
// less than wall time (bench/'s cpu-ns/op, measured the same way).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.StopTimer()
	if start > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}
