package cachet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachet-go/cachet/store"
)

// Op names an operation, as seen by plugins, recorders and [FailOpen]. It
// is store.Op: its String method gives the lowercase name used in errors
// ("get", "get_many", "memoize", ...). Plugins see the operations [Ops]
// lists: the store operations, and the read-through calls of a Cache with
// the loads they make (see [Call]). Close, and the optional interfaces'
// operations reached with store.As, are never hooked.
type Op = store.Op

// The store operations plugins see. The zero Op is not a valid operation.
const (
	OpGet       = store.OpGet
	OpGetMany   = store.OpGetMany
	OpSet       = store.OpSet
	OpSetMany   = store.OpSetMany
	OpAdd       = store.OpAdd
	OpDelete    = store.OpDelete
	OpExists    = store.OpExists
	OpIncrement = store.OpIncrement
	OpExpire    = store.OpExpire
	OpTTL       = store.OpTTL
	OpClear     = store.OpClear
)

// The call-level operations plugins see: a Cache reports them to the
// plugins of its middleware (see [WithPlugins]) around the store
// operations they make, which run in the context the plugins' Before
// hooks returned (a tracing plugin's span is their parent).
const (
	// OpGetOrLoad is one call of Cache.GetOrLoad.
	OpGetOrLoad = store.OpGetOrLoad
	// OpMemoize is one call of a memoized function (Memoize,
	// Memoizer.Call).
	OpMemoize = store.OpMemoize
	// OpMemoizeMany is one call of a memoized batch function
	// (MemoizeMany, ManyMemoizer.Call).
	OpMemoizeMany = store.OpMemoizeMany
	// OpLoad is one call of a loader: the function given to Memoize,
	// MemoizeMany or GetOrLoad, run for a miss, a Refresh, a CallNoWrite
	// or a background refresh. Its Duration is the loader's run time, its
	// Err the loader's error. It runs inside the shared call of the
	// callers that wait for it, in the context of the caller that started
	// that call.
	OpLoad = store.OpLoad

	numOps = OpLoad + 1 // one more than the largest hooked Op, the length of per-Op arrays
)

// hookedOps are the operations plugins see, in declaration order.
var hookedOps = []Op{
	OpGet, OpGetMany, OpSet, OpSetMany, OpAdd, OpDelete, OpExists,
	OpIncrement, OpExpire, OpTTL, OpClear,
	OpGetOrLoad, OpMemoize, OpMemoizeMany, OpLoad,
}

// hooked reports whether plugins see op.
func hooked(op Op) bool {
	return op >= OpGet && op <= OpClear || op >= OpGetOrLoad && op <= OpLoad
}

// Ops returns every operation plugins see: the store operations, then the
// call-level ones (OpGetOrLoad, OpMemoize, OpMemoizeMany, OpLoad), in
// declaration order.
func Ops() []Op { return append([]Op(nil), hookedOps...) }

