package cachet

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
	"weak"

	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/flight"
	"github.com/cachet-go/cachet/store"
	"github.com/maypok86/otter/v2"
)

// The local tier: decoded values kept in process, in front of the store.
//
// A Get first looks in the tier: a hit touches neither the codec nor the
// store. A miss reads the store (concurrent misses of one key share one
// read), decodes the entry and, if it holds a live value, keeps the value
// with the entry's expiry (a local copy never outlives it, nor the local
// ttl). Every write through the Cache (and its views) drops the local copy
// of the keys it wrote once the store has answered; Clear and ClearAll drop
// every local copy. A fill that began before an invalidation of its key
// does not install what it read.
//
// Writes by other processes reach the tier through the store's
// invalidation stream where the store has one (store.Invalidator: Redis,
// standalone, Sentinel, Cluster or Ring): the tier is then off (every read goes
// to the store) until the stream is established, and again from the
// moment it is lost until it is back, and it is emptied each time. Over a store without a stream
// (memstore shared by name, memcached) the local ttl is the bound on how
// long another process's write can go unseen.

// DefaultLocalTTL is the local ttl over a store with an invalidation
// stream (store.Invalidator: Redis, standalone, Sentinel, Cluster or
// Ring): the stream removes changed keys within milliseconds, so the ttl is only a
// backstop for what no stream can see (a half-open connection before its
// keepalive fails), and a minute keeps hot keys local without an expiry
// churn.
const DefaultLocalTTL = time.Minute

// DefaultLocalTTLNoStream is the local ttl over a store without an
// invalidation stream (memcached, memstore, any store not implementing
// store.Invalidator). There it is the staleness bound: a write by another
// process is seen by this one at most this long after it. Five seconds
// keeps a hot key's store reads to one per five seconds per process while
// bounding staleness to what read-mostly data usually tolerates; set
// LocalOptions.TTL lower for stricter data.
const DefaultLocalTTLNoStream = 5 * time.Second

// DefaultLocalEntries is the number of entries a local tier keeps when
// LocalOptions sets neither MaxEntries nor Weigher.
const DefaultLocalEntries = 10_000

// LocalConfig is what Options.Local holds: a *LocalOptions[V] whose V is
// the cache's value type. It is an interface only because Options is typed
// by K alone; New returns an error wrapping ErrInvalidOption for a
// *LocalOptions of another value type.
type LocalConfig interface {
	localConfig()
}

// LocalOptions configures the local tier of a Cache of V values (see
// Options.Local). The zero value is a tier of DefaultLocalEntries entries
// with the default ttl.
type LocalOptions[V any] struct {
	// MaxEntries bounds the number of values kept. Default:
	// DefaultLocalEntries, or no bound on the count when Weigher is set.
	//
	// A cache whose keys are a string or integer type under the default
	// key rule (no Options.Key) keeps its values by key, and the values
	// of other key rules sharing its tier (views of another version,
	// memoizers with a Prefix or Key of their own) by store key, in a
	// second map: MaxEntries, or MaxWeight, then bounds each map.
	MaxEntries int

	// Weigher, with MaxWeight, bounds the tier by a weight of your choice
	// (an estimate of bytes, say) instead of a count; key is the value's
	// store key. It must be deterministic and cheap; a weight of 0 counts
	// as 1. Default: nil, every value weighs 1.
	Weigher func(key string, v V) uint32

	// MaxWeight is the total weight kept when Weigher is set; it is
	// required then and ignored otherwise.
	MaxWeight uint64

	// TTL bounds how long a value is kept locally after it was read from
	// the store; it never outlives the stored entry's own expiry either.
	// Default: DefaultLocalTTL over a store with an invalidation stream,
	// DefaultLocalTTLNoStream otherwise. Negative values are an error.
	TTL time.Duration

	// Clone, if set, is applied to the value handed out by every read
	// served from the tier (and by the read that fills it), so that
	// callers get private copies they may modify. Default: nil, every
	// caller gets the value the tier holds, which callers must then treat
	// as read-only (as with otter or sturdyc): a slice or map in V
	// modified by one caller would change what every later hit sees.
	Clone func(V) V
}

func (*LocalOptions[V]) localConfig() {}

