package cachet

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet/store"
	"github.com/maypok86/otter/v2"
)

// A memory-only cache (NewLocal) is a Cache whose local tier is the whole
// cache: the tier's values are authoritative, and beneath the tier there is
// an onlyStore instead of a byte store. The tier's read paths (local.go)
// serve it unchanged: a hit is a tier hit, and a miss reads the onlyStore,
// which holds no bytes and answers every read with a miss. Writes of
// values reach the tier directly (onlySet, onlySetMany); the operations
// that carry no value (Delete, Exists, Expire, TTL, Increment, Clear) go
// through the cache's switch and plugins to the onlyStore, which applies
// them to the tier's values.

// NewLocal returns a memory-only Cache of V values keyed by K: a cache of
// decoded values in this process, with no store and no codec beneath it.
// A read hands out the value a write put in, without any encoding or
// copy, so V may be any type, even one no codec can encode (a struct with
// a func or a channel). V is inferred from lo, so a call reads
//
//	users, err := cachet.NewLocal[string](&cachet.LocalOptions[User]{MaxEntries: 10_000}, nil)
//
// lo bounds the cache (nil: DefaultLocalEntries entries): MaxEntries, or
// Weigher with MaxWeight; beyond the bound, values are evicted (the least
// likely to be used again first), as from any cache. A value the Weigher
// weighs 0 counts as 1, so that the bound holds. A Weigher or Clone that
// panics panics in the caller's operation (the write, or the read), and
// leaves the cache usable. lo.Clone, if set,
// gives every read its own copy; without it every reader gets the value
// the cache holds, which it must not modify. lo.TTL must be 0: the ttl of
// values is Options.TTL and the ttl arguments, as for New.
//
// The result is a *Cache like New's, with the same semantics of every
// operation and of ttls over an in-process store, namespaces and versions
// (Clear removes the cache's namespace), views (WithNamespace,
// WithVersion), Disable and Enable, Close, GetOrLoad and memoized
// functions (Memoize, NewMemoizer, MemoizeMany) with their singleflight,
// plugins and LocalStats, with these differences:
//
//   - Increment works on the values themselves, when V is an integer type
//     (any type whose underlying type is one): it adds to the value that
//     Set wrote, and Get reads the counter. For another V it returns an
//     error wrapping ErrNotSupported. A sum outside V's range gives
//     ErrOverflow.
//   - Options.Middleware may hold only plugins (WithPlugins, Logging,
//     Metrics): other middleware works on stored bytes, which a memory-only
//     cache has none of. Plugins see every operation, with nil values in
//     Call.Entries; a hit of Get is reported with Call.Local set.
//   - Operations on encoded bytes return an error wrapping ErrNotSupported:
//     CodecView, Update, IncrementFloat, Lock and TryLock; so do memoize
//     options that need stored entry headers or a store lock (NotFoundTTL,
//     ZeroNotFoundTTL, StampedeLease, EarlyRefresh, StaleWhileRevalidate),
//     when the memoized function is made. Options.Raw and Options.Local are
//     refused as invalid; Timeout and Breaker do not apply (nothing waits).
//   - Store returns the store beneath the tier, which holds no bytes: its
//     reads miss, and its Set, SetMany and Add return ErrNotSupported.
//   - LocalStats counts the cache's reads: Hits and Misses (each miss is
//     also counted in StoreReads, a read of the empty store beneath, which
//     never hits), and the values written in Fills.
//
// NewLocal returns an error wrapping ErrInvalidOption for unusable
// options.
func NewLocal[K comparable, V any](lo *LocalOptions[V], o *Options[K]) (*Cache[K, V], error) {
	if o == nil {
		o = &Options[K]{}
	}
	if lo == nil {
		lo = &LocalOptions[V]{}
	}
	switch {
	case o.Local != nil:
		return nil, fmt.Errorf("%w: Options.Local: NewLocal takes its LocalOptions as an argument", ErrInvalidOption)
	case o.Raw:
		return nil, fmt.Errorf("%w: Options.Raw: a memory-only cache (NewLocal) stores no encoding", ErrInvalidOption)
	case lo.TTL != 0:
		return nil, fmt.Errorf("%w: LocalOptions.TTL %v: the ttl of a memory-only cache (NewLocal) is Options.TTL", ErrInvalidOption, lo.TTL)
	}
	keys, err := newKeyBuilder(o.Namespace, o.Version, o.Key)
	if err != nil {
		return nil, err
	}
	ttl, err := optionsTTL(o.TTL)
	if err != nil {
		return nil, err
	}
	s := &onlyStore[V]{incr: counterOf[V]()}
	wrapped := store.Store(s)
	if len(o.Middleware) > 0 {
		wrapped = store.Chain(o.Middleware...)(wrapped)
		if err := onlyPlugins(wrapped, s); err != nil {
			return nil, err
		}
	}
	// (A Weigher's 0 counts as 1: newLocal, local.go.)
	local, err := newLocal[V](lo, s, keys.clearPrefix())
	if err != nil {
		return nil, err
	}
	s.values = local.values
	s.write = local.write
	s.fills = &local.fills
	return &Cache[K, V]{
		s:       newSwitch(wrapped, o.Disabled, false), // switch.go
		backend: s,
		codec:   onlyCodec[V]{},
		keys:    keys,
		ttl:     ttl,
		inProc:  true,
		obs:     observersOf(wrapped),
		local:   local,
		only:    s,
	}, nil
}

