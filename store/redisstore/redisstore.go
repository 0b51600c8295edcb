package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/batch"
	"github.com/cachet-go/cachet/store"
)

// DefaultScanCount is the COUNT hint of the SCAN calls made by
// [Store.Clear] and the largest number of keys it removes with one UNLINK,
// when Options.ScanCount is zero.
const DefaultScanCount = 1000

// DefaultContextTimeout is the deadline the client built by [Open] gives
// a command whose context has none, when Options.ContextTimeout is zero.
const DefaultContextTimeout = 5 * time.Second

// Options configures a Store. A nil *Options means the defaults stated on
// each field.
//
// The connection fields (Addrs to ContextTimeout) are used only by [Open],
// which builds the go-redis client; [New] takes a client that is already
// configured and ignores them.
type Options struct {
	// Addrs are the "host:port" addresses to connect to. One address and
	// no MasterName gives a plain client for one server; two or more, or
	// Cluster set, give a Redis Cluster client (the addresses are seed
	// nodes); MasterName set gives a Sentinel failover client (the
	// addresses are the sentinels'). Default: "localhost:6379".
	Addrs []string

	// Cluster makes Open build a Redis Cluster client even for a single
	// address (a cluster's configuration endpoint). Default: false.
	Cluster bool

	// MasterName is the name of the master monitored by the sentinels at
	// Addrs. When set, Open builds a failover client that follows the
	// master through failovers. Default: "" (no Sentinel).
	MasterName string

	// SentinelPassword authenticates to the sentinels (not to the data
	// nodes, see Password). Default: "" (none).
	SentinelPassword string

	// DB is the database number to select. Redis Cluster has only
	// database 0. Default: 0.
	DB int

	// Username and Password authenticate with AUTH (ACL user name and
	// password, or only a password for requirepass). Default: none.
	Username string
	Password string

	// TLSConfig, when not nil, makes connections use TLS with this
	// configuration. Default: nil (plain TCP).
	TLSConfig *tls.Config

	// PoolSize is the largest number of connections per server the
	// client keeps (async-caches' maxsize). Default: 10 per CPU, as
	// go-redis.
	PoolSize int

	// MinIdleConns is the number of idle connections per server the
	// client keeps open (async-caches' minsize). Default: 0.
	MinIdleConns int

	// DialTimeout bounds establishing a connection. Default: 5s (go-redis'
	// default), and a failed dial is retried by the pool 5 times, 100ms
	// apart.
	DialTimeout time.Duration

	// ReadTimeout and WriteTimeout bound each socket read and write; an
	// operation's context deadline earlier than them takes precedence.
	// Default (both zero): no socket timeout of their own, so that each
	// read and write runs until the operation's deadline: its context's
	// (a cachet.Cache always gives one, Options.Timeout), else
	// ContextTimeout. The socket timeouts are thus never shorter than the
	// cache's Timeout unless set so here. When set, they are go-redis'
	// (WriteTimeout zero follows ReadTimeout; -1 means none): a read that
	// times out before the context's deadline makes go-redis resend an
	// idempotent command (see "Retries" in the package documentation) and
	// fails the others before their deadline, their outcome unknown.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration

	// ContextTimeout is the deadline Open's client gives a command whose
	// context has none. Default: 0, meaning DefaultContextTimeout (5s);
	// a negative value means none, so that such a command can wait
	// forever on a hung server.
	ContextTimeout time.Duration

	// ScanCount is the COUNT hint passed to SCAN by Clear, and the largest
	// number of keys removed by one UNLINK. Used by New and Open.
	// Default: DefaultScanCount.
	ScanCount int

	// Batch configures how concurrent Gets and Sets share round trips
	// (see "Batching" in the package documentation). Used by New and
	// Open. Default: batching on, with the defaults of BatchOptions.
	Batch BatchOptions
}

// Store is a store.Store backed by Redis through a go-redis v9 client: a
// single server (*redis.Client), a Redis Cluster (*redis.ClusterClient),
// a Sentinel-managed master (the *redis.Client of redis.NewFailoverClient)
// or a client-side sharded *redis.Ring.
//
// A Store is safe for concurrent use by multiple goroutines.
type Store struct {
	client    redis.UniversalClient
	cluster   *redis.ClusterClient // non-nil for a Redis Cluster
	ring      *redis.Ring          // non-nil for a Ring
	owned     bool                 // built by Open: Close closes client
	roundTrip time.Duration        // RoundTripTimeout: Open's ContextTimeout, or 0
	scanCount int
	closed    atomic.Bool

	// gets and sets share round trips among concurrent Gets and Sets;
	// nil when batching is disabled.
	gets *batch.Batcher[string, []byte]
	sets *batch.Batcher[setArgs, struct{}]
	// pipe carries Gets and Sets over pipelined connections of the
	// store's own (standalone server); nil when not used.
	pipe *pipeline
}

