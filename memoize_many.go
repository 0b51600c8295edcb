package cachet

import (
	"context"
	"errors"
	"time"

	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/flight"
	"github.com/cachet-go/cachet/store"
)

// MemoizeMany returns a function with fn's signature that reads a batch
// of keys through the cache c (aiocache's multi_cached); it is
// NewManyMemoizer(c, fn, o).Call. It panics if o is invalid (a programming
// error, which NewManyMemoizer reports as an error wrapping
// ErrInvalidOption), or if c or fn is nil.
func MemoizeMany[K comparable, V any](c *Cache[K, V], fn func(ctx context.Context, keys []K) (map[K]V, error), o *MemoizeOptions[K, V]) func(ctx context.Context, keys []K) (map[K]V, error) {
	mm, err := NewManyMemoizer(c, fn, o)
	if err != nil {
		panic(err)
	}
	return mm.Call
}

// ManyMemoizer is a memoized batch function: Call reads a batch of keys
// through the cache, Invalidate forgets keys. Create one with
// NewManyMemoizer; MemoizeMany returns its Call method.
//
// A ManyMemoizer is safe for concurrent use by multiple goroutines.
type ManyMemoizer[K comparable, V any] struct {
	m     *Memoizer[K, V] // configuration and helpers; its fn and group are unused
	fn    func(ctx context.Context, keys []K) (map[K]V, error)
	batch flight.Batch[V]
}

// NewManyMemoizer returns a ManyMemoizer of fn over the cache c,
// configured by o (nil for the defaults). Call makes one GetMany for all
// keys, then calls fn only with the keys that missed (deduplicated; they
// are read once more first, in case a concurrent call has just stored
// them), and caches its results with one SetMany. The result holds the
// keys found, cached or computed. An empty batch calls neither the store
// nor fn.
//
// Keys being computed for an overlapping concurrent batch are not passed
// to fn again: the call waits for them (per-key singleflight). fn runs
// detached from the callers' cancellation, bounded by the call timeout,
// and each caller stops waiting when its own context ends. A panic in fn
// reaches every waiting caller as a *PanicError. An error of fn is
// returned as is (with a nil map) and nothing is cached; store failures
// never fail the call, as for NewMemoizer. fn may set the ttl of the
// batch's values with SetTTL.
//
// Options: TTL, Prefix, Key, Skip, NotFoundTTL (keys that fn's map lacks
// are cached as not found and left out of later results),
// ZeroNotFoundTTL and CallTimeout. The others, and invalid values, give
// an error wrapping ErrInvalidOption. It panics if c or fn is nil.
func NewManyMemoizer[K comparable, V any](c *Cache[K, V], fn func(ctx context.Context, keys []K) (map[K]V, error), o *MemoizeOptions[K, V]) (*ManyMemoizer[K, V], error) {
	if c == nil || fn == nil {
		panic("cachet: NewManyMemoizer called with a nil cache or function")
	}
	cfg, err := memoConfigOf(c, o, true)
	if err != nil {
		return nil, err
	}
	mm := &ManyMemoizer[K, V]{m: newMemoizer(c, nil, cfg), fn: fn}
	if c.obs != nil {
		mm.fn = mm.observedFn(fn) // observe_call.go
	}
	return mm, nil
}

// Key returns the store key of k's memoized entry.
func (mm *ManyMemoizer[K, V]) Key(k K) (string, error) { return mm.m.Key(k) }

// Call returns the values of keys, cached or computed by fn for the keys
// that missed; see NewManyMemoizer.
func (mm *ManyMemoizer[K, V]) Call(ctx context.Context, keys []K) (map[K]V, error) {
	return mm.call(ctx, keys)
}

// Invalidate removes the memoized entries of keys, so that the next Call
// computes them again, in one store call. It returns the store's error.
func (mm *ManyMemoizer[K, V]) Invalidate(ctx context.Context, keys ...K) error {
	if len(keys) == 0 {
		return nil
	}
	skeys := make([]string, len(keys))
	for i, k := range keys {
		key, err := mm.m.key("delete", k)
		if err != nil {
			return err
		}
		skeys[i] = key
	}
	return store.Errorf("delete", skeys[0], mm.m.c.runOp(ctx, func(ctx context.Context, s store.Store) error {
		_, err := s.Delete(ctx, skeys...)
		return err
	}))
}

func (mm *ManyMemoizer[K, V]) call(ctx context.Context, ks []K) (map[K]V, error) {
	if len(ks) == 0 {
		return map[K]V{}, nil
	}
	keys, byKey, err := mm.keys(ks)
	if err != nil {
		return nil, err
	}
	if mm.m.c.life.isClosed() {
		return nil, closedErr("memoize_many", keys[0])
	}
	if mm.m.c.obs == nil {
		return mm.read(ctx, keys, byKey, nil)
	}
	var out map[K]V
	call := Call{Op: OpMemoizeMany, Keys: keys}
	err = mm.m.c.obs.observeCall(ctx, &call, func(ctx context.Context, _ *callState) error {
		var err error
		out, err = mm.read(ctx, keys, byKey, &call)
		return err
	})
	return out, err
}

