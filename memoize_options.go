package cachet

import (
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"time"
)

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
		if prefix == "" || !validKeyPart(prefix) {
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

func (m *Memoizer[K, V]) configure(opts []MemoizeOption, many bool) error {
	cfg := memoConfig{callTimeout: DefaultCallTimeout}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	var keyFn func(K) (string, error) // nil: the cache's
	if cfg.key != nil {
		fn, ok := cfg.key.(func(K) (string, error))
		if !ok {
			var k K
			cfg.invalid("WithKey: %T is not a func(%T) (string, error)", cfg.key, k)
		}
		keyFn = fn
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
		m.ttl = m.c.defaultTTL()
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
	m.keys = m.c.subKeys(cfg.prefix, keyFn)
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
	inProcess := m.c.inProcess()
	m.hitClock = cfg.beta > 0 || cfg.swr > 0 || !inProcess || !cfg.realClock
	m.joinRunning = !inProcess
	return errors.Join(cfg.errs...)
}
