package otelcachet

import (
	"context"
	"fmt"

	"github.com/cachet-go/cachet"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/cachet-go/cachet/contrib/otelcachet"

// Attribute keys, following the OpenTelemetry semantic conventions for
// database clients where one applies.
const (
	// SystemKey is db.system.name: the backend ("redis", "memcached", ...).
	SystemKey = attribute.Key("db.system.name")
	// OperationKey is db.operation.name: the cachet operation ("get", ...).
	OperationKey = attribute.Key("db.operation.name")
	// BatchSizeKey is db.operation.batch.size: the number of keys of a
	// get_many, set_many or delete of two keys or more.
	BatchSizeKey = attribute.Key("db.operation.batch.size")
	// ErrorTypeKey is error.type: the class of a failed operation's error
	// (see [ErrorType]).
	ErrorTypeKey = attribute.Key("error.type")
	// HitsKey and MissesKey count the keys a read found and did not find,
	// or the read-through calls answered with and without a load (see
	// cachet.Call).
	HitsKey   = attribute.Key("cachet.hits")
	MissesKey = attribute.Key("cachet.misses")
	// JoinedKey, StaleKey and RefreshKey are set, true, on the span of a
	// read-through call that joined a shared call, got a stale value or
	// started a background refresh.
	JoinedKey  = attribute.Key("cachet.joined")
	StaleKey   = attribute.Key("cachet.stale")
	RefreshKey = attribute.Key("cachet.refresh")
	// ResultKey is the result of a read-through call in CallsMetric:
	// "hit", "stale", "joined" or "miss".
	ResultKey = attribute.Key("cachet.result")
)

// Metric names.
const (
	// DurationMetric is the histogram of operation durations, in seconds
	// (semantic conventions: db.client.operation.duration).
	DurationMetric = "db.client.operation.duration"
	// HitsMetric counts the keys reads found.
	HitsMetric = "cachet.hits"
	// MissesMetric counts the keys reads did not find.
	MissesMetric = "cachet.misses"
	// CallsMetric counts read-through calls (keys for memoize_many) by
	// cachet.result.
	CallsMetric = "cachet.read_through"
	// RefreshesMetric counts the background refreshes read-through calls
	// started.
	RefreshesMetric = "cachet.refreshes"
)

// DefaultSystem is the db.system.name of a nil or empty Options.System.
const DefaultSystem = "cachet"

// Options configures [Tracing] and [NewRecorder]. A nil *Options means all
// defaults; the zero value of each field is its default.
type Options struct {
	// System is the value of db.system.name, naming the backend: "redis",
	// "memcached", "memory"... Default: DefaultSystem ("cachet").
	System string

	// TracerProvider makes the tracer of Tracing. Default: the global
	// provider, otel.GetTracerProvider().
	TracerProvider trace.TracerProvider

	// MeterProvider makes the meter of NewRecorder. Default: the global
	// provider, otel.GetMeterProvider().
	MeterProvider metric.MeterProvider

	// Attributes are added to every span and measurement, for example
	// db.namespace or server.address. Default: none.
	Attributes []attribute.KeyValue
}

func (o *Options) system() string {
	if o == nil || o.System == "" {
		return DefaultSystem
	}
	return o.System
}

// Tracing returns a middleware that wraps every store operation (Close
// excepted) in a client span named after the operation ("get",
// "get_many", ...), with the attributes db.system.name, db.operation.name,
// db.operation.batch.size for batches, cachet.hits and cachet.misses for
// reads, and the options' Attributes. A failed operation (see
// cachet.Call.Failed; a miss is not a failure) records its error, sets
// error.type and the span status to Error. Keys are never recorded: they
// may hold personal data.
//
// The span is started in the context of the call, so it is a child of the
// caller's span, and the store runs in the span's context, so spans of an
// instrumented backend client nest below it. The store returned is safe
// for concurrent use if the wrapped store is.
//
// A Cache over the store reports its read-through calls too (see
// cachet.Call): each call of GetOrLoad, of a memoized function or of a
// memoized batch function gets an internal span ("get_or_load",
// "memoize", "memoize_many") with cachet.hits and cachet.misses, and
// cachet.joined, cachet.stale and cachet.refresh when true; its store
// operations are its children, and so is the span of the load it runs
// ("load", internal), the parent of the loader's own spans.
func Tracing(opts *Options) cachet.Middleware {
	tp := otel.GetTracerProvider()
	var extra []attribute.KeyValue
	if opts != nil {
		if opts.TracerProvider != nil {
			tp = opts.TracerProvider
		}
		extra = opts.Attributes
	}
	p := &tracePlugin{tracer: tp.Tracer(ScopeName)}
	sys := SystemKey.String(opts.system())
	ops := cachet.Ops()
	p.start = make([][]trace.SpanStartOption, int(ops[len(ops)-1])+1)
	for _, op := range ops {
		attrs := append([]attribute.KeyValue{sys, OperationKey.String(op.String())}, extra...)
		kind := trace.SpanKindClient
		if callLevel(op) {
			kind = trace.SpanKindInternal
		}
		p.start[op] = []trace.SpanStartOption{
			trace.WithSpanKind(kind),
			trace.WithAttributes(attrs...),
		}
	}
	return cachet.WithPlugins(p)
}

// callLevel reports whether op is a call of the Cache (a read-through call
// or a load) rather than a store operation.
func callLevel(op cachet.Op) bool {
	return op == cachet.OpGetOrLoad || op == cachet.OpMemoize || op == cachet.OpMemoizeMany || op == cachet.OpLoad
}

type tracePlugin struct {
	tracer trace.Tracer
	start  [][]trace.SpanStartOption // by Op; nil for an Op plugins do not see
}

func (p *tracePlugin) Before(ctx context.Context, c cachet.Call) context.Context {
	i := int(c.Op)
	if i >= len(p.start) || p.start[i] == nil {
		return ctx
	}
	ctx, span := p.tracer.Start(ctx, c.Op.String(), p.start[i]...)
	if n := max(len(c.Keys), len(c.Entries)); n > 1 {
		span.SetAttributes(BatchSizeKey.Int(n))
	}
	return ctx
}

func (p *tracePlugin) After(ctx context.Context, c cachet.Call) {
	i := int(c.Op)
	if i >= len(p.start) || p.start[i] == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	switch c.Op {
	case cachet.OpGet, cachet.OpGetMany, cachet.OpGetOrLoad, cachet.OpMemoize, cachet.OpMemoizeMany:
		span.SetAttributes(HitsKey.Int(c.Hits), MissesKey.Int(c.Misses))
	}
	if c.Joined {
		span.SetAttributes(JoinedKey.Bool(true))
	}
	if c.Stale {
		span.SetAttributes(StaleKey.Bool(true))
	}
	if c.Refresh {
		span.SetAttributes(RefreshKey.Bool(true))
	}
	if c.Failed() {
		span.SetAttributes(ErrorTypeKey.String(ErrorType(c.Err)))
		span.RecordError(c.Err)
		span.SetStatus(codes.Error, c.Err.Error())
	}
	span.End()
}

const otherError = "_OTHER"

// ErrorType returns the error.type of err: "unavailable" (an open
// cachet.Breaker), "timeout", "canceled",
// "closed", "invalid_key", "invalid_value", "not_integer", "overflow",
// "not_supported", "plugin_panic", "not_found", "exists" for the errors
// of those kinds, "_OTHER" for any other error, and "" for nil. The set
// is small and fixed, so it is safe as a metric attribute.
func ErrorType(err error) string {
	if kind := cachet.ErrorKind(err); kind != "other" {
		return kind
	}
	return otherError
}

// Recorder is a cachet.Recorder that records the operations of a store
// wrapped in cachet.Metrics as OpenTelemetry metrics:
//
//   - db.client.operation.duration, a histogram in seconds, with the
//     attributes db.system.name, db.operation.name, error.type for failed
//     operations, and the options' Attributes;
//   - cachet.hits and cachet.misses, counters of the keys that reads
//     found and did not find, and of the read-through calls answered with
//     and without a load, with db.system.name and db.operation.name;
//   - cachet.read_through, a counter of read-through calls (get_or_load,
//     memoize; keys for memoize_many) by cachet.result: "hit", "stale",
//     "joined" or "miss";
//   - cachet.refreshes, a counter of the background refreshes calls
//     started.
//
// db.operation.name "load" is the loader's run: its duration is the
// loader's latency, its error.type the loader's errors.
//
// Recording only updates the SDK's in-memory aggregation (exporters run on
// their own goroutines), so it never blocks the caller. The attribute sets
// are built once, so recording allocates nothing. A Recorder is safe for
// concurrent use.
type Recorder struct {
	duration               metric.Float64Histogram
	hits, misses           metric.Int64Counter
	readThrough, refreshes metric.Int64Counter
	// The options are kept as ready-made slices, so that passing them on
	// (opts...) allocates nothing.
	ok      [][]metric.RecordOption            // by Op
	failed  []map[string][]metric.RecordOption // by Op, then error.type
	add     [][]metric.AddOption               // by Op
	results [][numResults][]metric.AddOption   // by Op, for read-through calls
}

// The results of read-through calls, as ResultKey's values.
const (
	resultHit = iota
	resultStale
	resultJoined
	resultMiss
	numResults
)

var resultNames = [numResults]string{"hit", "stale", "joined", "miss"}

var _ cachet.Recorder = (*Recorder)(nil)

// durationBounds are the histogram's bucket boundaries, in seconds, from
// one microsecond (an in-process store) to ten seconds.
var durationBounds = []float64{
	0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// NewRecorder returns a Recorder whose instruments come from the options'
// meter provider. It returns an error if an instrument cannot be created.
func NewRecorder(opts *Options) (*Recorder, error) {
	mp := otel.GetMeterProvider()
	var extra []attribute.KeyValue
	if opts != nil {
		if opts.MeterProvider != nil {
			mp = opts.MeterProvider
		}
		extra = opts.Attributes
	}
	meter := mp.Meter(ScopeName)
	r := &Recorder{}
	var err error
	if r.duration, err = meter.Float64Histogram(DurationMetric,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of cachet store operations."),
		metric.WithExplicitBucketBoundaries(durationBounds...),
	); err != nil {
		return nil, fmt.Errorf("otelcachet: %s: %w", DurationMetric, err)
	}
	if r.hits, err = meter.Int64Counter(HitsMetric,
		metric.WithUnit("{key}"),
		metric.WithDescription("Keys found by cachet reads."),
	); err != nil {
		return nil, fmt.Errorf("otelcachet: %s: %w", HitsMetric, err)
	}
	if r.misses, err = meter.Int64Counter(MissesMetric,
		metric.WithUnit("{key}"),
		metric.WithDescription("Keys not found by cachet reads."),
	); err != nil {
		return nil, fmt.Errorf("otelcachet: %s: %w", MissesMetric, err)
	}
	if r.readThrough, err = meter.Int64Counter(CallsMetric,
		metric.WithUnit("{call}"),
		metric.WithDescription("cachet read-through calls (keys for memoize_many) by result: hit, stale, joined or miss."),
	); err != nil {
		return nil, fmt.Errorf("otelcachet: %s: %w", CallsMetric, err)
	}
	if r.refreshes, err = meter.Int64Counter(RefreshesMetric,
		metric.WithUnit("{refresh}"),
		metric.WithDescription("Background refreshes started by cachet read-through calls."),
	); err != nil {
		return nil, fmt.Errorf("otelcachet: %s: %w", RefreshesMetric, err)
	}
	sys := SystemKey.String(opts.system())
	ops := cachet.Ops()
	n := int(ops[len(ops)-1]) + 1
	r.ok = make([][]metric.RecordOption, n)
	r.add = make([][]metric.AddOption, n)
	r.failed = make([]map[string][]metric.RecordOption, n)
	r.results = make([][numResults][]metric.AddOption, n)
	for _, op := range ops {
		base := append([]attribute.KeyValue{sys, OperationKey.String(op.String())}, extra...)
		set := metric.WithAttributeSet(attribute.NewSet(base...))
		r.ok[op] = []metric.RecordOption{set}
		r.add[op] = []metric.AddOption{set}
		failed := make(map[string][]metric.RecordOption)
		for _, kind := range cachet.ErrorKinds() {
			errType := kind
			if kind == "other" {
				errType = otherError
			}
			failed[errType] = failedSet(base, errType)
		}
		r.failed[op] = failed
		if callLevel(op) && op != cachet.OpLoad {
			for i, res := range resultNames {
				attrs := append(append([]attribute.KeyValue(nil), base...), ResultKey.String(res))
				r.results[op][i] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
			}
		}
	}
	return r, nil
}

func failedSet(base []attribute.KeyValue, errType string) []metric.RecordOption {
	attrs := append(append([]attribute.KeyValue(nil), base...), ErrorTypeKey.String(errType))
	return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
}

// Record records c.
func (r *Recorder) Record(ctx context.Context, c cachet.Call) {
	i := int(c.Op)
	if i >= len(r.ok) || r.ok[i] == nil {
		return
	}
	attrs := r.ok[i]
	if c.Failed() {
		attrs = r.failed[i][ErrorType(c.Err)]
	}
	r.duration.Record(ctx, c.Duration.Seconds(), attrs...)
	if c.Hits > 0 {
		r.hits.Add(ctx, int64(c.Hits), r.add[i]...)
	}
	if c.Misses > 0 {
		r.misses.Add(ctx, int64(c.Misses), r.add[i]...)
	}
	if res := &r.results[i]; res[0] != nil {
		switch {
		case c.Joined:
			r.readThrough.Add(ctx, 1, res[resultJoined]...)
		case c.Stale:
			r.readThrough.Add(ctx, 1, res[resultStale]...)
		case c.Hits > 0:
			r.readThrough.Add(ctx, int64(c.Hits), res[resultHit]...)
		}
		if c.Misses > 0 {
			r.readThrough.Add(ctx, int64(c.Misses), res[resultMiss]...)
		}
		if c.Refresh {
			r.refreshes.Add(ctx, 1, r.add[i]...)
		}
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
