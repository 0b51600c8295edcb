package cachet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/deadline"
	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/flight"
	"github.com/cachet-go/cachet/store"
)

// This file is the seam between a Cache and the memoizers built on it:
// memoize*.go use a Cache through these methods only, and the read-through
// that GetOrLoad and the Memoizer share.

// readThrough is the one read-through path, shared by GetOrLoad, the
// Memoizer and (for its keys) MemoizeMany's callers: lookup reads key and
// reports a hit; load runs on a miss, within key's shared call in g.
//
// With joinFirst (a networked store, where a read is a round trip) a
// caller joins the shared call at once and the call reads the store once
// before loading: a cold burst of callers costs one read and one write.
// The call's read runs on the goroutine of the caller that starts it, under
// its context (flight.DoThen), so a hit costs no goroutine hand-off; the
// load runs on a goroutine of its own, detached from that caller's
// cancellation, so that each caller can still leave when its own context
// ends.
// Otherwise (an in-process store) a caller reads first, so that a hit
// costs no shared call, and the shared call reads once more before
// loading, so that a caller that missed just as an earlier shared call
// stored the value, and reached the group just after that call ended,
// finds the value there instead of loading it again.
//
// shared reports whether the caller joined a call another caller started
// (or its result was given to several callers). A caller whose ctx has
// ended gets ctx's error, as an error of op.
func readThrough[V any](ctx context.Context, g *flight.Group[V], op, key string, joinFirst bool, lookup func(ctx context.Context) (v V, hit bool, err error), load func(ctx context.Context) (V, error)) (v V, shared bool, err error) {
	if !joinFirst {
		if v, hit, err := lookup(ctx); hit || err != nil {
			return v, false, err
		}
	}
	if err := ctx.Err(); err != nil {
		var zero V
		return zero, false, store.Errorf(op, key, err)
	}
	noteReached(ctx) // observe_call.go
	if lookup == nil {
		return g.Do(ctx, key, func(ctx context.Context) (V, error) {
			noteLed(ctx)
			return load(ctx)
		})
	}
	// The shared call's read runs on the goroutine of the caller that
	// starts it (a hit costs no goroutine hand-off); only a load moves to a
	// goroutine of its own, detached from that caller's cancellation.
	return g.DoThen(ctx, key, func(ctx context.Context) (V, bool, error) {
		noteLed(ctx)
		v, hit, err := lookup(ctx)
		return v, hit || err != nil, err
	}, load)
}

// decodeEntry decodes the bytes b stored at key into *v and returns their
// entry header (the zero Header for a raw cache). A value in the other
// stored format, a corrupt header or a codec failure gives an error of op
// wrapping ErrDecode that says what was found.
func (c *Cache[K, V]) decodeEntry(op, key string, b []byte, v *V) (entry.Header, error) {
	h, payload, err := c.entryPayload(op, key, b)
	if err != nil || h.Negative() {
		return h, err
	}
	x, err := codec.Decode(c.codec, payload)
	if err != nil {
		var zero V
		*v = zero
		return h, store.Errorf(op, key, err)
	}
	*v = x
	return h, nil
}

// entryPayload splits the stored bytes b into the entry's header and the
// codec's output, by the cache's format (Options.Raw). A value in the other
// format, or a damaged header, is an error wrapping ErrDecode that names
// the cause.
func (c *Cache[K, V]) entryPayload(op, key string, b []byte) (entry.Header, []byte, error) {
	if c.raw {
		if _, _, err := entry.Decode(b); err == nil {
			return entry.Header{}, nil, &Error{Op: op, Key: key, Err: fmt.Errorf("%w: value is in cachet's entry format; read it with a cache without Options.Raw", ErrDecode)}
		}
		return entry.Header{}, b, nil
	}
	if len(b) >= entry.MinLen && b[0] == entry.Magic && b[1] == entry.Version && b[2] == 0 {
		// The common header (no flags, no fields), without the call.
		return entry.Header{}, b[entry.MinLen:], nil
	}
	h, payload, err := entry.Decode(b)
	switch {
	case errors.Is(err, entry.ErrNotEntry):
		return h, nil, &Error{Op: op, Key: key, Err: fmt.Errorf("%w: value is %s: written by another client, a raw cache (Options.Raw) or Increment", ErrDecode, entry.ErrNotEntry)}
	case err != nil:
		return h, nil, &Error{Op: op, Key: key, Err: fmt.Errorf("%w: %w", ErrDecode, err)}
	}
	return h, payload, nil
}

// encodeEntry returns the bytes to store for v: the codec's output, behind
// the header h unless the cache is raw.
func (c *Cache[K, V]) encodeEntry(op, key string, v V, h entry.Header) ([]byte, error) {
	payload, err := c.codec.Marshal(v)
	if err != nil {
		return nil, store.Errorf(op, key, err)
	}
	if c.raw {
		return payload, nil
	}
	return entry.Encode(h, payload), nil
}

