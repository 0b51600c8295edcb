package memcachestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachet-go/cachet/internal/batch"
	"github.com/cachet-go/cachet/store"
)

// DefaultMaxIdleConns is the number of idle connections per server that a
// client made by [NewFromServers] keeps when Options.MaxIdleConns is 0.
// gomemcache's own default (2) makes concurrent callers dial and close
// connections all the time.
const DefaultMaxIdleConns = 16

// Options configures a [Store]. A nil *Options means the zero Options,
// whose every field has the default documented on it.
type Options struct {
	// Timeout bounds each network round trip (dial, write and read) of the
	// client made by NewFromServers. Zero means memcache.DefaultTimeout
	// (500ms). New ignores it and uses the Timeout of the client given.
	Timeout time.Duration

	// MaxIdleConns is the number of idle connections per server kept by
	// the client made by NewFromServers. Zero means DefaultMaxIdleConns.
	// New ignores it and uses the MaxIdleConns of the client given.
	MaxIdleConns int

	// Namespaces declares namespaces up front, as [Store.UseNamespace]
	// does: each is a non-empty segment without ':', and keys beginning
	// with it and ':' are stored under the namespace's generation. Keys
	// of other namespaces are stored under their own (mapped) names,
	// whatever ':' they hold. Default none.
	Namespaces []string

	// DisableGenerations turns namespace generations off: every key is
	// stored under its own (mapped) name, declared namespaces included, no
	// operation pays for a generation lookup, and Clear accepts only ""
	// (flush_all); any other prefix gives store.ErrNotSupported. Default
	// false. All processes sharing a memcached keyspace must use the same
	// setting and declare the same namespaces, or they will not see each
	// other's namespaced keys.
	DisableGenerations bool

	// GenerationCacheTTL is how long the generation of a namespace, once
	// read, is reused without asking memcached again. Zero means
	// DefaultGenerationCacheTTL. While the generation is cached, a Get or
	// Set of a namespaced key is one round trip, as for any other key;
	// once it is older, the next operation in that namespace reads it
	// again first (one more round trip). The cost: after another process
	// clears a namespace, this Store may keep reading and writing the old
	// generation, that is serve cleared values and write values nobody
	// else reads, for up to GenerationCacheTTL. Clears made through this
	// Store are seen by it at once. A negative value reads the generation
	// on every operation in a namespace (two round trips each), so that
	// other processes' clears are seen at once.
	GenerationCacheTTL time.Duration

	// Batch configures how concurrent Gets share round trips (see
	// "Batching" in the package documentation). Default: batching on,
	// with the defaults of BatchOptions.
	Batch BatchOptions
}

// DefaultGenerationCacheTTL is the GenerationCacheTTL used when
// Options.GenerationCacheTTL is zero: a namespace's generation is read at
// most about once a second per Store, and another process's Clear of a
// namespace is seen within a second.
const DefaultGenerationCacheTTL = time.Second

// Store is a [store.Store] on one or more memcached servers, through a
// gomemcache client. Keys are spread over the servers by the client's
// ServerSelector. It is safe for concurrent use by multiple goroutines.
type Store struct {
	client   *memcache.Client
	timeout  time.Duration // the client's effective per-round-trip timeout
	attempts int           // tries of one round trip over stale idle connections
	workers  int           // concurrent round trips of one batch operation
	gens     bool
	hints    hints
	mu       sync.Mutex                          // serialises changes of spaces
	spaces   atomic.Pointer[map[string]struct{}] // declared namespaces ("users:"), copied on write
	closed   atomic.Bool
	gets     *batch.Batcher[string, *memcache.Item] // nil when batching is disabled
}