// Call describes one operation to plugins and recorders. Before sees the
// arguments (Op, Key, Keys, Entries, TTL, Delta); After sees the same plus
// the outcome (Hits, Misses, Err, Duration, and for call-level operations
// Joined, Stale, Refresh) and what the operation returned (Int, Bool,
// Remaining).
//
// # Call-level operations
//
// A call of GetOrLoad (OpGetOrLoad) or of a memoized function (OpMemoize)
// is reported once per caller, with Key its store key: Hits is 1 when the
// caller was answered without running a loader of its own (a value read
// from the store, fresh or stale, or the result of a shared call another
// caller started: Joined), Misses is 1 when the caller's shared call ran
// the loader, Err is the error the caller got. A call of a memoized batch
// function (OpMemoizeMany) has its Keys, Hits the keys its first read
// found and Misses the others (loaded, or waited for). The loads
// themselves are reported as OpLoad. Store operations made for the call
// are reported too, as their own operations, in the context the call's
// Before hooks returned; [HitMissRatio] counts the call, not them.
//
// A Call is passed by value. Keys and Entries alias the caller's slices:
// plugins must not modify them, and must copy them to keep them after the
// hook returns.
type Call struct {
	// Op is the operation.
	Op Op
	// Key is the key of a single-key operation, or the prefix of OpClear.
	// It is empty for OpGetMany, OpSetMany, OpDelete and OpMemoizeMany.
	Key string
	// Keys are the keys of OpGetMany, OpDelete and OpMemoizeMany.
	Keys []string
	// Entries are the entries of OpSetMany, values included.
	Entries []store.Entry
	// TTL is the ttl given to OpSet, OpSetMany, OpAdd and OpExpire.
	TTL time.Duration

	// Hits is the number of keys OpGet or OpGetMany found, or of callers
	// and keys a call-level operation answered from the cache (see
	// above).
	Hits int
	// Misses is the number of keys OpGet or OpGetMany did not find. A
	// failed read counts every key it asked for as a miss, so that
	// Hits+Misses is always the number of keys read. For call-level
	// operations see above.
	Misses int
	// Err is the error the operation returned, nil on success. A miss is
	// reported both in Misses and as an Err wrapping store.ErrNotFound
	// for OpGet (the store's answer), and with a nil Err for OpGetMany.
	Err error
	// Duration is how long the store took, measured around the call to
	// the wrapped store (the plugins' own time excluded); for a
	// call-level operation, how long the call took, and for OpLoad, the
	// loader's run time.
	Duration time.Duration

	// Joined, for OpGetOrLoad and OpMemoize, reports that the caller
	// joined a shared call another caller had started, and got its
	// result (counted in Hits).
	Joined bool
	// Stale, for OpMemoize, reports that the caller got a value past its
	// ttl: within MemoizeOptions.StaleWhileRevalidate, or within early
	// refresh's margin while a refresh of it was under way.
	Stale bool
	// Refresh, for OpMemoize, reports that the call started a background
	// refresh of its key (early refresh, or stale-while-revalidate).
	Refresh bool
	// Local, for OpGet, OpGetMany, OpGetOrLoad and OpMemoize, reports
	// that the cache's local tier answered (counted in Hits): neither the
	// store nor the codec was used. A local hit of Get is reported as an
	// OpGet with Hits 1 and Local set, although it reaches no store, so
	// that plugins see every read; the local hits of a GetMany as one
	// OpGetMany with their Keys and Hits and Local set (its misses are
	// reported by the store read they make, without Local).
	Local bool

	// Delta is the delta given to OpIncrement (an argument, seen by
	// Before too).
	Delta int64
	// The result fields below hold what the operation returned, for
	// After; they are zero in Before and when Err is not nil.
	//
	// Int is the new value of the counter for OpIncrement, and the number
	// of keys removed for OpDelete.
	Int int64
	// Bool is whether the key exists for OpExists, and whether it existed
	// (and got the new ttl) for OpExpire.
	Bool bool
	// Remaining is the remaining ttl returned by OpTTL, 0 for a key that
	// never expires.
	Remaining time.Duration
}

// Failed reports whether the operation failed: Err is not nil and is
// neither a miss (store.ErrNotFound) nor an Add that found its key taken
// (store.ErrExists), which are ordinary answers.
func (c Call) Failed() bool {
	return c.Err != nil && !errors.Is(c.Err, store.ErrNotFound) && !errors.Is(c.Err, store.ErrExists)
}

// Plugin observes every store operation of a store wrapped by
// [WithPlugins], in the style of aiocache's plugins, and the call-level
// operations (read-through calls and loads, see [Call]) of the Caches
// built over that store.
//
// Before is called before the operation with its arguments and returns the
// context the operation runs with: ctx itself, or a context derived from it
// (a tracing plugin starts a span there). A nil return means ctx. After is
// called once the operation returned, with the context its own Before
// returned and the completed Call.
//
// Hooks run synchronously on the caller's goroutine, so they must be quick
// and must not block; a Plugin used by several goroutines must be safe for
// concurrent use. A panic in a hook is recovered: see [WithPlugins].
type Plugin interface {
	Before(ctx context.Context, c Call) context.Context
	After(ctx context.Context, c Call)
}

// BasePlugin implements [Plugin] with hooks that do nothing. Embed it in a
// plugin that needs only one of the two hooks. It is safe for concurrent
// use.
type BasePlugin struct{}

// Before returns ctx.
func (BasePlugin) Before(ctx context.Context, _ Call) context.Context { return ctx }

// After does nothing.
func (BasePlugin) After(context.Context, Call) {}

// AfterFunc returns a Plugin whose After hook calls f and whose Before hook
// does nothing. A nil f gives a nil Plugin, which WithPlugins ignores. The
// Plugin is safe for concurrent use if f is.
func AfterFunc(f func(ctx context.Context, c Call)) Plugin {
	if f == nil {
		return nil
	}
	return afterFunc(f)
}

type afterFunc func(ctx context.Context, c Call)

