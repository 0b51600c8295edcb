package cachet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/redisstore"
)

// readCounter counts every read that reaches the store beneath a cache:
// Get, GetFunc (lent bytes) and GetMany keys.
type readCounter struct {
	store.Wrapper
	reads atomic.Int64
}

func (s *readCounter) Get(ctx context.Context, key string) ([]byte, error) {
	s.reads.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *readCounter) GetFunc(ctx context.Context, key string, f func([]byte) error) error {
	s.reads.Add(1)
	return store.GetFunc(ctx, s.Store, key, f)
}

func (s *readCounter) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	s.reads.Add(int64(len(keys)))
	return s.Store.GetMany(ctx, keys)
}

// newReadCountedCache returns a cache with a local tier over s, the
// counter of its store reads and the counter of its decodes.
func newReadCountedCache(t *testing.T, s store.Store, lo *LocalOptions[localUser], mw ...store.Middleware) (*Cache[string, localUser], *readCounter, *countingCodec[localUser]) {
	t.Helper()
	rc := &readCounter{}
	cd := &countingCodec[localUser]{Codec: codec.JSON[localUser]()}
	if lo == nil {
		lo = &LocalOptions[localUser]{}
	}
	mw = append(mw, func(s store.Store) store.Store { rc.Store = s; return rc })
	c, err := New[string](s, codec.Codec[localUser](cd), &Options[string]{
		Namespace:  "users",
		Local:      lo,
		Middleware: mw,
		Breaker:    &BreakerOptions{Disable: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, rc, cd
}

func newLocalMem(t *testing.T) *memstore.Store {
	t.Helper()
	mem := newMem(t)
	t.Cleanup(func() { mem.Close() })
	return mem
}

func newLocalRedis(t *testing.T) store.Store {
	t.Helper()
	srv := testserver.Redis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	st, err := redisstore.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// stores runs f over memstore and over a real redis-server.
func localStores(t *testing.T, f func(t *testing.T, s store.Store)) {
	t.Run("memstore", func(t *testing.T) { f(t, newLocalMem(t)) })
	t.Run("redis", func(t *testing.T) { f(t, newLocalRedis(t)) })
}

// awaitLive waits for the local tier of c to be live (its stream up).
func awaitLive[V any](t *testing.T, c *Cache[string, V]) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if s, _ := c.LocalStats(); s.Live {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the local tier did not go live in 5s")
		}
		time.Sleep(time.Millisecond) // no signal to await: LocalStats is polled
	}
}

// echo returns a function that waits for the invalidation that the
// cache's own next write sends back through the store's stream (Redis
// tracking echoes a client's own writes), so that a fill after it is not
// dropped by it; over a store without a stream it returns at once.
func echo[V any](t *testing.T, c *Cache[string, V]) (wait func()) {
	t.Helper()
	if _, ok := store.As[store.Invalidator](c.backend); !ok {
		return func() {}
	}
	ch := make(chan struct{}, 1)
	f := func(ev store.Invalidation) {
		if len(ev.Keys) > 0 {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	c.local.inv.onEvent.Store(&f)
	return func() {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("no invalidation echo of the cache's own write in 5s")
		}
	}
}

func TestLocal_MemoizeServesLocally(t *testing.T) {
	localStores(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c, rc, cd := newReadCountedCache(t, s, nil)
		awaitLive(t, c)
		var calls atomic.Int64
		get := Memoize(c, func(ctx context.Context, id string) (localUser, error) {
			calls.Add(1)
			return localUser{Name: "user " + id}, nil
		}, &MemoizeOptions[string, localUser]{TTL: time.Minute})
		wait := echo(t, c)
		if u, err := get(ctx, "1"); err != nil || u.Name != "user 1" {
			t.Fatalf("first call = %v, %v", u, err)
		}
		wait()
		// A second cache (another process, say) would read the store; this
		// one's first read after its own write fills the tier.
		if u, err := get(ctx, "1"); err != nil || u.Name != "user 1" {
			t.Fatalf("second call = %v, %v", u, err)
		}
		reads, decodes := rc.reads.Load(), cd.decodes.Load()
		for range 10 {
			if u, err := get(ctx, "1"); err != nil || u.Name != "user 1" {
				t.Fatalf("call = %v, %v", u, err)
			}
		}
		if r, d := rc.reads.Load()-reads, cd.decodes.Load()-decodes; r != 0 || d != 0 {
			t.Fatalf("10 memoized local hits made %d store reads and %d decodes; want 0 and 0", r, d)
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("fn called %d times; want 1", n)
		}
		if st, _ := c.LocalStats(); st.Fills != 1 || st.Hits < 10 {
			t.Fatalf("stats %+v; want 1 fill and >= 10 hits", st)
		}
		// The key of a local hit is built on the stack, as for Get.
		if n := testing.AllocsPerRun(100, func() { get(ctx, "1") }); n != 0 {
			t.Fatalf("a memoized local hit allocates %v times; want 0", n)
		}
	})
}

func TestLocal_MemoizeConcurrentMissesShareOneRead(t *testing.T) {
	localStores(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c, rc, _ := newReadCountedCache(t, s, nil)
		awaitLive(t, c)
		wait := echo(t, c)
		if err := c.Set(ctx, "memo:1", localUser{Name: "stored"}); err != nil {
			t.Fatal(err)
		}
		wait()
		get := Memoize(c, func(ctx context.Context, id string) (localUser, error) {
			return localUser{}, errors.New("fn must not run: the store holds the value")
		}, &MemoizeOptions[string, localUser]{Prefix: "memo"})
		before := rc.reads.Load()
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if u, err := get(ctx, "1"); err != nil || u.Name != "stored" {
					t.Errorf("call = %v, %v; want stored", u, err)
				}
			}()
		}
		wg.Wait()
		reads := rc.reads.Load() - before
		// Over Redis the callers join one shared call before reading; over
		// memstore each caller reads once before joining (see GetOrLoad).
		if _, inProc := s.(*memstore.Store); !inProc && reads != 1 {
			t.Fatalf("8 concurrent cold calls made %d store reads; want 1", reads)
		}
		r2 := rc.reads.Load()
		if _, err := get(ctx, "1"); err != nil {
			t.Fatal(err)
		}
		if rc.reads.Load() != r2 {
			t.Fatal("a call after the fill read the store")
		}
	})
}