var _ store.Store = (*Store)(nil)

// New returns a Store that uses client, which can be a *redis.Client, a
// *redis.ClusterClient, a *redis.Ring, a failover client or any other
// redis.UniversalClient. Of opts only ScanCount and Batch are used; nil
// means defaults.
//
// The caller keeps ownership of client: [Store.Close] does not close it.
// For operations to honour context deadlines shorter than the client's
// read and write timeouts, build the client with ContextTimeoutEnabled
// set, as [Open] does.
func New(client redis.UniversalClient, opts *Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: New: nil client")
	}
	s := &Store{client: client, scanCount: DefaultScanCount}
	if opts != nil {
		if opts.ScanCount < 0 {
			return nil, fmt.Errorf("redisstore: New: negative ScanCount %d", opts.ScanCount)
		}
		if opts.ScanCount > 0 {
			s.scanCount = opts.ScanCount
		}
		if opts.Batch.InFlight < 0 {
			return nil, fmt.Errorf("redisstore: New: negative Batch.InFlight %d", opts.Batch.InFlight)
		}
		if opts.Batch.MaxSize < 0 {
			return nil, fmt.Errorf("redisstore: New: negative Batch.MaxSize %d", opts.Batch.MaxSize)
		}
		if opts.Batch.Conns < -1 {
			return nil, fmt.Errorf("redisstore: New: Batch.Conns %d: want -1 (none), 0 (default) or positive", opts.Batch.Conns)
		}
	}
	var bo BatchOptions
	if opts != nil {
		bo = opts.Batch
	}
	s.gets = newBatcher(bo, s.execGets)
	s.sets = newBatcher(bo, s.execSets)
	s.pipe = storePipeline(client, bo, opts, false)
	switch c := client.(type) {
	case *redis.ClusterClient:
		s.cluster = c
	case *redis.Ring:
		s.ring = c
	}
	return s, nil
}

// Open builds a go-redis client from opts (see [Options] for how Addrs,
// Cluster and MasterName choose the kind of client) and returns a Store
// that owns it: [Store.Close] closes the client. The client has
// ContextTimeoutEnabled set, so that every operation also honours its
// context's deadline.
//
// Open does not connect: connections are made on first use, so a server
// that is down at start-up only makes the operations fail until it is
// back. Call Client().Ping to check the connection eagerly.
func Open(opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	switch {
	case opts.PoolSize < 0:
		return nil, fmt.Errorf("redisstore: Open: negative PoolSize %d", opts.PoolSize)
	case opts.MinIdleConns < 0:
		return nil, fmt.Errorf("redisstore: Open: negative MinIdleConns %d", opts.MinIdleConns)
	case opts.DB < 0:
		return nil, fmt.Errorf("redisstore: Open: negative DB %d", opts.DB)
	case opts.ReadTimeout < -1 || opts.WriteTimeout < -1:
		return nil, fmt.Errorf("redisstore: Open: ReadTimeout %v, WriteTimeout %v: want -1 (none), 0 (the operation's deadline) or positive", opts.ReadTimeout, opts.WriteTimeout)
	case opts.DB != 0 && (opts.Cluster || len(opts.Addrs) > 1) && opts.MasterName == "":
		return nil, fmt.Errorf("redisstore: Open: DB %d: Redis Cluster has only database 0", opts.DB)
	}
	for _, a := range opts.Addrs {
		if a == "" {
			return nil, errors.New("redisstore: Open: empty address in Addrs")
		}
	}
	readTimeout, writeTimeout := opts.ReadTimeout, opts.WriteTimeout
	addrs := opts.Addrs
	if len(addrs) == 0 {
		addrs = []string{"localhost:6379"}
	}
	if opts.ReadTimeout == 0 && opts.WriteTimeout == 0 {
		// No socket timeout of their own: the operation's deadline rules.
		readTimeout, writeTimeout = -1, -1
	}
	ctxTimeout := opts.ContextTimeout
	if ctxTimeout == 0 {
		ctxTimeout = DefaultContextTimeout
	}
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 addrs,
		IsClusterMode:         opts.Cluster,
		MasterName:            opts.MasterName,
		SentinelPassword:      opts.SentinelPassword,
		DB:                    opts.DB,
		Username:              opts.Username,
		Password:              opts.Password,
		TLSConfig:             opts.TLSConfig,
		PoolSize:              opts.PoolSize,
		MinIdleConns:          opts.MinIdleConns,
		DialTimeout:           opts.DialTimeout,
		ReadTimeout:           readTimeout,
		WriteTimeout:          writeTimeout,
		ContextTimeoutEnabled: true,
	})
	client.AddHook(DeadlineHook(ctxTimeout))
	s, err := New(client, opts)
	if err != nil {
		client.Close()
		return nil, err
	}
	s.owned = true
	if s.pipe == nil {
		s.pipe = storePipeline(client, opts.Batch, opts, true)
	}
	if ctxTimeout > 0 {
		// The client's DeadlineHook bounds every command and pipeline
		// without a deadline, the pipeline its own commands; a Get or Set
		// queued behind shared round trips waits no longer either.
		s.roundTrip = ctxTimeout
		if s.gets != nil {
			s.gets.MaxWait = ctxTimeout
			s.sets.MaxWait = ctxTimeout
		}
	}
	return s, nil
}

