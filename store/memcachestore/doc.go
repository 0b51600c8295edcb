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
// and outside the declared namespaces are stored under their own name.
//
// # Expiry
//
// memcached counts ttls in whole seconds, so a ttl is rounded up to whole
// seconds: a sub-second ttl becomes 1s. Every write sends an absolute
// expiry, the current Unix second plus the rounded ttl, and records the
// same second in the item's flags, so that a later Increment, which sends
// the recorded second again, keeps exactly the expiry Set gave.
// memcached's clock ticks once a second, at its own phase, so a key with a
// ttl of n seconds expires within a second either side of n seconds after
// it was written. ttls are capped at January 2038, the limit of
// memcached's 32-bit expiration field.
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
// [store.ErrOverflow] and [store.ErrNotInteger]; only canonical decimals
// are integers ("+1", "01", "-0" are not, as on Redis). It reads the value with
// gets and writes it back with cas, retrying when another client changed
// it meanwhile, and creates a missing key with add (starting at 0, without
// expiry), so it is atomic across clients, and keeps the key's ttl.
//
// # Namespaces and Clear
//
// memcached cannot list keys, so Clear(prefix) cannot find the keys under a
// prefix. The Store makes declared namespaces clearable instead, with
// generations. A namespace ns is declared with [Store.UseNamespace] (which
// implements [store.NamespaceUser]; cachet.Cache calls it with its
// Namespace) or [Options].Namespaces; its keys are those beginning with
// ns+":". Each declared namespace has a generation counter stored in
// memcached (under "<ns>:%n"), and the physical key of its keys includes
// the generation ("users:%g<gen>:42"). Clear("users:") increments the
// counter: every entry of the old generation becomes unreachable, and ages
// out of memcached's LRU. Keys of namespaces that are not declared are
// plain keys, stored under their own names whatever ':' they hold, at no
// extra cost. Every process sharing the servers must declare the same
// namespaces: a Store that has not declared ns reads and writes ns's keys
// under their own names and does not see the others' entries.
//
// Clear(ns+":") of a namespace that is not declared declares it and starts
// its generation: the keys written before under their own names are no
// longer read by this Store, nor by any Store that declares ns, so the
// prefix reads as cleared (the old items age out of memcached); a Store
// that never declares ns still reads them. Clear("") runs flush_all on
// every server (memcached has no smaller unit than a whole server: do not
// share a memcached instance you do not mean to flush). Any other prefix,
// one that is not exactly one namespace such as "users" or "users:4",
// returns [store.ErrNotSupported].
//
// A Store reuses a generation it has read for GenerationCacheTTL (default
// [DefaultGenerationCacheTTL], 1s): a Clear made by another process is
// seen by this one up to that late, and until then it may serve entries of
// the cleared generation; its own Clears it sees at once. A negative
// GenerationCacheTTL reads the generation on every operation.
//
// A generation that vanishes (evicted, or lost with its server) is created
// again from the current time in nanoseconds, above every generation the
// namespace had before, so the namespace reads as empty and old entries
// never come back.
//
// Every namespace costs a counter in memcached: declare fixed first
// segments ("users"), as cachet.Cache does with its namespace, never one
// per identifier. DisableGenerations stores every key under its own name,
// declared or not, and lets Clear take only "".
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
// unaffected. That includes the keys of a namespace whose generation
// counter is on the stopped server: while the counter cannot be read, a
// Store goes on with the last generation it read (asking again once per
// GenerationCacheTTL), so the namespace's keys on live servers stay
// readable and writable. What does not hold then: a Store that never read
// that generation cannot use the namespace, Clear of the namespace fails,
// and a Clear by a process that can still reach the counter is not seen. When it comes back, the next operation works: a request that
// fails on a pooled connection the old process closed is retried on a new
// one. [Store.GetMany] fails as a whole when one of the servers it needs is
// down.
//
// Store implements store.SelfTimed with the client's Timeout, so that a
// cachet.Cache whose own Timeout is at least as long (the default 5s over
// the default 500ms) adds no deadline context to an operation whose
// context has no deadline: the round trip's own bound is the tighter one.
//
// # Batching
//
// Concurrent Gets share round trips (group commit, as redisstore's Gets
// share MGETs): while Options.Batch.InFlight single-key gets are waiting
// for their replies, further Gets queue, and the first of those round
// trips to finish hands the queue to one GetMulti (one round trip per
// server holding some of the keys, in parallel), of at most
// Batch.MaxSize keys. A lone caller, or any caller that finds a round
// trip free, sends its own get at once, exactly as without batching; there
// is no timer, and the busier the store, the more callers share each
// round trip. The single-key gets inside other operations (a namespace's
// generation, Exists, the reads of Increment, Expire and
// CompareAndDelete) share them too.
//
// Each caller keeps its own context: a queued caller whose context ends
// leaves at once with its context's error, and its get is not sent if it
// was still queued; the GetMulti it would have shared goes on for the
// others. A queued caller also waits no longer than the client's Timeout,
// or up to a sixteenth of it more (then it fails with an error matching
// os.ErrDeadlineExceeded and context.DeadlineExceeded; one clock per store
// times every queued caller, not a timer each), so that
// a Get stays bounded by about one Timeout when the server hangs, however
// many round trips were hung ahead of it. Close makes queued Gets return
// store.ErrClosed at once. Each caller gets its own copy of its value, even when several
// asked for the same key. When a GetMulti fails (its server is down or
// does not answer within the client's Timeout), every caller that shared
// it gets that error; gets are idempotent, and one that fails on a pooled
// connection the server closed is retried, as any get is.
//
// Measured on one memcached with a 2-core client machine shared with
// other work (bench module, go test -run '^$' -bench MemcachedThroughput
// -benchtime 30000x, contenders interleaved in one run), typed Gets of a
// small struct, three runs: with 16 goroutines 1.66-2.02x the throughput
// of raw gomemcache Gets at 0.61-0.63x its client CPU per Get, with 64
// goroutines 2.67-3.02x at 0.37-0.39x; a lone caller is unaffected (it
// never queues). Batch.InFlight 2 (the
// default) against 1 and 4 in the same runs: 1.19-1.25x the throughput of
// 1 with 2 goroutines, within 3-8% of it with 16 and 64, and 1.32-1.36x
// that of 4. Batch.Disabled turns batching off.
//
// # Performance
//
// Benchmarks (go test -run '^$' -bench . -benchmem ./store/memcachestore/)
// compare the Store with raw gomemcache on the same server in the same run
// (BenchmarkPaired reports the median of paired store/raw ratios). Get
// and Set of a plain key, of a key whose ':' namespace is not declared,
// and of a key in a declared namespace with a cached generation each take
// one round trip, as raw gomemcache does (ratios 0.96-1.09 on a loaded
// 2-core machine). The costs by case:
//
//	op       declared ns, cached (default)   declared ns, GenerationCacheTTL < 0
//	Get      1 round trip                     2 round trips (~2x)
//	Set      1 round trip                     2 round trips (~2x)
//	GetMany  1 GetMulti                       1 Get per namespace + 1 GetMulti
//	Clear    1 round trip (incr)              1 round trip (incr)
//
// With the default, the generation is read again about once a second per
// namespace, which adds one round trip to that operation.
//
// Increment and Expire take two round trips (gets and cas), more
// under contention. [Store.GetMany] fetches all its keys with one
// GetMulti, one round trip per server in parallel: 100 keys take about as
// long as 10 single Gets. [Store.SetMany] and [Store.Delete] of several keys
// run their round trips concurrently over the client's idle connections
// (MaxIdleConns, default [DefaultMaxIdleConns] for NewFromServers).
package memcachestore