// New returns a Store using client, which may spread keys over several
// servers. The client's Timeout and MaxIdleConns apply (Options.Timeout
// and Options.MaxIdleConns are ignored); Close closes the client's idle
// connections.
func New(client *memcache.Client, opts *Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("memcachestore: New: nil client")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout < 0 || o.MaxIdleConns < 0 || o.Batch.InFlight < 0 || o.Batch.MaxSize < 0 {
		return nil, fmt.Errorf("memcachestore: New: negative option in %+v", o)
	}
	s := &Store{
		client:  client,
		timeout: client.Timeout,
		workers: client.MaxIdleConns,
		gens:    !o.DisableGenerations,
	}
	if s.timeout <= 0 {
		s.timeout = memcache.DefaultTimeout
	}
	if s.workers <= 0 {
		s.workers = memcache.DefaultMaxIdleConns
	}
	s.attempts = s.workers + 1
	s.gets = s.newGetBatcher(o.Batch)
	s.hints.ttl = o.GenerationCacheTTL
	if s.hints.ttl == 0 {
		s.hints.ttl = DefaultGenerationCacheTTL
	}
	for _, ns := range o.Namespaces {
		if err := s.UseNamespace(ns); err != nil {
			return nil, fmt.Errorf("memcachestore: New: Options.Namespaces: %w", err)
		}
	}
	return s, nil
}

// NewFromServers returns a Store on the memcached servers at the given
// addresses ("host:port", or a Unix socket path), spreading keys over them
// as gomemcache does (CRC-32 of the key modulo the number of servers). The
// client is made with Options.Timeout and Options.MaxIdleConns; no
// connection is made until the first operation.
func NewFromServers(servers []string, opts *Options) (*Store, error) {
	if len(servers) == 0 {
		return nil, errors.New("memcachestore: NewFromServers: no servers")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout < 0 || o.MaxIdleConns < 0 {
		return nil, fmt.Errorf("memcachestore: NewFromServers: negative option in %+v", o)
	}
	var sl memcache.ServerList
	if err := sl.SetServers(servers...); err != nil {
		return nil, fmt.Errorf("memcachestore: NewFromServers: %w", err)
	}
	c := memcache.NewFromSelector(&sl)
	c.Timeout = o.Timeout
	if c.Timeout == 0 {
		c.Timeout = memcache.DefaultTimeout
	}
	c.MaxIdleConns = o.MaxIdleConns
	if c.MaxIdleConns == 0 {
		c.MaxIdleConns = DefaultMaxIdleConns
	}
	return New(c, &o)
}

// Client returns the gomemcache client, for commands the Store does not
// offer. Keys the Store writes are mapped (see the package documentation),
// so the client sees them under their physical names.
func (s *Store) Client() *memcache.Client { return s.client }

// --- plumbing ---

// begin checks what every keyed operation checks first.
func (s *Store) begin(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return store.Errorf(op, key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Errorf(op, key, err)
	}
	return store.CheckKey(op, key)
}

// call runs one round trip. gomemcache takes no context, so each round
// trip is bounded by the client's Timeout; when ctx ends sooner than that,
// call stops waiting at ctx's end and returns ctx.Err() (the round trip
// finishes in the background and may still take effect).
func (s *Store) call(ctx context.Context, fn func() error) error {
	_, err := do(s, ctx, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// do is call for a round trip with a result. On the background path the
// result travels over a channel, so that nothing the abandoned round trip
// writes is shared with the caller.
func do[T any](s *Store, ctx context.Context, fn func() (T, error)) (T, error) {
	if !s.async(ctx) {
		return retry(s, fn)
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := retry(s, fn)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// async reports whether call runs round trips under ctx in a goroutine of
// their own, which may outlive the operation: writes then pass it a copy of
// the caller's value.
func (s *Store) async(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < s.timeout
}

// retry runs fn again while it fails on a connection the server closed
// (after a restart the pool holds such connections; the request never
// reached a live server, so repeating it is safe).
func retry[T any](s *Store, fn func() (T, error)) (T, error) {
	v, err := fn()
	for i := 1; i < s.attempts && brokenConn(err); i++ {
		v, err = fn()
	}
	return v, err
}

// unreachable reports whether err says that a server could not be reached
// or did not answer (as opposed to answering with an error).
func unreachable(err error) bool {
	var ne net.Error
	var cte *memcache.ConnectTimeoutError
	return errors.As(err, &ne) || errors.As(err, &cte) || brokenConn(err) || errors.Is(err, memcache.ErrNoServers)
}

func brokenConn(err error) bool {
	return err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
}

func (s *Store) getMulti(ctx context.Context, pks []string) (map[string]*memcache.Item, error) {
	return do(s, ctx, func() (map[string]*memcache.Item, error) { return s.client.GetMulti(pks) })
}

// fail turns a gomemcache error into a store error for op and key.
func fail(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, memcache.ErrCacheMiss):
		return store.Errorf(op, key, store.ErrNotFound)
	case strings.Contains(err.Error(), "SERVER_ERROR object too large"):
		return store.Errorf(op, key, fmt.Errorf("%w: larger than the server's item size limit (memcached -I): %w", store.ErrInvalidValue, err))
	}
	return store.Errorf(op, key, connectTimeout(err))
}

// connectTimeout marks gomemcache's dial timeout, which is not a net.Error,
// as a timeout (os.ErrDeadlineExceeded is one), so that whoever classifies
// errors (the circuit breaker, FailOpen) sees an unreachable server, as
// for any other dial failure.
func connectTimeout(err error) error {
	var cte *memcache.ConnectTimeoutError
	if errors.As(err, &cte) && !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%w)", err, os.ErrDeadlineExceeded)
	}
	return err
}

// UseNamespace declares namespace ns (a non-empty segment without ':'):
// from then on the Store keeps the keys beginning with ns+":" under the
// namespace's generation, so that Clear(ns+":") removes them all with one
// increment. It implements store.NamespaceUser; package cachet calls it
// with a Cache's Namespace. Declare a namespace before using its keys, and
// in every process sharing the servers: keys written before, or by a
// Store that has not declared it, are stored under their own names and are
// not seen under the generation. It does nothing when generations are
// disabled.
func (s *Store) UseNamespace(ns string) error {
	if ns == "" || strings.Contains(ns, ":") {
		return store.Errorf("use_namespace", ns, fmt.Errorf("%w: a namespace is a non-empty segment without ':'", store.ErrInvalidKey))
	}
	s.declare(ns + ":")
	return nil
}

var _ store.NamespaceUser = (*Store)(nil)

// declare adds prefix (a namespace followed by ':') to the declared
// namespaces.
func (s *Store) declare(prefix string) {
	if !s.gens || s.declared(prefix) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]struct{})
	if old := s.spaces.Load(); old != nil {
		for k := range *old {
			m[k] = struct{}{}
		}
	}
	m[prefix] = struct{}{}
	s.spaces.Store(&m)
}

