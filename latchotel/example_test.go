package latchotel_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchotel"
	"github.com/latchsec/latch/memstore"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Metrics from the event stream and a timed store, on one MeterProvider
// (here with an in-memory reader; in production with an OTLP or
// Prometheus exporter).
func Example() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	opts := latchotel.Options{MeterProvider: mp}

	store, _ := memstore.New(memstore.Options{})
	defer store.Close()
	timed, err := latchotel.WrapStore(store, latchotel.StoreOptions{Options: opts}) // TracerProvider too, for spans
	if err != nil {
		log.Fatal(err)
	}
	metrics, err := latchotel.NewMetrics(opts)
	if err != nil {
		log.Fatal(err)
	}
	keys, _ := latch.NewKeyring(latch.Key{ID: "k1", Secret: latch.GenerateKey()})
	m, err := latch.New(latch.Config{Store: timed, Keys: keys, OnEvent: metrics.OnEvent, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Login("alice")
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "https://example.com/login", nil))

	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			var n int64
			for _, p := range d.DataPoints {
				n += p.Value
			}
			fmt.Println(m.Name, n)
		case metricdata.Histogram[float64]:
			fmt.Println(m.Name, d.DataPoints[0].Count, m.Unit)
		}
	}
	// Unordered output:
	// db.client.operation.duration 1 s
	// latch.events 2
	// latch.sessions.created 1
	// latch.logins 1
}
