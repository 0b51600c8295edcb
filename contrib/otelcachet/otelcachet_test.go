package otelcachet_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/contrib/otelcachet"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/storetest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

var bg = context.Background()

func newMem(t testing.TB) *memstore.Store {
	t.Helper()
	s, err := memstore.New(nil)
	if err != nil {
		t.Fatalf("memstore.New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	opts := &otelcachet.Options{TracerProvider: tp, MeterProvider: mp}
	metrics, err := otelcachet.Metrics(opts)
	if err != nil {
		t.Fatal(err)
	}
	newStore := func(t *testing.T) store.Store { return newMem(t) }
	for name, mw := range map[string]cachet.Middleware{
		"Tracing":      otelcachet.Tracing(opts),
		"Metrics":      metrics,
		"TracingFirst": cachet.Chain(otelcachet.Tracing(opts), metrics),
	} {
		t.Run(name, func(t *testing.T) { storetest.RunMiddleware(t, newStore, mw, nil) })
	}
}

// spanStore records the span context its Get runs in.
type spanStore struct {
	store.Store
	mu  sync.Mutex
	got trace.SpanContext
}

func (s *spanStore) Unwrap() store.Store { return s.Store }

func (s *spanStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	s.got = trace.SpanContextFromContext(ctx)
	s.mu.Unlock()
	return s.Store.Get(ctx, key)
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func TestTracing_Spans(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	mem := newMem(t)
	inner := &spanStore{Store: mem}
	s := otelcachet.Tracing(&otelcachet.Options{
		System:         "memory",
		TracerProvider: tp,
		Attributes:     []attribute.KeyValue{attribute.String("db.namespace", "users")},
	})(inner)

	ctx, parent := tp.Tracer("test").Start(bg, "parent")
	s.Set(ctx, "secret-key", []byte("v"), 0)
	s.Get(ctx, "secret-key")
	s.Get(ctx, "secret-nope")
	s.GetMany(ctx, []string{"secret-key", "secret-nope", "secret-x"})
	mem.Close()
	s.Exists(ctx, "secret-key")
	parent.End()

	spans := sr.Ended()
	if len(spans) != 6 {
		t.Fatalf("got %d spans; want 6", len(spans))
	}
	want := []struct {
		name  string
		attrs map[string]string
		fail  bool
	}{
		{"set", map[string]string{}, false},
		{"get", map[string]string{"cachet.hits": "1", "cachet.misses": "0"}, false},
		{"get", map[string]string{"cachet.hits": "0", "cachet.misses": "1"}, false},
		{"get_many", map[string]string{"cachet.hits": "1", "cachet.misses": "2", "db.operation.batch.size": "3"}, false},
		{"exists", map[string]string{"error.type": "closed"}, true},
	}
	for i, w := range want {
		sp := spans[i]
		if sp.Name() != w.name || sp.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %d: got %s kind %v; want %s client", i, sp.Name(), sp.SpanKind(), w.name)
		}
		if sp.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %d (%s): not a child of the caller's span", i, sp.Name())
		}
		attrs := attrMap(sp.Attributes())
		w.attrs["db.system.name"] = "memory"
		w.attrs["db.operation.name"] = w.name
		w.attrs["db.namespace"] = "users"
		for k, v := range w.attrs {
			if attrs[k] != v {
				t.Errorf("span %d (%s): got %s=%q; want %q", i, sp.Name(), k, attrs[k], v)
			}
		}
		if len(attrs) != len(w.attrs) {
			t.Errorf("span %d (%s): got attributes %v; want exactly %v", i, sp.Name(), attrs, w.attrs)
		}
		for k, v := range attrs {
			if len(v) >= 6 && v[:6] == "secret" {
				t.Errorf("span %d: attribute %s records a key: %q", i, k, v)
			}
		}
		if gotFail := sp.Status().Code == codes.Error; gotFail != w.fail {
			t.Errorf("span %d (%s): got status %v; want error = %v", i, sp.Name(), sp.Status(), w.fail)
		}
		if w.fail && (len(sp.Events()) != 1 || sp.Events()[0].Name != "exception") {
			t.Errorf("span %d (%s): got events %v; want one exception", i, sp.Name(), sp.Events())
		}
	}
	// The store ran inside the span of the (first) Get.
	inner.mu.Lock()
	got := inner.got
	inner.mu.Unlock()
	if got.SpanID() != spans[2].SpanContext().SpanID() {
		t.Errorf("store ran in span %v; want the get span %v", got.SpanID(), spans[2].SpanContext().SpanID())
	}
}

// collect returns the data of every metric the reader holds, keyed by
// metric name.
func collect(t *testing.T, r sdkmetric.Reader) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(bg, &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	m := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelcachet.ScopeName {
			t.Errorf("scope: got %q; want %q", sm.Scope.Name, otelcachet.ScopeName)
		}
		for _, met := range sm.Metrics {
			m[met.Name] = met.Data
		}
	}
	return m
}