// declared reports whether prefix is a declared namespace.
func (s *Store) declared(prefix string) bool {
	m := s.spaces.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[prefix]
	return ok
}

// split returns the namespace of key (with its ':') and the rest when key
// belongs to a declared namespace, else "" and key.
func (s *Store) split(key string) (ns, rest string) {
	if s.spaces.Load() == nil {
		return "", key
	}
	ns, rest = splitNamespace(key)
	if ns == "" || !s.declared(ns) {
		return "", key
	}
	return ns, rest
}

// writeKey returns the physical key to write key under, creating its
// namespace's generation when there is none.
func (s *Store) writeKey(ctx context.Context, key string) (string, error) {
	ns, rest := s.split(key)
	if ns == "" {
		return plainKey(key), nil
	}
	gen, err := s.generation(ctx, ns, true)
	if err != nil {
		return "", err
	}
	return genKey(ns, rest, gen), nil
}

// readKey returns the physical key key lives under; ok is false when its
// namespace has no generation, so that key cannot exist.
func (s *Store) readKey(ctx context.Context, key string) (pk string, ok bool, err error) {
	ns, rest := s.split(key)
	if ns == "" {
		return plainKey(key), true, nil
	}
	gen, err := s.generation(ctx, ns, false)
	if err != nil || gen == 0 {
		return "", false, err
	}
	return genKey(ns, rest, gen), true, nil
}

