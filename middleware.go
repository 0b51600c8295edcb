package cachet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet/internal/deadline"
	"github.com/cachet-go/cachet/store"
)

// Middleware wraps a store.Store to add behaviour around its operations:
// a func(store.Store) store.Store. It is store.Middleware, so middleware
// written for package store and package cachet mix freely.
//
// A middleware's store should embed the store it wraps, override only the
// methods it changes, and implement Unwrap() store.Store returning the
// wrapped store. Optional capabilities of the backend then stay reachable
// through any number of wrappers with store.As, which follows Unwrap.
type Middleware = store.Middleware

// Chain composes middlewares into one, the first being the outermost:
// Chain(a, b)(s) is a(b(s)), so a call passes through a, then b, then s.
// Nil middlewares are skipped.
func Chain(mws ...Middleware) Middleware { return store.Chain(mws...) }

// Timeout returns a Middleware that gives every operation (Close excepted)
// a context with a deadline d from now, unless the caller's context already
// has a deadline at most d away, in which case the caller's context is used
// as it is. A store that overruns the deadline returns an error wrapping
// context.DeadlineExceeded. A d of zero or less gives a middleware that
// returns the store unchanged.
//
// The store returned is safe for concurrent use if the wrapped store is.
// Each call that needs a deadline allocates a context and a timer.
func Timeout(d time.Duration) Middleware {
	return func(s store.Store) store.Store {
		if d <= 0 {
			return s
		}
		return &timeoutStore{Store: s, d: d}
	}
}

type timeoutStore struct {
	store.Store
	d time.Duration
}

// Unwrap returns the wrapped store.
func (s *timeoutStore) Unwrap() store.Store { return s.Store }

func (s *timeoutStore) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return deadline.Bound(ctx, s.d)
}

func (s *timeoutStore) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Get(ctx, key)
}

func (s *timeoutStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.GetMany(ctx, keys)
}

func (s *timeoutStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Set(ctx, key, value, ttl)
}

func (s *timeoutStore) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.SetMany(ctx, entries, ttl)
}

func (s *timeoutStore) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Add(ctx, key, value, ttl)
}

func (s *timeoutStore) Delete(ctx context.Context, keys ...string) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Delete(ctx, keys...)
}

func (s *timeoutStore) Exists(ctx context.Context, key string) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Exists(ctx, key)
}

func (s *timeoutStore) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Increment(ctx, key, delta)
}

func (s *timeoutStore) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Expire(ctx, key, ttl)
}

func (s *timeoutStore) TTL(ctx context.Context, key string) (time.Duration, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.TTL(ctx, key)
}

func (s *timeoutStore) Clear(ctx context.Context, prefix string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Clear(ctx, prefix)
}

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
	// batch as their count, and every occurrence of a key in an error
	// message is replaced by "[redacted]". Default: false.
	ShowKeys bool
}

// Redacted replaces keys in logs when LoggingOptions.ShowKeys is false.
const redacted = "[redacted]"