// LocalStats is a snapshot of the counters of a cache's local tier.
type LocalStats struct {
	Hits          uint64 // reads answered by the local tier
	Misses        uint64 // reads the tier could not answer (each went on to the store, possibly sharing a read)
	StoreReads    uint64 // store reads made for local misses
	StoreHits     uint64 // store reads that found a live value
	Fills         uint64 // values installed in the tier
	Invalidations uint64 // keys dropped by writes and by the invalidation stream
	Flushes       uint64 // times the whole tier was emptied
	Live          bool   // the tier is serving (its invalidation stream, if any, is up)
}

// LocalStats returns the counters of the cache's local tier, and false if
// the cache has none.
func (c *Cache[K, V]) LocalStats() (LocalStats, bool) {
	l := c.local
	if l == nil {
		return LocalStats{}, false
	}
	return LocalStats{
		Hits:          l.hits.load(),
		Misses:        l.misses.load(),
		StoreReads:    l.storeReads.Load(),
		StoreHits:     l.storeHits.Load(),
		Fills:         l.fills.Load(),
		Invalidations: l.inv.invalidations.Load(),
		Flushes:       l.inv.flushes.Load(),
		Live:          l.inv.live.Load(),
	}, true
}

// localInv is the untyped half of a local tier: what decides whether a
// fill may install its value. It is shared by the views of the cache, so
// that their writes drop the tier's copies.
type localInv struct {
	live          atomic.Bool   // fills may install, hits may be served
	epoch         atomic.Uint64 // bumped by every flush
	seed          maphash.Seed
	stripes       [localStripes]localStripe
	drop          func(key string) // removes key from the typed tier
	clear         func()           // removes every key of the typed tier
	prefix        string           // keys of the tier start with it
	invalidations atomic.Uint64
	flushes       atomic.Uint64
	stop          func() // ends the subscription, if any

	// onEvent, if set (by tests), is called after each stream event has
	// been applied.
	onEvent atomic.Pointer[func(store.Invalidation)]
}

const localStripes = 256

// localStripe counts the invalidations of the keys that hash to it; its
// mutex orders them with the installs of fills of those keys.
type localStripe struct {
	mu sync.Mutex
	n  uint64
	_  [48]byte // one cache line each
}

// fillToken is what a fill reads before it reads the store.
type fillToken struct {
	epoch, n uint64
	stripe   *localStripe
}

func (l *localInv) stripe(key string) *localStripe {
	return &l.stripes[maphash.String(l.seed, key)%localStripes]
}

// begin returns the token of a fill of key, to be taken before the store
// is read.
func (l *localInv) begin(key string) fillToken {
	st := l.stripe(key)
	epoch := l.epoch.Load()
	st.mu.Lock()
	n := st.n
	st.mu.Unlock()
	return fillToken{epoch: epoch, n: n, stripe: st}
}

// install calls set if nothing invalidated the key of t since t was taken
// and the tier is live, and reports whether it did.
func (l *localInv) install(t fillToken, set func()) bool {
	t.stripe.mu.Lock()
	defer t.stripe.mu.Unlock()
	if !l.live.Load() || l.epoch.Load() != t.epoch || t.stripe.n != t.n {
		return false
	}
	set()
	return true
}

// invalidate drops keys from the tier and makes the fills of them under
// way install nothing.
func (l *localInv) invalidate(keys ...string) {
	for _, k := range keys {
		st := l.stripe(k)
		st.mu.Lock()
		st.n++
		l.drop(k)
		st.mu.Unlock()
	}
	l.invalidations.Add(uint64(len(keys)))
}

// flush empties the tier and makes every fill under way install nothing.
func (l *localInv) flush() {
	for i := range l.stripes {
		l.stripes[i].mu.Lock()
	}
	l.epoch.Add(1)
	l.clear()
	for i := range l.stripes {
		l.stripes[i].mu.Unlock()
	}
	l.flushes.Add(1)
}

// event applies one event of the store's invalidation stream.
func (l *localInv) event(ev store.Invalidation) {
	switch {
	case ev.Flush && !ev.Live:
		l.live.Store(false) // first: no install from now on
		l.flush()
	case ev.Flush:
		l.flush()
		l.live.Store(true)
	default:
		for _, k := range ev.Keys {
			if strings.HasPrefix(k, l.prefix) { // another namespace's key is none of ours
				l.invalidate(k)
			}
		}
	}
	if f := l.onEvent.Load(); f != nil {
		(*f)(ev)
	}
}