func (afterFunc) Before(ctx context.Context, _ Call) context.Context { return ctx }
func (f afterFunc) After(ctx context.Context, c Call)                { f(ctx, c) }

// ErrPluginPanic is wrapped by the error of an operation during which a
// plugin's hook panicked. Compare with errors.Is.
var ErrPluginPanic = errors.New("cachet: plugin panicked")

// WithPlugins returns a Middleware that calls the plugins' Before hooks, in
// order, before every operation (Close excepted) and their After hooks, in
// reverse order, after it, so that the first plugin's hooks enclose the
// others'. Nil plugins are ignored; with no plugin left the middleware
// returns the store unchanged.
//
// A Cache finds, when New creates it, the plugins of every WithPlugins
// (and so [Logging] and [Metrics]) in its Options.Middleware, and reports
// its call-level operations (see [Call]) to them, outer middleware first,
// with the same hooks and the same panic handling: a panicking hook makes
// the caller's call, or the load, return an error wrapping
// [ErrPluginPanic] (the loaded value is then not cached).
//
// # Panics
//
// A plugin must not panic. If one does, the panic is recovered, the
// remaining hooks and the operation itself still run (a write is still
// written), and the operation then returns an error wrapping
// [ErrPluginPanic] (joined with the store's own error, if any) that names
// the plugin's type, the hook and the panic value; a panic value that is
// an error is wrapped too. A faulty plugin thus never crashes the program
// and never fails silently: the caller, and every middleware outside this
// one (Logging, Metrics, FailOpen), sees the error.
//
// The store returned is safe for concurrent use if the plugins are.
func WithPlugins(plugins ...Plugin) Middleware {
	ps := make([]Plugin, 0, len(plugins))
	for _, p := range plugins {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return func(s store.Store) store.Store {
		if len(ps) == 0 {
			return s
		}
		return &pluginStore{Wrapper: store.Wrapper{Store: s}, plugins: ps}
	}
}

// pluginStore runs plugins around every operation of the store it wraps.
type pluginStore struct {
	store.Wrapper // forwards what this wrapper does not override; Unwrap
	plugins       []Plugin
}

// inlineCtxs is how many plugins' contexts a hooked call keeps on the
// stack; calls through more plugins allocate a slice.
const inlineCtxs = 4

// hook is the state of one hooked call, kept on the caller's stack.
// Plugin i's After gets the context its Before returned: inline[i] with
// up to inlineCtxs plugins, else more[i]. (A slice of inline would make the
// hook point into itself, which moves it to the heap.)
type hook struct {
	inline [inlineCtxs]context.Context
	more   []context.Context
	start  time.Duration // monoNow() before the store call
	panics error
}

// clockBase is the origin of monoNow.
var clockBase = time.Now()

// monoNow reads the monotonic clock only (time.Now also reads the wall
// clock), as the time since clockBase.
func monoNow() time.Duration { return time.Since(clockBase) }

func (h *hook) setCtx(i int, ctx context.Context) {
	if h.more != nil {
		h.more[i] = ctx
	} else {
		h.inline[i] = ctx
	}
}

func (h *hook) ctx(i int) context.Context {
	if h.more != nil {
		return h.more[i]
	}
	return h.inline[i]
}

// before runs the Before hooks and returns the context to run the
// operation with.
func (s *pluginStore) before(ctx context.Context, c *Call, h *hook) context.Context {
	if len(s.plugins) > inlineCtxs {
		h.more = make([]context.Context, len(s.plugins))
	}
	for i, p := range s.plugins {
		next, err := callBefore(p, ctx, *c)
		if err != nil {
			h.panics = errors.Join(h.panics, err)
		}
		h.setCtx(i, next)
		ctx = next
	}
	h.start = monoNow()
	return ctx
}

// after completes c with the operation's error and duration, runs the
// After hooks in reverse order and returns the error the operation should
// return: c.Err, plus any panic of a hook.
func (s *pluginStore) after(c *Call, h *hook, err error) error {
	c.Duration = monoNow() - h.start
	c.Err = err
	for i := len(s.plugins) - 1; i >= 0; i-- {
		if perr := callAfter(s.plugins[i], h.ctx(i), *c); perr != nil {
			h.panics = errors.Join(h.panics, perr)
		}
	}
	if h.panics == nil {
		return err
	}
	return store.Errorf(c.Op.String(), c.firstKey(), errors.Join(err, h.panics))
}

// firstKey returns the key to name in an error about c.
func (c *Call) firstKey() string {
	switch {
	case c.Key != "":
		return c.Key
	case len(c.Keys) > 0:
		return c.Keys[0]
	case len(c.Entries) > 0:
		return c.Entries[0].Key
	}
	return ""
}

func callBefore(p Plugin, ctx context.Context, c Call) (next context.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			next, err = ctx, pluginPanic(p, "Before", r)
		}
	}()
	next = p.Before(ctx, c)
	if next == nil {
		next = ctx
	}
	return next, nil
}