// RoundTripTimeout returns Options.ContextTimeout for a store built by
// [Open] (0 when it is negative, and for one built by [New], whose client
// the store does not configure). It implements store.SelfTimed: a command
// whose context has no deadline gets one ContextTimeout from now (through
// [DeadlineHook]), and a Get or Set queued behind shared round trips waits
// at most that long (failing with an error that matches
// os.ErrDeadlineExceeded), so that a cachet.Cache whose Timeout is at
// least as long adds no timeout context of its own to such a call. An
// operation of many round trips, such as Clear's SCAN, is bounded round
// trip by round trip.
func (s *Store) RoundTripTimeout() time.Duration { return s.roundTrip }

var _ store.SelfTimed = (*Store)(nil)

// Client returns the go-redis client the store uses, for commands the
// store does not offer (aiocache's raw). Keys written through it are not
// namespaced by anything.
func (s *Store) Client() redis.UniversalClient { return s.client }

// begin checks what every operation checks first: the store is open, the
// context is live and the key is valid.
func (s *Store) begin(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return store.Errorf(op, key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Errorf(op, key, err)
	}
	return store.CheckKey(op, key)
}

// beginMany is begin for batch operations: it checks every key and
// reports the first one as the error's key.
func (s *Store) beginMany(ctx context.Context, op string, keys []string) error {
	first := ""
	if len(keys) > 0 {
		first = keys[0]
	}
	if s.closed.Load() {
		return store.Errorf(op, first, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Errorf(op, first, err)
	}
	for _, k := range keys {
		if err := store.CheckKey(op, k); err != nil {
			return err
		}
	}
	return nil
}

// fail wraps a client error: redis.ErrClosed also matches store.ErrClosed,
// as does a read or write on a connection that Close closed under the
// call (net.ErrClosed once the store is closed), and an error caused by
// the context's end also matches ctx.Err().
func (s *Store) fail(ctx context.Context, op, key string, err error) error {
	closedUnder := s.closed.Load() && errors.Is(err, net.ErrClosed)
	if (closedUnder || errors.Is(err, redis.ErrClosed)) && !errors.Is(err, store.ErrClosed) {
		err = fmt.Errorf("%w: %w", store.ErrClosed, err)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	} else if cerr == nil && netTimeout(err) && !errors.Is(err, context.DeadlineExceeded) && (deadlinePassed(ctx) || s.ownDeadline(ctx)) {
		// The socket's deadline is the context's: a read that timed out
		// at it may return before the context's own timer has fired. Or
		// the deadline was the store's own (ContextTimeout, for a context
		// without one): a timeout all the same.
		err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return store.Errorf(op, key, err)
}

// ownDeadline reports whether an operation with ctx ran under the store's
// own deadline (RoundTripTimeout): the store has one and ctx none.
func (s *Store) ownDeadline(ctx context.Context) bool {
	if s.roundTrip <= 0 {
		return false
	}
	_, ok := ctx.Deadline()
	return !ok
}

// deadlinePassed reports whether ctx has a deadline that is not in the
// future.
func deadlinePassed(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// netTimeout reports whether err is a network timeout.
func netTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// pttl converts a store ttl to the one sent to Redis: 0 (no expiry) for
// ttl <= 0, else ttl rounded up to a whole millisecond, the resolution of
// PX and PEXPIRE.
func pttl(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	if r := ttl % time.Millisecond; r != 0 {
		if ttl > math.MaxInt64-time.Millisecond {
			return ttl - r
		}
		ttl += time.Millisecond - r
	}
	return ttl
}

// Get returns the value stored under key (GET), or an error wrapping
// store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.begin(ctx, store.OpGet.String(), key); err != nil {
		return nil, err
	}
	if s.pipe != nil {
		return s.pipeGet(ctx, key)
	}
	if s.gets != nil {
		direct, v, err := s.gets.Join(ctx, key)
		if !direct {
			if err != nil {
				return nil, s.fail(ctx, store.OpGet.String(), key, err)
			}
			if v == nil {
				return nil, store.Errorf(store.OpGet.String(), key, store.ErrNotFound)
			}
			return v, nil
		}
		defer s.gets.Done()
	}
	str, err := s.client.Get(ctx, key).Result()
	if err != nil {
		if err == redis.Nil {
			return nil, store.Errorf(store.OpGet.String(), key, store.ErrNotFound)
		}
		return nil, s.fail(ctx, store.OpGet.String(), key, err)
	}
	return nonNil(owned(str)), nil
}

// GetMany returns one slot per key, in the order of keys: nil for a
// missing key, the value (non-nil, possibly empty) otherwise.
//
// On a single server it is one MGET. On a Redis Cluster the keys are
// grouped by hash slot and fetched with one MGET per slot (a GET for a
// slot with one key), all in one pipeline that go-redis sends to the
// masters in parallel. On a Ring it is
// a pipeline of GETs.
func (s *Store) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	op := store.OpGetMany.String()
	if err := s.beginMany(ctx, op, keys); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return [][]byte{}, nil
	}
	out, errs := s.getValues(ctx, keys)
	for i, err := range errs {
		if err != nil {
			return nil, s.fail(ctx, op, keys[i], err)
		}
	}
	return out, nil
}