// localTier is the typed half of a local tier.
type localTier[V any] struct {
	inv    *localInv
	values *otter.Cache[string, *localEntry[V]]
	hits   counter
	misses counter
	ttl    time.Duration
	clone  func(V) V
	fills  atomic.Uint64

	storeReads, storeHits atomic.Uint64
	flight                flight.Group[V]

	// beforeInstall, if set (by tests), runs between a fill's store read
	// and its install.
	beforeInstall func(key string)

	// writing counts the tier's writes under way (fills, drops, flushes):
	// see maintain.
	writing atomic.Int32

	// keyed, if not nil, holds the values of the store keys it maps back
	// to a K (see localByKey); values holds the others.
	keyed localKeyed[V]
}

// localKeyed is the part of a local tier keyed by the cache's own key
// type K (a *localByKey[K, V]), seen from the untyped paths, which know
// an entry by its store key. Each method reports false, doing nothing,
// for a store key that is none of its keys; the tier's string-keyed map
// then holds that key's value.
type localKeyed[V any] interface {
	get(key string) (e *localEntry[V], found, mine bool)
	set(key string, e *localEntry[V]) bool
	drop(key string) bool
	clear()
	size() int
	stop()
}

// localByKey holds the local copies of the store keys that are exactly
// prefix followed by the default key rule's form of a K (a string type as
// it is, an integer type in decimal: see keyParser), keyed by that K, so
// that a hit of the cache's own Get is one otter lookup by the bare key:
// no key string built, a shorter key hashed and compared. Every store key
// has one place: it maps back to one K or to none (then the tier's
// string-keyed map holds it), whichever path reaches it (the cache's Get
// by K; a view, a memoizer with a prefix, a fill, a write, the
// invalidation stream by store key), and the fences of fills
// (localInv.begin) stay per store key.
type localByKey[K comparable, V any] struct {
	prefix string // the cache's "namespace:version:", or ""
	parse  func(string) (K, bool)
	m      *otter.Cache[K, *localEntry[V]]
}

// key returns the K whose store key is key, and false if key is not of
// the form prefix + the default form of a K.
func (b *localByKey[K, V]) key(key string) (K, bool) {
	rest, ok := strings.CutPrefix(key, b.prefix)
	if !ok {
		var zero K
		return zero, false
	}
	return b.parse(rest)
}

func (b *localByKey[K, V]) get(key string) (*localEntry[V], bool, bool) {
	k, ok := b.key(key)
	if !ok {
		return nil, false, false
	}
	e, found := b.m.GetIfPresent(k)
	return e, found, true
}

func (b *localByKey[K, V]) set(key string, e *localEntry[V]) bool {
	k, ok := b.key(key)
	if ok {
		b.m.Set(k, e)
	}
	return ok
}

func (b *localByKey[K, V]) drop(key string) bool {
	k, ok := b.key(key)
	if ok {
		b.m.Invalidate(k)
	}
	return ok
}

func (b *localByKey[K, V]) clear()    { b.m.InvalidateAll() }
func (b *localByKey[K, V]) size() int { return b.m.EstimatedSize() }
func (b *localByKey[K, V]) stop()     { b.m.StopAllGoroutines() }

// lookup returns the entry the tier holds for the store key key.
func (l *localTier[V]) lookup(key string) (*localEntry[V], bool) {
	if l.keyed != nil {
		if e, found, mine := l.keyed.get(key); mine {
			return e, found
		}
	}
	return l.values.GetIfPresent(key)
}

// size returns the number of entries the tier holds (otter's estimate).
func (l *localTier[V]) size() int {
	n := l.values.EstimatedSize()
	if l.keyed != nil {
		n += l.keyed.size()
	}
	return n
}

// maintain is the tier's otter Executor: it runs otter's maintenance (the
// drain of its read and write buffers, eviction) on the calling goroutine
// when a write of the tier asked for it, and on a goroutine of its own
// otherwise (otter's default). Each write (an otter Set or Invalidate)
// schedules maintenance: a new goroutine for each, woken on the other
// core of a small machine, cost a local miss more than the Set itself
// (1.18x a Get without a tier over Redis, against 1.08x inline; paired,
// BenchmarkLocal_MissStoreHit/cold), and the writer has just paid for a
// store read or write anyway. A read that fills otter's read buffer
// still hands the drain to a goroutine: inline, it made every hit pay
// for it (2.6x otter's lookup instead of 1.5x).
func (l *localTier[V]) maintain(fn func()) {
	if l.writing.Load() > 0 {
		fn()
		return
	}
	go fn()
}

