package cachet

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// MemoizeOptions configures Memoize, NewMemoizer, MemoizeMany and
// NewManyMemoizer. A nil *MemoizeOptions means all defaults; the zero
// value of each field is its default. It is typed by the cache's K and V,
// so a Key or Skip function of the wrong type does not compile.
type MemoizeOptions[K comparable, V any] struct {
	// TTL is the time to live of memoized values: DefaultTTL (the
	// default) for the cache's default ttl, NoExpiry for none, or a
	// positive duration. A loader may override it per value with SetTTL.
	TTL time.Duration

	// Prefix puts prefix and a ':' between the cache's namespace (and
	// version) and the key, so that two memoized functions sharing one
	// cache never share entries: with namespace "app" and prefix "user",
	// key 42 is stored as "app:user:42". It may not contain ':'. Default:
	// none, the cache's keys are used as they are (so that Cache.Get and
	// Cache.Set see the memoized values).
	Prefix string

	// Key replaces the cache's key function. Like Options.Key, it must be
	// deterministic and injective. Default: the cache's.
	Key func(K) (string, error)

	// Skip makes the memoized function return, but not store, the results
	// for which it returns true (aiocache's skip_cache_func). Errors are
	// never stored, except as NotFound says. Default: store every result.
	Skip func(V) bool

	// NotFound and NotFoundTTL enable negative caching of "not found"
	// results, for NotFoundTTL (positive, or NoExpiry), independently of
	// TTL. Default: off (NotFoundTTL zero).
	//
	// For Memoize, a call of fn whose error matches NotFound (errors.Is)
	// is cached as "not found", and later calls return NotFound itself
	// until the entry expires; NotFound must then be set. Cache.Get of
	// such an entry returns ErrNotFound.
	//
	// For MemoizeMany, the keys that fn's map lacks are cached as "not
	// found" and left out of later results; NotFound is not used.
	NotFound    error
	NotFoundTTL time.Duration

	// ZeroNotFoundTTL, when not zero, treats a zero V returned with a nil
	// error as "not found": it is cached for ZeroNotFoundTTL (positive, or
	// NoExpiry) instead of TTL, and later calls return the zero V and a
	// nil error until it expires. Default: off.
	ZeroNotFoundTTL time.Duration

	// StampedeLease, when positive, protects fn across processes
	// (aiocache's cached_stampede): on a miss, the call first takes a
	// lease lock, an Add of a random token under "<key>:lock" with a ttl
	// of StampedeLease, so that one process computes the value while the
	// others wait for it. Waiters poll the store, starting every
	// StampedePoll and backing off exponentially with jitter (up to 16
	// polls), until the value appears (they return it) or the lock is
	// gone (released or expired: they take it over); the wait between
	// polls never exceeds the lease. The lease should exceed fn's usual run
	// time.
	//
	// The owner releases the lock with store.CompareAndDelete, so that
	// only the owner releases it. Store failures while locking make the
	// call go on without the lock. Refresh and CallNoWrite do not take the
	// lock; background refreshes take it only if it is free (so that
	// another process's computation is never duplicated). Not for
	// MemoizeMany. Default: 0, no lock.
	StampedeLease time.Duration
	// StampedePoll is the first wait between polls of a stampede-lock
	// waiter, at most StampedeLease. Default: StampedeLease/16.
	StampedePoll time.Duration

	// EarlyRefresh, when positive, enables probabilistic early
	// recomputation (XFetch, Vattani, Chierichetti and Lowenstein, VLDB
	// 2015) with beta = EarlyRefresh: a call that finds a fresh value still
	// returns it, but also starts a background refresh once
	//
	//	now >= expiry - delta - delta*beta*(-ln r)
	//
	// where delta is how long fn took the last time (kept in the entry)
	// and r is uniform in (0, 1]: an exponentially distributed lead (mean
	// delta*beta) before expiry - delta, one delta earlier than XFetch's
	// moment so that the recomputation ends before the expiry. beta is 1
	// in the paper; larger values refresh earlier.
	//
	// r is drawn once per entry, not on every read: it is derived from
	// the key and the entry's expiry, so every read of one entry, in every
	// process, makes the same draw, and the first read after the moment
	// starts the refresh, whatever the read rate and the number of
	// processes: about one recomputation per ttl (ttl/(ttl - delta*beta)
	// on average), and callers do not wait as long as the key is read at
	// least about once per delta. (A fresh draw on every read, as in the
	// paper, fires about delta*beta*ln(reads per delta*beta) early, so
	// several times per ttl for a hot key; a draw per process fires at the
	// earliest of the processes' moments.) Across processes, combine it
	// with StampedeLease: the processes reach the moment together, one
	// takes the lock and recomputes, the others find the lock taken or
	// the new entry.
	//
	// A background refresh (early or stale-while-revalidate) reads the
	// entry again before calling fn, after taking the lock, and skips fn
	// if a newer entry is there. Once it has run, or found the lock taken,
	// further triggers by the same entry in this process are ignored for
	// StampedeLease (1s without a lock), so that waiting for another
	// process costs one lock attempt, not one per read. A refresh whose fn
	// fails is retried by a later read.
	//
	// A refresh may still be running when the ttl passes (fn is slower
	// than last time, the machine is loaded, the moment drawn was late).
	// So that readers do not then wait, the store keeps each entry for a
	// margin of max(2*delta, TTL/10), at most TTL, past its ttl, and a
	// call that finds an entry past its ttl but within the margin returns
	// it at once, only while a refresh of that entry is under way: a
	// background refresh in this process, or another process's, whose
	// stampede lock this process found taken less than StampedeLease ago
	// (finding it costs one SET NX per process). Otherwise, and past the
	// margin, such an entry is a miss, as at the ttl without early
	// refresh. Such calls are reported as Stale. Cache.Get treats an entry
	// past its ttl as missing.
	//
	// It needs a ttl and the entry format (not Options.Raw). Not for
	// MemoizeMany. Default: 0, off.
	EarlyRefresh float64

	// StaleWhileRevalidate, when positive, keeps values for that long
	// after their ttl, and serves such a stale value at once while one
	// background refresh per key (per process) computes the new one (see
	// EarlyRefresh for how background refreshes avoid duplicate work).
	// Cache.Get treats a stale value as missing. It needs a ttl and the
	// entry format (not Options.Raw). Not for MemoizeMany. Default: 0, off.
	StaleWhileRevalidate time.Duration

	// CallTimeout bounds the shared call of fn (fn and the store writes
	// and lock waits around it) and background refreshes. The call runs
	// detached from the cancellation of the callers' contexts (so that one
	// caller giving up does not fail the others; each caller stops waiting
	// when its own context ends), keeping their values, with a deadline
	// CallTimeout from its start. Default: 0, meaning DefaultCallTimeout;
	// a negative value removes the deadline.
	CallTimeout time.Duration

	// Test seams.
	now       func() time.Time
	draw      func(key string, expiry int64) float64 // replaces the per-entry draw
	seed      uint64                                 // replaces entrySeed when not 0
	onRefresh func(key string)
}

