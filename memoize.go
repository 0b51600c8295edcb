package cachet

import (
	"context"
	"sync"
	"time"

	"github.com/cachet-go/cachet/internal/flight"
)

// DefaultCallTimeout bounds the shared call of a memoized function (fn and
// the store writes and lock waits around it) when
// MemoizeOptions.CallTimeout is zero.
const DefaultCallTimeout = time.Minute

// LockSuffix is appended to a memoized entry's store key to name its
// stampede lock: the lock of "users:42" is "users:42:lock".
const LockSuffix = ":lock"

// PanicError is the value re-panicked in every caller waiting on a shared
// call (of a memoized function, or of Cache.GetOrLoad's load) that
// panicked. It carries the original panic value and the stack of the
// panicking goroutine; its Unwrap returns the value when it is an error.
type PanicError = flight.PanicError

// Memoizer is a memoized function with its per-key controls: Call reads
// through the cache, Refresh recomputes, CallNoWrite reads without
// writing, and Invalidate forgets one key. Create one with NewMemoizer;
// Memoize returns its Call method.
//
// A Memoizer reads and writes its Cache's stored format (see Options.Raw
// and the package documentation): a value written by Cache.Set is a hit
// for a Memoizer on the same key, and Cache.Get returns a memoized value.
// A stored value the Memoizer cannot decode (in the other format, with a
// corrupt or unknown header, or not decodable by the codec) is a miss: the
// Memoizer calls fn and overwrites it.
//
// A Memoizer is safe for concurrent use by multiple goroutines.
type Memoizer[K comparable, V any] struct {
	c   *Cache[K, V]
	fn  func(ctx context.Context, k K) (V, error)
	cfg memoConfig[K, V]
	// hitClock: a read needs the time, for early refresh, serving stale
	// values, or expiry finer than the store keeps it.
	hitClock bool
	// joinFirst: the store is networked, so a read costs a round trip and
	// a caller joins the shared call before reading (see readThrough).
	joinFirst bool

	group       flight.Group[V]
	refreshing  sync.Map // store key -> *refreshMark: background refreshes
	invalidated invalidations
}

// Memoize returns a function with fn's signature that reads through the
// cache c: a call returns the value cached for k, or calls fn, caches its
// result and returns it. o may be nil for the defaults. See NewMemoizer
// for the details; Memoize is NewMemoizer(c, fn, o).Call.
//
// Memoize panics if o is invalid (a programming error, which NewMemoizer
// reports as an error wrapping ErrInvalidOption), or if c or fn is nil.
func Memoize[K comparable, V any](c *Cache[K, V], fn func(ctx context.Context, k K) (V, error), o *MemoizeOptions[K, V]) func(ctx context.Context, k K) (V, error) {
	m, err := NewMemoizer(c, fn, o)
	if err != nil {
		panic(err)
	}
	return m.Call
}

// NewMemoizer returns a Memoizer of fn over the cache c, configured by o
// (nil for the defaults).
//
// It is built on the cache's read-through path, the one Cache.GetOrLoad
// uses, so every option of the cache (timeout, middleware, key rules)
// applies to memoized calls: concurrent calls for one key in this process
// share one call of fn (singleflight), and a cold key costs one read and
// one write (see Cache.GetOrLoad). The shared call runs detached from the
// callers' cancellation, keeping their context values, bounded by
// MemoizeOptions.CallTimeout; each caller stops waiting when its own
// context ends. A panic in fn is re-panicked, as a *PanicError, in every
// waiting caller; if fn calls runtime.Goexit (as testing's FailNow does),
// every waiting caller gets an error instead. fn may set the ttl of its
// value with SetTTL.
//
// Errors of fn are returned as they are and are not cached, except "not
// found" results with MemoizeOptions.NotFound. Store failures never fail a
// call: a failed or undecodable read is a miss, and a failed write still
// returns fn's result; the failures remain visible to the cache's
// middleware, through which every store call goes. Codec encoding errors
// are likewise swallowed (the value is returned, not cached). After
// Cache.Close, calls return an error wrapping ErrClosed.
//
// An invalid o gives an error wrapping ErrInvalidOption that names the
// field. NewMemoizer panics if c or fn is nil.
func NewMemoizer[K comparable, V any](c *Cache[K, V], fn func(ctx context.Context, k K) (V, error), o *MemoizeOptions[K, V]) (*Memoizer[K, V], error) {
	if c == nil || fn == nil {
		panic("cachet: NewMemoizer called with a nil cache or function")
	}
	cfg, err := memoConfigOf(c, o, false)
	if err != nil {
		return nil, err
	}
	return newMemoizer(c, fn, cfg), nil
}