// physicalKeys maps keys to physical keys, looking each namespace's
// generation up once. With create false, a key whose namespace has no
// generation (so that it cannot exist) maps to "".
func (s *Store) physicalKeys(ctx context.Context, op string, keys []string, create bool) ([]string, error) {
	pks := make([]string, len(keys))
	var gens map[string]uint64
	for i, k := range keys {
		ns, rest := s.split(k)
		if ns == "" {
			pks[i] = plainKey(k)
			continue
		}
		gen, ok := gens[ns]
		if !ok {
			var err error
			if gen, err = s.generation(ctx, ns, create); err != nil {
				return nil, fail(op, k, err)
			}
			if gens == nil {
				gens = make(map[string]uint64)
			}
			gens[ns] = gen
		}
		if gen != 0 {
			pks[i] = genKey(ns, rest, gen)
		}
	}
	return pks, nil
}

// maxGenAttempts bounds the read/create races of one generation lookup.
const maxGenAttempts = 8

// generation returns the current generation of namespace ns, or 0 when it
// has none and create is false.
func (s *Store) generation(ctx context.Context, ns string, create bool) (uint64, error) {
	gen, _, fresh, epoch := s.hints.get(ns)
	if fresh {
		return gen, nil
	}
	ck := counterKey(ns)
	for i := 0; i < maxGenAttempts; i++ {
		it, err := s.get1(ctx, ck)
		if err == nil {
			g, err := parseGen(ns, it)
			if err != nil {
				return 0, err
			}
			s.hints.put(ns, g, epoch)
			return g, nil
		}
		if !errors.Is(err, memcache.ErrCacheMiss) {
			// The counter's server is unreachable: go on with the last
			// generation seen, if any, so that the namespace's keys on
			// the other servers stay usable, and ask again only after
			// GenerationCacheTTL.
			if last, ok, _, _ := s.hints.get(ns); ok && unreachable(err) && ctx.Err() == nil {
				s.hints.touch(ns, last)
				return last, nil
			}
			return 0, err
		}
		s.hints.drop(ns)
		if !create {
			return 0, nil
		}
		g := newGen()
		err = s.call(ctx, func() error {
			return s.client.Add(&memcache.Item{Key: ck, Value: strconv.AppendUint(nil, g, 10)})
		})
		if err == nil {
			s.hints.put(ns, g, epoch)
			return g, nil
		}
		if !errors.Is(err, memcache.ErrNotStored) {
			return 0, err
		}
		// Another client created it first: read theirs.
	}
	return 0, fmt.Errorf("memcachestore: namespace %q: generation counter kept vanishing", ns)
}

// newGen returns the first generation of a namespace whose counter is
// missing. It is the current time in nanoseconds, so that a counter that
// was evicted (or flushed) and is created again starts above every
// generation it reached before (which was its creation time plus the
// number of clears since), and old entries never become visible again.
func newGen() uint64 { return uint64(time.Now().UnixNano()) }

func parseGen(ns string, it *memcache.Item) (uint64, error) {
	g, err := strconv.ParseUint(string(it.Value), 10, 64)
	if err != nil || g == 0 {
		return 0, fmt.Errorf("memcachestore: namespace %q: generation counter %q holds %q, not a positive integer (Clear(%q) resets it)", ns, it.Key, show(it.Value), ns)
	}
	return g, nil
}

// show quotes at most 32 bytes of b for an error message.
func show(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "..."
	}
	return string(b)
}

