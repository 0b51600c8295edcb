package cachet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/store"
)

// Update's retry policy: a bounded number of attempts with a randomised,
// growing pause between them, so that writers racing for one key spread
// out instead of colliding again in step.
const (
	// UpdateAttempts is how many times Update reads, calls fn and tries to
	// write before it gives up with an error wrapping ErrConflict.
	UpdateAttempts = 100
	// UpdateBackoff is the longest pause after the first lost race. The
	// pause after the n-th lost race is a random duration up to
	// UpdateBackoff << (n-1), capped at UpdateMaxBackoff.
	UpdateBackoff = 100 * time.Microsecond
	// UpdateMaxBackoff caps the pause between two attempts of Update, so
	// that a lost Update gives up after at most about UpdateAttempts *
	// UpdateMaxBackoff of waiting (one second), or at its context's end.
	UpdateMaxBackoff = 50 * time.Millisecond
)

// Update atomically replaces the value of k by fn's result, with the
// cache's default ttl, and returns the value written: optimistic locking,
// aiocache's OptimisticLock. fn gets the current value (found false and
// the zero V when k is missing) and returns the new one, or an error,
// which Update returns as is without writing anything.
//
// Update reads k with its version, calls fn, and writes only if k is
// unchanged since the read (compare-and-swap, [store.Swapper]); when
// another writer got there first it reads again and calls fn again, so fn
// may run several times and should have no side effects. Concurrent
// Updates of one key through the same Cache take turns in the process, so
// races are lost only to other writers (other Caches, other processes). After
// [UpdateAttempts] lost races (see [UpdateBackoff]) it returns an error
// wrapping ErrConflict. A write through Set, Delete or another Update of
// the same key, in any process, counts as a change.
//
// The store, or one it wraps, must implement store.Swapper: memstore,
// redisstore (one Lua script per write; Redis Cluster included),
// memcachestore (gets and cas) and noopstore (nothing is kept: fn always
// sees a missing key) do. Over any other store Update returns an error
// wrapping ErrNotSupported. Like every optional capability it is reached
// through the cache's middleware with store.As, so middleware that only
// wraps the Store methods does not observe it. While the cache is off
// (Disable), Update acts as over noopstore: fn sees a missing key and its
// result is dropped.
//
// Values go through the cache's codec; a stored value it cannot decode
// gives an error wrapping ErrDecode, and nothing is written.
func (c *Cache[K, V]) Update(ctx context.Context, k K, fn func(old V, found bool) (V, error)) (V, error) {
	return c.UpdateWithTTL(ctx, k, DefaultTTL, fn)
}

// UpdateWithTTL is Update with a ttl for the value written, as for
// SetWithTTL.
func (c *Cache[K, V]) UpdateWithTTL(ctx context.Context, k K, ttl time.Duration, fn func(old V, found bool) (V, error)) (V, error) {
	const op = "update"
	var zero V
	key, err := c.keys.build(op, k)
	if err != nil {
		return zero, err
	}
	sttl, err := c.storeTTL(op, key, ttl)
	if err != nil {
		return zero, err
	}
	sw, ok := store.As[store.Swapper](c.s)
	if !ok {
		return zero, &Error{Op: op, Key: key, Err: fmt.Errorf("%w: the store does not implement store.Swapper", ErrNotSupported)}
	}
	// Updates of one key through this Cache take turns: racing each other
	// in the store would only waste round trips (and starve the unlucky).
	unlock, err := updateLocks.lock(ctx, c, key)
	if err != nil {
		return zero, store.Errorf(op, key, err)
	}
	defer unlock()
	for attempt := 1; ; attempt++ {
		v, swapped, err := c.updateOnce(ctx, sw, key, sttl, fn)
		if err != nil || swapped {
			return v, err
		}
		if attempt == UpdateAttempts {
			return zero, &Error{Op: op, Key: key, Err: fmt.Errorf("%w: lost %d compare-and-swap races", ErrConflict, attempt)}
		}
		if err := pause(ctx, attempt); err != nil {
			return zero, store.Errorf(op, key, err)
		}
	}
}

