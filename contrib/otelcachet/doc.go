// Package otelcachet records cachet store operations and read-through
// calls with OpenTelemetry: a span per operation ([Tracing]) and metrics
// ([NewRecorder], [Metrics]).
//
// It is a module of its own, so that programs that do not import it never
// download the OpenTelemetry SDK.
//
// # Usage
//
// [Tracing] is a middleware; [Metrics] is cachet.Metrics over a
// [Recorder] ([NewRecorder]). Put both in a cache's Options.Middleware:
//
//	opts := &otelcachet.Options{System: "memory"} // db.system.name: redis, memcached, ...
//	metrics, err := otelcachet.Metrics(opts)
//	if err != nil {
//		panic(err)
//	}
//	users, err := cachet.New[string](s, codec.String(), &cachet.Options[string]{
//		Namespace:  "users",
//		Middleware: []cachet.Middleware{otelcachet.Tracing(opts), metrics},
//	})
//
// Both use the global providers unless Options names others, and follow
// the semantic conventions of database clients: spans and the
// db.client.operation.duration histogram carry db.system.name and
// db.operation.name, and error.type when an operation fails. A miss is not
// a failure: reads count their hits and misses instead (span attributes
// cachet.hits and cachet.misses, counters of the same names). Keys are
// never recorded.
//
// A Cache also reports its read-through calls (GetOrLoad, memoized
// functions, memoized batch functions): each is one internal span
// ("get_or_load", "memoize", "memoize_many") whose children are its store
// operations and the span of the load it runs ("load", the parent of the
// loader's own spans); the counters cachet.read_through (by cachet.result:
// hit, stale, joined, miss) and cachet.refreshes count them, and the
// duration histogram and error.type of op "load" are the loader's.
//
// # Performance
//
// Attribute sets are built once per operation and error type, so
// recording a metric allocates nothing; a span costs what the tracer's
// Start and End cost. Nothing blocks the caller: the SDK aggregates in
// memory and exports on its own goroutines.
package otelcachet
