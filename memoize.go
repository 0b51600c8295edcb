package cachet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/cachet-go/cachet/internal/flight"
	"github.com/cachet-go/cachet/store"
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

// MemoizeOption configures Memoize, NewMemoizer and MemoizeMany. Options
// are applied in order; a later option overrides an earlier one of the
// same kind.
type MemoizeOption func(*memoConfig)

type memoConfig struct {
	ttl         time.Duration
	prefix      string
	key         any // func(K) (string, error)
	skip        any // func(V) bool
	notFound    error
	notFoundTTL time.Duration
	notFoundSet bool
	zeroTTL     time.Duration
	zeroSet     bool
	lease, poll time.Duration
	beta        float64
	swr         time.Duration
	callTimeout time.Duration
	errs        []error

	// Test seams.
	rand      func() float64
	now       func() time.Time
	realClock bool // now is time.Now
	onRefresh func(key string)
}

func (c *memoConfig) invalid(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...))
}

// WithTTL sets the time to live of memoized values: DefaultTTL (the
// default) for the cache's default ttl, NoExpiry for none, or a positive
// duration.
func WithTTL(ttl time.Duration) MemoizeOption {
	return func(c *memoConfig) {
		if ttl < 0 && ttl != NoExpiry {
			c.invalid("WithTTL(%v): %w", ttl, ErrInvalidTTL)
		}
		c.ttl = ttl
	}
}

// WithPrefix puts prefix and a ':' between the cache's namespace (and
// version) and the key, so that two memoized functions sharing one cache
// never share entries: with namespace "app" and prefix "user", key 42 is
// stored as "app:user:42". The prefix must be non-empty and may not contain
// ':'. Default: no prefix, the cache's keys are used as they are.
func WithPrefix(prefix string) MemoizeOption {
	return func(c *memoConfig) {
		if prefix == "" || strings.Contains(prefix, keySep) {
			c.invalid("WithPrefix(%q): the prefix must be non-empty and may not contain %q", prefix, keySep)
		}
		c.prefix = prefix
	}
}

// WithKey replaces the cache's key function for the memoized function.
// Like Options.Key, fn must be deterministic and injective. K must be the
// cache's key type, or Memoize reports an invalid option.
func WithKey[K comparable](fn func(K) (string, error)) MemoizeOption {
	return func(c *memoConfig) {
		if fn == nil {
			c.invalid("WithKey(nil)")
			return
		}
		c.key = fn
	}
}

// WithSkip makes the memoized function return, but not store, the results
// for which skip returns true (aiocache's skip_cache_func). V must be the
// cache's value type. Errors are never stored, except as WithNotFound says.
func WithSkip[V any](skip func(V) bool) MemoizeOption {
	return func(c *memoConfig) {
		if skip == nil {
			c.invalid("WithSkip(nil)")
			return
		}
		c.skip = skip
	}
}

// WithNotFound enables negative caching of "not found" results for ttl
// (positive, or NoExpiry), independently of the ttl of values.
//
// For Memoize, a call of fn whose error matches err (errors.Is) is cached
// as "not found", and later calls return err itself until the entry
// expires. err must not be nil.
//
// For MemoizeMany, the keys that fn's map lacks are cached as "not found"
// and left out of later results; err is not used there and may be nil.
//
// A not-found entry is marked as such in the entry's header, so it is
// never confused with a stored zero value.
func WithNotFound(err error, ttl time.Duration) MemoizeOption {
	return func(c *memoConfig) {
		if ttl <= 0 && ttl != NoExpiry {
			c.invalid("WithNotFound ttl %v: must be positive or NoExpiry", ttl)
		}
		c.notFound, c.notFoundTTL, c.notFoundSet = err, ttl, true
	}
}

