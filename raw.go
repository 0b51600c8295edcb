package cachet

import (
	"context"
	"time"

	"github.com/cachet-go/cachet/internal/deadline"
	"github.com/cachet-go/cachet/internal/flight"
	"github.com/cachet-go/cachet/store"
)

// This file is the seam between a Cache and the memoizers built on it:
// memoize*.go use a Cache through these methods only, and the read-through
// that GetOrLoad and the Memoizer share.

// loadShared is the read-through step that GetOrLoad and the Memoizer
// share, for a caller that has missed key: it returns ctx's error (as an
// error of op) when ctx has ended, else it joins key's shared call of
// fill in g, which should be recheckThenLoad.
func loadShared[V any](ctx context.Context, g *flight.Group[V], op, key string, fill func(ctx context.Context) (V, error)) (V, error) {
	if err := ctx.Err(); err != nil {
		var zero V
		return zero, store.Errorf(op, key, err)
	}
	v, _, err := g.Do(ctx, key, fill)
	return v, err
}

// recheckThenLoad is the body of a shared call (see loadShared): recheck,
// if not nil, reads the key once more, so that a caller that missed just
// as an earlier shared call stored the value, and reached the group just
// after that call ended, finds the value there (hit) instead of loading it
// again; load runs on a miss.
func recheckThenLoad[V any](ctx context.Context, recheck func(ctx context.Context) (v V, hit bool, err error), load func(ctx context.Context) (V, error)) (V, error) {
	if recheck != nil {
		if v, hit, err := recheck(ctx); hit {
			return v, err
		}
	}
	return load(ctx)
}

// subKeys returns the cache's key rule with segment (if not "") between
// the namespace and version and the key, and fn (if not nil) as the key
// function.
func (c *Cache[K, V]) subKeys(segment string, fn func(K) (string, error)) keyBuilder[K] {
	return c.keys.with(segment, fn)
}

// defaultTTL returns the cache's default ttl as given to the store (0:
// none).
func (c *Cache[K, V]) defaultTTL() time.Duration { return c.ttl }

// inProcess reports whether the cache's store is in-process
// (store.InProcess): it never waits, and hides an entry at its ttl to the
// millisecond.
func (c *Cache[K, V]) inProcess() bool { return store.IsInProcess(c.s) }

// encode and decode run the cache's codec.
func (c *Cache[K, V]) encode(v V) ([]byte, error)  { return c.codec.Marshal(v) }
func (c *Cache[K, V]) decode(b []byte, v *V) error { return c.codec.Unmarshal(b, v) }

// readRaw reads the bytes stored at key through the middleware, under the
// per-operation timeout. It also returns the time it read for the timeout,
// or, when clock is set, in any case; otherwise the zero time. One clock
// read so serves both, which matters where reading it is slow (some
// virtual machines).
func (c *Cache[K, V]) readRaw(ctx context.Context, key string, clock bool) ([]byte, time.Time, error) {
	if !clock && c.timeout <= 0 {
		b, err := c.s.Get(ctx, key)
		return b, time.Time{}, err
	}
	now := time.Now()
	ctx, cancel := deadline.BoundFrom(ctx, now, c.timeout)
	b, err := c.s.Get(ctx, key)
	cancel()
	return b, now, err
}

// readRawMany is readRaw for many keys, in one GetMany.
func (c *Cache[K, V]) readRawMany(ctx context.Context, keys []string, clock bool) ([][]byte, time.Time, error) {
	if !clock && c.timeout <= 0 {
		vals, err := c.s.GetMany(ctx, keys)
		return vals, time.Time{}, err
	}
	now := time.Now()
	ctx, cancel := deadline.BoundFrom(ctx, now, c.timeout)
	vals, err := c.s.GetMany(ctx, keys)
	cancel()
	return vals, now, err
}

// writeRaw stores b at key with the store ttl ttl (0: none).
func (c *Cache[K, V]) writeRaw(ctx context.Context, key string, b []byte, ttl time.Duration) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return c.s.Set(ctx, key, b, ttl)
}

// writeRawMany stores entries with the store ttl ttl (0: none), in one
// SetMany.
func (c *Cache[K, V]) writeRawMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return c.s.SetMany(ctx, entries, ttl)
}

// runOp runs f with the cache's store (through its middleware) and ctx
// bounded by the per-operation timeout.
func (c *Cache[K, V]) runOp(ctx context.Context, f func(ctx context.Context, s store.Store) error) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return f(ctx, c.s)
}