func TestLocal_MemoizeNegativeEntriesAreNotKeptLocally(t *testing.T) {
	ctx := context.Background()
	c, rc, _ := newReadCountedCache(t, newLocalMem(t), nil)
	var calls atomic.Int64
	get := Memoize(c, func(ctx context.Context, id string) (localUser, error) {
		calls.Add(1)
		return localUser{}, ErrNotFound
	}, &MemoizeOptions[string, localUser]{NotFound: ErrNotFound, NotFoundTTL: time.Minute})
	for range 3 {
		if _, err := get(ctx, "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("call = %v; want ErrNotFound", err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("fn called %d times; want 1 (the negative entry answers)", calls.Load())
	}
	before := rc.reads.Load()
	if _, err := get(ctx, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if rc.reads.Load() == before {
		t.Fatal("a negative entry was answered without the store: it must not be kept locally")
	}
	if st, _ := c.LocalStats(); st.Fills != 0 {
		t.Fatalf("%d fills; want 0", st.Fills)
	}
}

// TestLocal_MemoizeEarlyRefreshWindow checks that a local copy of an
// entry with early refresh is dropped before the entry can be due for one.
func TestLocal_MemoizeEarlyRefreshWindow(t *testing.T) {
	ctx := context.Background()
	mem := newLocalMem(t)
	c, _, _ := newReadCountedCache(t, mem, nil)
	m, err := NewMemoizer(c, func(ctx context.Context, id string) (localUser, error) {
		time.Sleep(2 * time.Millisecond) // a recomputation that takes a while: delta
		return localUser{Name: id}, nil
	}, &MemoizeOptions[string, localUser]{TTL: time.Minute, EarlyRefresh: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := m.Call(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	key, _ := m.key("memoize", "a")
	b, err := mem.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := entry.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Delta <= 0 {
		t.Fatalf("entry delta %d; want the recomputation's time", h.Delta)
	}
	e, ok := c.local.lookup(key)
	if !ok {
		t.Fatal("the entry was not kept locally")
	}
	earliest := h.Expiry - int64(float64(h.Delta)*(1+maxEarlyLead))
	if e.exp > earliest {
		t.Fatalf("local copy kept until %d; want <= %d, the earliest early-refresh moment", e.exp, earliest)
	}
	if !m.early(key, e.exp-1, h.Expiry, h.Delta) == false {
		t.Fatal("the entry is due for an early refresh while the local copy is live")
	}
}

func TestLocal_GetOrLoadServesLocally(t *testing.T) {
	localStores(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c, rc, cd := newReadCountedCache(t, s, nil)
		awaitLive(t, c)
		var loads atomic.Int64
		load := func(ctx context.Context) (localUser, error) {
			loads.Add(1)
			return localUser{Name: "loaded"}, nil
		}
		wait := echo(t, c)
		for i := range 2 {
			if u, err := c.GetOrLoad(ctx, "k", load); err != nil || u.Name != "loaded" {
				t.Fatalf("GetOrLoad = %v, %v", u, err)
			}
			if i == 0 {
				wait() // the load's write
			}
		}
		reads, decodes := rc.reads.Load(), cd.decodes.Load()
		for range 5 {
			if u, err := c.GetOrLoad(ctx, "k", load); err != nil || u.Name != "loaded" {
				t.Fatalf("GetOrLoad = %v, %v", u, err)
			}
		}
		if r, d := rc.reads.Load()-reads, cd.decodes.Load()-decodes; r != 0 || d != 0 || loads.Load() != 1 {
			t.Fatalf("5 warm GetOrLoads: %d store reads, %d decodes, %d loads in all; want 0, 0, 1", r, d, loads.Load())
		}
	})
}

// callRecorder keeps every Call its plugin sees.
type callRecorder struct {
	mu    sync.Mutex
	calls []Call
}

func (r *callRecorder) Record(_ context.Context, c Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

func (r *callRecorder) last(op Op) (Call, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.calls) - 1; i >= 0; i-- {
		if r.calls[i].Op == op {
			return r.calls[i], true
		}
	}
	return Call{}, false
}

func TestLocal_PluginsSeeLocalHits(t *testing.T) {
	ctx := context.Background()
	var ratio HitMissRatio
	rec := &callRecorder{}
	c, _, _ := newReadCountedCache(t, newLocalMem(t), nil, WithPlugins(&ratio), Metrics(rec))
	if err := c.Set(ctx, "a", localUser{Name: "A"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "a"); err != nil { // store hit, fills
		t.Fatal(err)
	}
	if call, _ := rec.last(OpGet); call.Local || call.Hits != 1 {
		t.Fatalf("store hit reported as %+v; want Hits 1, not Local", call)
	}
	if _, err := c.Get(ctx, "a"); err != nil { // local hit
		t.Fatal(err)
	}
	if call, _ := rec.last(OpGet); !call.Local || call.Hits != 1 || call.Key != "users:a" {
		t.Fatalf("local hit reported as %+v; want OpGet users:a, Hits 1, Local", call)
	}
	get := Memoize(c, func(ctx context.Context, id string) (localUser, error) { return localUser{Name: id}, nil }, nil)
	for range 3 {
		if _, err := get(ctx, "m"); err != nil {
			t.Fatal(err)
		}
	}
	if call, _ := rec.last(OpMemoize); !call.Local || call.Hits != 1 {
		t.Fatalf("memoized local hit reported as %+v; want Hits 1, Local", call)
	}
	load := func(ctx context.Context) (localUser, error) { return localUser{Name: "l"}, nil }
	for range 3 {
		if _, err := c.GetOrLoad(ctx, "g", load); err != nil {
			t.Fatal(err)
		}
	}
	if call, _ := rec.last(OpGetOrLoad); !call.Local || call.Hits != 1 {
		t.Fatalf("GetOrLoad local hit reported as %+v; want Hits 1, Local", call)
	}
	st := ratio.Stats()
	// Gets: 1 store hit, 1 local. Memoize: 1 miss, 1 store hit (fill), 1
	// local. GetOrLoad: 1 miss, 1 store hit, 1 local.
	if ratio.LocalHits() != 3 || st.Hits != 6 || st.Misses != 2 {
		t.Fatalf("HitMissRatio %+v, %d local; want 3 local hits of 6 hits, 2 misses", st, ratio.LocalHits())
	}
	// GetMany: "a" and "g" are held locally, "b" and "zz" are read from the
	// store (a hit that fills, and a miss).
	if err := c.Set(ctx, "b", localUser{Name: "B"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetMany(ctx, []string{"a", "g", "b", "zz"})
	if err != nil || len(got) != 3 {
		t.Fatalf("GetMany = %v, %v; want 3 values", got, err)
	}
	if call, _ := rec.last(OpGetMany); call.Local || call.Hits != 1 || call.Misses != 1 {
		t.Fatalf("GetMany's store read reported as %+v; want Hits 1, Misses 1, not Local", call)
	}
	var local Call
	rec.mu.Lock()
	for _, call := range rec.calls {
		if call.Op == OpGetMany && call.Local {
			local = call
		}
	}
	rec.mu.Unlock()
	if local.Hits != 2 || fmt.Sprint(local.Keys) != "[users:a users:g]" {
		t.Fatalf("GetMany's local hits reported as %+v; want Keys [users:a users:g], Hits 2, Local", local)
	}
	if st := ratio.Stats(); ratio.LocalHits() != 5 || st.Hits != 9 || st.Misses != 3 {
		t.Fatalf("after GetMany: HitMissRatio %+v, %d local; want 5 local hits of 9 hits, 3 misses", st, ratio.LocalHits())
	}
}

func TestLocal_GetManyAnswersHitsLocally(t *testing.T) {
	localStores(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c, rc, _ := newReadCountedCache(t, s, nil)
		awaitLive(t, c)
		wait := echo(t, c)
		if err := c.SetMany(ctx, map[string]localUser{"a": {Name: "A"}}); err != nil {
			t.Fatal(err)
		}
		wait()
		if err := c.Set(ctx, "b", localUser{Name: "B"}); err != nil {
			t.Fatal(err)
		}
		wait()
		if _, err := c.Get(ctx, "a"); err != nil { // fills a
			t.Fatal(err)
		}
		before := rc.reads.Load()
		got, err := c.GetMany(ctx, []string{"a", "b", "missing"})
		if err != nil || len(got) != 2 || got["a"].Name != "A" || got["b"].Name != "B" {
			t.Fatalf("GetMany = %v, %v; want a and b", got, err)
		}
		if r := rc.reads.Load() - before; r != 2 {
			t.Fatalf("GetMany read %d keys from the store; want 2 (b and missing; a is local)", r)
		}
		before = rc.reads.Load()
		if got, err := c.GetMany(ctx, []string{"a", "b"}); err != nil || len(got) != 2 {
			t.Fatalf("GetMany = %v, %v", got, err)
		}
		if r := rc.reads.Load() - before; r != 0 {
			t.Fatalf("GetMany after the fill read %d keys from the store; want 0", r)
		}
	})
}
