package cachet

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/deadline"
	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/flight"
	"github.com/cachet-go/cachet/store"
)

// Special ttl values for the methods that take a ttl.
const (
	// DefaultTTL (zero) asks for the cache's default ttl, Options.TTL.
	DefaultTTL time.Duration = 0
	// NoExpiry asks for a value that never expires, whatever the cache's
	// default ttl. It is the only negative ttl accepted.
	NoExpiry time.Duration = -1
)

// DefaultTimeout is the per-operation timeout a cache applies when
// Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Options configures a Cache. A nil *Options means all defaults; the zero
// value of each field is its default.
type Options[K comparable] struct {
	// Namespace is prepended to every key as "namespace:". Caches with
	// different namespaces never share keys, and Clear removes only the
	// cache's namespace. It may not contain ':'. Default: none, keys are
	// used as they are (and Clear refuses; see ClearAll).
	Namespace string

	// Version, a string or an integer, follows the namespace in every key
	// ("namespace:version:key"), so that bumping it makes old entries
	// unreachable (they age out through their ttl). It requires a
	// Namespace and may not contain ':'. Default: none.
	Version any

	// TTL is the default time to live of values written by Set, SetMany
	// and Add, and of Expire with DefaultTTL. Default: 0, no expiry.
	// NoExpiry is accepted too; other negative values are an error.
	TTL time.Duration

	// Key turns a K into the key's string form (before the namespace is
	// prepended). It must be deterministic and injective: two different
	// keys must give two different strings. Default: strings as they are,
	// integers in decimal, types implementing fmt.Stringer through String,
	// and types whose underlying type is a string or an integer likewise;
	// New fails for any other K without a Key function. A Key (or String
	// method) that panics gives an error wrapping ErrInvalidKey.
	Key func(K) (string, error)

	// Middleware wraps the store for this cache, the first element being
	// the outermost (see store.Chain). Default: none.
	Middleware []store.Middleware

	// Timeout bounds every store operation through its context: a call
	// whose context has no earlier deadline gets one Timeout from now.
	// Default: 0, meaning DefaultTimeout (5s). A negative value disables
	// the timeout. It is not applied over an in-process store (one that
	// implements store.InProcess, such as memstore), which never waits,
	// nor to a call whose context has no deadline over a store that bounds
	// each round trip by a timeout of its own no longer than Timeout
	// (store.SelfTimed, such as memcachestore and redisstore.Open's
	// stores).
	Timeout time.Duration

	// Breaker configures the circuit breaker New puts around a store that
	// is not in-process (see Breaker): after 5 consecutive connection
	// failures, operations fail at once with ErrUnavailable, and one probe
	// per second checks for recovery. Default: nil, the breaker with its
	// defaults; &BreakerOptions{Disable: true} turns it off.
	Breaker *BreakerOptions

	// Disabled starts the cache switched off: it behaves as over
	// noopstore until Enable (see Cache.Disable). Default: false, on.
	Disabled bool

	// Raw makes the cache store the codec's bare output, readable by any
	// client in any language (plain JSON or msgpack bytes in Redis), instead
	// of cachet's entry format: the codec's output behind a header of 3 to
	// about 12 bytes that carries what negative caching, early refresh and
	// stale-while-revalidate need. A raw cache cannot use those memoize
	// options. Caches over the same keys must agree on Raw: each reports
	// a value in the other format as an error wrapping ErrDecode that
	// names the cause, never as a value. Default: false, the entry format.
	Raw bool

	// OwnsStore makes the cache the owner of its store: Close then closes
	// the store too (through the middleware). Default: false, the store
	// belongs to whoever opened it, and Close leaves it open for the
	// other users of it. OpenCache sets it: the store it opens is the
	// cache's. See Cache.Close.
	OwnsStore bool

	// Local, a *LocalOptions[V] of the cache's value type V, gives the
	// cache a local tier: decoded values kept in process in front of the
	// store, invalidated by the store's invalidation stream where it has
	// one (see LocalOptions and the package documentation). Default: nil,
	// no local tier.
	Local LocalConfig
}

