// Package cachet is a typed caching toolkit: a generic [Cache] in front of
// interchangeable byte-level stores (memory, Redis, memcached, no-op), with
// pluggable codecs, a middleware chain, and read-through loading with
// in-process singleflight.
//
// # Quick start
//
//	users, err := cachet.New[string](memstore.Must(nil), codec.JSON[User](), &cachet.Options[string]{
//		Namespace: "users",
//		TTL:       10 * time.Minute,
//	})
//	if err != nil {
//		panic(err)
//	}
//	defer users.Close()
//
//	if err := users.Set(ctx, "42", User{Name: "Ada", Email: "ada@example.com"}); err != nil {
//		panic(err)
//	}
//	u, err := users.Get(ctx, "42") // u is a User
//	_, err = users.Get(ctx, "7")
//	fmt.Println(errors.Is(err, cachet.ErrNotFound)) // true
//
// (the package's Example, compiled and run by go test, as every code
// block of these docs and of the README is: see docblocks_test.go).
// Moving from memory to Redis changes only the line that builds the store.
//
// # Layers
//
// A call goes through four layers, each doing one job:
//
//	Cache[K, V]   K -> "namespace:version:key"   (Options.Namespace, Version, Key)
//	codec         V -> []byte                    (package codec)
//	middleware    timeouts, metrics, logging, plugins (package store's Middleware)
//	store.Store   bytes in memory, Redis, memcached or nowhere
//
// Backends implement [store.Store]; most code never calls a store directly.
//
// # Keys
//
// With a namespace, every key is stored as "namespace:key", or
// "namespace:version:key" with a version. Namespaces and versions may not
// contain ':', so keys of different namespaces never collide, and
// [Cache.Clear] of namespace "foo" never touches "foobar". Without a
// namespace, keys are stored as they are, which lets other clients read
// them; [Cache.Clear] then refuses with [ErrClearAll] rather than empty
// the whole store, which only [Cache.ClearAll] does. The default key function handles strings, integers and
// [fmt.Stringer]; set Options.Key for anything else.
//
// # Expiry
//
// Options.TTL is the default time to live (zero: none). Methods that take a
// ttl accept [DefaultTTL] (the cache's default), [NoExpiry], or a positive
// duration; other negative values give [ErrInvalidTTL].
//
// # Atomic updates and counters
//
// [Cache.Update] is optimistic locking: it reads a value with its version,
// calls a function for the new value, and writes it only if the key is
// unchanged ([store.Swapper]: a Lua compare-and-swap on Redis, gets/cas on
// memcached), retrying lost races up to [UpdateAttempts] times before it
// returns [ErrConflict]. [Cache.Increment] and [Cache.IncrementFloat] keep
// counters as decimal text, IncrementFloat in exactly the text Redis's
// INCRBYFLOAT writes, on every store ([store.FloatIncrementer]).
//
// # Errors
//
// Errors name the operation and the store key and wrap sentinel errors that
// are compared with [errors.Is]: [ErrNotFound], [ErrExists],
// [ErrNotInteger], [ErrNotNumber], [ErrConflict], [ErrClosed], [ErrInvalidKey], [ErrEncode], [ErrDecode],
// and so on. A cache never panics on bad input. Panics are for programming
// errors only: [New] with a nil store, [Must] with an error, [Memoize] and
// [MemoizeMany] with a nil cache or function or invalid options, and
// [NewMemoizer] and [NewManyMemoizer] with a nil cache or function (they
// return invalid options as errors wrapping [ErrInvalidOption]). A plugin
// that panics does not crash its caller: the operation returns an error
// wrapping [ErrPluginPanic].
//
// # Stored format
//
// A Cache has one stored format, and every method reads and writes it:
// a value written by [Cache.Set], [Cache.SetMany], [Cache.Add],
// [Cache.GetOrLoad], a [Memoizer] or [MemoizeMany] is read by [Cache.Get],
// [Cache.GetMany], GetOrLoad and the memoizers alike. By default it is the
// entry format: the codec's output behind a small header, 3 bytes for a
// value without a ttl (magic byte 0xC7, format version 2, flags), plus
// uvarint fields only when present: the logical expiry (Unix
// milliseconds, for any value written with a ttl) and how long the loader
// took (for early refresh). The flags mark "not found" entries of negative
// caching, which Get reports as [ErrNotFound], and entries the store keeps
// past their expiry for stale-while-revalidate, which Get treats as
// missing while a memoizer may serve them stale.
//
// Options.Raw stores the codec's bare output instead, for interop with
// other clients and languages (plain JSON or msgpack bytes in Redis); a
// raw cache cannot use the memoize options that need the header.
// Counters ([Cache.Increment]) are decimal ASCII in both modes, outside
// codec and format. Reading a value in the other format gives an error
// wrapping [ErrDecode] that names the cause ("not in cachet's entry
// format: written by another client, a raw cache (Options.Raw) or
// Increment", or "in cachet's entry format; read it with a cache without
// Options.Raw"); so do a truncated header and an unknown version. Such a
// value is never decoded into garbage. A memoizer treats it as a miss and
// overwrites it with the loader's value.
//
// # Read-through and memoize
//
// There is one read-through path, with two doors. [Cache.GetOrLoad] takes
// the loader at the call site: use it where the loader differs from call
// to call or needs local variables. [Memoize] wraps a func(ctx, K) (V,
// error) once and returns a function with its signature: use it for a
// lookup called from many places, and for the options. Both share every
// Cache option (timeout, middleware, key rules), the stored format (see
// ExampleCache_readThrough: Memoize, Get and Set over one key agree), and
// the mechanics: concurrent callers in one process share one call
// (singleflight), a caller that gives up does not cancel the call for the
// others, a panic reaches every caller, a function that calls
// runtime.Goexit releases them with an error, and over a networked store a
// cold key costs one read and one write however many callers arrive
// together. A loader may set its value's ttl with [SetTTL].
//
// [MemoizeOptions] adds negative caching (NotFound, ZeroNotFoundTTL), a
// cross-process stampede lock (StampedeLease), probabilistic early refresh
// (EarlyRefresh, XFetch) and stale-while-revalidate. [MemoizeMany] wraps a
// batch function and calls it only with the keys that missed.
// [NewMemoizer] returns a handle with Call, Refresh, CallNoWrite and
// Invalidate; [NewManyMemoizer] one with Call and Invalidate. A store failure never fails a
// memoized call: the function answers and the middleware sees the error.
// [Cache.Close] cancels background refreshes and waits for them; memoized
// calls after it return [ErrClosed].
//
// # Closing and who owns a store
//
// A store belongs to whoever opened it. [New] does not take ownership of
// the store it is given: [Cache.Close] stops the cache (its methods, its
// views and its memoized functions then return [ErrClosed]) and leaves
// the store open for the other caches and code that share it; its opener
// closes it once, when all are done. [OpenCache] opens the store for the
// cache and sets Options.OwnsStore, so closing that cache closes its
// store. Opening makes no round trip unless the store URL asks for a
// check (ping=true, or ping=2s for a bound): then [Open] and [OpenCache]
// fail, naming the URL with its password masked and closing what they
// opened, when the store does not answer. [Ping] (or [Cache.Ping]) checks
// a store at any time, through its store.Pinger when it has one.
//
// # Local tier
//
// [Options.Local] (a [LocalOptions]) keeps decoded values in process in
// front of the store: a [Cache.Get], [Cache.GetMany], [Cache.GetOrLoad]
// or memoized hit touches neither codec nor store, concurrent misses of a
// key share one store read, and a local copy never outlives its entry's
// expiry nor the local ttl. Writes through the cache drop local copies
// when they return; other writers are seen through the store's
// invalidation stream ([store.Invalidator]: Redis standalone, Sentinel,
// Cluster or Ring), whose loss empties the tier and
// turns it off until the stream is back, or, over stores without one
// (memcached), at most the local ttl later. Hits return the held value:
// callers must not modify it unless [LocalOptions.Clone] is set.
//
// [NewLocal] makes a memory-only cache: the tier alone, bounded by its
// LocalOptions, with no store and no codec, so that V may be any type
// (one holding funcs or channels too). It is a *Cache like any other,
// with the same ttls, namespaces, Add, GetOrLoad, memoized functions,
// plugins and LocalStats; Increment counts in the values themselves when
// V is an integer type. What needs stored bytes or entry headers (Update,
// Lock, CodecView, negative caching, early refresh, stale-while-revalidate)
// returns an error wrapping [ErrNotSupported].
//
// # Middleware and plugins
//
// A [Middleware] wraps the store (Options.Middleware, or [Chain]). Built in:
// [Timeout], [Breaker], [Logging] (log/slog, keys redacted), [Metrics] with a
// [Recorder] ([ExpvarRecorder] here; OpenTelemetry and Prometheus adapters
// in the contrib modules), [FailOpen] (failed reads become reported
// misses), and [WithPlugins], aiocache-style Before/After hooks on every
// operation with the [HitMissRatio] and [Timing] statistics. The plugins
// of a cache's middleware also see its read-through calls as such
// ([OpGetOrLoad], [OpMemoize], [OpMemoizeMany], and [OpLoad] for a loader's
// run; see [Call]): hits, misses, callers that joined a shared call,
// stale values served and refreshes started, with the store operations
// of a call run in the context its Before hooks returned. A middleware
// of your own embeds store.Wrapper, the forwarding base, overrides only what
// it changes, and is checked with storetest.RunMiddleware, which also checks
// that the backend's optional interfaces stay reachable through it.
//
// # Configuration
//
// [Open] and [OpenCache] build a store from a URL such as
// "redis://localhost:6379/1?ttl=600&namespace=users"; the URL's cache
// options (ttl, namespace, version, disabled) combine with those given in
// code by [MergeOptions], and code wins, and ping=true (or ping=2s)
// checks the store when it is opened (see [Open]). Schemes register themselves, like
// database/sql drivers: memory and noop are built in, redis and memcached
// come with a blank import of store/redisstore/redisurl and
// store/memcachestore/memcacheurl. Package store/storeurl is for authors
// of new schemes.
//
// Package caches holds named caches configured from a Go map or a JSON
// document, as aiocache's caches: caches.Alias returns the same cache
// every time and caches.Create a new one.
//
// # Timeouts
//
// Every store operation is bounded by Options.Timeout (default
// [DefaultTimeout], 5s) unless its context has an earlier deadline. Over an
// in-process store ([store.InProcess], such as memstore) no timeout is
// applied, since nothing there can wait.
//
// # Failures
//
// The cache is an optimisation, never a new point of failure. [FailOpen]
// turns failed reads into reported misses, the cache's own deadline
// included; only the caller's cancellation or earlier deadline is returned.
// [New] puts a circuit breaker ([Breaker]) around every store that is not
// in-process: after [DefaultBreakerThreshold] (5) consecutive connection
// failures, operations fail at once with an error wrapping
// [ErrUnavailable], and one probe per [DefaultBreakerInterval] (1s) checks
// for recovery. Options.Breaker tunes or disables it.
//
// # Performance
//
// A Get costs the store's lookup plus one decode by the codec. For small
// structs the decode (about a microsecond for JSON, less for msgpack) is
// far larger than an in-memory lookup (tens of nanoseconds), so pick the
// codec with the benchmarks in the README. The store keeps bytes, so values
// never alias the caller's memory. A hit of the local tier
// ([Options.Local]) skips both the store and the decode, and returns the
// value the tier holds.
package cachet
