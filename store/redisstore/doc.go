// Package redisstore is a [store.Store] backed by Redis, through the
// go-redis v9 client: one server, a Redis Cluster, a Sentinel-managed
// master or a client-side sharded Ring.
//
// Most code should use package cachet, with a Store from this package as
// its backend; the Store is also usable on its own, at the byte level.
//
// # Connecting
//
// [Open] builds and owns a go-redis client from [Options]:
//
//	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{"localhost:6379"}, DB: 1})
//
// Two or more Addrs (or Options.Cluster) give a Redis Cluster client;
// Options.MasterName gives a Sentinel failover client. [New] wraps a
// client you already have (a *redis.Client, *redis.ClusterClient,
// *redis.Ring or failover client) and leaves it open on [Store.Close].
// [Store.Client] returns the client for commands the store does not offer.
//
// # Commands
//
// Each operation is one Redis command, or one pipeline, so one round trip
// (concurrent Gets and Sets may share one, see "Batching"):
//
//	Get        GET (concurrent Gets: one MGET, or pipelined with Batch.Conns)
//	GetMany    MGET (Cluster: an MGET or GET per hash slot, one pipeline)
//	Set        SET key value [PX ms] (concurrent Sets: one pipeline)
//	SetMany    MSET, or MULTI + SET PX ... + EXEC (Cluster: per slot, one pipeline)
//	Add        SET key value NX [PX ms]
//	Delete     UNLINK (Cluster: per slot, one pipeline)
//	Exists     EXISTS
//	Increment  INCRBY
//	Expire     PEXPIRE, or PERSIST + EXISTS in a script
//	TTL        PTTL
//	Clear      SCAN MATCH + UNLINK on every master; FLUSHDB ASYNC for ""
//
// The store needs Redis 4.0 or later (UNLINK, FLUSHDB ASYNC) with Lua
// scripting enabled (Expire with ttl <= 0); tests run against Redis 7.
//
// Ttls have millisecond resolution: a sub-millisecond remainder is rounded
// up. Values are binary-safe: any byte sequence round-trips, an empty
// value included. Redis replies are mapped onto the store sentinels: a
// missing key gives [store.ErrNotFound], a failed SET NX
// [store.ErrExists], INCRBY's "not an integer" and "would overflow"
// replies [store.ErrNotInteger] and [store.ErrOverflow].
//
// # Keys and Clear
//
// Clear with a prefix never uses KEYS (which blocks the server) and never
// FLUSHALL: it walks the keyspace with SCAN, escaping the glob
// metacharacters of the prefix, so that "app:[v1]:" matches only itself.
// Its cost grows with the number of keys in the database, not only with the
// number it removes; give each application its own database (Options.DB)
// when the database is large and clears are frequent. Clear("") empties the
// store's database only.
//
// On a Redis Cluster a multi-key command must stay within one hash slot;
// the store splits GetMany, SetMany, Delete and Clear by slot itself, so
// keys need no hash tags.
//
// # Failures
//
// A server that is down or unreachable makes operations fail with its
// network error, within the context's deadline when the client honours
// deadlines (Open turns ContextTimeoutEnabled on; set it on clients given
// to New). The store keeps no state about the connection: when the server
// is back, the same Store works again without being rebuilt: go-redis
// redials on demand, and after repeated dial failures it probes the
// server once a second, so calls succeed again within about a second of
// the server's return.
//
// # Timeouts
//
// The client built by [Open] (and by package redisurl) leaves the socket
// read and write timeouts off unless they are set (Options.ReadTimeout,
// WriteTimeout; read_timeout, write_timeout or timeout in a URL): each
// read and write then runs until the operation's context deadline, so a
// socket timeout never cuts an operation short of its deadline, and never
// makes go-redis resend a command the caller still waits for. A command
// whose context has no deadline gets Options.ContextTimeout
// ([DefaultContextTimeout], 5s) through [DeadlineHook], and a Get or Set
// without a deadline that queues behind shared round trips (see
// "Batching") waits no longer than that either; a timeout at this deadline
// of the store's own matches context.DeadlineExceeded, as one at the
// caller's does. Set explicitly, the socket timeouts are go-redis' own:
// the earlier of them and the context's deadline applies. Dials are
// bounded by DialTimeout (5s, go-redis' default) and the context.
//
// A store built by Open so bounds every round trip itself, and says so
// through store.SelfTimed ([Store.RoundTripTimeout]): a cachet.Cache whose
// Timeout is at least ContextTimeout (as with both defaults) gives a call
// whose context has no deadline no deadline of its own, saving the context
// it would allocate per operation, and caps a later deadline at its
// Timeout as over any store. An operation of many round trips (Clear's
// SCAN and UNLINK) is then bounded round trip by round trip.
//
// # Retries
//
// go-redis resends a command after a network error or a socket timeout
// (up to MaxRetries, 3 by default), on a new connection. A command that
// timed out may still be waiting in a stalled server's socket buffer: when
// the server resumes it runs both copies. The store therefore sorts its
// commands by what a second run would do:
//
//   - Resent: GET, MGET, EXISTS, PTTL, SCAN (reads); SET, MSET, the
//     MULTI/EXEC batch of SET PX, PEXPIRE, the PERSIST script, FLUSHDB
//     (a second run leaves the same state, and its reply is the one a
//     single, later run would give).
//   - Sent once: INCRBY (a second run adds delta again), SET NX (the
//     second run reports the first one's write as ErrExists), UNLINK (the
//     second run counts 0 removed) and the compare-and-delete script (the
//     second run reports false). After a timeout they return the error:
//     the outcome is unknown, and the command may still run when the
//     server recovers, once.
//
// "Sent once" is go-redis's per-command NoRetry mark, which its Client,
// ClusterClient, Ring and failover client all honour, whatever their
// MaxRetries; so it holds for a client given to [New] as well, unless a
// hook the user added resends commands itself. Failures that prove the
// server did not run the command are still retried: failed dials (the
// pool's own dial retries), and on a Cluster the MOVED and ASK
// redirections and READONLY/CLUSTERDOWN/TRYAGAIN refusals.
//
// # Batching
//
// Concurrent Gets share round trips, and so do concurrent Sets, in one of
// two ways.
//
// Group commit over the client (the default): while Options.Batch.InFlight
// Gets are waiting for their replies, further Gets queue, and the first of
// those round trips to finish hands the queue to one MGET (on a Cluster
// one pipeline with an MGET or GET per hash slot, sent to the masters in
// parallel; on a Ring a pipeline of GETs); queued Sets go out as one
// pipeline of SET [PX] commands. A lone caller, or any caller that finds
// a round trip free, sends its own command at once on its own context,
// and the busier the pipe, the more callers share each round trip (at
// most Batch.MaxSize).
//
// Pipelining (Options.Batch.Conns positive, on one standalone server):
// Gets and Sets go out on Batch.Conns connections of the store's own,
// dialled with the client's dialer (TLS included) and set up from its
// options (AUTH with Username and Password or the CredentialsProvider,
// SELECT DB, CLIENT SETNAME). A caller queues its GET or SET on a
// connection; the first caller to find the connection's writer free
// writes every command queued into one buffer, and flushes it when the
// queue is momentarily empty, so that concurrent callers share write and
// read syscalls and the server handles their commands together
// (consecutive GETs written together go out as one MGET); a reader
// goroutine parses the replies in order and hands each to its caller. A
// Get or Set that finds no other under way goes through the go-redis
// client as without batching, so that a lone caller pays nothing extra.
// No timer is involved. A connection that fails fails the commands written
// on it and not yet answered (their outcome is unknown) and is dialled
// again for the next ones; a Set is never resent, and a Get whose
// connection broke (closed by the server or failing a write, not a
// timeout) is sent once more, on the new connection (GET is idempotent). The pipelined GETs and SETs
// do not pass through the client's hooks. A Cluster, a Ring, a Sentinel
// failover client (whose master moves) and a client with an OnConnect
// callback or a context or streaming credentials provider never pipeline.
//
// Batching is on by default; set Options.Batch.Disabled to turn it off.
// What holds with batching on:
//
//   - Each caller gets its own result and its own error: a missing key is
//     that caller's ErrNotFound, and on a Cluster a failed slot fails only
//     the callers of that slot.
//   - Each caller's context is its own. A caller whose context ends while
//     its command is queued leaves at once with the context's error, and
//     its command is withdrawn, never sent. A caller whose context ends
//     once its command is sent leaves at once too (the outcome of its Set
//     is then unknown, as after any failed Set); on a pipelined connection
//     its reply is read and dropped. A shared round trip over the client
//     runs with none of its callers' cancellation and the latest of their
//     deadlines, and a pipelined connection is given up only when every
//     caller waiting on it has reached its deadline (or after
//     Options.ReadTimeout without a reply, when set), so one caller's
//     cancellation never fails another's operation. A context without a
//     deadline gets Options.ContextTimeout on a pipelined connection too.
//   - Order: a Get or Set returns only when its reply is in, so a Get
//     that follows a successful Set in the same goroutine sees that write
//     (or a later one). On one pipelined connection commands run in the
//     order they were queued; operations of different goroutines that
//     overlap in time have no order, as without batching.
//   - Only GET and SET are batched. Over the client both may be resent
//     (see "Retries"), so a shared round trip may be retried as a whole;
//     on a pipelined connection a SET is never resent, and a GET only once,
//     after its connection broke. The commands that
//     are sent once (Add's SET NX, INCRBY, UNLINK, the scripts) never join
//     a batch.
//   - A Get of a key holding another Redis type (a list, a hash) reports
//     the server's WRONGTYPE error when it went out as a GET (a lone
//     caller's, as without batching); MGET does not fail on such a key,
//     so a Get that shared an MGET reports ErrNotFound. Keys written
//     through the store always hold strings.
//
// The knobs: Batch.InFlight (default 2: that many round trips of each
// kind go out unbatched over the client before callers queue),
// Batch.MaxSize (default 128 keys per shared round trip over the client)
// and Batch.Conns (default none). There is no time window: a timer would
// add its length to a lone caller's latency, while waiting for a round
// trip to finish costs nothing extra. Measured on a loopback Redis 7
// (BenchmarkOverhead/Get, paired), a lone caller's Get is within 1% of raw
// go-redis (go-redis' AutoPipeline, which hands every command to a flusher
// goroutine, measured 1.3x to 2x). The bench module's
// BenchmarkRedisThroughput (contenders interleaved in one run) measured
// Cache.Get on a quiet 2-core machine, in ops/s, group commit over the
// client / one pipelined connection / raw go-redis GET / rueidis Do GET:
// 89k-95k / 75k-83k / 42k-45k / 82k-87k with 16 goroutines, and
// 150k-180k / 84k-136k / 40k-41k / 100k-112k with 64, with a client CPU
// per Get of 12-14 µs (group commit) against 23-27 µs for raw go-redis.
// Group commit is therefore the default; pipelined connections measured
// better only on a heavily loaded machine.
//
// # Invalidations
//
// [Store.Subscribe] implements [store.Invalidator], the stream cachet's
// local tier is invalidated by, with server-assisted client tracking
// (Redis 6 or later): a dedicated RESP3 connection per server that owns
// keys, dialled with the client's options, with CLIENT TRACKING ON BCAST
// PREFIX <prefix>, read continuously, so a write, expiry or eviction of a
// key of the prefix by any client is reported. There is one connection
// for a *redis.Client, one to the current master for a Sentinel failover
// client, one per master for a *redis.ClusterClient and one per live
// shard for a *redis.Ring. The stream is live only while every one of
// them tracks: any connection lost (CLIENT KILL, a restart, a failover)
// is reported as a flush that ends it until all track again, and so is
// any change of the servers that own keys, read again every 250 ms on a
// Cluster (CLUSTER SLOTS) and every 50 ms on a Ring (its live shards:
// Ring.SetAddrs, a shard its heartbeat marks down or up). The one change
// not followed is a Ring.SetAddrs that keeps the addresses under other
// shard names (a re-hash the Ring's API does not expose). Any other
// client type gives an error wrapping [store.ErrNotSupported].
//
// The subscriptions of one Store (the local tiers of all the caches over
// it) share these connections: one per server, tracking every
// subscription's prefix, each key reported to the subscriptions whose
// prefix it starts with. A subscription whose prefix is new makes them
// start again, which the others see as an interruption (their tiers are
// flushed once, usually when the caches are made at start-up).
//
// # Performance
//
// A lone Get or Set costs what the same go-redis call costs, plus a key
// check and two atomic additions. GetMany and SetMany cost one round trip for any
// number of keys on one server, one round trip per master in parallel on
// a Cluster: prefer them to loops of Get and Set. The package benchmarks
// (go test -run '^$' -bench . -benchmem ./store/redisstore/) compare each
// operation with the raw go-redis client on the same server: on a loopback
// Redis 7, BenchmarkOverhead measures Get and Set within 1% of the raw
// calls, with the same allocations, and a GetMany or SetMany of 100 keys
// runs over ten times faster than 100 Gets or Sets.
package redisstore