// updateOnce is one attempt of Update: read with a version, call fn,
// write if unchanged. swapped false and no error means a lost race.
func (c *Cache[K, V]) updateOnce(ctx context.Context, sw store.Swapper, key string, ttl time.Duration, fn func(V, bool) (V, error)) (v V, swapped bool, err error) {
	const op = "update"
	var zero V
	rctx, cancel := c.withTimeout(ctx)
	b, version, err := sw.GetVersion(rctx, key)
	cancel()
	found := err == nil
	if found {
		h, err := c.decodeEntry(op, key, b, &v)
		if err != nil {
			return zero, false, err
		}
		if h.Negative() || c.expired(h) {
			// A negative or logically expired entry is absent for fn,
			// as for Get; the swap still replaces that very entry.
			v, found = zero, false
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return zero, false, store.Errorf(op, key, err)
	}
	v, err = fn(v, found)
	if err != nil {
		return zero, false, err
	}
	nb, err := c.encodeEntry(op, key, v, entry.Header{Expiry: expiryAt(time.Time{}, ttl)})
	if err != nil {
		return zero, false, err
	}
	wctx, cancel := c.withTimeout(ctx)
	defer cancel()
	swapped, err = sw.CompareAndSwap(wctx, key, version, nb, ttl)
	if err != nil || !swapped {
		return zero, false, store.Errorf(op, key, err)
	}
	return v, true, nil
}

// updateLocks serialises the Updates of one key through one Cache.
var updateLocks keyLocks

// keyLocks is a set of per-key locks that honour a context, each kept
// only while someone holds or waits for it.
type keyLocks struct {
	mu sync.Mutex
	m  map[updateLockKey]*keyLock
}

type updateLockKey struct {
	owner any // the *Cache
	key   string
}

type keyLock struct {
	ch   chan struct{} // holds a token while the lock is held
	refs int           // holders and waiters
}

// lock takes the lock of (owner, key), or returns ctx's error when ctx
// ends first. unlock releases it.
func (l *keyLocks) lock(ctx context.Context, owner any, key string) (unlock func(), err error) {
	k := updateLockKey{owner, key}
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[updateLockKey]*keyLock)
	}
	e := l.m[k]
	if e == nil {
		e = &keyLock{ch: make(chan struct{}, 1)}
		l.m[k] = e
	}
	e.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(l.m, k)
		}
		l.mu.Unlock()
	}
	select {
	case e.ch <- struct{}{}:
		return func() { <-e.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// pause waits a random time before attempt+1 of Update, or until ctx
// ends.
func pause(ctx context.Context, attempt int) error {
	limit := UpdateMaxBackoff
	if attempt < 16 {
		limit = min(UpdateBackoff<<(attempt-1), UpdateMaxBackoff)
	}
	t := time.NewTimer(time.Duration(rand.Int64N(int64(limit)) + 1))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// IncrementFloat atomically adds delta to the number at k and returns its
// new value; a missing key starts at 0 and an existing one keeps its ttl.
// Numbers are kept by the store as decimal text, outside the codec, in
// exactly the form Redis's INCRBYFLOAT writes, on every store ("10.5",
// "3", "0.3" after 0.1 and 0.2, never an exponent): see
// store.FloatIncrementer. A value that is not a number gives ErrNotNumber
// (an integer counter of Increment is a number); a NaN or infinite delta
// gives ErrInvalidValue, an infinite sum ErrOverflow. Over a store that
// does not implement store.FloatIncrementer it returns ErrNotSupported.
//
// IncrementFloat is not idempotent, and no store sends it twice: after a
// timeout its outcome is unknown, and the error says so.
func (c *Cache[K, V]) IncrementFloat(ctx context.Context, k K, delta float64) (float64, error) {
	key, err := c.keys.build("increment_float", k)
	if err != nil {
		return 0, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	f, err := store.IncrementFloat(ctx, c.s, key, delta)
	return f, store.Errorf("increment_float", key, err)
}
