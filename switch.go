package cachet

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/noopstore"
)

// The kill switch (aiocache's AIOCACHE_DISABLE), turned at run time
// without rebuilding the cache:
//
//	c.Disable() // every call now behaves as over noopstore
//	c.Enable()  // back to the store, whose contents were left as they were
//
// or from configuration: ?disabled=true on a store URL, Options.Disabled,
// or "disabled": true in an alias of package caches. A program that wants
// an environment variable reads it itself:
//
//	if os.Getenv("APP_CACHE_DISABLE") != "" { c.Disable() }
//
// While off, reads miss (Get gives ErrNotFound, GetOrLoad and memoized
// functions call their loader every time), writes are accepted and
// dropped, Add succeeds, Delete and Expire find nothing, Increment
// returns its delta, Clear and ClearAll do nothing. Values are still
// encoded, so a codec error still shows. Nothing reaches the store or the
// cache's middleware (plugins see no calls), except Close, and the locks
// of Cache.Lock, which keep excluding each other: turning caching off
// must not turn mutual exclusion off. A view (WithNamespace, WithVersion,
// CodecView) shares the switch of the cache it comes from.
//
// # Performance
//
// The switch is one atomic load and one forwarding call per store call,
// with no allocation. BenchmarkCache_KillSwitch measures a Get hit over
// memstore (the cheapest store, where any cost shows most) with and
// without the switch in paired runs: the median per-pair ratio was 1.000
// to 1.002 on a loaded 2-core machine, that is, nothing measurable. Over
// a network store a call costs tens of microseconds more, which hides it
// further. Off, a Get costs what a noopstore miss does (about the same
// as a memstore hit, in the same benchmark).

// switchStore is the outermost store of every Cache: it forwards to the
// cache's middleware and store while on, and to a noopstore while off.
//
// Close turns it to a third state, closed, for good: every call then
// returns ErrClosed (see own.go).
type switchStore struct {
	store.Wrapper
	state atomic.Uint32 // switchOn, switchOff or switchClosed
	noop  noopstore.Store
	owns  bool // Options.OwnsStore: Close closes the store
}

// The states of a switchStore.
const (
	switchOn uint32 = iota
	switchOff
	switchClosed
)

func newSwitch(s store.Store, off, owns bool) *switchStore {
	sw := &switchStore{Wrapper: store.Wrapper{Store: s}, owns: owns}
	if off {
		sw.state.Store(switchOff)
	}
	return sw
}

// turn moves the switch from one of on and off to the other; a closed
// switch stays closed.
func (s *switchStore) turn(to uint32) {
	for {
		cur := s.state.Load()
		if cur == switchClosed || cur == to || s.state.CompareAndSwap(cur, to) {
			return
		}
	}
}

// idle is the store used while the switch is not on.
func (s *switchStore) idle() store.Store {
	if s.state.Load() == switchClosed {
		return closedStore{}
	}
	return &s.noop
}

// Disable turns the cache off, as its kill switch: until Enable, it
// behaves as over noopstore (reads miss, writes are dropped) without
// touching the store or its contents. It is safe to call concurrently
// with any other method; calls already under way finish as they began.
func (c *Cache[K, V]) Disable() { c.killSwitch().turn(switchOff) }

// Enable turns the cache back on after Disable. The store holds whatever
// it held before (less what expired meanwhile): writes made while the
// cache was off were dropped, so a value written then is not there, and
// one deleted then is still there.
func (c *Cache[K, V]) Enable() { c.killSwitch().turn(switchOn) }

// Enabled reports whether the cache is on (not Disabled, not Closed).
func (c *Cache[K, V]) Enabled() bool { return c.killSwitch().state.Load() == switchOn }

// killSwitch returns the cache's switch, its outermost store.
func (c *Cache[K, V]) killSwitch() *switchStore { return c.s.(*switchStore) }

// liveStore returns the cache's store (through its middleware) beneath
// the kill switch: what the cache uses while on, whatever the switch.
// After Close it is a store that returns ErrClosed.
func (c *Cache[K, V]) liveStore() store.Store {
	sw := c.killSwitch()
	if sw.state.Load() == switchClosed {
		return closedStore{}
	}
	return sw.Store
}

func (s *switchStore) Get(ctx context.Context, key string) ([]byte, error) {
	if s.state.Load() != switchOn {
		return s.idle().Get(ctx, key)
	}
	return s.Store.Get(ctx, key)
}

// GetFunc lends the stored bytes of the store underneath when it can lend
// them (store.Lender, as memstore does), so that the switch costs a hit no
// copy; see store.GetFunc.
func (s *switchStore) GetFunc(ctx context.Context, key string, f func([]byte) error) error {
	if s.state.Load() != switchOn {
		return store.GetFunc(ctx, s.idle(), key, f)
	}
	return store.GetFunc(ctx, s.Store, key, f)
}

func (s *switchStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if s.state.Load() != switchOn {
		return s.idle().GetMany(ctx, keys)
	}
	return s.Store.GetMany(ctx, keys)
}

func (s *switchStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if s.state.Load() != switchOn {
		return s.idle().Set(ctx, key, value, ttl)
	}
	return s.Store.Set(ctx, key, value, ttl)
}

func (s *switchStore) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	if s.state.Load() != switchOn {
		return s.idle().SetMany(ctx, entries, ttl)
	}
	return s.Store.SetMany(ctx, entries, ttl)
}

func (s *switchStore) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if s.state.Load() != switchOn {
		return s.idle().Add(ctx, key, value, ttl)
	}
	return s.Store.Add(ctx, key, value, ttl)
}

func (s *switchStore) Delete(ctx context.Context, keys ...string) (int, error) {
	if s.state.Load() != switchOn {
		return s.idle().Delete(ctx, keys...)
	}
	return s.Store.Delete(ctx, keys...)
}

func (s *switchStore) Exists(ctx context.Context, key string) (bool, error) {
	if s.state.Load() != switchOn {
		return s.idle().Exists(ctx, key)
	}
	return s.Store.Exists(ctx, key)
}

func (s *switchStore) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	if s.state.Load() != switchOn {
		return s.idle().Increment(ctx, key, delta)
	}
	return s.Store.Increment(ctx, key, delta)
}

func (s *switchStore) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if s.state.Load() != switchOn {
		return s.idle().Expire(ctx, key, ttl)
	}
	return s.Store.Expire(ctx, key, ttl)
}

func (s *switchStore) TTL(ctx context.Context, key string) (time.Duration, error) {
	if s.state.Load() != switchOn {
		return s.idle().TTL(ctx, key)
	}
	return s.Store.TTL(ctx, key)
}

func (s *switchStore) Clear(ctx context.Context, prefix string) error {
	if s.state.Load() != switchOn {
		return s.idle().Clear(ctx, prefix)
	}
	return s.Store.Clear(ctx, prefix)
}