// onlyPlugins returns an error unless every layer of the chain from s in
// to inner is a plugin middleware.
func onlyPlugins(s, inner store.Store) error {
	for s != inner {
		if _, ok := s.(callObserver); ok {
			if u, ok := s.(store.Unwrapper); ok {
				s = u.Unwrap()
				continue
			}
		}
		return fmt.Errorf("%w: Options.Middleware: a %T: %w: a memory-only cache (NewLocal) takes only plugins (WithPlugins, Logging, Metrics), not middleware over stored bytes", ErrInvalidOption, s, ErrNotSupported)
	}
	return nil
}

// errOnlyBytes is the error of an operation on encoded bytes in a
// memory-only cache.
var errOnlyBytes = fmt.Errorf("%w: a memory-only cache (NewLocal) keeps decoded values, not bytes", ErrNotSupported)

// onlyCodec is the codec of a memory-only cache: nothing should reach it
// (an operation on bytes is refused before), and if anything does, it
// gets an error, never a panic.
type onlyCodec[V any] struct{}

func (onlyCodec[V]) Marshal(V) ([]byte, error)  { return nil, errOnlyBytes }
func (onlyCodec[V]) Unmarshal([]byte, *V) error { return errOnlyBytes }

// onlyStore is the store beneath the tier of a memory-only cache: it
// holds no bytes (a read misses, a write of bytes is refused) and applies
// the operations that carry no value to the tier's values.
type onlyStore[V any] struct {
	values *otter.Cache[string, *localEntry[V]]   // the tier's; an entry is never changed once written
	write  func(func())                           // the tier's write: otter's upkeep on the writer
	fills  *atomic.Uint64                         // the tier's Fills: values written
	incr   func(v *V, delta int64) (int64, error) // nil: V is not an integer
}

var (
	_ store.Store     = (*onlyStore[int])(nil)
	_ store.InProcess = (*onlyStore[int])(nil)
)

// InProcess marks the store as in-process: nothing waits.
func (*onlyStore[V]) InProcess() {}

func onlyCheck(ctx context.Context, op store.Op, key string) error {
	if err := ctx.Err(); err != nil {
		return &store.Error{Op: op.String(), Key: key, Err: err}
	}
	return store.CheckKey(op.String(), key)
}

// nowNano is the time the values' expiries are compared with.
func onlyNow() int64 { return time.Now().UnixNano() }