// parallel runs fn(0..n-1) on at most s.workers goroutines and returns the
// first error; after an error no new index is started.
func (s *Store) parallel(n int, fn func(i int) error) error {
	if n == 1 {
		return fn(0)
	}
	var (
		wg     sync.WaitGroup
		next   atomic.Int64
		failed atomic.Bool
		mu     sync.Mutex
		first  error
	)
	for w := 0; w < min(s.workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// maxRelative is the longest expiration memcached takes as relative
// seconds; larger values are absolute Unix times.
const maxRelative = 30 * 24 * 60 * 60

// expiry converts ttl into memcached's expiration and the absolute expiry
// (Unix seconds, 0 for none) recorded in the item's flags. They are the
// same number: every write sends the absolute time, the current Unix
// second plus ttl rounded up to whole seconds, so that an item rewritten
// later with its recorded expiry (Increment) expires at exactly the same
// second. (A relative expiration is counted from memcached's own clock,
// which ticks at another phase than the Unix second, so the same ttl sent
// relative and absolute could differ by a second.) memcached then expires
// the item when its clock passes that second: within a second either side
// of the ttl, as with its relative expirations. The time is capped at the
// largest memcached's 32-bit field can hold (January 2038).
func expiry(ttl time.Duration) (exp int32, record uint32) {
	if ttl <= 0 {
		return 0, 0
	}
	var abs int64 = math.MaxInt32
	if ttl < 100*365*24*time.Hour {
		secs := int64(ttl / time.Second)
		if ttl%time.Second != 0 {
			secs++
		}
		abs = min(time.Now().Unix()+secs, math.MaxInt32)
	}
	return int32(abs), uint32(abs)
}

// recorded returns the expiration to send so that a rewritten item keeps
// the expiry recorded in its flags.
func recorded(flags uint32) int32 {
	if flags <= maxRelative || flags > math.MaxInt32 {
		return 0 // no expiry, or not a record the Store wrote
	}
	return int32(flags)
}

// --- store.Store ---

// Get returns the value stored under key, or an error wrapping
// store.ErrNotFound. It takes one round trip; a key of a declared
// namespace takes one more when the namespace's cached generation is older
// than GenerationCacheTTL.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	op := store.OpGet.String()
	if err := s.begin(ctx, op, key); err != nil {
		return nil, err
	}
	it, err := s.getItem(ctx, key)
	if err != nil {
		return nil, fail(op, key, err)
	}
	return it.Value, nil
}

// getItem fetches the item of key, or fails with memcache.ErrCacheMiss.
func (s *Store) getItem(ctx context.Context, key string) (*memcache.Item, error) {
	ns, rest := s.split(key)
	if ns == "" {
		return s.get1(ctx, plainKey(key))
	}
	gen, err := s.generation(ctx, ns, false)
	if err != nil {
		return nil, err
	}
	if gen == 0 {
		return nil, memcache.ErrCacheMiss
	}
	return s.get1(ctx, genKey(ns, rest, gen))
}

// GetMany returns one slot per key, in order: nil for a missing key, the
// value (non-nil, possibly empty) otherwise. It uses one GetMulti, that is
// one round trip per server holding some of the keys, after reading the
// generation of each declared namespace whose cached generation is older
// than GenerationCacheTTL (one more round trip each).
func (s *Store) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	op := store.OpGetMany.String()
	if s.closed.Load() {
		return nil, store.Errorf(op, "", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, store.Errorf(op, "", err)
	}
	for _, k := range keys {
		if err := store.CheckKey(op, k); err != nil {
			return nil, err
		}
	}
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	pks, err := s.physicalKeys(ctx, op, keys, false)
	if err != nil {
		return nil, err
	}
	round := make([]string, 0, len(pks))
	for _, pk := range pks {
		if pk != "" {
			round = append(round, pk)
		}
	}
	if len(round) == 0 {
		return out, nil
	}
	m, err := s.getMulti(ctx, round)
	if err != nil {
		return nil, fail(op, keys[0], err)
	}
	for i, pk := range pks {
		if pk == "" {
			continue
		}
		it := m[pk]
		if it == nil {
			continue
		}
		// A key asked for twice gets its own copy. memcached never hands
		// out CAS id 0, so 0 marks an item whose value is already out.
		if it.CasID == 0 {
			out[i] = bytes.Clone(it.Value)
		} else {
			out[i], it.CasID = it.Value, 0
		}
	}
	return out, nil
}

// Set stores value under key. A ttl is rounded up to whole seconds and
// one over 30 days is sent as an absolute time, as memcached requires.
// A value larger than the server's item size limit gives
// store.ErrInvalidValue.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return fail(store.OpSet.String(), key, s.put(ctx, store.OpSet.String(), key, value, ttl, s.client.Set))
}

