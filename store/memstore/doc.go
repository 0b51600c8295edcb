// Package memstore provides a bounded in-process [store.Store], built on
// the otter cache (github.com/maypok86/otter/v2).
//
// Most code uses it as the backend of a typed cache from package cachet,
// and calls New (or Must) once:
//
//	s := memstore.Must(nil) // at most 64 MiB
//
// # Bounds and eviction
//
// A [Store] is bounded by bytes ([Options.MaxBytes], 64 MiB by default,
// each entry counted as its key and value plus [EntryOverhead]) and
// optionally by entry count ([Options.MaxEntries]); with both, both hold.
// When a bound is reached the engine evicts the entries least likely to be
// used again (W-TinyLFU, which keeps frequently used entries over recently
// added ones). Like every cache, a Store may therefore forget an entry that
// was stored without a ttl; an entry that can never fit is refused with
// [store.ErrInvalidValue] instead of being silently dropped.
//
// Bounds are enforced asynchronously. A write is applied to the hash table
// at once, but the engine replays writes into its eviction policy, and
// evicts, in batches: after a write signals it, on a background goroutine,
// and within the write itself when its buffer is full. A store can
// therefore briefly hold more than its bound: by up to two batches of 128 ×
// GOMAXPROCS (at most the number of CPUs, rounded up to a power of two)
// entries, 512 on 2 CPUs and 2,048 on 8, plus one per goroutine writing at
// that moment; in bytes, by those entries' sizes. A store of 100 entries
// can thus hold about 600 for a moment during a burst of writes. Once the
// pending work is applied, which happens within about a second even when
// the store is idle, both bounds hold.
//
// A store bounded by bytes (every store unless MaxBytes is negative) sizes
// the engine's frequency sketch up front, for MaxEntries entries, or one
// per KiB of MaxBytes, plus the two batches above: about 25 bytes per
// entry of that capacity, allocated by New. A sketch sized only for the
// entries present would be rebuilt, forgetting every count, each time a
// burst pushed the number of entries past the next power of two, and a
// burst of keys written once would then evict keys read many times. A
// store bounded by bytes that holds far more entries than one per KiB
// rebuilds its sketch a few times as it first fills.
//
// # Expiry
//
// Every entry has its own ttl with nanosecond precision. The store and the
// engine share one monotonic clock, so wall-clock changes do not move
// deadlines, and every read compares the entry's deadline with the time of
// the read: an expired entry is never returned by Get, GetMany, Exists, TTL
// or counted by Delete, and Add, Increment and Expire treat it as absent.
// The engine reclaims the memory of expired entries in the background
// (roughly every second) and during writes.
//
// # Removal callbacks
//
// [Options.OnRemove] is told the key and the [RemovalReason] each time an
// entry leaves the store: [Expired], [Evicted] (for a bound), [Deleted]
// (Delete, Clear, Close) or [Replaced] (Set, SetMany, Increment, Expire).
// It never blocks the caller: the removal is queued, and one goroutine of
// the store's makes the calls one at a time, in the order the entries
// left the store (a Set's Replaced before the Delete that followed it); a
// slow callback delays the later calls, never an operation, and a panic in
// one is recovered and discarded. An expired entry
// is reported when the engine reclaims it (within about a second) or when
// an operation finds it, not at its deadline. Without OnRemove the store
// pays nothing for it.
//
// # Values and concurrency
//
// Values are copied in and out: a caller can change neither what the
// store holds through the slice it passed to Set, nor another caller's
// value through the slice Get returned. Add, Increment and Expire are
// atomic read-modify-write operations on the engine's hash table bucket,
// so concurrent Adds of one key have exactly one winner and concurrent
// Increments never lose an update.
//
// Clear with a non-empty prefix visits every key, so its cost grows with
// the size of the store; Clear("") drops everything at once.
//
// # Performance
//
// Get costs one hash table lookup, one clock read and one copy of the
// value; Set one copy and one insertion. The benchmarks in this package run
// a parallel, Zipf-skewed workload (100,000 keys, 128-byte values) on the
// store and on otter used directly, with and without the copies, so the
// wrapper's overhead can be read off:
//
//	go test -run '^$' -bench . -benchmem ./store/memstore/
//
// Most of the difference from bare otter is the copy a byte store owes its
// callers (an allocation and a copy of the value on every Get): against
// otter doing the same copies the store costs at most about 1.3 times as
// much, and usually close to the same.
//
// A cachet.Cache over the store with no middleware reads through Find
// (store.Finder): the store lends it the stored bytes, which the codec
// decodes in place, and borrows its key, built in a reused buffer, so that
// a typed hit allocates only the decoded value and a miss only its error.
//
// Storing encoded bytes means every Get through a typed cachet.Cache also
// decodes, which costs far more than the lookup (microseconds against tens
// of nanoseconds for small structs). A codec-free path that keeps decoded
// values, with documented aliasing rules, may be added later as an opt-in;
// nothing in this package's API stands in its way.
package memstore
