// Package otelcachet records cachet store operations with OpenTelemetry:
// a span per operation ([Tracing]) and metrics ([NewRecorder], [Metrics]).
//
// It is a module of its own, so that programs that do not import it never
// download the OpenTelemetry SDK.
//
// # Usage
//
//	rec, err := otelcachet.NewRecorder(&otelcachet.Options{System: "redis"})
//	if err != nil { ... }
//	s := cachet.Chain(
//		otelcachet.Tracing(&otelcachet.Options{System: "redis"}),
//		cachet.Metrics(rec),
//	)(redisStore)
//
// Both use the global providers unless Options names others, and follow
// the semantic conventions of database clients: spans and the
// db.client.operation.duration histogram carry db.system.name and
// db.operation.name, and error.type when an operation fails. A miss is not
// a failure: reads count their hits and misses instead (span attributes
// cachet.hits and cachet.misses, counters of the same names). Keys are
// never recorded.
//
// # Performance
//
// Attribute sets are built once per operation and error type, so
// recording a metric allocates nothing; a span costs what the tracer's
// Start and End cost. Nothing blocks the caller: the SDK aggregates in
// memory and exports on its own goroutines.
package otelcachet