// put writes value under key with write (the client's Set or Add),
// after the checks and key mapping every write needs. Its errors are not
// yet wrapped by fail.
func (s *Store) put(ctx context.Context, op, key string, value []byte, ttl time.Duration, write func(*memcache.Item) error) error {
	if err := s.begin(ctx, op, key); err != nil {
		return err
	}
	if err := store.CheckValue(op, key, value); err != nil {
		return err
	}
	pk, err := s.writeKey(ctx, key)
	if err != nil {
		return err
	}
	exp, rec := expiry(ttl)
	it := &memcache.Item{Key: pk, Value: value, Flags: rec, Expiration: exp}
	if !s.async(ctx) { // the common path, without a closure
		err := write(it)
		for i := 1; i < s.attempts && brokenConn(err); i++ {
			err = write(it)
		}
		return err
	}
	it.Value = bytes.Clone(value)
	return s.call(ctx, func() error { return write(it) })
}

// SetMany stores every entry with the same ttl. memcached has no
// multi-key set, so the entries are written concurrently over the
// client's idle connections (up to MaxIdleConns round trips at a time).
// It returns the first error; the entries are not written atomically, so
// after an error some of them may be stored.
func (s *Store) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	op := store.OpSetMany.String()
	if s.closed.Load() {
		return store.Errorf(op, "", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Errorf(op, "", err)
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
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	pks, err := s.physicalKeys(ctx, op, keys, true)
	if err != nil {
		return err
	}
	// The writes run concurrently: of a key given twice only the last
	// entry is written, so that it wins as it would one after the other.
	if len(pks) > 1 {
		last := make(map[string]int, len(pks))
		for i, pk := range pks {
			last[pk] = i
		}
		for i, pk := range pks {
			if last[pk] != i {
				pks[i] = ""
			}
		}
	}
	exp, rec := expiry(ttl)
	copyValues := s.async(ctx)
	return s.parallel(len(entries), func(i int) error {
		if pks[i] == "" {
			return nil
		}
		v := entries[i].Value
		if copyValues {
			v = bytes.Clone(v)
		}
		err := s.call(ctx, func() error {
			return s.client.Set(&memcache.Item{Key: pks[i], Value: v, Flags: rec, Expiration: exp})
		})
		return fail(op, entries[i].Key, err)
	})
}

// Add stores value under key only if key is absent (memcached's add, which
// is atomic), else it returns an error wrapping store.ErrExists.
func (s *Store) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := s.put(ctx, store.OpAdd.String(), key, value, ttl, s.client.Add)
	if errors.Is(err, memcache.ErrNotStored) {
		return store.Errorf(store.OpAdd.String(), key, store.ErrExists)
	}
	return fail(store.OpAdd.String(), key, err)
}

// Delete removes the keys and returns how many of them existed. Several
// keys are deleted concurrently, as SetMany writes.
func (s *Store) Delete(ctx context.Context, keys ...string) (int, error) {
	op := store.OpDelete.String()
	if s.closed.Load() {
		return 0, store.Errorf(op, "", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return 0, store.Errorf(op, "", err)
	}
	for _, k := range keys {
		if err := store.CheckKey(op, k); err != nil {
			return 0, err
		}
	}
	if len(keys) == 0 {
		return 0, nil
	}
	pks, err := s.physicalKeys(ctx, op, keys, false)
	if err != nil {
		return 0, err
	}
	var n atomic.Int64
	err = s.parallel(len(keys), func(i int) error {
		if pks[i] == "" {
			return nil
		}
		err := s.call(ctx, func() error { return s.client.Delete(pks[i]) })
		switch {
		case err == nil:
			n.Add(1)
		case errors.Is(err, memcache.ErrCacheMiss):
		default:
			return fail(op, keys[i], err)
		}
		return nil
	})
	return int(n.Load()), err
}

// Exists reports whether key holds a live value. memcached's text protocol
// has no existence check, so the value is fetched (as Get does).
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	op := store.OpExists.String()
	if err := s.begin(ctx, op, key); err != nil {
		return false, err
	}
	_, err := s.getItem(ctx, key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return false, nil
	}
	if err != nil {
		return false, fail(op, key, err)
	}
	return true, nil
}