// WithZeroNotFound treats a zero V returned with a nil error as "not
// found": it is cached with its own ttl (positive, or NoExpiry) instead of
// the ttl of values, and later calls return the zero V and a nil error
// until it expires.
func WithZeroNotFound(ttl time.Duration) MemoizeOption {
	return func(c *memoConfig) {
		if ttl <= 0 && ttl != NoExpiry {
			c.invalid("WithZeroNotFound ttl %v: must be positive or NoExpiry", ttl)
		}
		c.zeroTTL, c.zeroSet = ttl, true
	}
}

// WithStampedeLock protects fn across processes (aiocache's
// cached_stampede): on a miss, the call first takes a lease lock, an Add
// of a random token under "<key>:lock" with a ttl of lease, so that one
// process computes the value while the others wait for it. Waiters poll
// the store, starting every poll and backing off exponentially with jitter
// (up to 16 polls), until the value appears (they return it) or the lock
// is gone (released or expired: they take it over); the wait between
// polls never exceeds lease. lease should exceed
// fn's usual run time; poll should be a small fraction of it.
//
// The owner releases the lock with store.CompareAndDeleter when the store
// (or a store it wraps) has it, so that only the owner can release it;
// otherwise with a Get, a comparison and a Delete, which leaves a short
// window in which a lock taken over after the lease expired can be
// removed. Store failures while locking make the call go on without the
// lock. Refresh and CallNoWrite do not take the lock; background
// refreshes take it only if it is free.
func WithStampedeLock(lease, poll time.Duration) MemoizeOption {
	return func(c *memoConfig) {
		if lease <= 0 || poll <= 0 || poll > lease {
			c.invalid("WithStampedeLock(%v, %v): need 0 < poll <= lease", lease, poll)
		}
		c.lease, c.poll = lease, poll
	}
}

// WithEarlyRefresh enables probabilistic early recomputation (XFetch,
// Vattani, Chierichetti and Lowenstein, VLDB 2015): a call that finds a
// fresh value still returns it, but also starts a background refresh when
//
//	now - delta*beta*ln(rand()) >= expiry
//
// where delta is how long fn took the last time (kept in the entry) and
// rand() is uniform in (0, 1]. The chance of a refresh grows as the expiry
// nears, so hot keys are recomputed before they expire, by one caller. beta
// is 1 in the paper; larger values refresh earlier. It needs a ttl.
func WithEarlyRefresh(beta float64) MemoizeOption {
	return func(c *memoConfig) {
		if !(beta > 0) || math.IsInf(beta, 0) {
			c.invalid("WithEarlyRefresh(%v): beta must be positive", beta)
		}
		c.beta = beta
	}
}

// WithStaleWhileRevalidate keeps values for window after their ttl, and
// serves such a stale value at once while one background refresh per key
// (per process) computes the new one. Background refreshes are bounded by
// the call timeout. It needs a ttl.
func WithStaleWhileRevalidate(window time.Duration) MemoizeOption {
	return func(c *memoConfig) {
		if window <= 0 {
			c.invalid("WithStaleWhileRevalidate(%v): window must be positive", window)
		}
		c.swr = window
	}
}

// WithCallTimeout bounds the shared call of fn. The call runs detached from
// the cancellation of the callers' contexts (so that one caller giving up
// does not fail the others; each caller stops waiting when its own context
// ends), keeping their values, with a deadline d from its start. Default:
// DefaultCallTimeout; a negative d removes the deadline.
func WithCallTimeout(d time.Duration) MemoizeOption {
	return func(c *memoConfig) {
		if d == 0 {
			d = DefaultCallTimeout
		}
		c.callTimeout = d
	}
}

// Entry header of memoized values.
//
//	byte 0     memoMagic
//	byte 1     memoVersion
//	byte 2     flags
//	bytes 3-10  created-at, Unix nanoseconds, big endian
//	bytes 11-18 delta: how long fn took, nanoseconds
//	bytes 19-26 logical expiry, Unix nanoseconds; 0 for none
//	then       the codec's output (nothing for not-found entries)
const (
	memoMagic     = 0xC7
	memoVersion   = 1
	memoHeaderLen = 27

	flagNotFound = 1 << 0 // fn reported not found; no payload
	flagZero     = 1 << 1 // fn returned the zero V, cached as not found
)

