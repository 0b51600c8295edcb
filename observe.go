package cachet

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet/store"
)

// LoggingOptions configures [Logging]. A nil *LoggingOptions means all
// defaults; the zero value of each field is its default.
type LoggingOptions struct {
	// Level is the level of operations that did not fail (a miss, or an
	// Add that found its key, did not fail). Default: slog.LevelDebug.
	Level slog.Leveler

	// ErrorLevel is the level of failed operations (see [Call.Failed]).
	// Default: slog.LevelWarn.
	ErrorLevel slog.Leveler

	// Ops lists the operations to log; an empty non-nil list logs none.
	// Default (nil): all of them.
	Ops []Op

	// ShowKeys logs keys and prefixes as they are. Keys often hold
	// personal data (user ids, e-mail addresses), so by default they are
	// redacted: a single key is logged as "[redacted]", the keys of a
	// batch as their count, and the error attribute is rebuilt with every
	// key, raw or quoted, replaced by "[redacted]" and without the stored
	// bytes some errors quote (the value that made Increment fail with
	// ErrNotInteger). Default: false.
	ShowKeys bool
}

// Redacted replaces keys in logs when LoggingOptions.ShowKeys is false.
const redacted = "[redacted]"

// Logging returns a Middleware that logs every operation (Close excepted)
// with logger, after it completes: message "cachet <op>", and the
// attributes op, key (or prefix for clear, or keys for batches), ttl for
// writes that take one, hits and misses for reads and read-through calls,
// joined, stale and refresh for the calls they apply to (see [Call]),
// duration, and error when there is one. Read-through calls and loads
// are logged as such ("cachet memoize", "cachet load", ...; see [Ops]). A nil logger means slog.Default(); a nil opts means
// all defaults. Operations below the logger's level cost one Enabled call.
//
// The store returned is safe for concurrent use if the wrapped store is.
func Logging(logger *slog.Logger, opts *LoggingOptions) Middleware {
	if logger == nil {
		logger = slog.Default()
	}
	if opts == nil {
		opts = &LoggingOptions{}
	}
	p := &logPlugin{
		logger:   logger,
		level:    opts.Level,
		errLevel: opts.ErrorLevel,
		showKeys: opts.ShowKeys,
	}
	if p.level == nil {
		p.level = slog.LevelDebug
	}
	if p.errLevel == nil {
		p.errLevel = slog.LevelWarn
	}
	if opts.Ops == nil {
		p.ops = ^uint32(0)
	}
	for _, op := range opts.Ops {
		p.ops |= 1 << op
	}
	return WithPlugins(p)
}

type logPlugin struct {
	logger          *slog.Logger
	level, errLevel slog.Leveler
	ops             uint32 // bit 1<<op set for the ops to log
	showKeys        bool
}

var logMessages = func() (m [numOps]string) {
	for o := OpGet; o < numOps; o++ {
		m[o] = "cachet " + o.String()
	}
	return m
}()

func (p *logPlugin) Before(ctx context.Context, _ Call) context.Context { return ctx }

func (p *logPlugin) After(ctx context.Context, c Call) {
	if !hooked(c.Op) || p.ops&(1<<c.Op) == 0 {
		return
	}
	failed := c.Failed()
	level := p.level.Level()
	if failed {
		level = p.errLevel.Level()
	}
	if !p.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs, slog.String("op", c.Op.String()))
	switch {
	case c.Op == OpClear:
		attrs = append(attrs, slog.String("prefix", p.key(c.Key)))
	case c.Op == OpGetMany || c.Op == OpDelete || c.Op == OpMemoizeMany || c.Op == OpLoad && c.Key == "":
		attrs = append(attrs, p.keys(c.Keys))
	case c.Op == OpSetMany:
		if p.showKeys {
			keys := make([]string, len(c.Entries))
			for i, e := range c.Entries {
				keys[i] = e.Key
			}
			attrs = append(attrs, slog.Any("keys", keys))
		} else {
			attrs = append(attrs, slog.Int("keys", len(c.Entries)))
		}
	default:
		attrs = append(attrs, slog.String("key", p.key(c.Key)))
	}
	switch c.Op {
	case OpSet, OpSetMany, OpAdd, OpExpire:
		attrs = append(attrs, slog.Duration("ttl", c.TTL))
	case OpGet, OpGetMany, OpGetOrLoad, OpMemoize, OpMemoizeMany:
		attrs = append(attrs, slog.Int("hits", c.Hits), slog.Int("misses", c.Misses))
	}
	for _, f := range [...]struct {
		on   bool
		name string
	}{{c.Joined, "joined"}, {c.Stale, "stale"}, {c.Refresh, "refresh"}} {
		if f.on {
			attrs = append(attrs, slog.Bool(f.name, true))
		}
	}
	attrs = append(attrs, slog.Duration("duration", c.Duration))
	if c.Err != nil && !errors.Is(c.Err, store.ErrNotFound) {
		attrs = append(attrs, slog.String("error", p.errText(c)))
	}
	p.logger.LogAttrs(ctx, level, logMessages[c.Op], attrs...)
}