// write runs f, a write to the tier's otter, with maintenance inline (see
// maintain).
func (l *localTier[V]) write(f func()) {
	l.writing.Add(1)
	defer l.writing.Add(-1)
	f()
}

// set installs v, served until exp (Unix nanoseconds), as key's local copy.
func (l *localTier[V]) set(key string, v V, exp int64) {
	l.writing.Add(1)
	defer l.writing.Add(-1)
	e := &localEntry[V]{v: v, exp: exp}
	if l.keyed == nil || !l.keyed.set(key, e) {
		l.values.Set(key, e)
	}
}

// localEntry is a decoded value and when it stops being served.
type localEntry[V any] struct {
	v   V
	exp int64 // Unix nanoseconds
}

// localExpiry gives each entry, when it is written, the lifetime its exp
// leaves. It is otter's "expire after write" calculator, which leaves an
// entry's expiry alone when the entry is read: a read then costs no
// expiry computation, only the clock read that tells whether the entry is
// still live.
//
// The tier reads a coarse clock (localClock), which lags the time by up to
// localClockResolution: the lifetime is shortened by that much, so that a
// value is dropped up to localClockResolution before its expiry, never
// after it (unless the clock's goroutine is kept from running for longer
// than that, in a starved process).
func localExpiry[K comparable, V any]() otter.ExpiryCalculator[K, *localEntry[V]] {
	return otter.ExpiryWritingFunc(func(e otter.Entry[K, *localEntry[V]]) time.Duration {
		d := time.Duration(e.Value.exp-time.Now().UnixNano()) - localClockResolution
		return max(d, 1) // 1ns: already gone
	})
}

// localClockResolution is how often the local tiers' clock reads the time.
const localClockResolution = time.Millisecond

// localClock returns the clock shared by the local tiers: reading the
// precise time on every hit would be the largest cost of a hit (one
// clock_gettime: about as long as otter's whole lookup on a virtual
// machine's clock), so the tiers read a clock that one goroutine updates
// every localClockResolution. The goroutine stops once no tier holds the
// clock (see otter.CoarseClock); the next tier starts a new one.
func localClock() *otter.CoarseClock {
	sharedClock.mu.Lock()
	defer sharedClock.mu.Unlock()
	if c := sharedClock.p.Value(); c != nil {
		return c
	}
	c := otter.NewCoarseClock(localClockResolution)
	sharedClock.p = weak.Make(c)
	return c
}

var sharedClock struct {
	mu sync.Mutex
	p  weak.Pointer[otter.CoarseClock]
}

