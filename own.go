package cachet

import (
	"context"
	"time"

	"github.com/cachet-go/cachet/store"
)

// Who owns a store
//
// A store belongs to whoever opened it. A Cache built by New on a store
// it was given does not own it: Cache.Close stops the cache (its
// methods, views and memoized functions then return ErrClosed) and
// leaves the store open, so that several caches, or other code, can share
// one store, which its opener closes once, when all are done. OpenCache
// opens the store itself and gives it to the cache (Options.OwnsStore):
// closing that cache closes the store. Package caches follows the same
// rule: the registry owns the stores of Alias, the caller the cache (and
// store) of Create.

// closeSwitch turns the cache's switch (shared with its views) to closed
// and closes the store if the cache owns it.
func (c *Cache[K, V]) closeSwitch() error {
	sw := c.killSwitch()
	for {
		cur := sw.state.Load()
		if cur == switchClosed {
			return &Error{Op: "close", Err: ErrClosed}
		}
		if sw.state.CompareAndSwap(cur, switchClosed) {
			break
		}
	}
	if !sw.owns {
		return nil
	}
	return store.Errorf("close", "", sw.Store.Close())
}

// closedStore is the store of a closed cache: every call returns
// ErrClosed.
type closedStore struct{}

func closedOp(op store.Op, key string) error {
	return &Error{Op: op.String(), Key: key, Err: ErrClosed}
}

func firstKey(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

func (closedStore) Get(_ context.Context, key string) ([]byte, error) {
	return nil, closedOp(store.OpGet, key)
}
func (closedStore) GetMany(_ context.Context, keys []string) ([][]byte, error) {
	return nil, closedOp(store.OpGetMany, firstKey(keys))
}
func (closedStore) Set(_ context.Context, key string, _ []byte, _ time.Duration) error {
	return closedOp(store.OpSet, key)
}
func (closedStore) SetMany(_ context.Context, entries []store.Entry, _ time.Duration) error {
	key := ""
	if len(entries) > 0 {
		key = entries[0].Key
	}
	return closedOp(store.OpSetMany, key)
}
func (closedStore) Add(_ context.Context, key string, _ []byte, _ time.Duration) error {
	return closedOp(store.OpAdd, key)
}
func (closedStore) Delete(_ context.Context, keys ...string) (int, error) {
	return 0, closedOp(store.OpDelete, firstKey(keys))
}
func (closedStore) Exists(_ context.Context, key string) (bool, error) {
	return false, closedOp(store.OpExists, key)
}
func (closedStore) Increment(_ context.Context, key string, _ int64) (int64, error) {
	return 0, closedOp(store.OpIncrement, key)
}
func (closedStore) Expire(_ context.Context, key string, _ time.Duration) (bool, error) {
	return false, closedOp(store.OpExpire, key)
}
func (closedStore) TTL(_ context.Context, key string) (time.Duration, error) {
	return 0, closedOp(store.OpTTL, key)
}
func (closedStore) Clear(_ context.Context, prefix string) error {
	return closedOp(store.OpClear, prefix)
}
func (closedStore) Close() error { return closedOp(store.OpClose, "") }

// Ping checks that s answers, for a check at start-up: opening a store
// makes no round trip (stores connect lazily), so a wrong address shows
// only at the first call. It calls the Ping of s, or of a store it wraps,
// if one implements store.Pinger (redisstore and memcachestore do), and
// otherwise asks s whether a key exists (see store.Ping). ctx bounds the
// check.
func Ping(ctx context.Context, s store.Store) error {
	return store.Errorf("ping", "", store.Ping(ctx, s))
}

// Ping checks that the cache's store answers, as the function Ping does,
// bounded by the cache's timeout unless ctx has an earlier deadline. It
// returns an error wrapping ErrClosed after Close.
func (c *Cache[K, V]) Ping(ctx context.Context) error {
	if c.killSwitch().state.Load() == switchClosed {
		return &Error{Op: "ping", Err: ErrClosed}
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return Ping(ctx, c.backend)
}

// closed reports whether the cache (or a view sharing its switch) was
// closed.
func (c *Cache[K, V]) closed() bool { return c.killSwitch().state.Load() == switchClosed }