// memoConfig is a Memoizer's resolved configuration.
type memoConfig[K comparable, V any] struct {
	keys        keyBuilder[K] // the cache's rule, with Prefix and Key
	skip        func(V) bool
	ttl         time.Duration // store ttl; 0: none
	notFound    error
	notFoundTTL time.Duration // 0: off; NoExpiry: none
	zeroTTL     time.Duration // 0: off; NoExpiry: none
	lease, poll time.Duration
	beta        float64
	swr         time.Duration
	callTimeout time.Duration // 0: none

	draw      func(key string, expiry int64) float64 // nil: uniform(seed, ...)
	seed      uint64
	now       func() time.Time
	realClock bool // now is time.Now
	onRefresh func(key string)
}

// memoConfigOf validates o for the cache c (many: for MemoizeMany) and
// resolves it. Its errors wrap ErrInvalidOption and name the field.
func memoConfigOf[K comparable, V any](c *Cache[K, V], o *MemoizeOptions[K, V], many bool) (memoConfig[K, V], error) {
	if o == nil {
		o = &MemoizeOptions[K, V]{}
	}
	var errs []error
	invalid := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: MemoizeOptions."+format, append([]any{ErrInvalidOption}, args...)...))
	}
	cfg := memoConfig[K, V]{
		skip:        o.Skip,
		notFound:    o.NotFound,
		beta:        o.EarlyRefresh,
		swr:         o.StaleWhileRevalidate,
		lease:       o.StampedeLease,
		poll:        o.StampedePoll,
		draw:        o.draw,
		seed:        o.seed,
		now:         o.now,
		onRefresh:   o.onRefresh,
		callTimeout: o.CallTimeout,
	}
	switch {
	case o.TTL == DefaultTTL:
		cfg.ttl = c.defaultTTL()
	case o.TTL > 0:
		cfg.ttl = o.TTL
	case o.TTL != NoExpiry:
		invalid("TTL %v: %w", o.TTL, ErrInvalidTTL)
	}
	if o.Prefix != "" && !validKeyPart(o.Prefix) {
		invalid("Prefix %q: may not contain %q", o.Prefix, keySep)
	}
	cfg.keys = c.subKeys(o.Prefix, o.Key)
	negTTL := func(name string, d time.Duration) time.Duration {
		if d < 0 && d != NoExpiry {
			invalid("%s %v: must be positive or NoExpiry", name, d)
		}
		return d
	}
	cfg.notFoundTTL = negTTL("NotFoundTTL", o.NotFoundTTL)
	cfg.zeroTTL = negTTL("ZeroNotFoundTTL", o.ZeroNotFoundTTL)
	if !many && (o.NotFound == nil) != (o.NotFoundTTL == 0) {
		invalid("NotFound and NotFoundTTL: Memoize needs both, or neither")
	}
	if o.StampedeLease < 0 || o.StampedePoll < 0 || o.StampedePoll > o.StampedeLease {
		invalid("StampedeLease %v, StampedePoll %v: need 0 <= StampedePoll <= StampedeLease", o.StampedeLease, o.StampedePoll)
	}
	if cfg.lease > 0 && cfg.poll == 0 {
		cfg.poll = max(cfg.lease/16, time.Millisecond)
		cfg.poll = min(cfg.poll, cfg.lease)
	}
	if o.EarlyRefresh < 0 || math.IsNaN(o.EarlyRefresh) || math.IsInf(o.EarlyRefresh, 0) {
		invalid("EarlyRefresh %v: must be positive, or 0 for off", o.EarlyRefresh)
	}
	if o.StaleWhileRevalidate < 0 {
		invalid("StaleWhileRevalidate %v: must be positive, or 0 for off", o.StaleWhileRevalidate)
	}
	if (o.EarlyRefresh > 0 || o.StaleWhileRevalidate > 0) && cfg.ttl == 0 {
		invalid("EarlyRefresh and StaleWhileRevalidate need a ttl")
	}
	if c.raw && (o.NotFoundTTL != 0 || o.ZeroNotFoundTTL != 0 || o.EarlyRefresh > 0 || o.StaleWhileRevalidate > 0) {
		invalid("NotFoundTTL, ZeroNotFoundTTL, EarlyRefresh and StaleWhileRevalidate need the entry format: the cache has Options.Raw")
	}
	if c.only != nil && (o.NotFoundTTL != 0 || o.ZeroNotFoundTTL != 0 || o.StampedeLease > 0 || o.EarlyRefresh > 0 || o.StaleWhileRevalidate > 0) {
		invalid("NotFoundTTL, ZeroNotFoundTTL, StampedeLease, EarlyRefresh and StaleWhileRevalidate: %w by a memory-only cache (NewLocal)", ErrNotSupported)
	}
	if many && (o.StampedeLease > 0 || o.EarlyRefresh > 0 || o.StaleWhileRevalidate > 0) {
		invalid("StampedeLease, EarlyRefresh and StaleWhileRevalidate are not supported by MemoizeMany")
	}
	switch {
	case cfg.callTimeout == 0:
		cfg.callTimeout = DefaultCallTimeout
	case cfg.callTimeout < 0:
		cfg.callTimeout = 0
	}
	if cfg.seed == 0 {
		cfg.seed = entrySeed
	}
	if cfg.now == nil {
		cfg.now = time.Now
		cfg.realClock = true
	}
	return cfg, errors.Join(errs...)
}
