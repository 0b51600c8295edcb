// Package storetest implements tests for [store.Store] implementations.
//
// A backend author calls [Run] from an ordinary test function, in the spirit
// of testing/slogtest:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := memstore.New(nil) // your store, empty
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		}, nil)
//	}
//
// Run checks every row of the contract documented on [store.Store], each as
// a subtest with a descriptive name (for example
// "Increment/Overflow" or "Clear/NamespacePrefix"), so that a failure
// reads as the rule that was broken, and a single rule can be run with
// go test -run.
//
// # What is checked
//
//   - Get, Set and overwrite; empty, binary (all 256 byte values, NUL bytes,
//     invalid UTF-8, protocol-looking bytes) and large values (1 MiB by
//     default, see [Options.MaxValueSize]); keys with spaces, unicode and
//     300 bytes; keys with control characters round trip or give
//     ErrInvalidKey, and never disturb other keys.
//
//   - GetMany order, a nil slot for a missing key and a non-nil empty slot
//     for a stored empty value; SetMany, all or nothing on bad input.
//
//   - ttls: sub-second expiry, overwrite resets the ttl, ttl <= 0 means no
//     expiry, Expire sets and removes a ttl and reports a missing key, TTL
//     reads it back (0 for no expiry, ErrNotFound when missing).
//
//   - Add only when absent (ErrExists and no change otherwise), Add after
//     expiry, and exactly one winner among 100 concurrent Adds.
//
//   - Increment: missing key starts at 0, negative delta, decimal ASCII
//     storage, ErrNotInteger, ErrOverflow, ttl kept, and an exact total
//     after 100 concurrent Increments.
//
//   - Delete counts only keys that existed; Exists; Clear(prefix) leaves
//     other prefixes alone (including prefixes holding glob metacharacters)
//     and Clear("") empties the keyspace.
//
//   - Values are copies: mutating a slice passed to or returned by the
//     store does not change what it holds.
//
//   - Bad input: an empty key gives ErrInvalidKey and a nil value
//     ErrInvalidValue for every operation that takes one; a cancelled or
//     expired context gives an error wrapping context.Canceled or
//     context.DeadlineExceeded for every operation; after Close every
//     operation, Close included, gives ErrClosed.
//
//   - Optional interfaces, found with store.As (so through any middleware):
//     a [store.CompareAndDeleter] deletes for the owner of the value and not
//     for anyone else, reports false for a missing or expired key, lets the
//     key be taken again with Add, and among 50 goroutines releasing the
//     same key at once exactly one reports the deletion; a
//     [store.Swapper] swaps only an unchanged key (a nil version only a
//     missing one), refuses a spent version, a changed, deleted or created
//     key, applies the ttl given, and 16 goroutines incrementing one
//     counter by read-modify-write lose nothing; a [store.FloatIncrementer]
//     stores Redis's INCRBYFLOAT text byte for byte, reads integer
//     counters and strtod's number forms, refuses other text with
//     ErrNotNumber and NaN or infinite deltas, keeps the key's ttl and adds
//     concurrently without loss. Their bad input, cancelled context and
//     ErrClosed are checked as for the other operations. A check whose
//     interface no store in the chain implements is skipped.
//
// # Middleware
//
// [RunMiddleware] checks a middleware: the whole suite on stores wrapped
// in it, plus "optional capabilities stay reachable through the wrapper":
// every optional interface store.As finds on the backend, it must find
// through the middleware, acting on the same data, and store.Unwrap must
// lead to the backend.
//
//	func TestMyMiddleware(t *testing.T) {
//		storetest.RunMiddleware(t, func(t *testing.T) store.Store {
//			return memstore.Must(nil)
//		}, myMiddleware, nil) // a func(store.Store) store.Store
//	}
//
// # Timing
//
// The ttl checks use ttls of about 50ms (raised to twice
// [Options.TTLResolution] for backends that round ttls) and poll with a
// deadline, so a healthy store passes them in well under a second; a
// backend with whole-second ttls takes a few seconds per ttl check.
// A check that a key is still present is only made while less time than its
// ttl has passed, so a slow, loaded machine does not cause false failures.
//
// # Backends with limits
//
// [Options] declares what a backend cannot do, and Run then checks what it
// promises instead: with TTLResolution (memcached: time.Second) ttls are
// checked with that granularity; with NoTTL, TTL must give
// store.ErrNotSupported; with NamespaceClearOnly, Clear is checked only with
// prefixes of the form "<segment>:" and ""; MaxValueSize lowers the size of
// the largest value. Each of these is a documented limit of the backend,
// never a licence to return a wrong answer.
//
// # Stores that keep nothing
//
// A store such as store/noopstore, which accepts writes and keeps nothing,
// sets [Options.KeepsNothing]. Run then checks an explicit, different set
// of expectations: Get always misses, GetMany returns only nil slots, Add
// always succeeds, Increment returns delta, Exists reports false, TTL
// reports ErrNotFound, Expire reports false and Delete 0, while the checks
// of bad input, cancelled contexts and ErrClosed apply unchanged.
package storetest