func (p *logPlugin) key(k string) string {
	if p.showKeys || k == "" {
		return k
	}
	return redacted
}

func (p *logPlugin) keys(keys []string) slog.Attr {
	if p.showKeys {
		return slog.Any("keys", keys)
	}
	return slog.Int("keys", len(keys))
}

// errText returns c.Err's message, rebuilt without the call's keys or
// stored bytes unless keys are shown. The message of an *store.Error is
// rebuilt from its parts, the key replaced by "[redacted]" (its quoted
// form in Error would defeat a text search for a key holding '"', '\',
// control bytes or invalid UTF-8); a cause whose text may quote the
// stored value (store.ErrNotInteger) is cut back to the sentinel's text;
// any other cause keeps its text, with the call's keys, raw or quoted,
// replaced.
func (p *logPlugin) errText(c Call) string {
	if p.showKeys {
		return c.Err.Error()
	}
	var b strings.Builder
	redactError(&b, c.Err, &c)
	return b.String()
}

// valueSentinels are the sentinel errors whose wrappers' text may quote
// stored bytes: only the sentinel's own text is logged.
var valueSentinels = []error{store.ErrNotInteger}

// redactError writes err's message to b with c's keys redacted, as
// errText describes.
func redactError(b *strings.Builder, err error, c *Call) {
	switch e := err.(type) {
	case *store.Error:
		b.WriteString("cachet: ")
		b.WriteString(e.Op)
		if e.Key != "" {
			b.WriteString(" " + redacted)
		}
		b.WriteString(": ")
		redactError(b, e.Err, c)
		return
	case interface{ Unwrap() []error }: // errors.Join: one line each
		for i, err := range e.Unwrap() {
			if i > 0 {
				b.WriteByte('\n')
			}
			redactError(b, err, c)
		}
		return
	}
	for _, s := range valueSentinels {
		if errors.Is(err, s) {
			b.WriteString(s.Error())
			return
		}
	}
	msg := err.Error()
	redact := func(k string) {
		if k != "" {
			msg = strings.ReplaceAll(msg, strconv.Quote(k), redacted)
			msg = strings.ReplaceAll(msg, strconv.QuoteToASCII(k), redacted)
			msg = strings.ReplaceAll(msg, k, redacted)
		}
	}
	redact(c.Key)
	for _, k := range c.Keys {
		redact(k)
	}
	for _, e := range c.Entries {
		redact(e.Key)
	}
	b.WriteString(msg)
}

// errorKinds are the kinds ErrorKind reports, in the order it checks them.
var errorKinds = []struct {
	err  error
	kind string
}{
	{store.ErrUnavailable, "unavailable"},
	{context.DeadlineExceeded, "timeout"},
	{context.Canceled, "canceled"},
	{store.ErrClosed, "closed"},
	{store.ErrInvalidKey, "invalid_key"},
	{store.ErrInvalidValue, "invalid_value"},
	{store.ErrNotInteger, "not_integer"},
	{store.ErrOverflow, "overflow"},
	{store.ErrNotSupported, "not_supported"},
	{ErrPluginPanic, "plugin_panic"},
	{store.ErrNotFound, "not_found"},
	{store.ErrExists, "exists"},
}