type memoHeader struct {
	flags   byte
	created int64
	delta   int64
	expiry  int64
}

func appendMemoHeader(b []byte, h memoHeader) []byte {
	b = append(b, memoMagic, memoVersion, h.flags)
	b = binary.BigEndian.AppendUint64(b, uint64(h.created))
	b = binary.BigEndian.AppendUint64(b, uint64(h.delta))
	return binary.BigEndian.AppendUint64(b, uint64(h.expiry))
}

// parseMemoHeader splits b into header and payload. ok is false for bytes
// that were not written by a memoized function (or by a later version).
func parseMemoHeader(b []byte) (h memoHeader, payload []byte, ok bool) {
	if len(b) < memoHeaderLen || b[0] != memoMagic || b[1] != memoVersion {
		return h, nil, false
	}
	h.flags = b[2]
	h.created = int64(binary.BigEndian.Uint64(b[3:]))
	h.delta = int64(binary.BigEndian.Uint64(b[11:]))
	h.expiry = int64(binary.BigEndian.Uint64(b[19:]))
	negative := h.flags&(flagNotFound|flagZero) != 0
	if h.flags&^(flagNotFound|flagZero) != 0 || (negative && len(b) != memoHeaderLen) {
		return h, nil, false
	}
	return h, b[memoHeaderLen:], true
}

// xfetch reports whether a value expiring at expiry, whose recomputation
// took delta, should be recomputed now; r is uniform in (0, 1].
func xfetch(now, expiry, delta int64, beta, r float64) bool {
	return float64(now)-float64(delta)*beta*math.Log(r) >= float64(expiry)
}

// Memoizer is a memoized function with its per-key controls: Call reads
// through the cache, Refresh recomputes, CallNoWrite reads without
// writing, and Invalidate forgets one key. Create one with NewMemoizer;
// Memoize returns its Call method.
//
// Memoized entries carry a 27-byte header in front of the codec's output:
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
	c     *Cache[K, V]
	fn    func(ctx context.Context, k K) (V, error)
	cfg   memoConfig
	keyFn func(K) (string, error)
	skip  func(V) bool
	ttl   time.Duration // resolved: 0 means none
	cad   store.CompareAndDeleter
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
// every waiting caller.
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

func (m *Memoizer[K, V]) configure(opts []MemoizeOption, many bool) error {
	cfg := memoConfig{callTimeout: DefaultCallTimeout}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.key != nil {
		fn, ok := cfg.key.(func(K) (string, error))
		if !ok {
			var k K
			cfg.invalid("WithKey: %T is not a func(%T) (string, error)", cfg.key, k)
		}
		m.keyFn = fn
	} else {
		m.keyFn = m.c.keys.fn
	}
	if cfg.skip != nil {
		fn, ok := cfg.skip.(func(V) bool)
		if !ok {
			var v V
			cfg.invalid("WithSkip: %T is not a func(%T) bool", cfg.skip, v)
		}
		m.skip = fn
	}
	switch {
	case cfg.ttl == DefaultTTL:
		m.ttl = m.c.ttl
	case cfg.ttl > 0:
		m.ttl = cfg.ttl
	}
	if cfg.notFoundSet && cfg.notFound == nil && !many {
		cfg.invalid("WithNotFound: Memoize needs a non-nil error to recognise")
	}
	if (cfg.beta > 0 || cfg.swr > 0) && m.ttl == 0 {
		cfg.invalid("WithEarlyRefresh and WithStaleWhileRevalidate need a ttl")
	}
	if many && (cfg.lease > 0 || cfg.beta > 0 || cfg.swr > 0) {
		cfg.invalid("MemoizeMany does not support WithStampedeLock, WithEarlyRefresh or WithStaleWhileRevalidate")
	}
	if cfg.prefix != "" {
		cfg.prefix += keySep
	}
	if cfg.rand == nil {
		cfg.rand = mrand.Float64
	}
	if cfg.now == nil {
		cfg.now = time.Now
		cfg.realClock = true
	}
	m.cfg = cfg
	// An in-process store hides an entry at its ttl to the millisecond,
	// which is the entry's expiry when neither early refresh nor
	// stale-while-revalidate keeps it longer: then a hit need not read
	// the clock (about 65 ns, a third of a memstore hit).
	_, inProcess := store.As[store.InProcess](m.c.s)
	m.hitClock = cfg.beta > 0 || cfg.swr > 0 || !inProcess || !cfg.realClock
	m.joinRunning = !inProcess
	if cad, ok := store.As[store.CompareAndDeleter](m.c.s); ok {
		m.cad = cad
	}
	return errors.Join(cfg.errs...)
}