func callAfter(p Plugin, ctx context.Context, c Call) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = pluginPanic(p, "After", r)
		}
	}()
	p.After(ctx, c)
	return nil
}

func pluginPanic(p Plugin, hook string, r any) error {
	name := fmt.Sprintf("%T.%s", p, hook)
	if rp, ok := p.(recorderPlugin); ok {
		name = fmt.Sprintf("%T.Record", rp.rec) // the user's type, not the adapter
	}
	if e, ok := r.(error); ok {
		return fmt.Errorf("%w: %s: %w", ErrPluginPanic, name, e)
	}
	return fmt.Errorf("%w: %s: %v", ErrPluginPanic, name, r)
}

func (s *pluginStore) Get(ctx context.Context, key string) ([]byte, error) {
	var h hook
	c := Call{Op: OpGet, Key: key}
	v, err := s.Store.Get(s.before(ctx, &c, &h), key)
	if err == nil {
		c.Hits = 1
	} else {
		c.Misses = 1
	}
	return v, s.after(&c, &h, err)
}

func (s *pluginStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	var h hook
	c := Call{Op: OpGetMany, Keys: keys}
	vs, err := s.Store.GetMany(s.before(ctx, &c, &h), keys)
	if err == nil {
		for _, v := range vs {
			if v != nil {
				c.Hits++
			}
		}
	}
	c.Misses = len(keys) - c.Hits
	return vs, s.after(&c, &h, err)
}

func (s *pluginStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	var h hook
	c := Call{Op: OpSet, Key: key, TTL: ttl}
	err := s.Store.Set(s.before(ctx, &c, &h), key, value, ttl)
	return s.after(&c, &h, err)
}

func (s *pluginStore) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	var h hook
	c := Call{Op: OpSetMany, Entries: entries, TTL: ttl}
	err := s.Store.SetMany(s.before(ctx, &c, &h), entries, ttl)
	return s.after(&c, &h, err)
}

func (s *pluginStore) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	var h hook
	c := Call{Op: OpAdd, Key: key, TTL: ttl}
	err := s.Store.Add(s.before(ctx, &c, &h), key, value, ttl)
	return s.after(&c, &h, err)
}

func (s *pluginStore) Delete(ctx context.Context, keys ...string) (int, error) {
	var h hook
	c := Call{Op: OpDelete, Keys: keys}
	n, err := s.Store.Delete(s.before(ctx, &c, &h), keys...)
	if err == nil {
		c.Int = int64(n)
	}
	return n, s.after(&c, &h, err)
}

func (s *pluginStore) Exists(ctx context.Context, key string) (bool, error) {
	var h hook
	c := Call{Op: OpExists, Key: key}
	ok, err := s.Store.Exists(s.before(ctx, &c, &h), key)
	if err == nil {
		c.Bool = ok
	}
	return ok, s.after(&c, &h, err)
}

func (s *pluginStore) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	var h hook
	c := Call{Op: OpIncrement, Key: key, Delta: delta}
	n, err := s.Store.Increment(s.before(ctx, &c, &h), key, delta)
	if err == nil {
		c.Int = n
	}
	return n, s.after(&c, &h, err)
}

func (s *pluginStore) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	var h hook
	c := Call{Op: OpExpire, Key: key, TTL: ttl}
	ok, err := s.Store.Expire(s.before(ctx, &c, &h), key, ttl)
	if err == nil {
		c.Bool = ok
	}
	return ok, s.after(&c, &h, err)
}

func (s *pluginStore) TTL(ctx context.Context, key string) (time.Duration, error) {
	var h hook
	c := Call{Op: OpTTL, Key: key}
	d, err := s.Store.TTL(s.before(ctx, &c, &h), key)
	if err == nil {
		c.Remaining = d
	}
	return d, s.after(&c, &h, err)
}

func (s *pluginStore) Clear(ctx context.Context, prefix string) error {
	var h hook
	c := Call{Op: OpClear, Key: prefix}
	err := s.Store.Clear(s.before(ctx, &c, &h), prefix)
	return s.after(&c, &h, err)
}