// expired reports whether the entry h is past its logical expiry. An
// in-process store hides entries at their ttl itself, so the clock is read
// only for entries kept past it (stale-while-revalidate) or over a
// networked store (memcached keeps ttls in whole seconds).
func (c *Cache[K, V]) expired(h entry.Header) bool {
	var now int64
	return c.expiredAt(h, &now)
}

// expiredAt is expired for one of many entries read together: it reads
// the clock only for the first entry that needs it, into *now (0: not
// read yet), so that a GetMany of n keys reads it once, not n times.
func (c *Cache[K, V]) expiredAt(h entry.Header, now *int64) bool {
	if h.Expiry == 0 || (c.inProc && h.Flags&entry.FlagStale == 0) {
		return false
	}
	if *now == 0 {
		*now = time.Now().UnixNano()
	}
	return h.Expired(*now)
}

// expiryAt returns the logical expiry, in Unix nanoseconds, of an entry
// written at now (the zero time: read the clock) with the store ttl ttl;
// 0 for none.
func expiryAt(now time.Time, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	if now.IsZero() {
		now = time.Now()
	}
	return now.Add(ttl).UnixNano()
}

// lifecycle is what Close ends: the background work (refreshes) started
// for a cache, which Close cancels and waits for.
type lifecycle struct {
	mu     sync.Mutex
	closed atomic.Bool
	ctx    context.Context // cancelled by close; nil until first used
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// isClosed reports whether Close has been called.
func (l *lifecycle) isClosed() bool { return l.closed.Load() }

// goBackground runs f in a new goroutine with a context that carries ctx's
// values and is cancelled by Close, unless Close has been called, and
// reports whether it did. Close waits for f to return.
func (l *lifecycle) goBackground(ctx context.Context, f func(ctx context.Context)) bool {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return false
	}
	if l.ctx == nil {
		l.ctx, l.cancel = context.WithCancel(context.Background())
	}
	life := l.ctx
	l.wg.Add(1)
	l.mu.Unlock()
	ctx = noteBackground(ctx) // observe_call.go: a refresh the call started
	go func() {
		defer l.wg.Done()
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stop := context.AfterFunc(life, cancel)
		defer func() {
			stop()
			cancel()
		}()
		f(ctx)
	}()
	return true
}

// close marks the cache closed, cancels the background work and waits for
// it.
func (l *lifecycle) close() {
	l.mu.Lock()
	l.closed.Store(true)
	if l.cancel != nil {
		l.cancel()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// loadTTLKey is the context key of a load's *loadTTL (see SetTTL).
type loadTTLKey struct{}

// loadTTL is the ttl a load asked for with SetTTL.
type loadTTL struct {
	mu  sync.Mutex
	ttl time.Duration
	set bool
}

// withLoadTTL returns ctx carrying a new *loadTTL for the load it is given
// to.
func withLoadTTL(ctx context.Context) (context.Context, *loadTTL) {
	t := &loadTTL{}
	return context.WithValue(ctx, loadTTLKey{}, t), t
}

// get returns the store ttl the load set (0: none), if it set one.
func (t *loadTTL) get() (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ttl, t.set
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
func (c *Cache[K, V]) inProcess() bool { return c.inProc }

// readRaw reads the bytes stored at key through the middleware, under the
// per-operation timeout. It also returns the time it read for the timeout,
// or, when clock is set, in any case; otherwise the zero time. One clock
// read so serves both, which matters where reading it is slow (some
// virtual machines).
func (c *Cache[K, V]) readRaw(ctx context.Context, key string, clock bool) ([]byte, time.Time, error) {
	bound := c.bounds(ctx)
	if !clock && !bound {
		b, err := c.s.Get(ctx, key)
		return b, time.Time{}, err
	}
	now := time.Now()
	if !bound {
		b, err := c.s.Get(ctx, key)
		return b, now, err
	}
	ctx, cancel := deadline.BoundFrom(ctx, now, c.timeout)
	b, err := c.s.Get(ctx, key)
	cancel()
	return b, now, err
}

// readRawMany is readRaw for many keys, in one GetMany.
func (c *Cache[K, V]) readRawMany(ctx context.Context, keys []string, clock bool) ([][]byte, time.Time, error) {
	bound := c.bounds(ctx)
	if !clock && !bound {
		vals, err := c.s.GetMany(ctx, keys)
		return vals, time.Time{}, err
	}
	now := time.Now()
	if !bound {
		vals, err := c.s.GetMany(ctx, keys)
		return vals, now, err
	}
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