// expiryOf returns the expiry of a value written now with the store ttl
// ttl (0: none).
func onlyExpiry(ttl time.Duration) int64 {
	if ttl <= 0 {
		return math.MaxInt64
	}
	exp := onlyNow() + int64(ttl)
	if exp < 0 { // overflow
		return math.MaxInt64
	}
	return exp
}

// live reports whether e is a value not yet expired.
func (e *localEntry[V]) live(now int64) bool { return e.exp > now }

func (s *onlyStore[V]) Get(ctx context.Context, key string) ([]byte, error) {
	if err := onlyCheck(ctx, store.OpGet, key); err != nil {
		return nil, err
	}
	return nil, &store.Error{Op: store.OpGet.String(), Key: key, Err: store.ErrNotFound}
}

func (s *onlyStore[V]) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, &store.Error{Op: store.OpGetMany.String(), Key: firstKey(keys), Err: err}
	}
	return make([][]byte, len(keys)), nil
}

func (s *onlyStore[V]) Set(_ context.Context, key string, _ []byte, _ time.Duration) error {
	return &store.Error{Op: store.OpSet.String(), Key: key, Err: errOnlyBytes}
}

func (s *onlyStore[V]) SetMany(_ context.Context, entries []store.Entry, _ time.Duration) error {
	key := ""
	if len(entries) > 0 {
		key = entries[0].Key
	}
	return &store.Error{Op: store.OpSetMany.String(), Key: key, Err: errOnlyBytes}
}

func (s *onlyStore[V]) Add(_ context.Context, key string, _ []byte, _ time.Duration) error {
	return &store.Error{Op: store.OpAdd.String(), Key: key, Err: errOnlyBytes}
}

func (s *onlyStore[V]) Delete(ctx context.Context, keys ...string) (int, error) {
	for _, key := range keys {
		if err := onlyCheck(ctx, store.OpDelete, key); err != nil {
			return 0, err
		}
	}
	n := 0
	now := onlyNow()
	s.write(func() {
		for _, key := range keys {
			if e, ok := s.values.Invalidate(key); ok && e.live(now) {
				n++
			}
		}
	})
	return n, nil
}

func (s *onlyStore[V]) Exists(ctx context.Context, key string) (bool, error) {
	if err := onlyCheck(ctx, store.OpExists, key); err != nil {
		return false, err
	}
	e, ok := s.values.GetIfPresent(key)
	return ok && e.live(onlyNow()), nil
}

// Increment adds delta to an integer V, atomically; a missing key starts
// at 0 and gets no expiry, an existing one keeps its expiry.
func (s *onlyStore[V]) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	if err := onlyCheck(ctx, store.OpIncrement, key); err != nil {
		return 0, err
	}
	if s.incr == nil {
		var v V
		return 0, &store.Error{Op: store.OpIncrement.String(), Key: key, Err: fmt.Errorf("%w: Increment of a memory-only cache of %T values: the value type is not an integer", ErrNotSupported, v)}
	}
	var (
		n   int64
		err error
	)
	now := onlyNow()
	s.write(func() {
		s.values.Compute(key, func(old *localEntry[V], found bool) (*localEntry[V], otter.ComputeOp) {
			e := &localEntry[V]{exp: math.MaxInt64}
			if found && old.live(now) {
				*e = *old // a new entry: a reader may hold the old one
			}
			n, err = s.incr(&e.v, delta)
			if err != nil {
				return old, otter.CancelOp
			}
			return e, otter.WriteOp
		})
	})
	if err != nil {
		return 0, &store.Error{Op: store.OpIncrement.String(), Key: key, Err: err}
	}
	s.fills.Add(1)
	return n, nil
}

