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
//     found and did not find.
//
// Recording only updates in-memory counters (Prometheus pulls them), so it
// never blocks the caller, and the series of every operation are resolved
// once, so recording allocates nothing. A Recorder is safe for concurrent
// use.
type Recorder struct {
	durations    []prometheus.Observer // by Op-1
	hits, misses []prometheus.Counter  // by Op-1
	errors       *prometheus.CounterVec
	collectors   []prometheus.Collector
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

	r := &Recorder{errors: errs, collectors: []prometheus.Collector{durations, errs, hits, misses}}
	for _, op := range cachet.Ops() {
		r.durations = append(r.durations, durations.WithLabelValues(op.String()))
		r.hits = append(r.hits, hits.WithLabelValues(op.String()))
		r.misses = append(r.misses, misses.WithLabelValues(op.String()))
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
	i := int(c.Op) - 1
	if i < 0 || i >= len(r.durations) {
		return
	}
	r.durations[i].Observe(c.Duration.Seconds())
	if c.Hits > 0 {
		r.hits[i].Add(float64(c.Hits))
	}
	if c.Misses > 0 {
		r.misses[i].Add(float64(c.Misses))
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
