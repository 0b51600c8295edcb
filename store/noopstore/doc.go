// Package noopstore provides a [store.Store] that keeps nothing, to turn
// caching off without changing the code that uses the cache, in the way
// [log/slog.DiscardHandler] turns logging off.
//
// Every write succeeds and is forgotten, every read misses: Get returns
// [store.ErrNotFound], GetMany nil slots, Add always succeeds, Increment
// returns its delta, Exists and Expire report false, TTL returns
// ErrNotFound and Delete 0. Everything else behaves as in a real store, so
// that switching to noopstore cannot hide bugs: an empty key still gives
// [store.ErrInvalidKey], a nil value [store.ErrInvalidValue], a cancelled
// context its error, and a closed store [store.ErrClosed]. Through a typed
// cachet.Cache values are still encoded, so a value the codec cannot encode
// still fails.
package noopstore