// Key returns the store key of k's memoized entry.
func (m *Memoizer[K, V]) Key(k K) (string, error) { return m.key("memoize", k) }

func (m *Memoizer[K, V]) key(op string, k K) (string, error) {
	s, err := m.keyFn(k)
	if err != nil {
		return "", &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidKey, err)}
	}
	if s == "" {
		return "", &Error{Op: op, Err: fmt.Errorf("%w: empty key", ErrInvalidKey)}
	}
	return m.c.keys.prefix + m.cfg.prefix + s, nil
}

// callCtx bounds the shared call.
func (m *Memoizer[K, V]) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if m.cfg.callTimeout < 0 {
		return ctx, noop
	}
	return context.WithTimeout(ctx, m.cfg.callTimeout)
}

// entryState classifies a cached entry.
type entryState int

const (
	entryMiss  entryState = iota // absent, foreign, undecodable or expired
	entryFresh                   // within its ttl
	entryEarly                   // within its ttl, but XFetch says refresh
	entryStale                   // past its ttl, within the stale window
)

// lookup reads key's entry. A read error, a foreign value or a decoding
// error is a miss.
func (m *Memoizer[K, V]) lookup(ctx context.Context, key string) (V, memoHeader, entryState) {
	now, gctx, cancel := m.readCtx(ctx)
	b, err := m.c.s.Get(gctx, key)
	cancel()
	if err != nil {
		var zero V
		return zero, memoHeader{}, entryMiss
	}
	return m.decode(b, now)
}

// readCtx is Cache.withTimeout for reads, which also returns the current
// time (Unix nanoseconds) for the entries' expiry checks: it reads the
// clock as often as withTimeout does, which matters where reading it is
// slow (some virtual machines).
func (m *Memoizer[K, V]) readCtx(ctx context.Context) (int64, context.Context, context.CancelFunc) {
	if !m.hitClock && m.c.timeout <= 0 {
		return 0, ctx, noop // 0: decode sees no entry as expired
	}
	t := time.Now()
	now := t.UnixNano()
	if !m.cfg.realClock {
		now = m.cfg.now().UnixNano()
	}
	if m.c.timeout <= 0 {
		return now, ctx, noop
	}
	if dl, ok := ctx.Deadline(); ok && dl.Sub(t) <= m.c.timeout {
		return now, ctx, noop
	}
	gctx, cancel := context.WithDeadline(ctx, t.Add(m.c.timeout))
	return now, gctx, cancel
}

// decode classifies and decodes an entry read at now (Unix nanoseconds).
func (m *Memoizer[K, V]) decode(b []byte, now int64) (V, memoHeader, entryState) {
	var v V
	h, payload, ok := parseMemoHeader(b)
	if !ok {
		return v, h, entryMiss
	}
	state := entryFresh
	if h.expiry != 0 && now >= h.expiry {
		if m.cfg.swr <= 0 || h.flags != 0 || now >= h.expiry+int64(m.cfg.swr) {
			return v, h, entryMiss
		}
		state = entryStale
	} else if m.cfg.beta > 0 && h.expiry != 0 && h.flags == 0 && xfetch(now, h.expiry, h.delta, m.cfg.beta, 1-m.cfg.rand()) {
		state = entryEarly
	}
	if h.flags == 0 {
		if err := m.c.codec.Unmarshal(payload, &v); err != nil {
			var zero V
			return zero, h, entryMiss
		}
	}
	return v, h, state
}

