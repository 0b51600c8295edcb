// Package promcachet records cachet store operations as Prometheus
// metrics: a [Recorder] for cachet.Metrics.
//
// It is a module of its own, so that programs that do not import it never
// download the Prometheus client.
//
// # Usage
//
// [Metrics] is cachet.Metrics over a [Recorder] ([NewRecorder]); put it in
// a cache's Options.Middleware:
//
//	mw, err := promcachet.Metrics(&promcachet.Options{
//		ConstLabels: prometheus.Labels{"cache": "users"},
//	})
//	if err != nil {
//		panic(err)
//	}
//	users, err := cachet.New[string](s, codec.String(), &cachet.Options[string]{
//		Namespace:  "users",
//		Middleware: []cachet.Middleware{mw},
//	})
//
// The metrics (durations, errors by class, hits and misses, each by
// operation; read-through calls by result and the refreshes they start;
// the loader's latency and errors as op="load") are listed on [Recorder].
// Keys are never recorded.
//
// # Performance
//
// The series of every operation are resolved when the Recorder is made, so
// recording a successful operation costs a few atomic additions and
// allocates nothing; a failed one also looks its error series up.
// Prometheus scrapes on its own schedule, so recording never blocks.
package promcachet
