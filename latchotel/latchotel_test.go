package latchotel_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/latchotel"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// faultyStore fails every operation while down is set.
type faultyStore struct {
	driver.Store
	down atomic.Bool
}

var errDown = &downError{}

type downError struct{}

func (*downError) Error() string { return "connection to db.internal:5432 refused for user alice" }

func (f *faultyStore) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Store.Load(ctx, id)
}

func (f *faultyStore) Commit(ctx context.Context, c *driver.Commit) error {
	if f.down.Load() {
		return errDown
	}
	return f.Store.Commit(ctx, c)
}

// app is a Manager whose events go to latchotel's Metrics and whose store
// is wrapped by WrapStore, both on the real SDK with in-memory readers.
type app struct {
	t      *testing.T
	m      *latch.Manager
	clock  *latchtest.Clock
	store  *faultyStore
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	h      http.Handler
}

func newApp(t *testing.T) *app {
	t.Helper()
	a := &app{t: t, clock: latchtest.NewClock(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))}
	a.reader = sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(a.reader))
	a.spans = tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(a.spans))
	ms, err := memstore.New(memstore.Options{Now: a.clock.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	a.store = &faultyStore{Store: ms}
	wrapped, err := latchotel.WrapStore(a.store, latchotel.StoreOptions{Options: latchotel.Options{MeterProvider: mp, DBSystem: "memory"}, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := latchotel.NewMetrics(latchotel.Options{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	a.m, err = latch.New(latch.Config{
		Store: wrapped, Keys: latchtest.Keys(t), Now: a.clock.Now, OnEvent: metrics.OnEvent,
		IdleTimeout: 30 * time.Minute, GuessLimit: 3, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.m.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Login("alice")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Logout()
	})
	mux.HandleFunc("POST /visit", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		s.Set("theme", "dark")
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {})
	a.h = a.m.Handler(mux)
	return a
}

// do sends one request with cookie (a cookie value, or "") and returns the
// session cookie the response sets, or cookie.
func (a *app) do(method, path, cookie string) (string, int) {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = "192.0.2.1:1234"
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: a.m.CookieName(), Value: cookie})
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == a.m.CookieName() && c.Value != "" {
			cookie = c.Value
		}
	}
	return cookie, rec.Code
}

// collect returns every data point of the counters as "metric attrs" -> value,
// and the histogram's counts by operation.
func (a *app) collect() (counters map[string]int64, ops map[string]uint64, attrs []attribute.KeyValue) {
	a.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := a.reader.Collect(context.Background(), &rm); err != nil {
		a.t.Fatal(err)
	}
	counters, ops = map[string]int64{}, map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != latchotel.ScopeName {
			a.t.Errorf("scope %q; want %q", sm.Scope.Name, latchotel.ScopeName)
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					counters[m.Name+" "+setString(p.Attributes)] += p.Value
					attrs = append(attrs, p.Attributes.ToSlice()...)
				}
			case metricdata.Histogram[float64]:
				if m.Name != latchotel.DurationMetric || m.Unit != "s" {
					a.t.Errorf("histogram %q in %q", m.Name, m.Unit)
				}
				for _, p := range d.DataPoints {
					ops[setString(p.Attributes)] += p.Count
					attrs = append(attrs, p.Attributes.ToSlice()...)
				}
			default:
				a.t.Errorf("unexpected metric %s of %T", m.Name, m.Data)
			}
		}
	}
	return counters, ops, attrs
}

