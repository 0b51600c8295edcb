package cachet_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/noopstore"
	"github.com/cachet-go/cachet/store/redisstore"
)

// tally is the value the Update tests count in: a struct, so that the
// read-modify-write goes through the codec.
type tally struct {
	Count int      `json:"count"`
	Who   []string `json:"who,omitempty"`
}

func newTallies(t testing.TB, s store.Store, o *cachet.Options[string]) *cachet.Cache[string, tally] {
	t.Helper()
	c, err := cachet.New[string](s, codec.JSON[tally](), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// backends returns a fresh store per backend: memstore, and, on real
// servers started once for the test, Redis, a three-master Redis Cluster
// and memcached.
func backends(t *testing.T) []struct {
	name string
	open func(t *testing.T) store.Store
} {
	redisSrv := testserver.Redis(t)
	cluster := testserver.RedisCluster(t)
	mc := testserver.Memcached(t)
	redisOpen := func(addrs []string, cluster bool) func(t *testing.T) store.Store {
		return func(t *testing.T) store.Store {
			s, err := redisstore.Open(&redisstore.Options{Addrs: addrs, Cluster: cluster})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Clear(context.Background(), ""); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}
	return []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"memstore", func(t *testing.T) store.Store { return newMem(t) }},
		{"redis", redisOpen([]string{redisSrv.Addr}, false)},
		{"cluster", redisOpen(cluster.Addrs(), true)},
		{"memcached", func(t *testing.T) store.Store {
			s, err := memcachestore.NewFromServers([]string{mc.Addr}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Clear(context.Background(), ""); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
}

// TestCache_Backends runs the Update and IncrementFloat checks that need
// every backend, on servers started once.
func TestCache_Backends(t *testing.T) {
	bs := backends(t)
	t.Run("UpdateConcurrent", func(t *testing.T) {
		for _, b := range bs {
			// 32 goroutines on one Cache; then 8 Caches, each on its own
			// store (its own connections), as 8 processes would, with 4
			// goroutines each: there the store's compare-and-swap decides.
			t.Run(b.name, func(t *testing.T) { testUpdateConcurrent(t, 1, b.open) })
			t.Run(b.name+"/8caches", func(t *testing.T) { testUpdateConcurrent(t, 8, b.open) })
		}
	})
	t.Run("IncrementFloatSameBytes", func(t *testing.T) {
		testIncrementFloatSameBytes(t, bs)
	})
}

// testUpdateConcurrent: 32 goroutines × 100 Updates of one struct's
// counter field, in a namespace (memcached's generations), lose nothing.
// Each Update returns the value it wrote, so the 3200 results are exactly
// the counts 1 to 3200.
func testUpdateConcurrent(t *testing.T, caches int, open func(t *testing.T) store.Store) {
	const goroutines, each = 32, 100
	cs := make([]*cachet.Cache[string, tally], caches)
	first := open(t)
	for i := range cs {
		s := first
		if i > 0 && !store.IsInProcess(first) { // an in-process store is shared by its process
			s = open(t)
		}
		cs[i] = newTallies(t, s, &cachet.Options[string]{Namespace: "upd", TTL: time.Hour})
	}
	c := cs[0]
	ctx := context.Background()
	var (
		wg    sync.WaitGroup
		calls atomic.Int64
		most  atomic.Int64 // the most calls of fn one Update took
		seen  = make([]atomic.Bool, goroutines*each+1)
		start = make(chan struct{})
		mu    sync.Mutex
		errs  []error
	)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cs[g%caches]
			<-start
			for range each {
				var mine int64
				v, err := c.Update(ctx, "hits", func(old tally, found bool) (tally, error) {
					calls.Add(1)
					mine++
					if !found && old.Count != 0 {
						t.Errorf("fn got found false with %+v; want the zero tally", old)
					}
					old.Count++
					return old, nil
				})
				for m := most.Load(); mine > m && !most.CompareAndSwap(m, mine); m = most.Load() {
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if v.Count < 1 || v.Count > goroutines*each || seen[v.Count].Swap(true) {
					t.Errorf("Update returned count %d twice or out of 1..%d", v.Count, goroutines*each)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d goroutines failed, first: %v", len(errs), errs[0])
	}
	got, err := c.Get(ctx, "hits")
	if err != nil || got.Count != goroutines*each {
		t.Fatalf("Get after %d×%d Updates: got %+v, %v; want count %d", goroutines, each, got, err, goroutines*each)
	}
	t.Logf("%d Updates took %d calls of fn, at most %d for one (UpdateAttempts: %d)", goroutines*each, calls.Load(), most.Load(), cachet.UpdateAttempts)
}

// testIncrementFloatSameBytes applies one sequence of increments on every
// backend and compares the stored bytes after each step with Redis's.
func testIncrementFloatSameBytes(t *testing.T, bs []struct {
	name string
	open func(t *testing.T) store.Store
}) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 19))
	deltas := []float64{0.1, 0.2, 10.5, -7.8, 1e20, -1e20, 3, 1e-20, 2.5, -0.3333333333333333}
	for range 40 {
		deltas = append(deltas, float64(r.IntN(2000)-1000)/float64([]int{1, 4, 10, 100, 1000, 3}[r.IntN(6)]))
	}
	texts := make([][]string, len(bs))
	for i, b := range bs {
		s := b.open(t)
		c := newTallies(t, s, &cachet.Options[string]{Namespace: "flt"})
		key, _ := c.Key("x")
		for _, d := range deltas {
			got, err := c.IncrementFloat(ctx, "x", d)
			if err != nil {
				t.Fatalf("%s: IncrementFloat(%v): %v", b.name, d, err)
			}
			raw, err := s.Get(ctx, key)
			if err != nil {
				t.Fatalf("%s: Get(%q): %v", b.name, key, err)
			}
			texts[i] = append(texts[i], string(raw))
			if strings.ContainsAny(string(raw), "eE") {
				t.Errorf("%s: stored %q, with an exponent", b.name, raw)
			}
			_ = got
		}
	}
	ref := 1 // redis
	for i := range bs {
		for j := range deltas {
			if texts[i][j] != texts[ref][j] {
				t.Errorf("%s: after step %d (+%v): stored %q; Redis stored %q", bs[i].name, j, deltas[j], texts[i][j], texts[ref][j])
				break
			}
		}
	}
	// 3 + 1e20 rounds to 1e20 in a 64-bit mantissa (its ulp there is 8).
	if texts[ref][1] != "0.3" || texts[ref][4] != "100000000000000000000" {
		t.Errorf("Redis stored %q after 0.1+0.2 and %q after +10.5-7.8+1e20; want \"0.3\" and \"100000000000000000000\"", texts[ref][1], texts[ref][4])
	}
}

func TestCache_UpdateMissingAndFnError(t *testing.T) {
	ctx := context.Background()
	c := newTallies(t, newMem(t), &cachet.Options[string]{Namespace: "t"})
	v, err := c.Update(ctx, "k", func(old tally, found bool) (tally, error) {
		if found {
			t.Errorf("fn for a missing key: got found true")
		}
		return tally{Count: 1, Who: []string{"a"}}, nil
	})
	if err != nil || v.Count != 1 {
		t.Fatalf("Update of a missing key: got %+v, %v; want count 1, nil", v, err)
	}
	boom := errors.New("boom")
	v, err = c.Update(ctx, "k", func(old tally, found bool) (tally, error) {
		if !found || old.Count != 1 || len(old.Who) != 1 {
			t.Errorf("fn: got %+v, %v; want the stored tally", old, found)
		}
		return tally{Count: 99}, boom
	})
	if err != boom || v.Count != 0 {
		t.Errorf("Update whose fn fails: got %+v, %v; want the zero tally and fn's error as is", v, err)
	}
	if got, _ := c.Get(ctx, "k"); got.Count != 1 {
		t.Errorf("Get after a failed fn: got %+v; want count 1 (nothing written)", got)
	}
}

func TestCache_UpdateDecodeError(t *testing.T) {
	ctx := context.Background()
	s := newMem(t)
	c := newTallies(t, s, nil)
	if err := s.Set(ctx, "k", []byte("not json"), 0); err != nil {
		t.Fatal(err)
	}
	called := false
	_, err := c.Update(ctx, "k", func(old tally, found bool) (tally, error) { called = true; return old, nil })
	if !errors.Is(err, cachet.ErrDecode) || called {
		t.Errorf("Update of an undecodable value: got %v (fn called: %v); want ErrDecode, fn not called", err, called)
	}
	if b, _ := s.Get(ctx, "k"); string(b) != "not json" {
		t.Errorf("stored value after the failed Update: got %q; want it unchanged", b)
	}
}

// plainStore hides every optional interface of the store it holds.
type plainStore struct{ store.Store }

func TestCache_UpdateNotSupported(t *testing.T) {
	c := newTallies(t, plainStore{newMem(t)}, nil)
	if _, err := c.Update(context.Background(), "k", func(old tally, _ bool) (tally, error) { return old, nil }); !errors.Is(err, cachet.ErrNotSupported) {
		t.Errorf("Update over a store without store.Swapper: got %v; want ErrNotSupported", err)
	}
	if _, err := c.IncrementFloat(context.Background(), "k", 1); !errors.Is(err, cachet.ErrNotSupported) {
		t.Errorf("IncrementFloat over a store without store.FloatIncrementer: got %v; want ErrNotSupported", err)
	}
}

// loser is a store whose every compare-and-swap loses.
type loser struct {
	*memstore.Store
	swaps atomic.Int64
}

func (l *loser) CompareAndSwap(ctx context.Context, key string, version, value []byte, ttl time.Duration) (bool, error) {
	l.swaps.Add(1)
	return false, nil
}

func TestCache_UpdateConflict(t *testing.T) {
	l := &loser{Store: newMem(t)}
	c := newTallies(t, l, nil)
	start := time.Now()
	_, err := c.Update(context.Background(), "k", func(old tally, _ bool) (tally, error) { return old, nil })
	if !errors.Is(err, cachet.ErrConflict) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Update that loses every race: got %v; want ErrConflict", err)
	}
	if n := l.swaps.Load(); n != cachet.UpdateAttempts {
		t.Errorf("compare-and-swaps tried: got %d; want UpdateAttempts (%d)", n, cachet.UpdateAttempts)
	}
	if took, most := time.Since(start), time.Duration(cachet.UpdateAttempts)*cachet.UpdateMaxBackoff+time.Second; took > most {
		t.Errorf("Update gave up after %v; want at most %v", took, most)
	}

	// A context that ends during the backoff stops it.
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	_, err = c.Update(ctx, "k", func(old tally, _ bool) (tally, error) {
		if calls.Add(1) == 3 {
			cancel()
		}
		return old, nil
	})
	if !errors.Is(err, context.Canceled) || calls.Load() != 3 {
		t.Errorf("Update whose context ends after the 3rd attempt: got %v after %d calls; want context.Canceled after 3", err, calls.Load())
	}
}

func TestCache_UpdateTTL(t *testing.T) {
	ctx := context.Background()
	c := newTallies(t, newMem(t), &cachet.Options[string]{TTL: time.Hour})
	inc := func(old tally, _ bool) (tally, error) { old.Count++; return old, nil }
	if _, err := c.UpdateWithTTL(ctx, "k", 30*time.Millisecond, inc); err != nil {
		t.Fatal(err)
	}
	if d, err := c.TTL(ctx, "k"); err != nil || d <= 0 || d > 30*time.Millisecond {
		t.Errorf("TTL after UpdateWithTTL(30ms): got %v, %v; want in (0, 30ms]", d, err)
	}
	if _, err := c.Update(ctx, "k", inc); err != nil {
		t.Fatal(err)
	}
	if d, err := c.TTL(ctx, "k"); err != nil || d < 59*time.Minute {
		t.Errorf("TTL after Update: got %v, %v; want the default ttl (1h)", d, err)
	}
	if _, err := c.UpdateWithTTL(ctx, "k", -5, inc); !errors.Is(err, cachet.ErrInvalidTTL) {
		t.Errorf("UpdateWithTTL(-5ns): got %v; want ErrInvalidTTL", err)
	}
}

func TestCache_UpdateNoop(t *testing.T) {
	ctx := context.Background()
	c := newTallies(t, noopstore.New(), nil)
	for range 2 {
		v, err := c.Update(ctx, "k", func(old tally, found bool) (tally, error) {
			if found {
				t.Errorf("fn over noopstore: got found true; want false")
			}
			old.Count++
			return old, nil
		})
		if err != nil || v.Count != 1 {
			t.Errorf("Update over noopstore: got %+v, %v; want count 1 (nothing kept), nil", v, err)
		}
	}
	if f, err := c.IncrementFloat(ctx, "f", 2.5); err != nil || f != 2.5 {
		t.Errorf("IncrementFloat over noopstore: got %v, %v; want 2.5, nil", f, err)
	}
}

func TestCache_IncrementFloat(t *testing.T) {
	ctx := context.Background()
	c := newTallies(t, newMem(t), &cachet.Options[string]{Namespace: "n"})
	for _, st := range []struct {
		delta, want float64
	}{{10.5, 10.5}, {-7.5, 3}, {0.1, 3.1}} {
		if got, err := c.IncrementFloat(ctx, "f", st.delta); err != nil || got != st.want {
			t.Errorf("IncrementFloat(%v): got %v, %v; want %v, nil", st.delta, got, err, st.want)
		}
	}
	if err := c.Set(ctx, "t", tally{Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.IncrementFloat(ctx, "t", 1); !errors.Is(err, cachet.ErrNotNumber) {
		t.Errorf("IncrementFloat of a JSON value: got %v; want ErrNotNumber", err)
	}
	var e *cachet.Error
	if _, err := c.IncrementFloat(ctx, "f", math.Inf(1)); !errors.As(err, &e) || e.Key != "n:f" || !errors.Is(err, cachet.ErrInvalidValue) {
		t.Errorf("IncrementFloat(+Inf): got %v; want an *Error for key n:f wrapping ErrInvalidValue", err)
	}
}

// The kill switch covers Update and IncrementFloat: while off they touch
// nothing in the store, as the other methods.
func TestCache_UpdateKillSwitch(t *testing.T) {
	ctx := context.Background()
	s := newMem(t)
	c := newTallies(t, s, nil)
	if err := c.Set(ctx, "k", tally{Count: 5}); err != nil {
		t.Fatal(err)
	}
	c.Disable()
	v, err := c.Update(ctx, "k", func(old tally, found bool) (tally, error) {
		if found {
			t.Errorf("fn while the cache is off: got found true; want false")
		}
		old.Count += 100
		return old, nil
	})
	if err != nil || v.Count != 100 {
		t.Errorf("Update while off: got %+v, %v; want count 100 (from a missing key), nil", v, err)
	}
	if f, err := c.IncrementFloat(ctx, "f", 1.5); err != nil || f != 1.5 {
		t.Errorf("IncrementFloat while off: got %v, %v; want 1.5, nil", f, err)
	}
	c.Enable()
	if got, err := c.Get(ctx, "k"); err != nil || got.Count != 5 {
		t.Errorf("Get after Enable: got %+v, %v; want count 5 (the Update while off dropped)", got, err)
	}
	if ok, err := s.Exists(ctx, "f"); ok || err != nil {
		t.Errorf("Exists(f) in the store: got %v, %v; want false (IncrementFloat while off dropped)", ok, err)
	}
	if v, err := c.Update(ctx, "k", func(old tally, _ bool) (tally, error) { old.Count++; return old, nil }); err != nil || v.Count != 6 {
		t.Errorf("Update after Enable: got %+v, %v; want count 6", v, err)
	}
	// Over a store without the interfaces, a switched-on cache still says so.
	p := newTallies(t, plainStore{newMem(t)}, nil)
	if _, err := p.Update(ctx, "k", func(old tally, _ bool) (tally, error) { return old, nil }); !errors.Is(err, cachet.ErrNotSupported) {
		t.Errorf("Update over a store without store.Swapper: got %v; want ErrNotSupported", err)
	}
}