// Cache is a typed cache: it builds store keys from K, encodes V with a
// codec and keeps the bytes in a store.Store. Create one with New, or with
// NewLocal for a memory-only cache of decoded values, with no store and no
// codec.
//
// A Cache is safe for concurrent use by multiple goroutines.
type Cache[K comparable, V any] struct {
	s       store.Store // backend wrapped in the middleware
	backend store.Store // as given to New
	codec   codec.Codec[V]
	keys    keyBuilder[K]
	ttl     time.Duration // default ttl as given to the store (0: none)
	timeout time.Duration // 0: none
	// selfTimed: the store bounds a call whose context has no deadline
	// by a timeout of its own no longer than timeout (see bounds).
	selfTimed bool
	raw       bool // Options.Raw
	inProc    bool // the store is store.InProcess
	flight    flight.Group[V]
	life      lifecycle // Close and the background work it waits for
	decodes   sync.Pool // of *decodeCall[K, V], see readValue

	// obs holds the middleware's plugins, for call-level operations; nil:
	// none (observe_call.go).
	obs   *pluginStore
	local *localTier[V] // nil: none (local.go)
	only  *onlyStore[V] // a memory-only cache's values (NewLocal); nil: none (localonly.go)
}

// New returns a Cache of V values keyed by K, over the store s, encoding
// values with c. V is inferred from the codec, so a call reads
//
//	users, err := cachet.New[string](s, codec.JSON[User](), nil)
//
// New returns an error wrapping ErrInvalidOption for unusable options. It
// panics if s is nil, which is a programming error.
func New[K comparable, V any](s store.Store, c codec.Codec[V], o *Options[K]) (*Cache[K, V], error) {
	if s == nil {
		panic("cachet: New called with a nil store.Store")
	}
	if c == nil {
		return nil, fmt.Errorf("%w: nil codec", ErrInvalidOption)
	}
	if o == nil {
		o = &Options[K]{}
	}
	keys, err := newKeyBuilder(o.Namespace, o.Version, o.Key)
	if err != nil {
		return nil, err
	}
	ttl, err := optionsTTL(o.TTL)
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		timeout = 0
	}
	inProc := store.IsInProcess(s)
	if inProc {
		timeout = 0 // nothing to interrupt: save the context per call
	}
	selfTimed := false
	if st, ok := store.As[store.SelfTimed](s); ok {
		if d := st.RoundTripTimeout(); d > 0 && d <= timeout {
			selfTimed = true // the store's own bound is the tighter one
		}
	}
	if o.Namespace != "" {
		// A store that keeps namespaces apart by its own means (memcached's
		// generations) must know this one before the first key of it.
		if nu, ok := store.As[store.NamespaceUser](s); ok {
			if err := nu.UseNamespace(o.Namespace); err != nil {
				return nil, fmt.Errorf("%w: Namespace %q: %w", ErrInvalidOption, o.Namespace, err)
			}
		}
	}
	wrapped := s
	if !store.IsInProcess(s) {
		wrapped = Breaker(o.Breaker)(s) // innermost: every middleware sees its ErrUnavailable
	}
	if len(o.Middleware) > 0 {
		wrapped = store.Chain(o.Middleware...)(wrapped)
	}
	local, err := newLocalKeyed[K, V](o.Local, s, keys.clearPrefix(), &keys)
	if err != nil {
		return nil, err
	}
	if local != nil {
		wrapped = &localStore{Wrapper: store.Wrapper{Store: wrapped}, inv: local.inv}
	}
	return &Cache[K, V]{
		s:         newSwitch(wrapped, o.Disabled, o.OwnsStore), // switch.go
		backend:   s,
		codec:     c,
		keys:      keys,
		ttl:       ttl,
		timeout:   timeout,
		selfTimed: selfTimed,
		raw:       o.Raw,
		inProc:    inProc,
		obs:       observersOf(wrapped),
		local:     local,
	}, nil
}

// optionsTTL returns the store ttl of Options.TTL: 0 (none) for NoExpiry,
// and an error wrapping ErrInvalidOption and ErrInvalidTTL for any other
// negative value.
func optionsTTL(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl == NoExpiry:
		return 0, nil
	case ttl < 0:
		return 0, fmt.Errorf("%w: %w: TTL %v", ErrInvalidOption, ErrInvalidTTL, ttl)
	}
	return ttl, nil
}

// Must returns c, and panics if err is not nil. It is meant for package
// level variables: var users = cachet.Must(cachet.New[string](...)).
func Must[K comparable, V any](c *Cache[K, V], err error) *Cache[K, V] {
	if err != nil {
		panic(err)
	}
	return c
}

// Store returns the store given to New, without the cache's middleware:
// the backend, for its own methods (for example the Redis client of a
// redisstore).
func (c *Cache[K, V]) Store() store.Store { return c.backend }

// Key returns the store key that k maps to, namespace and version included.
func (c *Cache[K, V]) Key(k K) (string, error) { return c.keys.build("key", k) }