// getValues reads keys in one round trip, as GetMany describes, and
// returns one value per key (nil when missing) and, when any read failed,
// one error per key (nil for the keys read). A failure of the round trip
// as a whole is every key's error; on a Cluster or Ring, a failure of one
// slot's MGET or one GET is only its keys' error.
func (s *Store) getValues(ctx context.Context, keys []string) ([][]byte, []error) {
	out := make([][]byte, len(keys))
	var errs []error
	fail := func(idx []int, err error) {
		if errs == nil {
			errs = make([]error, len(keys))
		}
		if idx == nil {
			for i := range errs {
				errs[i] = err
			}
			return
		}
		for _, i := range idx {
			errs[i] = err
		}
	}
	switch {
	case s.cluster != nil:
		// One MGET per slot; a slot with a single key gets a GET, whose
		// reply is cheaper to decode.
		groups := groupBySlot(keys)
		cmds := make([]redis.Cmder, len(groups))
		_, _ = s.cluster.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, g := range groups {
				if len(g.keys) == 1 {
					cmds[i] = p.Get(ctx, g.keys[0])
				} else {
					cmds[i] = p.MGet(ctx, g.keys...)
				}
			}
			return nil
		})
		for i, g := range groups {
			switch c := cmds[i].(type) {
			case *redis.StringCmd:
				switch err := c.Err(); err {
				case nil:
					out[g.idx[0]] = nonNil(owned(c.Val()))
				case redis.Nil:
				default:
					fail(g.idx, err)
				}
			case *redis.SliceCmd:
				if err := c.Err(); err != nil {
					fail(g.idx, err)
				} else if err := fillValues(out, g.idx, c.Val()); err != nil {
					fail(g.idx, err)
				}
			}
		}
	case s.ring != nil:
		cmds := make([]*redis.StringCmd, len(keys))
		_, _ = s.ring.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.Get(ctx, k)
			}
			return nil
		})
		for i, c := range cmds {
			switch err := c.Err(); err {
			case nil:
				out[i] = nonNil(owned(c.Val()))
			case redis.Nil:
			default:
				fail([]int{i}, err)
			}
		}
	default:
		vals, err := s.mget(ctx, keys)
		if err == nil {
			err = fillValues(out, nil, vals)
		}
		if err != nil {
			fail(nil, err)
		}
	}
	return out, errs
}