// ErrorKind returns a short, fixed name for the kind of err, for metric
// labels and span attributes whose values must stay few: "unavailable"
// (an open [Breaker]), "timeout",
// "canceled", "closed", "invalid_key", "invalid_value", "not_integer",
// "overflow", "not_supported", "plugin_panic", "not_found" or "exists"
// for errors wrapping those, "other" for any other error, and "" for nil.
func ErrorKind(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range errorKinds {
		if errors.Is(err, e.err) {
			return e.kind
		}
	}
	return "other"
}

// ErrorKinds returns every non-empty value ErrorKind can return, "other"
// last, so that adapters can prepare their label sets up front.
func ErrorKinds() []string {
	kinds := make([]string, 0, len(errorKinds)+1)
	for _, e := range errorKinds {
		kinds = append(kinds, e.kind)
	}
	return append(kinds, "other")
}

// Recorder receives one measurement per operation from [Metrics]: the Call
// after the operation, with its Op, Duration, Hits, Misses and Err
// ([Call.Failed] tells an error from a miss), and for the call-level
// operations of the Caches over the store (read-through calls, loads; see
// [Call]) Joined, Stale and Refresh.
//
// Record runs on the caller's goroutine, inside the operation, so it must
// never block: update in-memory aggregates (atomics, a metrics SDK's
// instruments, a non-blocking channel send that drops when full) and leave
// exporting to another goroutine, so that a slow exporter cannot slow Get.
// A Recorder must be safe for concurrent use.
type Recorder interface {
	Record(ctx context.Context, c Call)
}

// Metrics returns a Middleware that passes every operation (Close excepted),
// call-level operations included, to rec once it completes. A nil rec gives a middleware that returns the
// store unchanged. A panic in Record is handled as a plugin's panic (see
// [WithPlugins]).
//
// The store returned is safe for concurrent use if the wrapped store is.
func Metrics(rec Recorder) Middleware {
	if rec == nil {
		return WithPlugins()
	}
	return WithPlugins(recorderPlugin{rec})
}

type recorderPlugin struct{ rec Recorder }

func (recorderPlugin) Before(ctx context.Context, _ Call) context.Context { return ctx }
func (p recorderPlugin) After(ctx context.Context, c Call)                { p.rec.Record(ctx, c) }

// ExpvarRecorder is a [Recorder] that counts, per operation, calls, failed
// calls (see [Call.Failed]), hits, misses and total duration, and for
// read-through calls those that joined a shared call, got a stale value
// or started a refresh. It is an
// expvar.Var: publish it with expvar.Publish to serve it on /debug/vars.
//
// The zero value is ready to use; an ExpvarRecorder must not be copied
// after first use. It is safe for concurrent use; Record only adds to
// atomic counters.
type ExpvarRecorder struct {
	ops [numOps]expvarCounters
}

type expvarCounters struct {
	calls, errors, hits, misses, nanos atomic.Int64
	joined, stale, refreshes           atomic.Int64 // 64 bytes in all: one cache line per op
}

// Record adds c to the counters of c.Op.
func (r *ExpvarRecorder) Record(_ context.Context, c Call) {
	if !hooked(c.Op) {
		return
	}
	e := &r.ops[c.Op]
	e.calls.Add(1)
	if c.Joined {
		e.joined.Add(1)
	}
	if c.Stale {
		e.stale.Add(1)
	}
	if c.Refresh {
		e.refreshes.Add(1)
	}
	e.nanos.Add(int64(c.Duration))
	if c.Hits > 0 {
		e.hits.Add(int64(c.Hits))
	}
	if c.Misses > 0 {
		e.misses.Add(int64(c.Misses))
	}
	if c.Failed() {
		e.errors.Add(1)
	}
}

// ExpvarStats is one operation's counters in an [ExpvarRecorder]. Joined,
// Stale and Refreshes count the calls that reported them (see [Call]).
type ExpvarStats struct {
	Calls, Errors, Hits, Misses int64
	Joined, Stale, Refreshes    int64
	Total                       time.Duration
}