// Expire gives key's value a new expiry, atomically.
func (s *onlyStore[V]) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := onlyCheck(ctx, store.OpExpire, key); err != nil {
		return false, err
	}
	exp := onlyExpiry(ttl)
	now := onlyNow()
	var found bool
	s.write(func() {
		s.values.ComputeIfPresent(key, func(old *localEntry[V]) (*localEntry[V], otter.ComputeOp) {
			if !old.live(now) {
				return old, otter.CancelOp
			}
			found = true
			return &localEntry[V]{v: old.v, exp: exp}, otter.WriteOp
		})
	})
	return found, nil
}

func (s *onlyStore[V]) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := onlyCheck(ctx, store.OpTTL, key); err != nil {
		return 0, err
	}
	now := onlyNow()
	e, ok := s.values.GetIfPresent(key)
	switch {
	case !ok || !e.live(now):
		return 0, &store.Error{Op: store.OpTTL.String(), Key: key, Err: store.ErrNotFound}
	case e.exp == math.MaxInt64:
		return 0, nil
	}
	return time.Duration(e.exp - now), nil
}

// Clear removes the values whose keys start with prefix, every value for
// "".
func (s *onlyStore[V]) Clear(ctx context.Context, prefix string) error {
	if err := ctx.Err(); err != nil {
		return &store.Error{Op: store.OpClear.String(), Key: prefix, Err: err}
	}
	if prefix == "" {
		s.write(s.values.InvalidateAll)
		return nil
	}
	var keys []string
	for k := range s.values.Keys() {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	s.write(func() {
		for _, k := range keys {
			s.values.Invalidate(k)
		}
	})
	return nil
}

// Close does nothing: the tier is the cache's, which stops it.
func (s *onlyStore[V]) Close() error { return nil }

// put writes v under key with the store ttl ttl; with add, only if key
// holds no live value (otter drops an expired value before it answers).
func (s *onlyStore[V]) put(key string, v V, ttl time.Duration, add bool) error {
	e := &localEntry[V]{v: v, exp: onlyExpiry(ttl)}
	added := true
	s.write(func() {
		if add {
			_, added = s.values.SetIfAbsent(key, e)
		} else {
			s.values.Set(key, e)
		}
	})
	if !added {
		return &store.Error{Op: store.OpAdd.String(), Key: key, Err: store.ErrExists}
	}
	s.fills.Add(1)
	return nil
}

// onlyBegin returns whether a write of a memory-only cache goes ahead,
// and if not, its outcome: nothing while the cache is off (as over
// noopstore), ErrClosed once it is closed.
func (c *Cache[K, V]) onlyBegin(op store.Op, key string) (bool, error) {
	switch c.killSwitch().state.Load() {
	case switchOn:
		return true, nil
	case switchOff:
		return false, nil
	}
	return false, closedOp(op, key)
}

// onlySet is set (Set, Add, a load's write) for a memory-only cache.
func (c *Cache[K, V]) onlySet(ctx context.Context, op, key string, v V, ttl time.Duration) error {
	sop, add := store.OpSet, op == "add"
	if add {
		sop = store.OpAdd
	}
	if ok, err := c.onlyBegin(sop, key); !ok {
		return err
	}
	if c.obs == nil {
		if err := onlyCheck(ctx, sop, key); err != nil {
			return err
		}
		return c.only.put(key, v, ttl, add)
	}
	var h hook
	call := Call{Op: sop, Key: key, TTL: ttl}
	ctx = c.obs.before(ctx, &call, &h)
	err := onlyCheck(ctx, sop, key)
	if err == nil {
		err = c.only.put(key, v, ttl, add)
	}
	return c.obs.after(&call, &h, err)
}

// onlySetMany is SetManyWithTTL for a memory-only cache: every key is
// built before any value is written.
func (c *Cache[K, V]) onlySetMany(ctx context.Context, items map[K]V, ttl time.Duration) error {
	keys := make([]string, 0, len(items))
	vals := make([]V, 0, len(items))
	for k, v := range items {
		key, err := c.keys.build("set_many", k)
		if err != nil {
			return err
		}
		keys, vals = append(keys, key), append(vals, v)
	}
	return c.onlyPutMany(ctx, keys, vals, ttl)
}

// onlyPutMany writes vals under keys, as one OpSetMany for plugins.
func (c *Cache[K, V]) onlyPutMany(ctx context.Context, keys []string, vals []V, ttl time.Duration) error {
	if ok, err := c.onlyBegin(store.OpSetMany, keys[0]); !ok {
		return err
	}
	put := func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			return &store.Error{Op: store.OpSetMany.String(), Key: keys[0], Err: err}
		}
		for i, key := range keys {
			if err := c.only.put(key, vals[i], ttl, false); err != nil {
				return err
			}
		}
		return nil
	}
	if c.obs == nil {
		return put(ctx)
	}
	entries := make([]store.Entry, len(keys))
	for i, key := range keys {
		entries[i].Key = key
	}
	var h hook
	call := Call{Op: store.OpSetMany, Entries: entries, TTL: ttl}
	ctx = c.obs.before(ctx, &call, &h)
	return c.obs.after(&call, &h, put(ctx))
}