// counter is a counter that goroutines on different cores can add to
// without sharing a cache line most of the time: each add goes to one of
// a few padded stripes, picked by the address of the adding goroutine's
// stack (goroutines have stacks of their own, a few kilobytes apart), which
// costs less than drawing a random number.
type counter struct {
	stripes [counterStripes]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

const counterStripes = 8 // a power of two

func (c *counter) add(n uint64) {
	var onStack byte
	h := uint64(uintptr(unsafe.Pointer(&onStack))>>13) * 0x9e3779b97f4a7c15
	c.stripes[h>>61].n.Add(n) // the top 3 bits: counterStripes
}

func (c *counter) load() uint64 {
	var n uint64
	for i := range c.stripes {
		n += c.stripes[i].n.Load()
	}
	return n
}

// newLocal builds the local tier of a cache over the store s (as given to
// New) whose keys start with prefix, subscribing to s's invalidation
// stream if it has one. It returns nil, nil when cfg is nil. The tier
// keys every value by its store key; see newLocalKeyed.
func newLocal[V any](cfg LocalConfig, s store.Store, prefix string) (*localTier[V], error) {
	return newLocalKeyed[string, V](cfg, s, prefix, nil)
}

// newLocalKeyed is newLocal for a cache whose own key rule is keys: where
// that rule maps back exactly (the default key function of a string or
// integer K), the values of the rule's store keys are kept by K
// (localByKey), the others (views of another version, memoizers with a
// prefix or a key function of their own) by store key. keys may be nil:
// every value by store key.
func newLocalKeyed[K comparable, V any](cfg LocalConfig, s store.Store, prefix string, keys *keyBuilder[K]) (*localTier[V], error) {
	if cfg == nil {
		return nil, nil
	}
	o, ok := cfg.(*LocalOptions[V])
	if !ok {
		var v V
		return nil, fmt.Errorf("%w: Local is a %T, the cache needs a *LocalOptions[%T]", ErrInvalidOption, cfg, v)
	}
	if o == nil {
		o = &LocalOptions[V]{}
	}
	inv, hasStream := store.As[store.Invalidator](s)
	ttl := o.TTL
	switch {
	case ttl < 0:
		return nil, fmt.Errorf("%w: Local.TTL %v", ErrInvalidOption, ttl)
	case ttl == 0 && hasStream:
		ttl = DefaultLocalTTL
	case ttl == 0:
		ttl = DefaultLocalTTLNoStream
	}
	if o.MaxEntries < 0 {
		return nil, fmt.Errorf("%w: Local.MaxEntries %d", ErrInvalidOption, o.MaxEntries)
	}
	l := &localTier[V]{
		inv:   &localInv{seed: maphash.MakeSeed(), prefix: prefix},
		ttl:   ttl,
		clone: o.Clone,
	}
	if o.Weigher != nil && o.MaxWeight == 0 {
		return nil, fmt.Errorf("%w: Local.Weigher needs Local.MaxWeight", ErrInvalidOption)
	}
	values, err := localMap(l, o, func(k string) string { return k })
	if err != nil {
		return nil, err
	}
	l.values = values
	if keys != nil && keys.plain {
		if parse, ok := keyParser[K](); ok {
			b := &localByKey[K, V]{prefix: keys.prefix, parse: parse}
			fn := keys.fn
			name := func(k K) string {
				s, _ := fn(k) // the default rule: never an error
				return b.prefix + s
			}
			if b.m, err = localMap(l, o, name); err != nil {
				values.StopAllGoroutines()
				return nil, err
			}
			l.keyed = b
		}
	}
	l.inv.drop = func(k string) {
		l.write(func() {
			if l.keyed == nil || !l.keyed.drop(k) {
				values.Invalidate(k)
			}
		})
	}
	l.inv.clear = func() {
		l.write(func() {
			values.InvalidateAll()
			if l.keyed != nil {
				l.keyed.clear()
			}
		})
	}
	if !hasStream {
		l.inv.live.Store(true)
		return l, nil
	}
	stop, err := inv.Subscribe(context.Background(), prefix, l.inv.event)
	if err != nil {
		l.close()
		return nil, fmt.Errorf("%w: Local: the store's invalidation stream: %w", ErrInvalidOption, err)
	}
	l.inv.stop = stop
	return l, nil
}

// localMap returns an otter map of the tier l, as o configures it: o's
// bound, for each map of the tier (see LocalOptions.MaxEntries), the
// entries' expiry, the tier's clock and executor. name gives the store
// key of a key of the map, for o.Weigher.
func localMap[K comparable, V any](l *localTier[V], o *LocalOptions[V], name func(K) string) (*otter.Cache[K, *localEntry[V]], error) {
	oo := &otter.Options[K, *localEntry[V]]{
		ExpiryCalculator: localExpiry[K, V](),
		Executor:         l.maintain,
		Clock:            localClock(),
	}
	switch {
	case o.Weigher != nil:
		w := o.Weigher
		oo.MaximumWeight = o.MaxWeight
		// otter never evicts an entry of weight 0: a Weigher that returns
		// 0 would leave the tier unbounded. Such a value weighs 1.
		oo.Weigher = func(k K, e *localEntry[V]) uint32 { return max(w(name(k), e.v), 1) }
	case o.MaxEntries > 0:
		oo.MaximumSize = o.MaxEntries
	default:
		oo.MaximumSize = DefaultLocalEntries
	}
	m, err := otter.New(oo)
	if err != nil {
		return nil, fmt.Errorf("%w: Local: %w", ErrInvalidOption, err)
	}
	return m, nil
}

// close ends the tier's subscription, if any.
func (l *localTier[V]) close() {
	if l.inv.stop != nil {
		l.inv.stop()
	}
	l.values.StopAllGoroutines()
	if l.keyed != nil {
		l.keyed.stop()
	}
}

// localHit returns the local copy of key's value, if the cache has a local
// tier holding one and is enabled.
func (c *Cache[K, V]) localHit(key string) (V, bool) {
	l := c.local
	if l == nil || c.killSwitch().state.Load() != switchOn {
		var zero V
		return zero, false
	}
	return l.get(key)
}

// localKeyBuf is the size of the buffer on the stack in which localFind
// builds a store key; a longer key is built on the heap.
const localKeyBuf = 128

// localGet is localHit for k, whose store key kb builds (see localFind).
func (c *Cache[K, V]) localGet(kb *keyBuilder[K], k K) (V, bool) {
	e := c.localFind(kb, k)
	if e == nil {
		var zero V
		return zero, false
	}
	return c.local.value(e), true
}

// localFind returns the entry the cache's local tier holds for k, whose
// store key kb builds, and counts the hit; nil if the cache has no tier,
// is disabled, or the tier holds no live entry for k. The caller hands out
// e.v, cloned if the tier clones. The entry is returned by pointer (the
// tier holds pointers) so that a hit copies V once, from the entry to the
// caller's result: copying a value the call just stored on its stack
// through a few frames cost more than otter's lookup (stalled
// store-to-load forwarding of the wide copies).
//
// The key is built in a buffer on the stack (keyBuilder.buildIn) and
// looked up through a string that points into it, which nothing keeps
// (the tier only compares it; escape analysis would move the buffer to
// the heap otherwise), so that a hit allocates nothing. A key kb refuses
// is a miss, for the caller to report.
func (c *Cache[K, V]) localFind(kb *keyBuilder[K], k K) *localEntry[V] {
	l := c.local
	if l == nil || c.killSwitch().state.Load() != switchOn {
		return nil
	}
	if b, ok := l.keyed.(*localByKey[K, V]); ok && kb.plain && kb.prefix == b.prefix {
		// kb is the rule b inverts: k's store key maps back to k.
		e, ok := b.m.GetIfPresent(k)
		if !ok {
			return nil
		}
		l.hits.add(1)
		return e
	}
	var buf [localKeyBuf]byte
	key, ok := kb.buildIn(buf[:], k)
	if !ok {
		return nil
	}
	var e *localEntry[V]
	if l.keyed == nil {
		// Straight to otter, whose lookup keeps nothing: through the
		// keyed part's interface the buffer would escape to the heap
		// (escape analysis cannot see through the call), and every hit of
		// a cache with its own Key, or a memory-only one, would allocate.
		e, ok = l.values.GetIfPresent(key)
	} else {
		// A view or a memoizer with a key rule of its own over a keyed
		// tier: its key, copied, goes through the routing lookup.
		e, ok = l.lookup(strings.Clone(key))
	}
	if !ok {
		return nil
	}
	l.hits.add(1)
	return e
}

// value returns e's value as a hit hands it out: a copy if the tier
// clones.
func (l *localTier[V]) value(e *localEntry[V]) V {
	if l.clone != nil {
		return l.clone(e.v)
	}
	return e.v
}

// get returns the value the tier holds for key, a copy if the tier
// clones, and counts the hit.
func (l *localTier[V]) get(key string) (V, bool) {
	e, ok := l.lookup(key)
	if !ok {
		var zero V
		return zero, false
	}
	l.hits.add(1)
	return l.value(e), true
}

// getLocal is get for a cache with a local tier: a local hit, or one read
// of the store shared by the concurrent misses of key, which fills the
// tier when the entry holds a live value. The read runs on the goroutine
// of the miss that starts it, under its context (flight.DoHere), so that
// a lone miss costs what a Get without a tier costs.
func (c *Cache[K, V]) getLocal(ctx context.Context, key string) (V, error) {
	if v, ok := c.localHit(key); ok {
		noteLocal(ctx)
		return v, nil
	}
	l := c.local
	l.misses.add(1)
	v, _, err := l.flight.DoHere(ctx, key, func(ctx context.Context) (V, error) {
		t := l.inv.begin(key)
		ctx, cancel := c.withTimeout(ctx)
		v, h, err := c.readValue(ctx, "get", key)
		cancel()
		l.storeReads.Add(1)
		if err != nil {
			var zero V
			return zero, store.Errorf("get", key, err)
		}
		if h.Negative() || c.expired(h) {
			var zero V
			return zero, &Error{Op: "get", Key: key, Err: ErrNotFound}
		}
		l.storeHits.Add(1)
		if hook := l.beforeInstall; hook != nil {
			hook(key)
		}
		if exp, ok := l.expiry(h); ok {
			if l.inv.install(t, func() { l.set(key, v, exp) }) {
				l.fills.Add(1)
			}
		}
		return v, nil
	})
	if err != nil {
		return v, err
	}
	if l.clone != nil {
		v = l.clone(v)
	}
	return v, nil
}

// expiry returns when a value read now from an entry with header h stops
// being served locally: at the local ttl, or the entry's logical expiry if
// it comes first, and false if that is already past. An entry the store
// keeps past its logical expiry (entry.FlagStale: stale-while-revalidate,
// early refresh's margin) is kept locally only until that expiry, so a
// value past its ttl is never served from the tier.
func (l *localTier[V]) expiry(h entry.Header) (int64, bool) {
	now := time.Now().UnixNano()
	exp := now + int64(l.ttl)
	if exp < now { // overflow
		exp = math.MaxInt64
	}
	if h.Expiry != 0 && h.Expiry < exp {
		exp = h.Expiry
	}
	return exp, exp > now
}

// localStore is the store of a cache with a local tier, beneath its kill
// switch: every write through it drops the local copies of the keys
// written once the store has answered (whatever it answered: a failed
// write may have reached the store), and Clear drops them all.
type localStore struct {
	store.Wrapper
	inv *localInv
}

var (
	_ store.Swapper           = (*localStore)(nil)
	_ store.FloatIncrementer  = (*localStore)(nil)
	_ store.CompareAndDeleter = (*localStore)(nil)
)

// GetFunc lends the bytes of the store beneath, as the switch does.
func (s *localStore) GetFunc(ctx context.Context, key string, f func([]byte) error) error {
	return store.GetFunc(ctx, s.Store, key, f)
}

func (s *localStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	defer s.inv.invalidate(key)
	return s.Store.Set(ctx, key, value, ttl)
}

func (s *localStore) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	defer func() {
		for _, e := range entries {
			s.inv.invalidate(e.Key)
		}
	}()
	return s.Store.SetMany(ctx, entries, ttl)
}