// execGets runs queued Gets in one round trip (getValues).
func (s *Store) execGets(reqs []*batch.Request[string, []byte]) {
	ctx, cancel := batch.Context(reqs)
	defer cancel()
	keys := make([]string, len(reqs))
	for i, r := range reqs {
		keys[i] = r.In
	}
	vals, errs := s.getValues(ctx, keys)
	for i, r := range reqs {
		r.Out = vals[i]
		if errs != nil {
			r.Err = errs[i]
		}
	}
}

// fillValues stores MGET's replies into out, at idx[i] for reply i (or at i
// when idx is nil).
func fillValues(out [][]byte, idx []int, vals []any) error {
	for i, v := range vals {
		j := i
		if idx != nil {
			j = idx[i]
		}
		switch v := v.(type) {
		case nil:
		case string:
			out[j] = nonNil(owned(v))
		default:
			return fmt.Errorf("redisstore: unexpected MGET reply of type %T", v)
		}
	}
	return nil
}

// mget runs MGET keys on a single server (a standalone or failover
// client), as the client's MGet does, but passes each key as a keyArg,
// which go-redis writes without a copy and which a Go interface holds
// without allocating: MGet's arguments cost one allocation per key.
func (s *Store) mget(ctx context.Context, keys []string) ([]any, error) {
	args := make([]any, 1+len(keys))
	args[0] = "mget"
	for i := range keys {
		args[1+i] = keyArg{&keys[i]}
	}
	cmd := redis.NewSliceCmd(ctx, args...)
	_ = s.client.Process(ctx, cmd)
	return cmd.Result()
}

// keyArg is a key passed to a go-redis command by reference: the writer
// sends MarshalBinary's bytes (go-redis' encoding.BinaryMarshaler case),
// and hooks that print a command's arguments see String, the key. It
// holds one pointer, so storing it in an interface allocates nothing.
type keyArg struct{ p *string }

// MarshalBinary returns the key's bytes, without copying them; the writer
// only reads them.
func (k keyArg) MarshalBinary() ([]byte, error) {
	return unsafe.Slice(unsafe.StringData(*k.p), len(*k.p)), nil
}

// String returns the key.
func (k keyArg) String() string { return *k.p }

// owned returns the bytes of v, a bulk-string reply, without copying
// them. go-redis reads every bulk string into a buffer of its own, made
// for that one reply (proto.Reader.readStringReply, also when a
// client-side cache replays a reply), and hands it out as a string
// without copying; no one else holds that buffer, so giving it to the
// caller as the []byte it was is safe, and saves one allocation and copy
// per value (the largest cost GetMany added over a raw MGET).
func owned(v string) []byte {
	return unsafe.Slice(unsafe.StringData(v), len(v))
}

// nonNil returns b, or an empty non-nil slice when b is nil, so that a
// stored empty value is told apart from a missing one.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// slotGroup is the keys of one hash slot and their indexes in the
// caller's slice.
type slotGroup struct {
	keys []string
	idx  []int
}

// groupBySlot groups keys by Redis Cluster hash slot, preserving the
// caller's order within each group.
func groupBySlot(keys []string) []slotGroup {
	bySlot := make(map[int]int, len(keys)) // slot -> index in groups
	var groups []slotGroup
	for i, k := range keys {
		slot := Slot(k)
		gi, ok := bySlot[slot]
		if !ok {
			gi = len(groups)
			bySlot[slot] = gi
			groups = append(groups, slotGroup{})
		}
		groups[gi].keys = append(groups[gi].keys, k)
		groups[gi].idx = append(groups[gi].idx, i)
	}
	return groups
}

// Set stores value under key (SET, with PX when ttl > 0), replacing any
// previous value and ttl. Sub-millisecond ttls are rounded up to 1ms.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.begin(ctx, store.OpSet.String(), key); err != nil {
		return err
	}
	if err := store.CheckValue(store.OpSet.String(), key, value); err != nil {
		return err
	}
	if s.pipe != nil {
		return s.pipeSet(ctx, key, value, pttl(ttl))
	}
	if s.sets != nil {
		direct, _, err := s.sets.Join(ctx, setArgs{key, value, pttl(ttl)})
		if !direct {
			if err != nil {
				return s.fail(ctx, store.OpSet.String(), key, err)
			}
			return nil
		}
		defer s.sets.Done()
	}
	if err := s.client.Set(ctx, key, value, pttl(ttl)).Err(); err != nil {
		return s.fail(ctx, store.OpSet.String(), key, err)
	}
	return nil
}

