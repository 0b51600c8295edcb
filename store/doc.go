// Package store defines the byte-level contract that every cachet backend
// implements, the names of its operations ([Op]), the sentinel errors
// shared by all backends, its optional interfaces, and the [Middleware]
// type used to wrap a store.
//
// Most code should use package cachet, whose typed Cache[K, V] sits in front
// of a Store and handles keys and codecs. This package is for people who
// write a backend or a middleware.
//
// # Contract
//
// Every method takes a [context.Context] first and honours its deadline and
// cancellation. Keys are non-empty strings; values are arbitrary bytes. The
// semantics of each operation are documented on [Store]; the package
// store/storetest checks all of them and any backend should pass it.
//
// # Errors
//
// Failures are reported with the sentinel errors of this package, wrapped
// with the operation and key, and are compared with [errors.Is]:
//
//	if errors.Is(err, store.ErrNotFound) { ... }
//
// Backend errors (network, protocol) are wrapped with %w so that the
// original error stays reachable with [errors.As].
//
// # Optional interfaces
//
// A backend that can do more than [Store] requires says so by
// implementing optional interfaces, in the manner of database/sql/driver.
// Each is discovered with [As], which follows Unwrap through middleware,
// and each documents what callers do when no store in the chain has it:
//
//   - [CompareAndDeleter] is an optional interface that may be implemented
//     by a Store. If a Store does not implement CompareAndDeleter, the
//     caller reads the key with Get, compares, and Deletes ([CompareAndDelete]
//     does exactly that): not atomic, so a lease released that way may
//     remove the value of an owner that took the key in between.
//   - [Swapper] is an optional interface that may be implemented by a
//     Store: GetVersion and CompareAndSwap, optimistic locking. If a Store
//     does not implement Swapper, [GetVersion] and [CompareAndSwap] return
//     ErrNotSupported: a non-atomic fallback would lose updates.
//   - [FloatIncrementer] is an optional interface that may be implemented
//     by a Store: IncrementFloat, Redis's INCRBYFLOAT with its exact
//     stored text. If a Store does not implement it, [IncrementFloat]
//     returns ErrNotSupported.
//   - [InProcess] is an optional interface that may be implemented by a
//     Store. If a Store does not implement InProcess, it is treated as one
//     that may wait on I/O, and callers bound its operations with
//     deadlines ([IsInProcess] reports which).
//   - [SelfTimed] is an optional interface that may be implemented by a
//     Store that bounds each round trip by a timeout of its own where its
//     caller's context has none (memcachestore does, and redisstore when
//     Open built its client). If a Store does not implement SelfTimed,
//     callers bound its operations with context deadlines; cachet.Cache
//     skips its per-operation timeout over one whose own bound is no
//     longer, for a call whose context has no deadline.
//   - [Lender] is an optional interface that may be implemented by a
//     Store. If a Store does not implement Lender, [GetFunc] calls Get and
//     hands f the copy Get returns; a store that implements it lends its
//     own bytes for the duration of f, saving that copy. [GetFunc] uses
//     only a Lender that is the store it is given, not one found through
//     middleware, which would bypass what the middleware does on Get.
//   - [Finder] is an optional interface that may be implemented by an
//     in-process Store that lends its values. If a Store does not
//     implement Finder, callers use [GetFunc] with a key of their own; a
//     store that implements it also takes a lent key (one built in a
//     reused buffer) and reports a miss as false, not as an error, so that
//     a lookup need not allocate. Like a Lender, it is used only when it is
//     the store at hand, never through middleware.
//   - [Pinger] is an optional interface that may be implemented by a Store
//     that talks to a server (redisstore and memcachestore do). If a Store
//     does not implement Pinger, [Ping] asks it whether a probe key
//     exists, which any working store answers.
//   - [NamespaceUser] is an optional interface that may be implemented by
//     a Store that keeps namespaces apart by its own means (memcachestore's
//     generations). If a Store does not implement it, callers skip the
//     declaration and the Store treats every key alike.
//   - [Invalidator] is an optional interface that may be implemented by a
//     Store that can stream the keys other clients changed (redisstore on
//     a standalone Redis). If a Store does not implement it, cachet's
//     local tier bounds staleness by its ttl.
//
// The consumer side, "use the capability, else fall back", is written
// once, in [CompareAndDelete], [GetVersion], [CompareAndSwap],
// [IncrementFloat], [IsInProcess], [Ping] and [GetFunc].
//
// # Middleware
//
// A [Middleware] is a func(Store) Store. [Chain] composes several, the first
// being the outermost. A wrapper embeds [Wrapper], the forwarding base, so
// that it only overrides what it changes; Wrapper's Unwrap lets callers
// reach the backend with [Unwrap] and its optional interfaces with [As].
// RunMiddleware, in package store/storetest, checks a middleware against the
// contract, and that optional interfaces stay reachable through it.
package store