// writeOnly is Memoizer.write for a memory-only cache (whose memoize
// options write no negative entries): a result that an Invalidate of its
// key overtook is not written, and one whose write an Invalidate raced is
// taken back.
func (m *Memoizer[K, V]) writeOnly(ctx context.Context, key string, gen uint64, v V, ttl time.Duration) {
	if ttl == NoExpiry {
		ttl = 0
	}
	count := m.invalidated.of(key)
	if count.Load() != gen {
		return
	}
	_ = m.c.onlySet(ctx, "set", key, v, ttl)
	if count.Load() != gen {
		_ = m.c.runOp(ctx, func(ctx context.Context, s store.Store) error {
			_, err := s.Delete(ctx, key)
			return err
		})
	}
}

// readOnly is ManyMemoizer.read for a memory-only cache: the keys the
// tier holds are hits, the others are computed (per-key singleflight, as
// for read) and written.
func (mm *ManyMemoizer[K, V]) readOnly(ctx context.Context, keys []string, byKey map[string]K, c *Call) (map[K]V, error) {
	m := mm.m
	out := make(map[K]V, len(keys))
	var missed []string
	for _, key := range keys {
		if v, ok := m.c.localHit(key); ok {
			out[byKey[key]] = v
			continue
		}
		missed = append(missed, key)
	}
	if c != nil {
		c.Hits, c.Misses = len(keys)-len(missed), len(missed)
	}
	if len(missed) == 0 {
		return out, nil
	}
	m.c.local.misses.add(uint64(len(missed)))
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: "memoize_many", Key: missed[0], Err: err}
	}
	if err := m.c.onlyLive("memoize_many", missed[0]); err != nil {
		return nil, err
	}
	res, err := mm.batch.Do(ctx, missed, func(ctx context.Context, keys []string) (map[string]V, error) {
		return mm.computeOnly(ctx, keys, byKey)
	})
	if err != nil {
		return nil, err
	}
	for key, v := range res {
		out[byKey[key]] = v
	}
	return out, nil
}

// onlyLive returns ErrClosed once the cache is closed.
func (c *Cache[K, V]) onlyLive(op, key string) error {
	if c.killSwitch().state.Load() == switchClosed {
		return closedErr(op, key)
	}
	return nil
}