// SetMany stores every entry with the same ttl in one round trip.
//
// On a single server (or a failover client) it is one MSET when ttl <= 0,
// otherwise one MULTI/EXEC transaction of SET PX commands; either way the
// entries are stored all together or not at all. On a Redis Cluster the
// entries are grouped by hash slot into one pipeline (an MSET per slot
// when ttl <= 0, SET PX commands otherwise) sent to the masters in
// parallel, and on a Ring it is a pipeline of SETs: there the batch is not
// atomic, and an error can leave some of the entries written.
func (s *Store) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	op := store.OpSetMany.String()
	first := ""
	if len(entries) > 0 {
		first = entries[0].Key
	}
	if s.closed.Load() {
		return store.Errorf(op, first, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Errorf(op, first, err)
	}
	for _, e := range entries {
		if err := store.CheckKey(op, e.Key); err != nil {
			return err
		}
		if err := store.CheckValue(op, e.Key, e.Value); err != nil {
			return err
		}
	}
	if len(entries) == 0 {
		return nil
	}
	ttl = pttl(ttl)
	var err error
	switch {
	case s.cluster != nil:
		keys := make([]string, len(entries))
		for i, e := range entries {
			keys[i] = e.Key
		}
		groups := groupBySlot(keys)
		_, err = s.cluster.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, g := range groups {
				if ttl == 0 {
					p.MSet(ctx, pairs(entries, g.idx)...)
					continue
				}
				for _, i := range g.idx {
					p.Set(ctx, entries[i].Key, entries[i].Value, ttl)
				}
			}
			return nil
		})
	case s.ring != nil:
		_, err = s.ring.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, e := range entries {
				p.Set(ctx, e.Key, e.Value, ttl)
			}
			return nil
		})
	case ttl == 0:
		err = s.client.MSet(ctx, pairs(entries, nil)...).Err()
	default:
		_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, e := range entries {
				p.Set(ctx, e.Key, e.Value, ttl)
			}
			return nil
		})
	}
	if err != nil {
		return s.fail(ctx, op, first, err)
	}
	return nil
}

// pairs flattens entries (those at idx, or all when idx is nil) into
// MSET's key, value, key, value ... arguments.
func pairs(entries []store.Entry, idx []int) []any {
	if idx == nil {
		args := make([]any, 0, 2*len(entries))
		for _, e := range entries {
			args = append(args, e.Key, e.Value)
		}
		return args
	}
	args := make([]any, 0, 2*len(idx))
	for _, i := range idx {
		args = append(args, entries[i].Key, entries[i].Value)
	}
	return args
}

// setArgs is one queued Set: its ttl is already what PX gets.
type setArgs struct {
	key   string
	value []byte
	ttl   time.Duration
}

// execSets runs queued Sets as one pipeline of SET [PX] commands (on a
// Cluster go-redis splits it by node and sends the parts in parallel).
// Each caller gets its own command's error.
func (s *Store) execSets(reqs []*batch.Request[setArgs, struct{}]) {
	ctx, cancel := batch.Context(reqs)
	defer cancel()
	cmds := make([]*redis.StatusCmd, len(reqs))
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range reqs {
			cmds[i] = p.Set(ctx, r.In.key, r.In.value, r.In.ttl)
		}
		return nil
	})
	for i, r := range reqs {
		r.Err = cmds[i].Err()
	}
}

// Add stores value under key only when key is absent (SET NX, with PX
// when ttl > 0), atomically. When key exists it returns an error wrapping
// store.ErrExists.
func (s *Store) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.begin(ctx, store.OpAdd.String(), key); err != nil {
		return err
	}
	if err := store.CheckValue(store.OpAdd.String(), key, value); err != nil {
		return err
	}
	args := []any{"set", key, value, "nx"}
	if ttl = pttl(ttl); ttl > 0 {
		args = append(args, "px", int64(ttl/time.Millisecond))
	}
	cmd := redis.NewBoolCmd(ctx, args...)
	_ = s.client.Process(ctx, onceBool{cmd})
	ok, err := cmd.Result()
	if err != nil {
		return s.fail(ctx, store.OpAdd.String(), key, err)
	}
	if !ok {
		return store.Errorf(store.OpAdd.String(), key, store.ErrExists)
	}
	return nil
}

