package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/latchotel"
	"github.com/latchsec/latch/storeurl"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// demoMetrics serves the demo's OpenTelemetry metrics (latchotel's event
// counters and store latency) in Prometheus' format at /metrics, through
// the OpenTelemetry Prometheus exporter.
type demoMetrics struct {
	// Store is the demo's store, wrapped to time every operation.
	Store driver.Store
	// OnEvent counts latch's events; give it as Config.OnEvent.
	OnEvent func(latch.Event)

	provider *sdkmetric.MeterProvider
	srv      *http.Server
	addr     net.Addr
}

// dbSystems gives the semantic conventions' db.system.name of a store kind.
var dbSystems = map[string]string{storeurl.Redis: "redis", storeurl.Postgres: "postgresql"}

// startMetrics listens on addr and serves /metrics there for st.
func startMetrics(addr string, st *storeurl.Store) (*demoMetrics, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "latch-demo"))))
	opts := latchotel.Options{MeterProvider: provider, DBSystem: dbSystems[st.Kind]}
	events, err := latchotel.NewMetrics(opts)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	wrapped, err := latchotel.WrapStore(st.Store, latchotel.StoreOptions{Options: opts})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	dm := &demoMetrics{
		Store: wrapped, OnEvent: events.OnEvent, provider: provider, addr: ln.Addr(),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
	}
	go dm.srv.Serve(ln)
	return dm, nil
}

// URL is where the metrics are served.
func (dm *demoMetrics) URL() string { return "http://" + dm.addr.String() + "/metrics" }

// Close stops the server and the meter provider.
func (dm *demoMetrics) Close(ctx context.Context) error {
	return errors.Join(dm.srv.Shutdown(ctx), dm.provider.Shutdown(ctx))
}
