package cachet

import (
	"context"
	"sync"
	"time"

	"github.com/cachet-go/cachet/internal/flight"
)

// DefaultCallTimeout bounds the shared call of a memoized function (fn and
// the store writes and lock waits around it) when WithCallTimeout is not
// given.
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
// Memoized entries carry a 27-byte header in front of the codec's output
// (package internal/entry):
// a magic byte 0xC7, a format version (1), flags (bit 0: not found, bit 1:
// zero value treated as not found; neither has a payload), then three
// big-endian int64s: when the entry was written, how long fn took (for
// early refresh) and when it expires (Unix nanoseconds, 0 for never).
// Their keys should therefore not be shared with plain Cache.Get and
// Cache.Set users: a value written by Cache.Set is treated by the Memoizer
// as a miss (recomputed and overwritten), and Cache.Get of a memoized
// entry fails to decode. Use WithPrefix, or a cache of its own, to keep
// them apart. Values written by Cache.Set stay raw codec output.
//
// A Memoizer is safe for concurrent use by multiple goroutines.
type Memoizer[K comparable, V any] struct {
	c    *Cache[K, V]
	fn   func(ctx context.Context, k K) (V, error)
	cfg  memoConfig
	keys keyBuilder[K] // the cache's rule, with WithPrefix and WithKey
	skip func(V) bool
	ttl  time.Duration // resolved: 0 means none
	// hitClock: a read needs the time, for early refresh, serving stale
	// values, or expiry finer than the store keeps it.
	hitClock bool
	// joinRunning: the store is networked, so a read costs a round trip
	// and a caller joins a running shared call without one (see Call).
	joinRunning bool

	group      flight.Group[V]
	computing  sync.Map // store key -> struct{}: a Call's shared call is running
	refreshing sync.Map // store key -> struct{}: background refreshes
}

// Memoize returns a function with fn's signature that reads through the
// cache c: a call returns the value cached for k, or calls fn, caches its
// result and returns it. See NewMemoizer for the details and the options;
// Memoize is NewMemoizer(c, fn, opts...).Call.
//
// Memoized entries carry a small header, so their keys should not be
// shared with plain Cache.Get and Cache.Set users (see Memoizer).
//
// Memoize panics if an option is invalid (a programming error, reported by
// NewMemoizer as an error wrapping ErrInvalidOption), or if c or fn is nil.
func Memoize[K comparable, V any](c *Cache[K, V], fn func(ctx context.Context, k K) (V, error), opts ...MemoizeOption) func(ctx context.Context, k K) (V, error) {
	m, err := NewMemoizer(c, fn, opts...)
	if err != nil {
		panic(err)
	}
	return m.Call
}

// NewMemoizer returns a Memoizer of fn over the cache c.
//
// Concurrent calls for one key in this process share one call of fn
// (singleflight); the call that starts after a miss reads the cache once
// more before calling fn, so that a caller arriving just as another call
// ends does not compute the value again. The shared call runs detached
// from the callers' cancellation, keeping their context values, bounded by
// the call timeout (WithCallTimeout); each caller stops waiting when its
// own context ends. A panic in fn is re-panicked, as a *PanicError, in
// every waiting caller; if fn calls runtime.Goexit (as testing's FailNow
// does), every waiting caller gets an error instead.
//
// Errors of fn are returned as they are and are not cached, except "not
// found" results with WithNotFound or WithZeroNotFound. Store failures never
// fail a call: a failed or undecodable read is a miss, and a failed write
// still returns fn's result; the failures remain visible to the cache's
// middleware, through which every store call goes. Codec encoding errors
// are likewise swallowed (the value is returned, not cached).
//
// Options that are not valid give an error wrapping ErrInvalidOption. It
// panics if c or fn is nil.
func NewMemoizer[K comparable, V any](c *Cache[K, V], fn func(ctx context.Context, k K) (V, error), opts ...MemoizeOption) (*Memoizer[K, V], error) {
	if c == nil || fn == nil {
		panic("cachet: NewMemoizer called with a nil cache or function")
	}
	m := &Memoizer[K, V]{c: c, fn: fn}
	if err := m.configure(opts, false); err != nil {
		return nil, err
	}
	return m, nil
}

// Key returns the store key of k's memoized entry.
func (m *Memoizer[K, V]) Key(k K) (string, error) { return m.key("memoize", k) }

// Call returns the value cached for k, or calls fn for it, caches the
// result and returns it. Concurrent calls for one key share one call of
// fn. With WithEarlyRefresh or WithStaleWhileRevalidate, Call may start a
// background refresh of k while returning the cached value.
func (m *Memoizer[K, V]) Call(ctx context.Context, k K) (V, error) { return m.call(ctx, k) }

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