// result turns an entry into the memoized function's answer.
func (m *Memoizer[K, V]) result(v V, h memoHeader, key string) (V, error) {
	if h.flags&flagNotFound != 0 {
		if m.cfg.notFound != nil {
			return v, m.cfg.notFound
		}
		return v, &Error{Op: "memoize", Key: key, Err: ErrNotFound}
	}
	return v, nil
}

// Call returns the value cached for k, or calls fn for it, caches the
// result and returns it. Concurrent calls for one key share one call of
// fn. With WithEarlyRefresh or WithStaleWhileRevalidate, Call may start a
// background refresh of k while returning the cached value.
func (m *Memoizer[K, V]) Call(ctx context.Context, k K) (V, error) {
	key, err := m.key("memoize", k)
	if err != nil {
		var zero V
		return zero, err
	}
	// Over a networked store, while a shared call for key runs the value
	// is known to be missing: join the call without a round trip, so that
	// a burst of cold callers costs fewer reads. (The shared call reads
	// again before calling fn, so joining one that has just ended finds
	// its value.) Over memstore the read is as cheap as the check.
	if !m.joinRunning || !m.running(key) {
		v, h, state := m.lookup(ctx, key)
		switch state {
		case entryFresh:
			return m.result(v, h, key)
		case entryEarly, entryStale:
			m.refreshAsync(ctx, k, key)
			return m.result(v, h, key)
		}
	}
	if err := ctx.Err(); err != nil {
		var zero V
		return zero, &Error{Op: "memoize", Key: key, Err: err}
	}
	v, _, err := m.group.Do(ctx, key, func(ctx context.Context) (V, error) {
		m.computing.Store(key, struct{}{})
		defer m.computing.Delete(key)
		ctx, cancel := m.callCtx(ctx)
		defer cancel()
		if m.cfg.lease > 0 {
			release, done, v, err := m.lock(ctx, key)
			if done {
				return v, err
			}
			if release != nil {
				defer release()
			}
		} else if v, h, state := m.lookup(ctx, key); state != entryMiss {
			// A caller that missed just before another call stored the
			// value, and reached the group just after that call ended,
			// finds the value here instead of calling fn again.
			return m.result(v, h, key)
		}
		return m.compute(ctx, k, key, true)
	})
	return v, err
}

// running reports whether a Call's shared call for key is running.
func (m *Memoizer[K, V]) running(key string) bool {
	_, ok := m.computing.Load(key)
	return ok
}

// Refresh calls fn for k without reading the cache, caches the result and
// returns it (aiocache's cache_read=False). Concurrent Refresh calls for one
// key share one call of fn; they do not take the stampede lock.
func (m *Memoizer[K, V]) Refresh(ctx context.Context, k K) (V, error) {
	key, err := m.key("memoize", k)
	if err != nil {
		var zero V
		return zero, err
	}
	v, _, err := m.group.Do(ctx, "\x00refresh\x00"+key, func(ctx context.Context) (V, error) {
		ctx, cancel := m.callCtx(ctx)
		defer cancel()
		return m.compute(ctx, k, key, true)
	})
	return v, err
}

// CallNoWrite returns the value cached for k, or calls fn for it without
// caching the result (aiocache's cache_write=False). Concurrent
// CallNoWrite calls for one key share one call of fn; they do not take
// the stampede lock.
func (m *Memoizer[K, V]) CallNoWrite(ctx context.Context, k K) (V, error) {
	key, err := m.key("memoize", k)
	if err != nil {
		var zero V
		return zero, err
	}
	v, h, state := m.lookup(ctx, key)
	if state != entryMiss {
		return m.result(v, h, key)
	}
	if err := ctx.Err(); err != nil {
		return v, &Error{Op: "memoize", Key: key, Err: err}
	}
	v, _, err = m.group.Do(ctx, "\x00nowrite\x00"+key, func(ctx context.Context) (V, error) {
		ctx, cancel := m.callCtx(ctx)
		defer cancel()
		return m.compute(ctx, k, key, false)
	})
	return v, err
}

