package promcachet

import (
	"context"
	"fmt"

	"github.com/cachet-go/cachet"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultNamespace is the metric name prefix of a nil or empty
// Options.Namespace.
const DefaultNamespace = "cachet"

// DefaultBuckets are the duration histogram's bucket boundaries, in
// seconds, from one microsecond (an in-process store) to ten seconds.
var DefaultBuckets = []float64{
	0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Options configures [NewRecorder]. A nil *Options means all defaults; the
// zero value of each field is its default.
type Options struct {
	// Namespace prefixes every metric name. Default: DefaultNamespace
	// ("cachet").
	Namespace string

	// ConstLabels are added to every metric, for example
	// prometheus.Labels{"cache": "users"} to tell several caches apart.
	// Default: none.
	ConstLabels prometheus.Labels

	// Registerer is where the metrics are registered. Default:
	// prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer

	// Buckets are the duration histogram's bucket boundaries, in
	// seconds. Default: DefaultBuckets.
	Buckets []float64
}

// Recorder is a cachet.Recorder that records the operations of a store
// wrapped in cachet.Metrics as Prometheus metrics (names shown with the
// default namespace):
//
//   - cachet_operation_duration_seconds{op}: histogram of durations;
//   - cachet_operation_errors_total{op, error}: failed operations (see
//     cachet.Call.Failed; a miss is not a failure), error being the class
//     given by [ErrorType];
//   - cachet_hits_total{op} and cachet_misses_total{op}: keys that reads
//     found and did not find, and read-through calls answered with and
//     without running the loader (see cachet.Call);
//   - cachet_read_through_total{op, result}: read-through calls
//     (op get_or_load, memoize; keys for memoize_many) by result: "hit"
//     (a fresh value from the cache), "stale" (a value past its ttl),
//     "joined" (the result of a shared call another caller started) or
//     "miss" (the call ran the loader);
//   - cachet_refreshes_total{op}: background refreshes started by calls.
//
// op is an operation of cachet.Ops: a store operation ("get", ...), a
// read-through call ("get_or_load", "memoize", "memoize_many") or a
// loader's run ("load", whose duration is the loader's latency and whose
// errors are the loader's).
//
// Recording only updates in-memory counters (Prometheus pulls them), so it
// never blocks the caller, and the series of every operation are resolved
// once, so recording allocates nothing. A Recorder is safe for concurrent
// use.
type Recorder struct {
	durations    []prometheus.Observer            // by Op
	hits, misses []prometheus.Counter             // by Op
	results      [][numResults]prometheus.Counter // by Op, for read-through calls
	refreshes    []prometheus.Counter             // by Op, for read-through calls
	errors       *prometheus.CounterVec
	collectors   []prometheus.Collector
}

// The results of read-through calls, as cachet_read_through_total's
// result label.
const (
	resultHit = iota
	resultStale
	resultJoined
	resultMiss
	numResults
)

var resultNames = [numResults]string{"hit", "stale", "joined", "miss"}

// readThrough reports whether op is a read-through call.
func readThrough(op cachet.Op) bool {
	return op == cachet.OpGetOrLoad || op == cachet.OpMemoize || op == cachet.OpMemoizeMany
}

var _ cachet.Recorder = (*Recorder)(nil)

// NewRecorder creates the metrics and registers them with the options'
// registerer. It returns an error if one cannot be registered, for example
// because a Recorder with the same namespace and constant labels already
// is; nothing stays registered then.
func NewRecorder(opts *Options) (*Recorder, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.DefaultRegisterer
	}
	if o.Buckets == nil {
		o.Buckets = DefaultBuckets
	}
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace:   o.Namespace,
		Name:        "operation_duration_seconds",
		Help:        "Duration of cachet store operations.",
		ConstLabels: o.ConstLabels,
		Buckets:     o.Buckets,
	}, []string{"op"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace:   o.Namespace,
		Name:        "operation_errors_total",
		Help:        "Failed cachet store operations (misses excluded).",
		ConstLabels: o.ConstLabels,
	}, []string{"op", "error"})
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace:   o.Namespace,
		Name:        "hits_total",
		Help:        "Keys found by cachet reads.",
		ConstLabels: o.ConstLabels,
	}, []string{"op"})
	misses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace:   o.Namespace,
		Name:        "misses_total",
		Help:        "Keys not found by cachet reads.",
		ConstLabels: o.ConstLabels,
	}, []string{"op"})
	results := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace:   o.Namespace,
		Name:        "read_through_total",
		Help:        "cachet read-through calls (keys for memoize_many) by result: hit, stale, joined or miss.",
		ConstLabels: o.ConstLabels,
	}, []string{"op", "result"})
	refreshes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace:   o.Namespace,
		Name:        "refreshes_total",
		Help:        "Background refreshes started by cachet read-through calls.",
		ConstLabels: o.ConstLabels,
	}, []string{"op"})

	r := &Recorder{errors: errs, collectors: []prometheus.Collector{durations, errs, hits, misses, results, refreshes}}
	ops := cachet.Ops()
	n := int(ops[len(ops)-1]) + 1
	r.durations = make([]prometheus.Observer, n)
	r.hits = make([]prometheus.Counter, n)
	r.misses = make([]prometheus.Counter, n)
	r.results = make([][numResults]prometheus.Counter, n)
	r.refreshes = make([]prometheus.Counter, n)
	for _, op := range ops {
		name := op.String()
		r.durations[op] = durations.WithLabelValues(name)
		r.hits[op] = hits.WithLabelValues(name)
		r.misses[op] = misses.WithLabelValues(name)
		if readThrough(op) {
			for i, res := range resultNames {
				r.results[op][i] = results.WithLabelValues(name, res)
			}
			r.refreshes[op] = refreshes.WithLabelValues(name)
		}
	}
	for i, c := range r.collectors {
		if err := o.Registerer.Register(c); err != nil {
			for _, done := range r.collectors[:i] {
				o.Registerer.Unregister(done)
			}
			return nil, fmt.Errorf("promcachet: registering metrics: %w", err)
		}
	}
	return r, nil
}

