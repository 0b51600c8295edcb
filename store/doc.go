// Package store defines the byte-level contract that every cachet backend
// implements, the sentinel errors shared by all backends, and the
// [Middleware] type used to wrap a store.
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
// # Middleware
//
// A [Middleware] is a func(Store) Store. [Chain] composes several, the first
// being the outermost. A wrapper should embed the Store it wraps so that it
// only overrides what it changes, and implement Unwrap() Store so that
// callers can reach the backend with [Unwrap].
package store