// Logging returns a Middleware that logs every operation (Close excepted)
// with logger, after it completes: message "cachet <op>", and the
// attributes op, key (or prefix for clear, or keys for batches), ttl for
// writes that take one, hits and misses for reads, duration, and error
// when there is one. A nil logger means slog.Default(); a nil opts means
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
	if c.Op == 0 || c.Op >= numOps || p.ops&(1<<c.Op) == 0 {
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
	attrs := make([]slog.Attr, 0, 7)
	attrs = append(attrs, slog.String("op", c.Op.String()))
	switch {
	case c.Op == OpClear:
		attrs = append(attrs, slog.String("prefix", p.key(c.Key)))
	case c.Op == OpGetMany || c.Op == OpDelete:
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
	case OpGet, OpGetMany:
		attrs = append(attrs, slog.Int("hits", c.Hits), slog.Int("misses", c.Misses))
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

// errText returns c.Err's message, with the call's keys redacted unless
// keys are shown.
func (p *logPlugin) errText(c Call) string {
	msg := c.Err.Error()
	if p.showKeys {
		return msg
	}
	redact := func(k string) {
		if k != "" {
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
	return msg
}

// errorKinds are the kinds ErrorKind reports, in the order it checks them.
var errorKinds = []struct {
	err  error
	kind string
}{
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
// labels and span attributes whose values must stay few: "timeout",
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

// Recorder receives one measurement per store operation from [Metrics]:
// the Call after the operation, with its Op, Duration, Hits, Misses and
// Err ([Call.Failed] tells an error from a miss).
//
// Record runs on the caller's goroutine, inside the operation, so it must
// never block: update in-memory aggregates (atomics, a metrics SDK's
// instruments, a non-blocking channel send that drops when full) and leave
// exporting to another goroutine, so that a slow exporter cannot slow Get.
// A Recorder must be safe for concurrent use.
type Recorder interface {
	Record(ctx context.Context, c Call)
}

// Metrics returns a Middleware that passes every operation (Close excepted)
// to rec once it completes. A nil rec gives a middleware that returns the
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
// calls (see [Call.Failed]), hits, misses and total duration. It is an
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
	_                                  [24]byte // one cache line per op
}

// Record adds c to the counters of c.Op.
func (r *ExpvarRecorder) Record(_ context.Context, c Call) {
	if c.Op == 0 || c.Op >= numOps {
		return
	}
	e := &r.ops[c.Op]
	e.calls.Add(1)
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

// ExpvarStats is one operation's counters in an [ExpvarRecorder].
type ExpvarStats struct {
	Calls, Errors, Hits, Misses int64
	Total                       time.Duration
}

// Stats returns the counters of op, read one after the other.
func (r *ExpvarRecorder) Stats(op Op) ExpvarStats {
	if op == 0 || op >= numOps {
		return ExpvarStats{}
	}
	e := &r.ops[op]
	return ExpvarStats{
		Calls:  e.calls.Load(),
		Errors: e.errors.Load(),
		Hits:   e.hits.Load(),
		Misses: e.misses.Load(),
		Total:  time.Duration(e.nanos.Load()),
	}
}

// String returns the counters as a JSON object keyed by operation name,
// for example {"get": {"calls": 3, "errors": 0, "hits": 2, "misses": 1,
// "total_ns": 5120}, ...}, every operation included.
func (r *ExpvarRecorder) String() string {
	b := []byte{'{'}
	for o := OpGet; o < numOps; o++ {
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
		b = append(b, `, "total_ns": `...)
		b = strconv.AppendInt(b, int64(st.Total), 10)
		b = append(b, '}')
	}
	return string(append(b, '}'))
}

// FailOpen returns a Middleware that turns failed reads into misses, so
// that a cache outage costs speed, not correctness: when Get, GetMany,
// Exists or TTL fails, report is called with the operation, the key (the
// first key for GetMany) and the error, and the read answers as if nothing
// were stored: Get and TTL return an error wrapping store.ErrNotFound (and
// naming the cause in its text), GetMany nil slots, Exists false. Writes
// (Set, SetMany, Add, Delete, Increment, Expire, Clear) return their
// errors as usual and do not call report.
//
// Some errors are not outages and are returned as they are: a cancelled or
// expired caller context (the caller gave up; a deadline set by a Timeout
// middleware inside FailOpen is an outage and does become a miss), an
// invalid key (store.ErrInvalidKey), an unsupported operation
// (store.ErrNotSupported), and store.ErrClosed once the store was closed
// through this middleware. A backend closed beneath it, by someone else,
// is an outage.
//
// report runs on the caller's goroutine and must not block. A nil report
// absorbs the errors without reporting them; use it only when a middleware
// inside FailOpen (Logging, Metrics) already reports them.
//
// The store returned is safe for concurrent use if the wrapped store and
// report are.
func FailOpen(report func(op Op, key string, err error)) Middleware {
	return func(s store.Store) store.Store {
		return &failOpenStore{Store: s, report: report}
	}
}

type failOpenStore struct {
	store.Store
	report func(op Op, key string, err error)
	closed atomic.Bool
}

// Unwrap returns the wrapped store.
func (s *failOpenStore) Unwrap() store.Store { return s.Store }

// absorb reports whether err, returned by a read, is an outage to turn
// into a miss, and reports it if so.
func (s *failOpenStore) absorb(ctx context.Context, op Op, key string, err error) bool {
	switch {
	case err == nil, errors.Is(err, store.ErrNotFound), ctx.Err() != nil,
		errors.Is(err, store.ErrInvalidKey), errors.Is(err, store.ErrNotSupported),
		errors.Is(err, store.ErrClosed) && s.closed.Load():
		return false
	}
	if s.report != nil {
		s.report(op, key, err)
	}
	return true
}

func missError(op Op, key string, cause error) error {
	return &store.Error{Op: op.String(), Key: key, Err: fmt.Errorf("%w (fail-open after: %v)", store.ErrNotFound, cause)}
}

func (s *failOpenStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Store.Get(ctx, key)
	if s.absorb(ctx, OpGet, key, err) {
		return nil, missError(OpGet, key, err)
	}
	return v, err
}

func (s *failOpenStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	vs, err := s.Store.GetMany(ctx, keys)
	if err != nil {
		key := ""
		if len(keys) > 0 {
			key = keys[0]
		}
		if s.absorb(ctx, OpGetMany, key, err) {
			return make([][]byte, len(keys)), nil
		}
	}
	return vs, err
}

func (s *failOpenStore) Exists(ctx context.Context, key string) (bool, error) {
	ok, err := s.Store.Exists(ctx, key)
	if s.absorb(ctx, OpExists, key, err) {
		return false, nil
	}
	return ok, err
}

func (s *failOpenStore) TTL(ctx context.Context, key string) (time.Duration, error) {
	d, err := s.Store.TTL(ctx, key)
	if s.absorb(ctx, OpTTL, key, err) {
		return 0, missError(OpTTL, key, err)
	}
	return d, err
}

// Close closes the wrapped store; from then on ErrClosed is returned as
// it is rather than read as a miss.
func (s *failOpenStore) Close() error {
	s.closed.Store(true)
	return s.Store.Close()
}