func setString(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// TestMetricsFromEvents drives a real Manager through every event the
// metrics count and reads them back through the SDK: each counter has the
// right value under the right attributes, and no attribute carries a user
// id, a handle, a client address or an error's text.
func TestMetricsFromEvents(t *testing.T) {
	a := newApp(t) // every login is alice's
	ctx := context.Background()
	anon, _ := a.do("POST", "/visit", "")      // created, anonymous
	first, _ := a.do("POST", "/login", anon)   // login, renewed
	a.do("POST", "/logout", first)             // logout
	second, _ := a.do("POST", "/login", "")    // created with a user, login
	a.clock.Advance(31 * time.Minute)          // past the idle timeout
	a.do("GET", "/", second)                   // expired: idle
	a.do("GET", "/", "k1.tampered"+first[11:]) // refused: bad MAC
	a.do("GET", "/", "nonsense")               // refused: malformed
	a.do("GET", "/", "nonsense")               // malformed again
	a.do("GET", "/", "nonsense")               // guessing: past the limit of 3
	third, _ := a.do("POST", "/login", "")     // created with a user, login
	a.m.RevokeUser(ctx, "alice")               // revoked: user
	a.do("POST", "/login", "")                 // created with a user, login
	infos, err := a.m.Sessions(ctx, "alice", nil)
	if err != nil || len(infos) != 1 {
		t.Fatalf("alice's sessions: %v, %v", infos, err)
	}
	a.m.Revoke(ctx, "alice", infos[0].Handle) // revoked: single
	a.store.down.Store(true)
	if _, code := a.do("GET", "/", third); code != 503 { // store error
		t.Errorf("store down: %d; want 503", code)
	}
	a.store.down.Store(false)

	counters, ops, attrs := a.collect()
	want := map[string]int64{
		"latch.sessions.created latch.session.authenticated=false": 1,
		"latch.sessions.created latch.session.authenticated=true":  3,
		"latch.logins ":           4,
		"latch.logouts ":          1,
		"latch.sessions.renewed ": 1,
		"latch.sessions.expired latch.expiry.limit=idle":          1,
		"latch.tokens.refused latch.token.reason=bad-mac":         1,
		"latch.tokens.refused latch.token.reason=malformed":       3,
		"latch.guessing.alerts ":                                  1,
		"latch.revocations latch.revocation.cause=user":           1,
		"latch.store.errors error.type=*latchotel_test.downError": 1,
		"latch.events latch.event.kind=login":                     4,
		"latch.events latch.event.kind=store-error":               1,
	}
	for k, v := range want {
		if counters[k] != v {
			t.Errorf("%s = %d; want %d", k, counters[k], v)
		}
	}
	for _, op := range []string{"Load", "Commit", "Delete", "DeleteUser"} {
		if ops["db.operation.name="+op+",db.system.name=memory"] == 0 {
			t.Errorf("no %s measured: %v", op, ops)
		}
	}
	if ops["db.operation.name=Load,db.system.name=memory,error.type=*latchotel_test.downError"] != 1 {
		t.Errorf("the failed Load is not measured with its error.type: %v", ops)
	}
	if t.Failed() {
		t.Logf("counters: %v", counters)
	}
	for _, kv := range attrs {
		v := kv.Value.String()
		for _, secret := range []string{"alice", "bob", "carol", "192.0.2", "db.internal", "refused"} {
			if strings.Contains(v, secret) {
				t.Errorf("attribute %s=%q holds %q", kv.Key, v, secret)
			}
		}
	}
}

// TestStoreSpans checks the spans of the wrapped store: one client span
// per operation, named after it, with db.operation.name and no hash, user
// id or error text; a failure has error.type and an error status, a
// session that is not found does not.
func TestStoreSpans(t *testing.T) {
	a := newApp(t)
	alice, _ := a.do("POST", "/login", "")
	a.do("GET", "/", alice)
	a.store.down.Store(true)
	a.do("GET", "/", alice)
	a.store.down.Store(false)
	a.do("POST", "/logout", alice)
	a.do("GET", "/", alice) // a valid token of an ended session: Load finds nothing

	spans := a.spans.Ended()
	var names []string
	for _, s := range spans {
		names = append(names, s.Name())
		if s.SpanKind().String() != "client" {
			t.Errorf("%s: kind %v; want client", s.Name(), s.SpanKind())
		}
		if s.InstrumentationScope().Name != latchotel.ScopeName {
			t.Errorf("%s: scope %q", s.Name(), s.InstrumentationScope().Name)
		}
		got := map[attribute.Key]string{}
		for _, kv := range s.Attributes() {
			got[kv.Key] = kv.Value.String()
			if strings.Contains(kv.Value.String(), "alice") || strings.Contains(kv.Value.String(), "db.internal") {
				t.Errorf("%s: attribute %s=%q", s.Name(), kv.Key, kv.Value.String())
			}
		}
		if got[latchotel.AttrDBOperation] != s.Name() || got[latchotel.AttrDBSystem] != "memory" {
			t.Errorf("%s: attributes %v", s.Name(), got)
		}
		if len(got) > 3 {
			t.Errorf("%s: more attributes than the operation, system and error type: %v", s.Name(), got)
		}
		if len(s.Events()) != 0 {
			t.Errorf("%s: events %v (an error's text may name a host or a user)", s.Name(), s.Events())
		}
		failed := got[latchotel.AttrErrorType] != ""
		if failed != (s.Status().Code == codes.Error) {
			t.Errorf("%s: error.type %q with status %v", s.Name(), got[latchotel.AttrErrorType], s.Status())
		}
		if strings.Contains(s.Status().Description, "db.internal") {
			t.Errorf("%s: status %q repeats the error's text", s.Name(), s.Status().Description)
		}
	}
	wantNames := "Commit Load Load Load Delete Load"
	if got := strings.Join(names, " "); got != wantNames {
		t.Errorf("spans %q; want %q", got, wantNames)
	}
	var failed, notFound int
	for _, s := range spans {
		if s.Status().Code == codes.Error {
			failed++
		}
	}
	last := spans[len(spans)-1]
	if last.Name() == "Load" && last.Status().Code != codes.Error {
		notFound++
	}
	if failed != 1 || notFound != 1 {
		t.Errorf("%d failed spans, last Load (not found) ok: %v; want 1 failure and a not-found that is no error", failed, notFound == 1)
	}
}

// TestWrapStoreRefusesNil checks the constructor's error.
func TestWrapStoreRefusesNil(t *testing.T) {
	if _, err := latchotel.WrapStore(nil, latchotel.StoreOptions{}); err == nil {
		t.Fatal("WrapStore(nil) succeeded")
	}
}