// Invalidate removes k's memoized entry, so that the next Call computes it
// again. Unlike calls, it returns the store's error.
func (m *Memoizer[K, V]) Invalidate(ctx context.Context, k K) error {
	key, err := m.key("delete", k)
	if err != nil {
		return err
	}
	ctx, cancel := m.c.withTimeout(ctx)
	defer cancel()
	_, err = m.c.s.Delete(ctx, key)
	return store.Errorf("delete", key, err)
}

// compute calls fn and, when write is set, caches its result.
func (m *Memoizer[K, V]) compute(ctx context.Context, k K, key string, write bool) (V, error) {
	start := m.cfg.now()
	v, err := m.fn(ctx, k)
	if !write {
		return v, err
	}
	now := m.cfg.now()
	delta := now.Sub(start)
	switch {
	case err != nil:
		if m.cfg.notFound != nil && errors.Is(err, m.cfg.notFound) {
			m.write(ctx, key, now, memoHeader{flags: flagNotFound}, nil, m.cfg.notFoundTTL)
		}
	case m.cfg.zeroSet && isZero(v):
		m.write(ctx, key, now, memoHeader{flags: flagZero}, nil, m.cfg.zeroTTL)
	case m.skip != nil && m.skip(v):
	default:
		payload, merr := m.c.codec.Marshal(v)
		if merr == nil {
			m.write(ctx, key, now, memoHeader{delta: int64(delta)}, payload, m.ttl)
		}
	}
	return v, err
}

func isZero[V any](v V) bool { return reflect.ValueOf(&v).Elem().IsZero() }

// write stores an entry; failures are left to the middleware to report.
func (m *Memoizer[K, V]) write(ctx context.Context, key string, now time.Time, h memoHeader, payload []byte, ttl time.Duration) {
	b, sttl := m.entry(now, h, payload, ttl)
	ctx, cancel := m.c.withTimeout(ctx)
	defer cancel()
	m.c.s.Set(ctx, key, b, sttl)
}

// entry returns an entry's bytes and its store ttl.
func (m *Memoizer[K, V]) entry(now time.Time, h memoHeader, payload []byte, ttl time.Duration) ([]byte, time.Duration) {
	if ttl == NoExpiry {
		ttl = 0
	}
	h.created = now.UnixNano()
	sttl := ttl
	if ttl > 0 {
		h.expiry = now.Add(ttl).UnixNano()
		if h.flags == 0 && m.cfg.swr > 0 {
			sttl += m.cfg.swr
		}
	}
	b := make([]byte, 0, memoHeaderLen+len(payload))
	return append(appendMemoHeader(b, h), payload...), sttl
}

// lock takes key's stampede lock, or waits for another process's value.
// done reports that the wait produced the call's answer (v, err); otherwise
// the caller computes the value and calls release, if not nil, afterwards.
// When the store fails, the call goes on without the lock.
func (m *Memoizer[K, V]) lock(ctx context.Context, key string) (release func(), done bool, v V, err error) {
	lockKey := key + LockSuffix
	token := []byte(rand.Text())
	backoff := m.cfg.poll
	maxBackoff := min(16*m.cfg.poll, m.cfg.lease)
	for {
		actx, cancel := m.c.withTimeout(ctx)
		err := m.c.s.Add(actx, lockKey, token, m.cfg.lease)
		cancel()
		if err == nil {
			release = func() { m.unlock(ctx, lockKey, token) }
			// The value may have been written, and the lock released,
			// between our miss and our Add.
			if v, h, state := m.lookup(ctx, key); state != entryMiss {
				release()
				v, err := m.result(v, h, key)
				return nil, true, v, err
			}
			return release, false, v, nil
		}
		if !errors.Is(err, ErrExists) {
			return nil, false, v, nil
		}
		// Jitter: sleep a random time in [backoff/2, backoff].
		d := backoff/2 + time.Duration(mrand.Int64N(int64(backoff/2)+1))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, true, v, &Error{Op: "memoize", Key: key, Err: fmt.Errorf("waiting for the stampede lock: %w", ctx.Err())}
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
		if v, h, state := m.lookup(ctx, key); state != entryMiss {
			v, err := m.result(v, h, key)
			return nil, true, v, err
		}
	}
}

