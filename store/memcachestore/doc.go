// Package memcachestore is a [store.Store] on memcached, through the
// gomemcache client, on one server or spread over several.
//
// Most code should use package cachet, whose typed Cache[K, V] sits in front
// of a Store; this package only makes the Store:
//
//	s, err := memcachestore.NewFromServers([]string{"10.0.0.1:11211", "10.0.0.2:11211"}, nil)
//
// or, from a gomemcache client configured by hand (TLS, custom
// ServerSelector):
//
//	s, err := memcachestore.New(client, nil)
//
// [Store.Client] returns the client for commands the Store does not offer.
// The Store passes the store/storetest conformance suite, with the
// differences below, which are memcached's.
//
// # Keys
//
// memcached rejects keys longer than 250 bytes and keys holding spaces or
// control characters. The Store accepts any non-empty key and maps it to a
// legal physical key: bytes outside printable ASCII, and '%', are
// percent-encoded ("a b" is stored as "a%20b"), and a physical key that
// would still be longer than 250 bytes becomes its first 184 bytes, "%h"
// and the hex SHA-256 of the whole. The mapping is injective: two different
// keys never share a physical key (key.go has the proof, key_test.go checks
// it with an inverse and a fuzz test). Keys of printable ASCII without '%'
// and without a namespace are stored under their own name.
//
// # Expiry
//
// memcached counts ttls in whole seconds, so a ttl is rounded up to whole
// seconds: a sub-second ttl becomes 1s. memcached's clock ticks once a
// second, so a key with a ttl of n seconds expires between n-1 and n
// seconds after it was written (a sub-second ttl: within a second). A ttl
// over 30 days is sent as an absolute Unix time, as memcached requires,
// and ttls are capped at January 2038, the limit of memcached's 32-bit
// expiration field.
//
// [Store.TTL] returns [store.ErrNotSupported]: memcached's protocol cannot
// report the remaining ttl of a key, and the Store does not invent one.
// The Store records each item's absolute expiry in its memcached flags,
// which is how [Store.Increment] keeps a key's ttl; items written through
// the raw client do not carry that record. The record is in Unix seconds by
// the client's clock: if the server's clock differs by d, a ttl kept
// through Increment ends d early or late. Because touch cannot update the
// record, [Store.Expire] rewrites the item with gets and cas.
//
// # Increment
//
// memcached's incr and decr work on unsigned 64-bit numbers, decr stops at
// zero and incr wraps around. [Store.Increment] implements the store
// contract instead: signed int64 values, negative results,
// [store.ErrOverflow] and [store.ErrNotInteger]. It reads the value with
// gets and writes it back with cas, retrying when another client changed
// it meanwhile, and creates a missing key with add (starting at 0, without
// expiry), so it is atomic across clients, and keeps the key's ttl.
//
// # Namespaces and Clear
//
// memcached cannot list keys, so Clear(prefix) cannot find the keys under a
// prefix. The Store makes namespaces clearable instead, with generations.
// The namespace of a key is its first segment up to and including the
// first ':' ("users:" for "users:42" and "users:v2:42"); keys without ':'
// have none. Each namespace has a generation counter stored in memcached
// (under "<namespace>%n"), and the physical key of a namespaced key
// includes the generation ("users:%g<gen>:42"). Clear("users:") increments
// the counter: every entry of the old generation becomes unreachable at
// once, for every client, and ages out of memcached's LRU. This is what
// cachet.Cache.Clear on a namespaced cache calls.
//
// Clear("") runs flush_all on every server (memcached has no smaller unit
// than a whole server: do not share a memcached instance you do not mean
// to flush). Any other prefix, one that is not exactly one namespace such
// as "users" or "users:4", returns [store.ErrNotSupported].
//
// A generation that vanishes (evicted, or lost with its server) is created
// again from the current time in nanoseconds, above every generation the
// namespace had before, so the namespace reads as empty and old entries
// never come back. With several servers, a namespace depends on the server
// holding its counter as well as on those holding its keys.
//
// Every namespace costs a counter in memcached and a first lookup, so key
// schemes whose first segment is an identifier ("u12345:profile") make one
// namespace per identifier: prefer a fixed first segment ("users:12345"),
// as cachet.Cache does with its namespace, or disable generations.
//
// Generations cost round trips; see Performance. [Options] has two knobs:
// DisableGenerations stores every key under its own name and lets Clear
// take only "", and GenerationCacheTTL lets a Store reuse a generation it
// has read for a while without asking memcached: cheaper, but then a
// Clear made by another process is seen by this one only after up to that
// long, and until then it may serve entries of the cleared generation.
//
// # Contexts, timeouts and failures
//
// gomemcache takes no context. Every operation checks its context first;
// each network round trip is then bounded by the client's Timeout (default
// 500ms). When the context's deadline comes sooner than the Timeout, the
// round trip runs in a goroutine and the operation returns at the deadline
// with an error wrapping context.DeadlineExceeded; the abandoned round trip
// may still take effect. A cancellation without deadline is noticed
// between round trips.
//
// A stopped server makes operations on the keys it owns fail (connection
// refused at once, or a timeout when it hangs); keys on other servers are
// unaffected. When it comes back, the next operation works: a request that
// fails on a pooled connection the old process closed is retried on a new
// one. [Store.GetMany] fails as a whole when one of the servers it needs is
// down.
//
// # Performance
//
// Benchmarks (go test -run '^$' -bench . -benchmem ./store/memcachestore/)
// compare the Store with raw gomemcache on the same server in the same run.
// Without generations (keys without namespace, or DisableGenerations), Get
// and Set cost the same round trip as raw gomemcache (medians within a few
// percent, and no extra allocation for Get). With generations, a
// namespaced key costs:
//
//	op       GenerationCacheTTL 0 (default)            GenerationCacheTTL > 0
//	Get      1 round trip, via GetMulti (~1.3-2x)      1 round trip (~1.02x)
//	Set      2 round trips (~2x)                       1 round trip (~1.03x)
//	GetMany  1 GetMulti (2 when a generation moved)    1 GetMulti
//	Clear    1 round trip (incr)                       1 round trip (incr)
//
// The Get overhead with a zero GenerationCacheTTL is gomemcache's
// GetMulti, which hands each server's request to a goroutine: the busier
// the CPUs, the more that hand-off costs.
//
// A Get of a namespace the Store has not read before takes one more round
// trip. Increment and Expire take two round trips (gets and cas), more
// under contention. [Store.GetMany] fetches all its keys with one
// GetMulti, one round trip per server in parallel: 100 keys take about as
// long as 10 single Gets. [Store.SetMany] and [Store.Delete] of several keys
// run their round trips concurrently over the client's idle connections
// (MaxIdleConns, default [DefaultMaxIdleConns] for NewFromServers).
package memcachestore