// Stats returns the counters of op, read one after the other.
func (r *ExpvarRecorder) Stats(op Op) ExpvarStats {
	if !hooked(op) {
		return ExpvarStats{}
	}
	e := &r.ops[op]
	return ExpvarStats{
		Calls:     e.calls.Load(),
		Errors:    e.errors.Load(),
		Hits:      e.hits.Load(),
		Misses:    e.misses.Load(),
		Joined:    e.joined.Load(),
		Stale:     e.stale.Load(),
		Refreshes: e.refreshes.Load(),
		Total:     time.Duration(e.nanos.Load()),
	}
}

// String returns the counters as a JSON object keyed by operation name,
// for example {"get": {"calls": 3, "errors": 0, "hits": 2, "misses": 1,
// "total_ns": 5120}, ...}, every operation of [Ops] included; the
// read-through calls add "joined", "stale" and "refreshes".
func (r *ExpvarRecorder) String() string {
	b := []byte{'{'}
	for _, o := range hookedOps {
		st := r.Stats(o)
		if o > OpGet {
			b = append(b, ", "...)
		}
		b = strconv.AppendQuote(b, o.String())
		b = append(b, `: {"calls": `...)
		b = strconv.AppendInt(b, st.Calls, 10)
		b = append(b, `, "errors": `...)
		b = strconv.AppendInt(b, st.Errors, 10)
		b = append(b, `, "hits": `...)
		b = strconv.AppendInt(b, st.Hits, 10)
		b = append(b, `, "misses": `...)
		b = strconv.AppendInt(b, st.Misses, 10)
		if o == OpGetOrLoad || o == OpMemoize || o == OpMemoizeMany {
			b = append(b, `, "joined": `...)
			b = strconv.AppendInt(b, st.Joined, 10)
			b = append(b, `, "stale": `...)
			b = strconv.AppendInt(b, st.Stale, 10)
			b = append(b, `, "refreshes": `...)
			b = strconv.AppendInt(b, st.Refreshes, 10)
		}
		b = append(b, `, "total_ns": `...)
		b = strconv.AppendInt(b, int64(st.Total), 10)
		b = append(b, '}')
	}
	return string(append(b, '}'))
}

// HitMissRatio is a Plugin that counts hits and misses, like aiocache's
// HitMissRatioPlugin: the keys read by Get and GetMany that were found and
// not found, and the read-through calls (GetOrLoad, memoized functions)
// answered with and without running a loader.
//
// A read-through call counts once, whatever store reads it made: a hit
// when the caller got a value without a load of its own (read from the
// store, fresh or stale, or the result of a shared call another caller
// started, counted in Joined too), a miss when its call ran the loader or
// the caller gave up waiting. One cold and one warm memoized call are one
// miss and one hit; a burst of 20 concurrent callers of a cold key,
// served by one load, is 1 miss and 19 hits, all 19 joined. A memoized
// batch counts, per key, its first read's hits and misses. GetMany counts
// each of its keys; a read that fails counts as misses; what the caller
// of Get does with a miss (a default value, a load) does not change it.
// Other operations are not counted.
//
// The zero value is ready to use; a HitMissRatio must not be copied after
// first use. It is safe for concurrent use: hooks only add to atomic
// counters.
type HitMissRatio struct {
	hits   atomic.Int64
	_      [56]byte // keep hits and misses on separate cache lines
	misses atomic.Int64
	_      [56]byte
	joined atomic.Int64
	local  atomic.Int64
}

// Before returns ctx.
func (p *HitMissRatio) Before(ctx context.Context, _ Call) context.Context { return ctx }

// After counts the hits and misses of Get, GetMany and read-through calls.
func (p *HitMissRatio) After(ctx context.Context, c Call) {
	switch c.Op {
	case OpGet, OpGetMany:
		if inCall(ctx) {
			return // counted by its read-through call
		}
	case OpGetOrLoad, OpMemoize, OpMemoizeMany:
		if c.Joined {
			p.joined.Add(1)
		}
	default:
		return
	}
	if c.Local {
		p.local.Add(int64(c.Hits))
	}
	if c.Hits > 0 {
		p.hits.Add(int64(c.Hits))
	}
	if c.Misses > 0 {
		p.misses.Add(int64(c.Misses))
	}
}