// keys returns the store keys of ks, deduplicated, in order, and the K of
// each.
func (mm *ManyMemoizer[K, V]) keys(ks []K) ([]string, map[string]K, error) {
	m := mm.m
	keys := make([]string, 0, len(ks))
	byKey := make(map[string]K, len(ks))
	for _, k := range ks {
		key, err := m.key("memoize_many", k)
		if err != nil {
			return nil, nil, err
		}
		if _, dup := byKey[key]; !dup {
			byKey[key] = k
			keys = append(keys, key)
		}
	}
	return keys, byKey, nil
}

// read reads keys through the cache; with an observed call c, it counts
// the keys its first read found in c.Hits and the others in c.Misses.
func (mm *ManyMemoizer[K, V]) read(ctx context.Context, keys []string, byKey map[string]K, c *Call) (map[K]V, error) {
	m := mm.m
	if m.c.only != nil {
		return mm.readOnly(ctx, keys, byKey, c) // localonly.go
	}
	out := make(map[K]V, len(keys))
	vals, at, err := m.c.readRawMany(ctx, keys, m.hitClock)
	if errors.Is(err, ErrClosed) {
		return nil, store.Errorf("memoize_many", keys[0], err)
	}
	now := m.unixNano(at)
	missed := keys
	if err == nil && len(vals) == len(keys) {
		missed = nil
		for i, b := range vals {
			if b == nil {
				missed = append(missed, keys[i])
				continue
			}
			v, h, state := m.decode(keys[i], b, now)
			switch {
			case state == entryMiss:
				missed = append(missed, keys[i])
			case h.Flags&entry.FlagNotFound == 0:
				out[byKey[keys[i]]] = v
			}
		}
	}
	if c != nil {
		c.Hits, c.Misses = len(keys)-len(missed), len(missed)
	}
	if len(missed) == 0 {
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: "memoize_many", Key: missed[0], Err: err}
	}
	res, err := mm.batch.Do(ctx, missed, func(ctx context.Context, keys []string) (map[string]V, error) {
		return mm.compute(ctx, keys, byKey)
	})
	if err != nil {
		return nil, err
	}
	for key, v := range res {
		out[byKey[key]] = v
	}
	return out, nil
}

// compute calls fn for keys (a subset of byKey's) and caches the results.
func (mm *ManyMemoizer[K, V]) compute(ctx context.Context, keys []string, byKey map[string]K) (map[string]V, error) {
	m := mm.m
	ctx, cancel := m.callCtx(ctx)
	defer cancel()
	res := make(map[string]V, len(keys))
	// Read the keys once more: a batch that missed just before another
	// stored them, and reached the flight just after it ended, finds
	// them here instead of computing them again.
	vals, at, err := m.c.readRawMany(ctx, keys, m.hitClock)
	readAt := m.unixNano(at)
	if err == nil && len(vals) == len(keys) {
		missed := keys[:0:0]
		for i, b := range vals {
			if b == nil {
				missed = append(missed, keys[i])
				continue
			}
			v, h, state := m.decode(keys[i], b, readAt)
			switch {
			case state == entryMiss:
				missed = append(missed, keys[i])
			case h.Flags&entry.FlagNotFound == 0:
				res[keys[i]] = v
			}
		}
		keys = missed
		if len(keys) == 0 {
			return res, nil
		}
	}
	ks := make([]K, len(keys))
	for i, key := range keys {
		ks[i] = byKey[key]
	}
	ctx, lt := withLoadTTL(ctx)
	start := m.cfg.now()
	got, err := mm.fn(ctx, ks)
	if err != nil {
		return nil, err
	}
	now := m.cfg.now()
	ttl := m.cfg.ttl
	if d, ok := lt.get(); ok {
		ttl = d
	}
	delta := m.delta(now.Sub(start))
	var values, notFound, zeros []store.Entry
	add := func(list *[]store.Entry, key string, h entry.Header, v V, ttl time.Duration) {
		if b, _, err := m.entry(key, now, h, v, ttl); err == nil {
			*list = append(*list, store.Entry{Key: key, Value: b})
		}
	}
	for i, key := range keys {
		v, ok := got[ks[i]]
		switch {
		case !ok:
			if m.cfg.notFoundTTL != 0 {
				add(&notFound, key, entry.Header{Flags: entry.FlagNotFound}, v, m.cfg.notFoundTTL)
			}
			continue
		case m.cfg.zeroTTL != 0 && isZero(v):
			add(&zeros, key, entry.Header{Flags: entry.FlagZero}, v, m.cfg.zeroTTL)
		case m.cfg.skip != nil && m.cfg.skip(v):
		default:
			add(&values, key, entry.Header{Delta: delta}, v, ttl)
		}
		res[key] = v
	}
	m.writeMany(ctx, values, ttl)
	m.writeMany(ctx, notFound, m.cfg.notFoundTTL)
	m.writeMany(ctx, zeros, m.cfg.zeroTTL)
	return res, nil
}
