package cachet

import (
	"context"

	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/flight"
	"github.com/cachet-go/cachet/store"
)

// MemoizeMany returns a function with fn's signature that reads a batch
// of keys through the cache c (aiocache's multi_cached): one GetMany for
// all keys, then fn is called only with the keys that missed
// (deduplicated; they are read once more first, in case a concurrent call
// has just stored them), and its results are cached with one SetMany. The
// result holds the keys found, cached or computed. An empty batch calls
// neither the store nor fn.
//
// Keys being computed for an overlapping concurrent batch are not passed
// to fn again: the call waits for them (per-key singleflight). fn runs
// detached from the callers' cancellation, bounded by the call timeout,
// and each caller stops waiting when its own context ends. A panic in fn
// reaches every waiting caller as a *PanicError. An error of fn is
// returned as is (with a nil map) and nothing is cached; store failures
// never fail the call, as for NewMemoizer.
//
// Options: WithTTL, WithPrefix, WithKey, WithSkip, WithNotFound (keys that
// fn's map lacks are cached as not found and left out of later results),
// WithZeroNotFound and WithCallTimeout. The other options, and invalid
// ones, make MemoizeMany panic (a programming error). It also panics if c
// or fn is nil.
//
// The returned function is safe for concurrent use.
func MemoizeMany[K comparable, V any](c *Cache[K, V], fn func(ctx context.Context, keys []K) (map[K]V, error), opts ...MemoizeOption) func(ctx context.Context, keys []K) (map[K]V, error) {
	if c == nil || fn == nil {
		panic("cachet: MemoizeMany called with a nil cache or function")
	}
	mm := &manyMemoizer[K, V]{fn: fn}
	mm.m.c = c
	if err := mm.m.configure(opts, true); err != nil {
		panic(err)
	}
	return mm.call
}

type manyMemoizer[K comparable, V any] struct {
	m     Memoizer[K, V] // configuration and helpers; its fn and group are unused
	fn    func(ctx context.Context, keys []K) (map[K]V, error)
	batch flight.Batch[V]
}

func (mm *manyMemoizer[K, V]) call(ctx context.Context, ks []K) (map[K]V, error) {
	if len(ks) == 0 {
		return map[K]V{}, nil
	}
	m := &mm.m
	keys := make([]string, 0, len(ks))
	byKey := make(map[string]K, len(ks))
	for _, k := range ks {
		key, err := m.key("memoize_many", k)
		if err != nil {
			return nil, err
		}
		if _, dup := byKey[key]; !dup {
			byKey[key] = k
			keys = append(keys, key)
		}
	}
	out := make(map[K]V, len(keys))
	vals, at, err := m.c.readRawMany(ctx, keys, m.hitClock)
	now := m.unixNano(at)
	missed := keys
	if err == nil && len(vals) == len(keys) {
		missed = nil
		for i, b := range vals {
			if b == nil {
				missed = append(missed, keys[i])
				continue
			}
			v, h, state := m.decode(b, now)
			switch {
			case state == entryMiss:
				missed = append(missed, keys[i])
			case h.Flags&entry.FlagNotFound == 0:
				out[byKey[keys[i]]] = v
			}
		}
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
func (mm *manyMemoizer[K, V]) compute(ctx context.Context, keys []string, byKey map[string]K) (map[string]V, error) {
	m := &mm.m
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
			v, h, state := m.decode(b, readAt)
			switch {
			case b == nil || state == entryMiss:
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
	start := m.cfg.now()
	got, err := mm.fn(ctx, ks)
	if err != nil {
		return nil, err
	}
	now := m.cfg.now()
	delta := int64(now.Sub(start))
	var values, notFound, zeros []store.Entry
	for i, key := range keys {
		v, ok := got[ks[i]]
		switch {
		case !ok:
			if m.cfg.notFoundSet {
				b, _ := m.entry(now, entry.Header{Flags: entry.FlagNotFound}, nil, m.cfg.notFoundTTL)
				notFound = append(notFound, store.Entry{Key: key, Value: b})
			}
			continue
		case m.cfg.zeroSet && isZero(v):
			b, _ := m.entry(now, entry.Header{Flags: entry.FlagZero}, nil, m.cfg.zeroTTL)
			zeros = append(zeros, store.Entry{Key: key, Value: b})
		case m.skip != nil && m.skip(v):
		default:
			if payload, err := m.c.encode(v); err == nil {
				b, _ := m.entry(now, entry.Header{Delta: delta}, payload, m.ttl)
				values = append(values, store.Entry{Key: key, Value: b})
			}
		}
		res[key] = v
	}
	m.writeMany(ctx, values, m.ttl)
	m.writeMany(ctx, notFound, m.cfg.notFoundTTL)
	m.writeMany(ctx, zeros, m.cfg.zeroTTL)
	return res, nil
}