// Unregister removes the Recorder's metrics from reg, which should be the
// registerer it was created with.
func (r *Recorder) Unregister(reg prometheus.Registerer) {
	for _, c := range r.collectors {
		reg.Unregister(c)
	}
}

// Record records c.
func (r *Recorder) Record(_ context.Context, c cachet.Call) {
	i := int(c.Op)
	if i >= len(r.durations) || r.durations[i] == nil {
		return
	}
	r.durations[i].Observe(c.Duration.Seconds())
	if c.Hits > 0 {
		r.hits[i].Add(float64(c.Hits))
	}
	if c.Misses > 0 {
		r.misses[i].Add(float64(c.Misses))
	}
	if readThrough(c.Op) {
		res := &r.results[i]
		switch {
		case c.Joined:
			res[resultJoined].Inc()
		case c.Stale:
			res[resultStale].Inc()
		case c.Hits > 0:
			res[resultHit].Add(float64(c.Hits))
		}
		if c.Misses > 0 {
			res[resultMiss].Add(float64(c.Misses))
		}
		if c.Refresh {
			r.refreshes[i].Inc()
		}
	}
	if c.Failed() {
		r.errors.WithLabelValues(c.Op.String(), ErrorType(c.Err)).Inc()
	}
}

// Metrics returns cachet.Metrics(r) for a new Recorder made with opts.
func Metrics(opts *Options) (cachet.Middleware, error) {
	r, err := NewRecorder(opts)
	if err != nil {
		return nil, err
	}
	return cachet.Metrics(r), nil
}

// ErrorType returns the class of err used as the error label:
// "unavailable" (an open cachet.Breaker), "timeout",
// "canceled", "closed", "invalid_key", "invalid_value", "not_integer",
// "overflow", "not_supported", "plugin_panic", "not_found", "exists" for
// the errors of those kinds, "other" for any other error, and "" for nil.
// The set is small and fixed, so the label's cardinality stays bounded.
func ErrorType(err error) string { return cachet.ErrorKind(err) }
