package cachet

import (
	"context"
	"errors"

	"github.com/cachet-go/cachet/store"
)

// ErrClearAll is wrapped by the error of Cache.Clear on a cache without a
// namespace. Such a Clear would empty the whole store (FLUSHDB on Redis,
// flush_all on every memcached server), taking every other user's keys
// with it, so cachet asks for that to be said explicitly: call
// Cache.ClearAll, or give the cache a namespace and Clear only that.
var ErrClearAll = errors.New("cachet: Clear on a cache without a namespace would empty the whole store; call ClearAll to do that, or set Options.Namespace")

func errClearAll() error {
	return &Error{Op: "clear", Err: ErrClearAll}
}

// ClearAll removes every key of the cache's store, whatever its namespace
// or version and whoever wrote it: FLUSHDB on the Redis database (on
// every master of a Cluster), flush_all on every memcached server, and
// the whole in-process store of a memstore. It is the explicit form of
// what Clear refuses to do on a cache without a namespace; a cache with a
// namespace that only needs its own keys gone should call Clear.
func (c *Cache[K, V]) ClearAll(ctx context.Context) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return store.Errorf("clear", "", c.s.Clear(ctx, ""))
}