func newMemoizer[K comparable, V any](c *Cache[K, V], fn func(ctx context.Context, k K) (V, error), cfg memoConfig[K, V]) *Memoizer[K, V] {
	// An in-process store hides an entry at its ttl to the millisecond,
	// which is the entry's expiry when neither early refresh nor
	// stale-while-revalidate keeps it longer: then a hit need not read
	// the clock (about 65 ns, a third of a memstore hit).
	inProcess := c.inProcess()
	m := &Memoizer[K, V]{
		c:         c,
		fn:        fn,
		cfg:       cfg,
		hitClock:  cfg.beta > 0 || cfg.swr > 0 || !inProcess || !cfg.realClock,
		joinFirst: !inProcess,
	}
	if c.obs != nil && fn != nil {
		m.fn = m.observedFn(fn) // observe_call.go
	}
	return m
}

// SetTTL sets the ttl of the value that the running load returns: call it
// from the function given to Memoize, NewMemoizer, MemoizeMany (for the
// whole batch) or Cache.GetOrLoad, with the context it received, for
// example with the max-age of an HTTP response or a token's expiry. ttl is
// a positive duration or NoExpiry. It reports whether ctx is a load's
// context and ttl valid; otherwise it changes nothing. Negative entries
// keep their own ttl.
func SetTTL(ctx context.Context, ttl time.Duration) bool {
	t, ok := ctx.Value(loadTTLKey{}).(*loadTTL)
	if !ok || (ttl <= 0 && ttl != NoExpiry) {
		return false
	}
	if ttl == NoExpiry {
		ttl = 0
	}
	t.mu.Lock()
	t.ttl, t.set = ttl, true
	t.mu.Unlock()
	return true
}

// Key returns the store key of k's memoized entry.
func (m *Memoizer[K, V]) Key(k K) (string, error) { return m.key("memoize", k) }

// Call returns the value cached for k, or calls fn for it, caches the
// result and returns it. Concurrent calls for one key share one call of
// fn. With MemoizeOptions.EarlyRefresh or StaleWhileRevalidate, Call may
// start a background refresh of k while returning the cached value. The
// plugins of the cache's middleware see each call as OpMemoize, and each
// run of fn as OpLoad (see [Call]).
func (m *Memoizer[K, V]) Call(ctx context.Context, k K) (V, error) {
	if m.c.obs != nil {
		return m.callObserved(ctx, k) // observe_call.go
	}
	return m.call(ctx, k)
}

// Refresh calls fn for k without reading the cache, caches the result and
// returns it (aiocache's cache_read=False). Concurrent Refresh calls for one
// key share one call of fn; they do not take the stampede lock.
func (m *Memoizer[K, V]) Refresh(ctx context.Context, k K) (V, error) { return m.refresh(ctx, k) }

// CallNoWrite returns the value cached for k, or calls fn for it without
// caching the result (aiocache's cache_write=False). Concurrent
// CallNoWrite calls for one key share one call of fn; they do not take
// the stampede lock.
func (m *Memoizer[K, V]) CallNoWrite(ctx context.Context, k K) (V, error) {
	return m.callNoWrite(ctx, k)
}

// Invalidate removes k's memoized entry, so that the next Call computes it
// again. Unlike calls, it returns the store's error.
func (m *Memoizer[K, V]) Invalidate(ctx context.Context, k K) error { return m.invalidate(ctx, k) }
