package otelcachet_test

import (
	"context"
	"fmt"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/contrib/otelcachet"
	"github.com/cachet-go/cachet/store/memstore"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Tracing and measuring a cache with OpenTelemetry. A program would leave
// the providers unset (the global ones, set up with its exporters); the
// example uses its own to read the spans and counters back.
func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	opts := &otelcachet.Options{System: "memory", TracerProvider: tp, MeterProvider: mp}
	metrics, err := otelcachet.Metrics(opts)
	if err != nil {
		panic(err)
	}
	users, err := cachet.New[string](memstore.Must(nil), codec.String(), &cachet.Options[string]{
		Middleware: []cachet.Middleware{otelcachet.Tracing(opts), metrics},
	})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	ctx := context.Background()
	users.Set(ctx, "42", "Ada")
	users.Get(ctx, "42") // a hit
	users.Get(ctx, "7")  // a miss

	for _, s := range spans.Ended() {
		fmt.Println("span:", s.Name())
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					op, _ := dp.Attributes.Value(otelcachet.OperationKey)
					fmt.Printf("%s{op=%s} %d\n", m.Name, op.AsString(), dp.Value)
				}
			}
		}
	}
	// Output:
	// span: set
	// span: get
	// span: get
	// cachet.hits{op=get} 1
	// cachet.misses{op=get} 1
}

// The form of the package documentation: a program that has set up the
// global providers (with its exporters) at start-up leaves
// TracerProvider and MeterProvider unset.
func Example_globalProviders() {
	ctx := context.Background()
	s := memstore.Must(nil)
	defer s.Close()

	opts := &otelcachet.Options{System: "memory"} // db.system.name: redis, memcached, ...
	metrics, err := otelcachet.Metrics(opts)
	if err != nil {
		panic(err)
	}
	users, err := cachet.New[string](s, codec.String(), &cachet.Options[string]{
		Namespace:  "users",
		Middleware: []cachet.Middleware{otelcachet.Tracing(opts), metrics},
	})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	users.Set(ctx, "42", "Ada") // a span and a measurement
	v, _ := users.Get(ctx, "42")
	fmt.Println(v)
	// Output: Ada
}