func (s *localStore) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	defer s.inv.invalidate(key)
	return s.Store.Add(ctx, key, value, ttl)
}

func (s *localStore) Delete(ctx context.Context, keys ...string) (int, error) {
	defer s.inv.invalidate(keys...)
	return s.Store.Delete(ctx, keys...)
}

func (s *localStore) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	defer s.inv.invalidate(key)
	return s.Store.Increment(ctx, key, delta)
}

func (s *localStore) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	defer s.inv.invalidate(key)
	return s.Store.Expire(ctx, key, ttl)
}

func (s *localStore) Clear(ctx context.Context, prefix string) error {
	defer s.inv.flush()
	return s.Store.Clear(ctx, prefix)
}

func (s *localStore) GetVersion(ctx context.Context, key string) (value, version []byte, err error) {
	return store.GetVersion(ctx, s.Store, key)
}

func (s *localStore) CompareAndSwap(ctx context.Context, key string, version, value []byte, ttl time.Duration) (bool, error) {
	defer s.inv.invalidate(key)
	return store.CompareAndSwap(ctx, s.Store, key, version, value, ttl)
}

func (s *localStore) IncrementFloat(ctx context.Context, key string, delta float64) (float64, error) {
	defer s.inv.invalidate(key)
	return store.IncrementFloat(ctx, s.Store, key, delta)
}