// Delete removes the keys (UNLINK, which frees memory in the background)
// and returns how many of them existed; a key listed twice counts once.
// On a Redis Cluster the keys are grouped by hash slot, one UNLINK per
// slot in one pipeline.
func (s *Store) Delete(ctx context.Context, keys ...string) (int, error) {
	op := store.OpDelete.String()
	if err := s.beginMany(ctx, op, keys); err != nil {
		return 0, err
	}
	if len(keys) == 0 {
		return 0, nil
	}
	var (
		n   int64
		err error
	)
	switch {
	case s.cluster != nil:
		groups := groupBySlot(keys)
		cmds := make([]*redis.IntCmd, len(groups))
		_, err = s.cluster.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, g := range groups {
				cmds[i] = unlink(ctx, p, g.keys...)
			}
			return nil
		})
		for _, c := range cmds {
			n += c.Val()
		}
	case s.ring != nil:
		// A Ring routes a command by its first key: one UNLINK per
		// distinct key, so that each goes to its own shard.
		var cmds []*redis.IntCmd
		seen := make(map[string]bool, len(keys))
		_, err = s.ring.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				if !seen[k] {
					seen[k] = true
					cmds = append(cmds, unlink(ctx, p, k))
				}
			}
			return nil
		})
		for _, c := range cmds {
			n += c.Val()
		}
	default:
		n, err = unlink(ctx, s.client, keys...).Result()
	}
	if err != nil {
		return 0, s.fail(ctx, op, keys[0], err)
	}
	return int(n), nil
}

// unlink sends UNLINK keys... through c (a client or a pipeline), never
// resent: a second run would find the keys gone and count 0.
func unlink(ctx context.Context, c interface {
	Process(context.Context, redis.Cmder) error
}, keys ...string) *redis.IntCmd {
	args := make([]any, 1+len(keys))
	args[0] = "unlink"
	for i, k := range keys {
		args[1+i] = k
	}
	cmd := redis.NewIntCmd(ctx, args...)
	_ = c.Process(ctx, onceInt{cmd})
	return cmd
}

// Exists reports whether key holds a live value (EXISTS).
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if err := s.begin(ctx, store.OpExists.String(), key); err != nil {
		return false, err
	}
	n, err := s.client.Exists(ctx, key).Result()
	if err != nil {
		return false, s.fail(ctx, store.OpExists.String(), key, err)
	}
	return n > 0, nil
}

// Increment atomically adds delta to the integer stored under key
// (INCRBY) and returns the new value. A missing key starts at 0 with no
// expiry; an existing key keeps its ttl. A value that is not a decimal
// int64 gives an error wrapping store.ErrNotInteger, a result outside
// int64 one wrapping store.ErrOverflow.
func (s *Store) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	if err := s.begin(ctx, store.OpIncrement.String(), key); err != nil {
		return 0, err
	}
	cmd := redis.NewIntCmd(ctx, "incrby", key, delta)
	_ = s.client.Process(ctx, onceInt{cmd})
	n, err := cmd.Result()
	if err != nil {
		var rerr redis.Error
		if errors.As(err, &rerr) {
			switch msg := rerr.Error(); {
			case strings.Contains(msg, "not an integer"):
				err = fmt.Errorf("%w: %w", store.ErrNotInteger, err)
			case strings.Contains(msg, "overflow"):
				err = fmt.Errorf("%w: %w", store.ErrOverflow, err)
			}
		}
		return 0, s.fail(ctx, store.OpIncrement.String(), key, err)
	}
	return n, nil
}

// persistScript removes key's expiry and reports whether key exists, in
// one atomic step (PERSIST alone cannot tell a missing key from one
// without expiry).
var persistScript = redis.NewScript(`
if redis.call('PERSIST', KEYS[1]) == 1 then return 1 end
return redis.call('EXISTS', KEYS[1])
`)

// Expire gives key a new ttl (PEXPIRE, rounded up to a whole millisecond)
// or, when ttl <= 0, removes its expiry (PERSIST, in a script that also
// checks that key exists). It reports false when key is missing.
func (s *Store) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := s.begin(ctx, store.OpExpire.String(), key); err != nil {
		return false, err
	}
	if ttl <= 0 {
		n, err := persistScript.Run(ctx, s.client, []string{key}).Int64()
		if err != nil {
			return false, s.fail(ctx, store.OpExpire.String(), key, err)
		}
		return n == 1, nil
	}
	ok, err := s.client.PExpire(ctx, key, pttl(ttl)).Result()
	if err != nil {
		return false, s.fail(ctx, store.OpExpire.String(), key, err)
	}
	return ok, nil
}