// maxCASAttempts bounds the compare-and-swap retries of one operation.
const maxCASAttempts = 1 << 16

// Increment atomically adds delta to the decimal integer stored under key
// and returns the new value, with the store.Store semantics exactly:
// signed int64 values, negative deltas and results, store.ErrNotInteger,
// store.ErrOverflow. memcached's own incr/decr work on unsigned numbers and
// decr stops at 0, so Increment reads the value with gets and writes it
// back with cas, retrying on conflict (two round trips, more under
// contention); a missing key is created with add, without expiry. The new
// value keeps the key's expiry, which the Store records in the item's
// flags when it writes a value with a ttl (memcached cannot report it).
func (s *Store) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	op := store.OpIncrement.String()
	if err := s.begin(ctx, op, key); err != nil {
		return 0, err
	}
	pk, err := s.writeKey(ctx, key)
	if err != nil {
		return 0, fail(op, key, err)
	}
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return 0, store.Errorf(op, key, err)
		}
		it, err := s.get1(ctx, pk)
		if errors.Is(err, memcache.ErrCacheMiss) {
			v := strconv.AppendInt(nil, delta, 10)
			err = s.call(ctx, func() error { return s.client.Add(&memcache.Item{Key: pk, Value: v}) })
			if errors.Is(err, memcache.ErrNotStored) {
				continue // created meanwhile: increment that
			}
			if err != nil {
				return 0, fail(op, key, err)
			}
			return delta, nil
		}
		if err != nil {
			return 0, fail(op, key, err)
		}
		old, perr := parseCanonical(it.Value)
		if perr != nil {
			return 0, store.Errorf(op, key, fmt.Errorf("%w: %q", store.ErrNotInteger, show(it.Value)))
		}
		n := old + delta
		if (delta > 0 && n < old) || (delta < 0 && n > old) {
			return 0, store.Errorf(op, key, fmt.Errorf("%w: %d + %d", store.ErrOverflow, old, delta))
		}
		it.Value = strconv.AppendInt(it.Value[:0], n, 10)
		it.Expiration = recorded(it.Flags)
		err = s.call(ctx, func() error { return s.client.CompareAndSwap(it) })
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
			continue // changed, evicted or deleted meanwhile: read again
		default:
			return 0, fail(op, key, err)
		}
	}
	return 0, store.Errorf(op, key, fmt.Errorf("%w: memcachestore: gave up after %d compare-and-swap conflicts", store.ErrConflict, maxCASAttempts))
}

// parseCanonical parses b as a canonical decimal int64, as Redis's INCRBY
// accepts it: an optional '-', then digits without leading zeros ("0"
// alone is canonical, "-0", "+1", "01" and " 1" are not).
func parseCanonical(b []byte) (int64, error) {
	digits := b
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || digits[0] < '0' || digits[0] > '9' ||
		(digits[0] == '0' && (len(digits) > 1 || len(b) > 1)) {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(string(b), 10, 64)
}

// Expire gives key a new ttl (rounded as in Set); a ttl of zero or less
// removes its expiry. It reports false when key is missing. memcached's
// touch cannot update the expiry the Store records in the item's flags
// (which Increment relies on), so Expire rewrites the item with gets and
// cas: two round trips, and the value travels both ways.
func (s *Store) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	op := store.OpExpire.String()
	if err := s.begin(ctx, op, key); err != nil {
		return false, err
	}
	pk, ok, err := s.readKey(ctx, key)
	if err != nil {
		return false, fail(op, key, err)
	}
	if !ok {
		return false, nil
	}
	exp, rec := expiry(ttl)
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return false, store.Errorf(op, key, err)
		}
		it, err := s.get1(ctx, pk)
		if errors.Is(err, memcache.ErrCacheMiss) {
			return false, nil
		}
		if err != nil {
			return false, fail(op, key, err)
		}
		it.Expiration, it.Flags = exp, rec
		err = s.call(ctx, func() error { return s.client.CompareAndSwap(it) })
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, memcache.ErrCASConflict):
			continue
		case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
			return false, nil // deleted or evicted meanwhile
		default:
			return false, fail(op, key, err)
		}
	}
	return false, store.Errorf(op, key, fmt.Errorf("memcachestore: gave up after %d compare-and-swap conflicts", maxCASAttempts))
}