func key(set attribute.Set) string {
	return set.Encoded(attribute.DefaultEncoder())
}

func opSet(op string, extra ...attribute.KeyValue) string {
	kvs := append([]attribute.KeyValue{
		otelcachet.SystemKey.String("memory"), otelcachet.OperationKey.String(op),
	}, extra...)
	return key(attribute.NewSet(kvs...))
}

func TestRecorder_Metrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	mw, err := otelcachet.Metrics(&otelcachet.Options{System: "memory", MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	mem := newMem(t)
	s := mw(mem)
	s.Set(bg, "a", []byte("1"), 0)
	s.Set(bg, "b", []byte("2"), 0)
	s.Get(bg, "a")
	s.Get(bg, "zz")
	s.GetMany(bg, []string{"a", "b", "c"})
	mem.Close()
	s.Get(bg, "a") // fails: closed

	data := collect(t, reader)
	hist, ok := data[otelcachet.DurationMetric].(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s: got %T; want a float64 histogram", otelcachet.DurationMetric, data[otelcachet.DurationMetric])
	}
	counts := map[string]uint64{}
	for _, dp := range hist.DataPoints {
		counts[key(dp.Attributes)] = dp.Count
		if dp.Sum <= 0 || dp.Bounds[0] != 0.000001 {
			t.Errorf("histogram point %v: sum %v, first bound %v; want > 0, 1µs", dp.Attributes, dp.Sum, dp.Bounds[0])
		}
	}
	wantCounts := map[string]uint64{
		opSet("set"):      2,
		opSet("get"):      2,
		opSet("get_many"): 1,
		opSet("get", otelcachet.ErrorTypeKey.String("closed")): 1,
	}
	if fmt.Sprint(counts) != fmt.Sprint(wantCounts) {
		t.Errorf("duration counts: got %v; want %v", counts, wantCounts)
	}

	sums := func(name string) map[string]int64 {
		sum, ok := data[name].(metricdata.Sum[int64])
		if !ok || !sum.IsMonotonic {
			t.Fatalf("%s: got %T; want a monotonic int64 sum", name, data[name])
		}
		m := map[string]int64{}
		for _, dp := range sum.DataPoints {
			m[key(dp.Attributes)] = dp.Value
		}
		return m
	}
	if got, want := sums(otelcachet.HitsMetric), map[string]int64{opSet("get"): 1, opSet("get_many"): 2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("hits: got %v; want %v", got, want)
	}
	if got, want := sums(otelcachet.MissesMetric), map[string]int64{opSet("get"): 2, opSet("get_many"): 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("misses: got %v; want %v", got, want)
	}
}

// blockingExporter blocks every export until release is closed.
type blockingExporter struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (e *blockingExporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (e *blockingExporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (e *blockingExporter) Export(ctx context.Context, _ *metricdata.ResourceMetrics) error {
	e.once.Do(func() { close(e.started) })
	select {
	case <-e.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *blockingExporter) ForceFlush(context.Context) error { return nil }
func (e *blockingExporter) Shutdown(context.Context) error   { return nil }

// TestRecorder_SlowExporter checks that operations complete while an
// export is stuck.
func TestRecorder_SlowExporter(t *testing.T) {
	exp := &blockingExporter{started: make(chan struct{}), release: make(chan struct{})}
	reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	mw, err := otelcachet.Metrics(&otelcachet.Options{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	s := mw(newMem(t))
	defer s.Close()

	flushed := make(chan error, 1)
	go func() { flushed <- mp.ForceFlush(bg) }()
	<-exp.started // an export is now stuck

	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			s.Get(bg, "k")
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Gets blocked behind a stuck exporter")
	}
	close(exp.release)
	if err := <-flushed; err != nil {
		t.Errorf("ForceFlush: %v", err)
	}
}

func TestErrorType(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{store.Errorf("get", "k", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("x: %w", context.Canceled), "canceled"},
		{store.Errorf("get", "k", store.ErrClosed), "closed"},
		{store.ErrInvalidKey, "invalid_key"},
		{store.ErrInvalidValue, "invalid_value"},
		{store.ErrNotInteger, "not_integer"},
		{store.ErrOverflow, "overflow"},
		{store.ErrNotSupported, "not_supported"},
		{fmt.Errorf("%w: boom", cachet.ErrPluginPanic), "plugin_panic"},
		{store.ErrNotFound, "not_found"},
		{store.ErrExists, "exists"},
		{errors.New("connection refused"), "_OTHER"},
	}
	for _, tt := range tests {
		if got := otelcachet.ErrorType(tt.err); got != tt.want {
			t.Errorf("ErrorType(%v): got %q; want %q", tt.err, got, tt.want)
		}
	}
}

func benchGet(b *testing.B, s store.Store) {
	defer s.Close()
	if err := s.Set(bg, "key", []byte("value"), 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Get(bg, "key"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchGet(b, newMem(b)) })
	b.Run("Metrics", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		mw, err := otelcachet.Metrics(&otelcachet.Options{MeterProvider: mp})
		if err != nil {
			b.Fatal(err)
		}
		benchGet(b, mw(newMem(b)))
	})
	b.Run("Tracing", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		benchGet(b, otelcachet.Tracing(&otelcachet.Options{TracerProvider: tp})(newMem(b)))
	})
}

// TestTracing_MemoizedCall checks that a memoized call is one span, with
// its store operations and its load as children, and the loader's own
// spans below the load's.
func TestTracing_MemoizedCall(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	mem := newMem(t)
	defer mem.Close()
	c := cachet.Must(cachet.New[string](mem, codec.String(), &cachet.Options[string]{
		Namespace:  "users",
		Middleware: []cachet.Middleware{otelcachet.Tracing(&otelcachet.Options{System: "memory", TracerProvider: tp})},
	}))
	f := cachet.Memoize(c, func(ctx context.Context, k string) (string, error) {
		_, db := tp.Tracer("test").Start(ctx, "db query")
		db.End()
		return "user " + k, nil
	}, nil)
	ctx, parent := tp.Tracer("test").Start(bg, "request")
	f(ctx, "1") // cold
	f(ctx, "1") // warm
	parent.End()

	spans := sr.Ended()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, sp := range spans {
		byID[sp.SpanContext().SpanID()] = sp
	}
	parentName := func(sp sdktrace.ReadOnlySpan) string {
		if p, ok := byID[sp.Parent().SpanID()]; ok {
			return p.Name()
		}
		return "?"
	}
	var got []string
	for _, sp := range spans {
		got = append(got, sp.Name()+"<-"+parentName(sp))
	}
	want := []string{
		"get<-memoize", "get<-memoize", "db query<-load", "load<-memoize", "set<-memoize", "memoize<-request", // cold
		"get<-memoize", "memoize<-request", // warm
		"request<-?",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("spans (name<-parent):\ngot  %v\nwant %v", got, want)
	}
	var calls []sdktrace.ReadOnlySpan
	for _, sp := range spans {
		if sp.Name() == "memoize" {
			calls = append(calls, sp)
		}
	}
	if len(calls) != 2 {
		t.Fatalf("got %d memoize spans; want 2", len(calls))
	}
	for i, w := range []map[string]string{
		{"cachet.hits": "0", "cachet.misses": "1", "db.operation.name": "memoize", "db.system.name": "memory"},
		{"cachet.hits": "1", "cachet.misses": "0", "db.operation.name": "memoize", "db.system.name": "memory"},
	} {
		attrs := attrMap(calls[i].Attributes())
		if fmt.Sprint(attrs) != fmt.Sprint(w) || calls[i].SpanKind() != trace.SpanKindInternal {
			t.Errorf("memoize span %d: got %v kind %v; want %v internal", i, attrs, calls[i].SpanKind(), w)
		}
	}
}

func TestRecorder_ReadThrough(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	mw, err := otelcachet.Metrics(&otelcachet.Options{System: "memory", MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	mem := newMem(t)
	defer mem.Close()
	c := cachet.Must(cachet.New[string](mem, codec.String(), &cachet.Options[string]{Middleware: []cachet.Middleware{mw}}))
	f := cachet.Memoize(c, func(ctx context.Context, k string) (string, error) {
		if k == "bad" {
			return "", errors.New("db down")
		}
		return k, nil
	}, nil)
	f(bg, "1")
	f(bg, "1")
	f(bg, "bad")

	data := collect(t, reader)
	sum, ok := data[otelcachet.CallsMetric].(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s: got %T; want an int64 sum", otelcachet.CallsMetric, data[otelcachet.CallsMetric])
	}
	got := map[string]int64{}
	for _, dp := range sum.DataPoints {
		got[key(dp.Attributes)] = dp.Value
	}
	want := map[string]int64{
		opSet("memoize", otelcachet.ResultKey.String("hit")):  1,
		opSet("memoize", otelcachet.ResultKey.String("miss")): 2,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read-through calls: got %v; want %v", got, want)
	}
	hist := data[otelcachet.DurationMetric].(metricdata.Histogram[float64])
	loads := map[string]uint64{}
	for _, dp := range hist.DataPoints {
		if v, _ := dp.Attributes.Value(otelcachet.OperationKey); v.AsString() == "load" {
			loads[key(dp.Attributes)] = dp.Count
		}
	}
	wantLoads := map[string]uint64{opSet("load"): 1, opSet("load", otelcachet.ErrorTypeKey.String("_OTHER")): 1}
	if fmt.Sprint(loads) != fmt.Sprint(wantLoads) {
		t.Errorf("load durations: got %v; want %v", loads, wantLoads)
	}
}