// TTL returns key's remaining time to live (PTTL, millisecond
// resolution), 0 when it has no expiry, or an error wrapping
// store.ErrNotFound when it is missing. A key whose last millisecond is
// running reports 1ms, never 0.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := s.begin(ctx, store.OpTTL.String(), key); err != nil {
		return 0, err
	}
	d, err := s.client.PTTL(ctx, key).Result()
	if err != nil {
		return 0, s.fail(ctx, store.OpTTL.String(), key, err)
	}
	switch {
	case d == -2:
		return 0, store.Errorf(store.OpTTL.String(), key, store.ErrNotFound)
	case d == -1:
		return 0, nil
	case d <= 0:
		return time.Millisecond, nil
	}
	return d, nil
}

// Clear removes every key that starts with prefix.
//
// With a prefix it iterates SCAN MATCH "<prefix>*" (the prefix's glob
// metacharacters escaped) to the end of the cursor and removes what it
// finds with UNLINK, at most ScanCount keys at a time; on a Redis Cluster
// it does so on every master in parallel, on a Ring on every shard. SCAN
// visits every key that exists for the whole call; a key written with the
// prefix while Clear runs may survive. It never uses KEYS.
//
// With an empty prefix it empties the store's database with FLUSHDB ASYNC
// (on every master of a Cluster, every shard of a Ring): other databases
// of the server are untouched, and keys disappear at once while memory is
// freed in the background. It never uses FLUSHALL.
func (s *Store) Clear(ctx context.Context, prefix string) error {
	op := store.OpClear.String()
	if s.closed.Load() {
		return store.Errorf(op, prefix, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Errorf(op, prefix, err)
	}
	var err error
	switch {
	case prefix == "":
		flush := func(ctx context.Context, c *redis.Client) error { return c.FlushDBAsync(ctx).Err() }
		switch {
		case s.cluster != nil:
			err = s.cluster.ForEachMaster(ctx, flush)
		case s.ring != nil:
			err = s.ring.ForEachShard(ctx, flush)
		default:
			err = s.client.FlushDBAsync(ctx).Err()
		}
	default:
		match := escapeGlob(prefix) + "*"
		switch {
		case s.cluster != nil:
			err = s.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
				return s.clearNode(ctx, c, match, true)
			})
		case s.ring != nil:
			err = s.ring.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
				return s.clearNode(ctx, c, match, false)
			})
		default:
			err = s.clearNode(ctx, s.client, match, false)
		}
	}
	if err != nil {
		return s.fail(ctx, op, prefix, err)
	}
	return nil
}

// clearNode scans one server for keys matching match and unlinks them in
// batches. bySlot groups each batch by hash slot, as a cluster node
// refuses multi-key commands across slots.
func (s *Store) clearNode(ctx context.Context, c redis.Cmdable, match string, bySlot bool) error {
	var cursor uint64
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		defer func() { batch = batch[:0] }()
		if !bySlot {
			return c.Unlink(ctx, batch...).Err()
		}
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, g := range groupBySlot(batch) {
				p.Unlink(ctx, g.keys...)
			}
			return nil
		})
		return err
	}
	for {
		keys, next, err := c.Scan(ctx, cursor, match, int64(s.scanCount)).Result()
		if err != nil {
			return err
		}
		for _, k := range keys {
			batch = append(batch, k)
			if len(batch) >= s.scanCount {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if next == 0 {
			return flush()
		}
		cursor = next
	}
}

// escapeGlob escapes the characters SCAN MATCH treats as pattern syntax,
// so that prefix matches only itself.
func escapeGlob(prefix string) string {
	if !strings.ContainsAny(prefix, `*?[]\`) {
		return prefix
	}
	var b strings.Builder
	b.Grow(len(prefix) + 8)
	for i := 0; i < len(prefix); i++ {
		switch c := prefix[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Close marks the store closed, so that every later call returns
// store.ErrClosed, and closes the client when the store built it (Open).
// A client given to New stays open. Closing twice returns
// store.ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return store.Errorf(store.OpClose.String(), "", store.ErrClosed)
	}
	if s.pipe != nil {
		s.pipe.close()
	}
	if s.owned {
		if err := s.client.Close(); err != nil {
			return store.Errorf(store.OpClose.String(), "", err)
		}
	}
	return nil
}