func (s *localStore) CompareAndDelete(ctx context.Context, key string, value []byte) (bool, error) {
	defer s.inv.invalidate(key)
	return store.CompareAndDelete(ctx, s.Store, key, value)
}

// observeLocalGet reports a local hit of Get for k to the cache's plugins
// as an OpGet with Hits 1 and Local set.
func (c *Cache[K, V]) observeLocalGet(ctx context.Context, k K) {
	key, err := c.keys.build("get", k)
	if err != nil {
		return
	}
	var h hook
	call := Call{Op: OpGet, Key: key, Hits: 1, Local: true}
	c.obs.before(ctx, &call, &h)
	c.obs.after(&call, &h, nil) // a plugin's panic is not the caller's: the value was found
}

// lookupLocal is Memoizer.lookup for a cache with a local tier: a local
// hit is a fresh entry; a miss reads the store and fills the tier with a
// fresh, positive entry. Such a copy is kept until the earliest moment the
// entry could be due for an early refresh (MemoizeOptions.EarlyRefresh),
// so that the local tier never hides the refresh; entries due for one,
// stale ones (StaleWhileRevalidate) and negative ones are not kept
// locally, and every call reads them from the store.
func (m *Memoizer[K, V]) lookupLocal(ctx context.Context, key string) (V, entry.Header, entryState, error) {
	if v, ok := m.c.localHit(key); ok {
		noteLocal(ctx)
		return v, entry.Header{}, entryFresh, nil
	}
	l := m.c.local
	l.misses.add(1)
	t := l.inv.begin(key)
	v, h, state, err := m.lookupStore(ctx, key)
	l.storeReads.Add(1)
	if err != nil || state != entryFresh || h.Negative() {
		return v, h, state, err
	}
	l.storeHits.Add(1)
	exp, ok := l.expiry(h)
	if ok && m.cfg.beta > 0 && h.Expiry != 0 {
		// early refreshes no sooner than expiry - delta - delta*beta*maxEarlyLead
		lead := float64(h.Delta) * (1 + m.cfg.beta*maxEarlyLead)
		exp = min(exp, h.Expiry-int64(min(lead, float64(math.MaxInt64/2))))
		ok = exp > time.Now().UnixNano()
	}
	if ok && l.inv.install(t, func() { l.set(key, v, exp) }) {
		l.fills.Add(1)
	}
	if l.clone != nil {
		v = l.clone(v) // the tier holds v: the caller gets its own copy
	}
	return v, h, state, nil
}