// LocalHits returns the number of hits so far that a cache's local tier
// answered (see [Call].Local); Hits() - LocalHits() were answered by the
// store or a shared call.
func (p *HitMissRatio) LocalHits() int64 { return p.local.Load() }

// Hits returns the number of hits so far.
func (p *HitMissRatio) Hits() int64 { return p.hits.Load() }

// Misses returns the number of misses so far.
func (p *HitMissRatio) Misses() int64 { return p.misses.Load() }

// Joined returns the number of hits so far that joined a shared call.
func (p *HitMissRatio) Joined() int64 { return p.joined.Load() }

// Total returns the number of keys read and calls made so far, Hits() +
// Misses().
func (p *HitMissRatio) Total() int64 { return p.hits.Load() + p.misses.Load() }

// Ratio returns Hits()/Total(), or 0 before the first read.
func (p *HitMissRatio) Ratio() float64 {
	return p.Stats().Ratio
}

// Stats returns the counters read once each, so that its fields agree
// with each other (Total is Hits+Misses) even while reads go on.
func (p *HitMissRatio) Stats() HitMissStats {
	h, m, j := p.hits.Load(), p.misses.Load(), p.joined.Load()
	st := HitMissStats{Hits: h, Misses: m, Total: h + m, Joined: j}
	if st.Total > 0 {
		st.Ratio = float64(h) / float64(st.Total)
	}
	return st
}

// HitMissStats is a snapshot of a [HitMissRatio].
type HitMissStats struct {
	Total  int64   // keys read and calls made
	Hits   int64   // keys found, calls answered without a load of their own
	Misses int64   // keys not found, calls that ran the loader
	Joined int64   // hits that joined a shared call
	Ratio  float64 // Hits / Total, 0 when Total is 0
}

// Timing is a Plugin that records, per operation, how many calls were made
// and their total, average, minimum and maximum duration, like aiocache's
// TimingPlugin. Durations are [Call.Duration]: the wrapped store's time,
// a read-through call's whole time, a loader's run time (OpLoad).
//
// The zero value is ready to use; a Timing must not be copied after first
// use. It is safe for concurrent use: hooks update atomic counters without
// locks (min and max with a compare-and-swap that retries only when
// another call set a new extreme at the same moment).
type Timing struct {
	ops [numOps]timingCounters
}

// timingCounters fills one 64-byte cache line so that two operations never
// share one.
type timingCounters struct {
	count atomic.Int64
	total atomic.Int64 // nanoseconds
	minP1 atomic.Int64 // minimum + 1ns, 0 before the first call
	max   atomic.Int64
	_     [32]byte
}

// Before returns ctx.
func (p *Timing) Before(ctx context.Context, _ Call) context.Context { return ctx }

// After records the duration of c.
func (p *Timing) After(_ context.Context, c Call) {
	if !hooked(c.Op) {
		return
	}
	t := &p.ops[c.Op]
	d := int64(c.Duration)
	t.count.Add(1)
	t.total.Add(d)
	for {
		cur := t.minP1.Load()
		if cur != 0 && cur <= d+1 || t.minP1.CompareAndSwap(cur, d+1) {
			break
		}
	}
	for {
		cur := t.max.Load()
		if cur >= d || t.max.CompareAndSwap(cur, d) {
			break
		}
	}
}

// Stats returns the statistics of op; all zero for an Op never called. The
// fields are read one after the other, so while calls go on they may
// disagree slightly (Total may include a call Count does not yet).
func (p *Timing) Stats(op Op) TimingStats {
	if !hooked(op) {
		return TimingStats{}
	}
	t := &p.ops[op]
	st := TimingStats{
		Count: t.count.Load(),
		Total: time.Duration(t.total.Load()),
		Max:   time.Duration(t.max.Load()),
	}
	if m := t.minP1.Load(); m > 0 {
		st.Min = time.Duration(m - 1)
	}
	if st.Count > 0 {
		st.Avg = st.Total / time.Duration(st.Count)
	}
	return st
}

// TimingStats is a snapshot of one operation's [Timing].
type TimingStats struct {
	Count int64         // calls
	Total time.Duration // sum of their durations
	Avg   time.Duration // Total / Count, 0 when Count is 0
	Min   time.Duration // shortest call
	Max   time.Duration // longest call
}