// withTimeout applies the cache's per-operation timeout to ctx, unless ctx
// already has an earlier deadline, or the store bounds the call itself
// (see bounds).
func (c *Cache[K, V]) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if !c.bounds(ctx) {
		return ctx, deadline.Noop
	}
	return deadline.Bound(ctx, c.timeout)
}

// bounds reports whether a call with ctx gets the cache's timeout: the
// cache has one, and the store does not bound the call by its own
// (store.SelfTimed bounds a call whose context has no deadline).
func (c *Cache[K, V]) bounds(ctx context.Context) bool {
	if c.timeout <= 0 {
		return false
	}
	if c.selfTimed {
		_, ok := ctx.Deadline()
		return ok
	}
	return true
}

// storeTTL turns a ttl argument into the store's ttl.
func (c *Cache[K, V]) storeTTL(op, key string, ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl > 0:
		return ttl, nil
	case ttl == DefaultTTL:
		return c.ttl, nil
	case ttl == NoExpiry:
		return 0, nil
	}
	return 0, &Error{Op: op, Key: key, Err: fmt.Errorf("%w: %v (use NoExpiry for no expiry)", ErrInvalidTTL, ttl)}
}

// Get returns the value stored for k. A missing or expired key, or a
// "not found" entry of a memoized function, gives an error wrapping
// ErrNotFound; a stored value the codec cannot decode, or one in the other
// stored format (see Options.Raw), gives one wrapping ErrDecode.
func (c *Cache[K, V]) Get(ctx context.Context, k K) (V, error) {
	if l := c.local; l != nil {
		if e := c.localFind(&c.keys, k); e != nil { // local.go
			if c.obs != nil {
				c.observeLocalGet(ctx, k)
			}
			if l.clone != nil {
				return l.clone(e.v), nil
			}
			return e.v, nil
		}
	}
	if sw, ok := c.s.(*switchStore); ok && c.local == nil && sw.state.Load() == switchOn {
		// (A tier's store is its localStore, never a Finder; the check
		// says so for the reader: a local miss must fill the tier. A
		// Cache is always over its switch but for a benchmark's bare
		// view, BenchmarkCache_KillSwitch, which takes the other path.)
		if fs, ok := sw.Store.(store.Finder); ok {
			return c.getFind(ctx, fs, k) // hot.go
		}
	}
	var v V
	key, err := c.keys.build("get", k)
	if err != nil {
		return v, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return c.get(ctx, key)
}

func (c *Cache[K, V]) get(ctx context.Context, key string) (V, error) {
	if c.local != nil {
		return c.getLocal(ctx, key)
	}
	var v V
	h, err := c.readInto(ctx, "get", key, &v)
	if err != nil {
		var zero V
		return zero, store.Errorf("get", key, err)
	}
	if h.Negative() || c.expired(h) {
		var zero V
		return zero, &Error{Op: "get", Key: key, Err: ErrNotFound}
	}
	return v, nil
}

// GetMany returns the values stored for keys, as a map holding only the
// keys that were found. It makes one store call for all keys.
func (c *Cache[K, V]) GetMany(ctx context.Context, keys []K) (map[K]V, error) {
	if len(keys) == 0 {
		return map[K]V{}, nil
	}
	skeys, err := c.keys.buildAll("get_many", keys)
	if err != nil {
		return nil, err
	}
	if c.only != nil {
		return c.onlyGetMany(ctx, keys, skeys) // localonly.go
	}
	if c.local != nil {
		return c.getManyLocal(ctx, keys, skeys) // local.go
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	vals, err := c.s.GetMany(ctx, skeys)
	if err != nil {
		return nil, store.Errorf("get_many", skeys[0], err)
	}
	if len(vals) != len(skeys) {
		return nil, &Error{Op: "get_many", Key: skeys[0], Err: fmt.Errorf("store returned %d values for %d keys", len(vals), len(skeys))}
	}
	out := make(map[K]V, len(keys))
	var now int64
	for i, b := range vals {
		if b == nil {
			continue
		}
		var v V
		h, err := c.decodeOwned("get_many", skeys[i], b, &v) // hot.go
		if err != nil {
			return nil, err
		}
		if !h.Negative() && !c.expiredAt(h, &now) {
			out[keys[i]] = v
		}
	}
	return out, nil
}

// GetOrLoad returns the value cached for k, or calls load, caches its
// result with the default ttl and returns it. Concurrent GetOrLoad calls
// for the same key in this process share one call of load, and a call
// that misses just as another's load finishes reads that load's value.
//
// load runs with a context that carries ctx's values but not its
// cancellation or deadline, so that one caller giving up does not fail
// the others; each caller stops waiting when its own ctx ends. load should
// bound its own run time.
//
// The cache is an optimisation, never a new point of failure: when the
// store fails to read (or holds a value that cannot be decoded, or one in
// the other stored format) load is called as for a miss, and when it fails to write, the loaded value is
// still returned. Such store failures are visible to the cache's
// middleware. An error from load is returned as is and nothing is cached.
// After Close, GetOrLoad returns an error wrapping ErrClosed.
// load may set the ttl of its value with SetTTL.
//
// Over a networked store a cold key costs one read and one write, however
// many callers ask for it at once: a caller joins the shared call first,
// and the call reads the store once before loading (on the goroutine of
// the caller that starts it, so a hit costs no goroutine hand-off; only
// load runs on a goroutine of its own). Over an in-process
// store a caller reads first (a hit costs no shared call) and the shared
// call reads once more before loading.
func (c *Cache[K, V]) GetOrLoad(ctx context.Context, k K, load func(ctx context.Context) (V, error)) (V, error) {
	if c.obs != nil {
		return c.getOrLoadObserved(ctx, k, load) // observe_call.go
	}
	if c.local != nil {
		if v, ok := c.localGet(&c.keys, k); ok { // local.go
			return v, nil
		}
	}
	key, err := c.keys.build("get", k)
	if err != nil {
		var zero V
		return zero, err
	}
	if c.inProc {
		// The read before the shared call (see readThrough), inline: a
		// hit allocates nothing.
		if v, err := c.get(ctx, key); err == nil {
			return v, nil
		}
	}
	return c.load(ctx, key, load)
}

// load is GetOrLoad's read-through after its own read, if any, missed.
func (c *Cache[K, V]) load(ctx context.Context, key string, load func(ctx context.Context) (V, error)) (V, error) {
	lookup := func(ctx context.Context) (V, bool, error) {
		rctx, cancel := c.withTimeout(ctx)
		defer cancel()
		v, err := c.get(rctx, key)
		if err != nil && c.closed() { // own.go: the cache is closed, not failing
			return v, false, err
		}
		return v, err == nil, nil
	}
	v, _, err := readThrough(ctx, &c.flight, "get", key, true, lookup, func(ctx context.Context) (V, error) {
		ctx, ttl := withLoadTTL(ctx)
		v, err := load(ctx)
		if err != nil {
			return v, err
		}
		sttl := c.ttl
		if d, ok := ttl.get(); ok {
			sttl = d
		}
		sctx, cancel := c.withTimeout(ctx)
		defer cancel()
		c.set(sctx, "set", key, v, sttl) // a failed write still answers
		return v, nil
	})
	return v, err
}

// Set stores v for k with the cache's default ttl.
func (c *Cache[K, V]) Set(ctx context.Context, k K, v V) error {
	return c.SetWithTTL(ctx, k, v, DefaultTTL)
}

// SetWithTTL stores v for k with the given ttl: DefaultTTL for the cache's
// default, NoExpiry for none, or a positive duration.
func (c *Cache[K, V]) SetWithTTL(ctx context.Context, k K, v V, ttl time.Duration) error {
	key, err := c.keys.build("set", k)
	if err != nil {
		return err
	}
	sttl, err := c.storeTTL("set", key, ttl)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return c.set(ctx, "set", key, v, sttl)
}

func (c *Cache[K, V]) set(ctx context.Context, op, key string, v V, ttl time.Duration) error {
	if c.only != nil {
		return c.onlySet(ctx, op, key, v, ttl) // localonly.go
	}
	return c.writeValue(ctx, op, key, v, ttl, op == "add")
}

// SetMany stores every item with the cache's default ttl, in one store
// call. Either every value is encoded and handed to the store, or nothing
// is written.
func (c *Cache[K, V]) SetMany(ctx context.Context, items map[K]V) error {
	return c.SetManyWithTTL(ctx, items, DefaultTTL)
}

// SetManyWithTTL is SetMany with a ttl, as for SetWithTTL.
func (c *Cache[K, V]) SetManyWithTTL(ctx context.Context, items map[K]V, ttl time.Duration) error {
	if len(items) == 0 {
		return nil
	}
	sttl, err := c.storeTTL("set_many", "", ttl)
	if err != nil {
		return err
	}
	if c.only != nil {
		return c.onlySetMany(ctx, items, sttl) // localonly.go
	}
	h := entry.Header{Expiry: expiryAt(time.Time{}, sttl)}
	entries := make([]store.Entry, 0, len(items))
	for k, v := range items {
		key, err := c.keys.build("set_many", k)
		if err != nil {
			return err
		}
		b, err := c.encodeEntry("set_many", key, v, h)
		if err != nil {
			return err
		}
		entries = append(entries, store.Entry{Key: key, Value: b})
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return store.Errorf("set_many", entries[0].Key, c.s.SetMany(ctx, entries, sttl))
}

// Add stores v for k with the default ttl only if k holds no live value;
// otherwise it returns an error wrapping ErrExists and changes nothing.
// It is atomic in the store: of many concurrent Adds, one wins.
func (c *Cache[K, V]) Add(ctx context.Context, k K, v V) error {
	return c.AddWithTTL(ctx, k, v, DefaultTTL)
}

// AddWithTTL is Add with a ttl, as for SetWithTTL.
func (c *Cache[K, V]) AddWithTTL(ctx context.Context, k K, v V, ttl time.Duration) error {
	key, err := c.keys.build("add", k)
	if err != nil {
		return err
	}
	sttl, err := c.storeTTL("add", key, ttl)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return c.set(ctx, "add", key, v, sttl)
}

// Delete removes the keys and returns how many of them existed.
func (c *Cache[K, V]) Delete(ctx context.Context, keys ...K) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	skeys, err := c.keys.buildAll("delete", keys)
	if err != nil {
		return 0, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	n, err := c.s.Delete(ctx, skeys...)
	return n, store.Errorf("delete", skeys[0], err)
}

// Exists reports whether k holds a live value.
func (c *Cache[K, V]) Exists(ctx context.Context, k K) (bool, error) {
	key, err := c.keys.build("exists", k)
	if err != nil {
		return false, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	ok, err := c.s.Exists(ctx, key)
	return ok, store.Errorf("exists", key, err)
}

// Increment atomically adds delta (which may be negative) to the counter
// at k and returns its new value; a missing key starts at 0. Counters are
// kept by the store as decimal ASCII, outside the codec: read them back
// with Increment(ctx, k, 0), or with a cache whose codec reads decimal
// text. A value that is not an integer gives ErrNotInteger. A counter
// that Increment creates has no expiry, whatever Options.TTL (as INCRBY
// on Redis); an existing one keeps its own. Give it one with Expire.
func (c *Cache[K, V]) Increment(ctx context.Context, k K, delta int64) (int64, error) {
	key, err := c.keys.build("increment", k)
	if err != nil {
		return 0, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	n, err := c.s.Increment(ctx, key, delta)
	return n, store.Errorf("increment", key, err)
}

// Expire gives k a new ttl (DefaultTTL for the cache's default, NoExpiry
// to remove its expiry) and reports whether k existed.
func (c *Cache[K, V]) Expire(ctx context.Context, k K, ttl time.Duration) (bool, error) {
	key, err := c.keys.build("expire", k)
	if err != nil {
		return false, err
	}
	sttl, err := c.storeTTL("expire", key, ttl)
	if err != nil {
		return false, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	ok, err := c.s.Expire(ctx, key, sttl)
	return ok, store.Errorf("expire", key, err)
}

// TTL returns the remaining time to live of k, 0 when it never expires,
// or an error wrapping ErrNotFound when it is missing (ErrNotSupported on
// a store that cannot read ttls back, such as memcached).
func (c *Cache[K, V]) TTL(ctx context.Context, k K) (time.Duration, error) {
	key, err := c.keys.build("ttl", k)
	if err != nil {
		return 0, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	d, err := c.s.TTL(ctx, key)
	return d, store.Errorf("ttl", key, err)
}

// Clear removes every value of this cache's namespace, all versions
// included. A cache without a namespace returns an error wrapping
// ErrClearAll and removes nothing: emptying the whole store (FLUSHDB on
// Redis, flush_all on every memcached server) is asked for with ClearAll.
func (c *Cache[K, V]) Clear(ctx context.Context) error {
	prefix := c.keys.clearPrefix()
	if prefix == "" {
		return errClearAll()
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return store.Errorf("clear", prefix, c.s.Clear(ctx, prefix))
}

// Close closes the cache: it cancels the background refreshes of the
// cache's memoized functions and waits for them to end, and from then on
// every method of the cache, of its views and of its memoized functions
// returns an error wrapping ErrClosed. It closes the store only if the
// cache owns it (Options.OwnsStore, set by OpenCache); a store given to
// New is left open for its other users, and is closed by whoever opened
// it. Closing a cache again returns an error wrapping ErrClosed.
func (c *Cache[K, V]) Close() error {
	c.life.close()
	if c.local != nil {
		c.local.close()
	}
	return c.closeSwitch() // own.go
}