// getManyLocal is GetMany for a cache with a local tier: the keys the tier
// holds are answered by it, the others are read in one GetMany of the
// store, and the live values it finds fill the tier (under the fill
// fence, as for Get).
func (c *Cache[K, V]) getManyLocal(ctx context.Context, keys []K, skeys []string) (map[K]V, error) {
	l := c.local
	out := make(map[K]V, len(keys))
	var missK []K
	var missS, hitS []string
	for i, key := range skeys {
		if v, ok := c.localHit(key); ok {
			out[keys[i]] = v
			if c.obs != nil {
				hitS = append(hitS, key)
			}
			continue
		}
		missK, missS = append(missK, keys[i]), append(missS, key)
	}
	if len(hitS) > 0 {
		// The local hits reach no store: report them, as a Get's are, so
		// that plugins see every read; the misses' store read reports itself.
		var h hook
		call := Call{Op: OpGetMany, Keys: hitS, Hits: len(hitS), Local: true}
		c.obs.before(ctx, &call, &h)
		c.obs.after(&call, &h, nil)
	}
	if len(missS) == 0 {
		return out, nil
	}
	l.misses.add(uint64(len(missS)))
	tokens := make([]fillToken, len(missS))
	for i, key := range missS {
		tokens[i] = l.inv.begin(key)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	vals, err := c.s.GetMany(ctx, missS)
	l.storeReads.Add(uint64(len(missS)))
	if err != nil {
		return nil, store.Errorf("get_many", missS[0], err)
	}
	if len(vals) != len(missS) {
		return nil, &Error{Op: "get_many", Key: missS[0], Err: fmt.Errorf("store returned %d values for %d keys", len(vals), len(missS))}
	}
	var now int64
	for i, b := range vals {
		if b == nil {
			continue
		}
		var v V
		h, err := c.decodeEntry("get_many", missS[i], b, &v)
		if err != nil {
			return nil, err
		}
		if h.Negative() || c.expiredAt(h, &now) {
			continue
		}
		l.storeHits.Add(1)
		if exp, ok := l.expiry(h); ok {
			key := missS[i]
			if l.inv.install(tokens[i], func() { l.set(key, v, exp) }) {
				l.fills.Add(1)
			}
		}
		if l.clone != nil {
			v = l.clone(v)
		}
		out[missK[i]] = v
	}
	return out, nil
}