// computeOnly is ManyMemoizer.compute for a memory-only cache.
func (mm *ManyMemoizer[K, V]) computeOnly(ctx context.Context, keys []string, byKey map[string]K) (map[string]V, error) {
	m := mm.m
	ctx, cancel := m.callCtx(ctx)
	defer cancel()
	res := make(map[string]V, len(keys))
	// A batch that missed just before another wrote its keys, and reached
	// the flight just after it ended, finds them here.
	missed := keys[:0:0]
	for _, key := range keys {
		if v, ok := m.c.localHit(key); ok {
			res[key] = v
			continue
		}
		missed = append(missed, key)
	}
	if len(missed) == 0 {
		return res, nil
	}
	ks := make([]K, len(missed))
	for i, key := range missed {
		ks[i] = byKey[key]
	}
	ctx, lt := withLoadTTL(ctx)
	got, err := mm.fn(ctx, ks)
	if err != nil {
		return nil, err
	}
	ttl := m.cfg.ttl
	if d, ok := lt.get(); ok {
		ttl = d
	}
	if ttl == NoExpiry {
		ttl = 0
	}
	var wkeys []string
	var wvals []V
	for i, key := range missed {
		v, ok := got[ks[i]]
		if !ok {
			continue
		}
		res[key] = v
		if m.cfg.skip == nil || !m.cfg.skip(v) {
			wkeys, wvals = append(wkeys, key), append(wvals, v)
		}
	}
	if len(wkeys) > 0 {
		_ = m.c.onlyPutMany(ctx, wkeys, wvals, ttl) // as for any cache: a failed write still answers
	}
	return res, nil
}

// counterOf returns how Increment adds to a V whose underlying type is an
// integer type, or nil for any other V. The sum must fit in V and in an
// int64, else the error wraps ErrOverflow.
func counterOf[V any]() func(v *V, delta int64) (int64, error) {
	switch reflect.TypeFor[V]().Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(v *V, delta int64) (int64, error) {
			rv := reflect.ValueOf(v).Elem()
			cur := rv.Int()
			n := cur + delta
			if (delta > 0 && n < cur) || (delta < 0 && n > cur) || rv.OverflowInt(n) {
				return 0, fmt.Errorf("%w: %d%+d", ErrOverflow, cur, delta)
			}
			rv.SetInt(n)
			return n, nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(v *V, delta int64) (int64, error) {
			rv := reflect.ValueOf(v).Elem()
			cur := rv.Uint()
			if cur > math.MaxInt64 {
				return 0, fmt.Errorf("%w: %d does not fit in an int64", ErrOverflow, cur)
			}
			n := int64(cur) + delta
			if (delta > 0 && n < int64(cur)) || n < 0 || rv.OverflowUint(uint64(n)) {
				return 0, fmt.Errorf("%w: %d%+d", ErrOverflow, cur, delta)
			}
			rv.SetUint(uint64(n))
			return n, nil
		}
	}
	return nil
}

// onlyGetMany is GetMany for a memory-only cache, reported to plugins as
// one OpGetMany with its hits and misses.
func (c *Cache[K, V]) onlyGetMany(ctx context.Context, keys []K, skeys []string) (map[K]V, error) {
	if ok, err := c.onlyBegin(store.OpGetMany, skeys[0]); !ok {
		if err != nil {
			return nil, err
		}
		return map[K]V{}, nil
	}
	get := func(ctx context.Context) (map[K]V, int, error) {
		if err := ctx.Err(); err != nil {
			return nil, 0, &store.Error{Op: store.OpGetMany.String(), Key: skeys[0], Err: err}
		}
		out := make(map[K]V, len(keys))
		misses := 0
		for i, key := range skeys {
			if v, ok := c.local.get(key); ok {
				out[keys[i]] = v
				continue
			}
			misses++
		}
		c.local.misses.add(uint64(misses))
		return out, misses, nil
	}
	if c.obs == nil {
		out, _, err := get(ctx)
		return out, err
	}
	var h hook
	call := Call{Op: store.OpGetMany, Keys: skeys}
	ctx = c.obs.before(ctx, &call, &h)
	out, misses, err := get(ctx)
	if err != nil {
		misses = len(skeys)
	}
	call.Hits, call.Misses = len(skeys)-misses, misses
	call.Local = call.Hits > 0
	if err = c.obs.after(&call, &h, err); err != nil {
		return nil, err
	}
	return out, nil
}
