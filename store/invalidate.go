package store

import "context"

// Invalidation is one event of an invalidation stream (see [Invalidator]).
type Invalidation struct {
	// Keys are keys whose values may have changed: written, deleted,
	// expired or evicted, by any client. It is nil in a flush event.
	Keys []string

	// Flush reports that any key of the subscribed prefix may have
	// changed: the server's keyspace was flushed, or the stream was
	// interrupted, or it (re)started and what happened before is unknown.
	Flush bool

	// Live, in a flush event, reports whether the stream is running after
	// it. A flush with Live false means the stream is interrupted (a lost
	// connection, a server restart): no invalidation will be delivered
	// until a flush with Live true says that the stream is back. Key
	// events are only delivered while the stream is live.
	Live bool
}

// Invalidator is an optional interface that may be implemented by a Store
// that can tell its users which keys other clients changed, such as
// redisstore over a standalone Redis, Sentinel, a Redis Cluster or a Ring
// (server-assisted client tracking).
// cachet's local tier uses it to drop process-local copies of values that
// changed in the store.
//
// Subscribe starts a stream of the invalidations of every key that starts
// with prefix ("" for every key) in the background and returns at once;
// the stream runs until stop is called or ctx is done. fn is called from
// one goroutine at a time, in order, and should return quickly. The
// stream starts not live: its first event, once it is established, is a
// flush with Live true; after that, every change of a key of prefix is
// reported by an event naming it, before or after the writer's call
// returns (the stream is asynchronous); an interruption is reported by a
// flush with Live false and a recovery by a flush with Live true. stop
// waits for a running fn to return; no event follows it.
//
// A Store that cannot deliver such a stream for its configuration (for
// example redisstore over a client type other than go-redis' own) returns
// an error wrapping [ErrNotSupported].
//
// If a Store does not implement Invalidator, its users learn of other
// clients' writes by no other means than reading the store: cachet's local
// tier then bounds staleness by its ttl.
//
// Implementations must be safe for concurrent use.
type Invalidator interface {
	Subscribe(ctx context.Context, prefix string, fn func(Invalidation)) (stop func(), err error)
}