// errNoTTL explains why TTL is not supported.
var errNoTTL = fmt.Errorf("%w: memcached cannot report a key's remaining ttl", store.ErrNotSupported)

// TTL returns an error wrapping store.ErrNotSupported: memcached's
// protocol cannot report the remaining ttl of a key, and the Store does
// not invent one.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, error) {
	op := store.OpTTL.String()
	if err := s.begin(ctx, op, key); err != nil {
		return 0, err
	}
	return 0, store.Errorf(op, key, errNoTTL)
}

// Clear removes every key that starts with prefix. An empty prefix runs
// flush_all on every server (memcached has no smaller unit than a whole
// server). A prefix that is exactly one namespace, a segment without ':'
// followed by ':' such as "users:", bumps that namespace's generation:
// one round trip, after which its old entries are unreachable and age out
// of memcached. Any other prefix, and any non-empty prefix when
// generations are disabled, gives store.ErrNotSupported: memcached cannot
// list keys.
func (s *Store) Clear(ctx context.Context, prefix string) error {
	op := store.OpClear.String()
	if s.closed.Load() {
		return store.Errorf(op, prefix, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Errorf(op, prefix, err)
	}
	if prefix == "" {
		err := s.call(ctx, s.client.FlushAll)
		s.hints.reset()
		return fail(op, prefix, err)
	}
	if !s.gens {
		return store.Errorf(op, prefix, fmt.Errorf("%w: memcached cannot list keys and namespace generations are disabled (Options.DisableGenerations): only Clear(\"\") (flush_all) works", store.ErrNotSupported))
	}
	if !isNamespace(prefix) {
		return store.Errorf(op, prefix, fmt.Errorf("%w: memcached cannot list keys: Clear takes \"\" (everything) or one whole namespace, a segment without ':' followed by ':' such as \"users:\"", store.ErrNotSupported))
	}
	// A namespace not declared yet is declared now: its keys written so
	// far, under their own names, are no longer read, and new ones go
	// under its generation.
	s.declare(prefix)
	_, _, _, epoch := s.hints.get(prefix)
	ck := counterKey(prefix)
	gen, err := do(s, ctx, func() (uint64, error) { return s.client.Increment(ck, 1) })
	switch {
	case err == nil:
		s.hints.put(prefix, gen, epoch)
		return nil
	case errors.Is(err, memcache.ErrCacheMiss):
		s.hints.drop(prefix) // no generation: the namespace holds nothing
		return nil
	case strings.Contains(err.Error(), "non-numeric"):
		// A corrupt counter: start a new generation above any old one.
		g := newGen()
		err = s.call(ctx, func() error {
			return s.client.Set(&memcache.Item{Key: ck, Value: strconv.AppendUint(nil, g, 10)})
		})
		if err == nil {
			s.hints.put(prefix, g, epoch)
		}
	}
	return fail(op, prefix, err)
}

// Close marks the Store closed, so that every later call (Close included)
// returns store.ErrClosed, and closes the client's idle connections.
// Gets queued to share a GetMulti return store.ErrClosed at once; round
// trips already under way finish.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return store.Errorf(store.OpClose.String(), "", store.ErrClosed)
	}
	if s.gets != nil { // queued gets leave now, not after a hung server's Timeout
		s.gets.Close(store.ErrClosed)
	}
	if err := s.client.Close(); err != nil {
		return store.Errorf(store.OpClose.String(), "", err)
	}
	return nil
}

var _ store.Store = (*Store)(nil)

// RoundTripTimeout returns the client's Timeout, which bounds each round
// trip (gomemcache takes no context). It implements store.SelfTimed, so
// that a cachet.Cache whose Timeout is at least as long allocates no
// timeout context for an operation whose context has no deadline.
func (s *Store) RoundTripTimeout() time.Duration { return s.timeout }

var _ store.SelfTimed = (*Store)(nil)