// unlock releases a lock this process holds, even when the call's context
// has ended.
func (m *Memoizer[K, V]) unlock(ctx context.Context, lockKey string, token []byte) {
	ctx, cancel := m.c.withTimeout(context.WithoutCancel(ctx))
	defer cancel()
	if m.cad != nil {
		m.cad.CompareAndDelete(ctx, lockKey, token)
		return
	}
	// Fallback: not atomic (see WithStampedeLock).
	if b, err := m.c.s.Get(ctx, lockKey); err == nil && bytes.Equal(b, token) {
		m.c.s.Delete(ctx, lockKey)
	}
}

// refreshAsync recomputes key in the background, once per key at a time
// in this process (and, with the stampede lock, only if no other process
// holds it). A panic in fn there is recovered: the entry is left as it was.
func (m *Memoizer[K, V]) refreshAsync(ctx context.Context, k K, key string) {
	if _, busy := m.refreshing.LoadOrStore(key, struct{}{}); busy {
		return
	}
	go func() {
		func() {
			defer func() { _ = recover() }()
			ctx, cancel := m.callCtx(context.WithoutCancel(ctx))
			defer cancel()
			if m.cfg.lease > 0 {
				lockKey := key + LockSuffix
				token := []byte(rand.Text())
				actx, cancel := m.c.withTimeout(ctx)
				err := m.c.s.Add(actx, lockKey, token, m.cfg.lease)
				cancel()
				if errors.Is(err, ErrExists) {
					return
				}
				if err == nil {
					defer m.unlock(ctx, lockKey, token)
				}
			}
			m.compute(ctx, k, key, true)
		}()
		m.refreshing.Delete(key)
		if m.cfg.onRefresh != nil {
			m.cfg.onRefresh(key)
		}
	}()
}

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
	now, gctx, cancel := m.readCtx(ctx)
	vals, err := m.c.s.GetMany(gctx, keys)
	cancel()
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
			case h.flags&flagNotFound == 0:
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
	readAt, gctx, gcancel := m.readCtx(ctx)
	vals, err := m.c.s.GetMany(gctx, keys)
	gcancel()
	if err == nil && len(vals) == len(keys) {
		missed := keys[:0:0]
		for i, b := range vals {
			v, h, state := m.decode(b, readAt)
			switch {
			case b == nil || state == entryMiss:
				missed = append(missed, keys[i])
			case h.flags&flagNotFound == 0:
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
				b, _ := m.entry(now, memoHeader{flags: flagNotFound}, nil, m.cfg.notFoundTTL)
				notFound = append(notFound, store.Entry{Key: key, Value: b})
			}
			continue
		case m.cfg.zeroSet && isZero(v):
			b, _ := m.entry(now, memoHeader{flags: flagZero}, nil, m.cfg.zeroTTL)
			zeros = append(zeros, store.Entry{Key: key, Value: b})
		case m.skip != nil && m.skip(v):
		default:
			if payload, err := m.c.codec.Marshal(v); err == nil {
				b, _ := m.entry(now, memoHeader{delta: delta}, payload, m.ttl)
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

func (m *Memoizer[K, V]) writeMany(ctx context.Context, entries []store.Entry, ttl time.Duration) {
	if len(entries) == 0 {
		return
	}
	if ttl == NoExpiry {
		ttl = 0
	}
	ctx, cancel := m.c.withTimeout(ctx)
	defer cancel()
	m.c.s.SetMany(ctx, entries, ttl)
}
