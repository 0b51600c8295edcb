package cachet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// stores returns the stores the call-level tests run over: memstore (a
// caller reads before joining the shared call) and a real redis-server
// (a caller joins first).
func callStores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"memstore": func(t *testing.T) store.Store {
			s := memstore.Must(nil)
			t.Cleanup(func() { s.Close() })
			return s
		},
		"redis": func(t *testing.T) store.Store {
			srv := testserver.Redis(t)
			s, err := redisstore.New(redis.NewClient(&redis.Options{Addr: srv.Addr}), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

func TestHitMissRatio_MemoizedCalls(t *testing.T) {
	for name, newStore := range callStores(t) {
		t.Run(name, func(t *testing.T) {
			var hmr HitMissRatio
			c := Must(New[string](newStore(t), jsonCodec[int]{}, &Options[string]{Namespace: "hmr", Middleware: []Middleware{WithPlugins(&hmr)}}))
			var loads atomic.Int32
			f := Memoize(c, func(ctx context.Context, k string) (int, error) { return int(loads.Add(1)), nil }, nil)
			for range 2 {
				if v, err := f(bg, "k"); v != 1 || err != nil {
					t.Fatalf("f = %d, %v; want 1, nil", v, err)
				}
			}
			if st := hmr.Stats(); st.Hits != 1 || st.Misses != 1 || st.Ratio != 0.5 || st.Joined != 0 {
				t.Errorf("one cold, one warm call: got %+v; want 1 hit, 1 miss, ratio 0.5, none joined", st)
			}
			// GetOrLoad counts the same way, and a plain Get counts its read.
			load := func(context.Context) (int, error) { return 7, nil }
			c.GetOrLoad(bg, "g", load)
			c.GetOrLoad(bg, "g", load)
			c.Get(bg, "g")
			if st := hmr.Stats(); st.Hits != 3 || st.Misses != 2 {
				t.Errorf("after GetOrLoad twice and Get: got %+v; want 3 hits, 2 misses", st)
			}
		})
	}
}

func TestHitMissRatio_Burst(t *testing.T) {
	for name, newStore := range callStores(t) {
		t.Run(name, func(t *testing.T) {
			var hmr HitMissRatio
			var rec ExpvarRecorder
			c := Must(New[string](newStore(t), jsonCodec[int]{}, &Options[string]{Namespace: "burst", Middleware: []Middleware{WithPlugins(&hmr), Metrics(&rec)}}))
			const n = 20
			allJoined := joinCounter(t, "burst:k", n)
			var loads atomic.Int32
			f := Memoize(c, func(ctx context.Context, k string) (int, error) {
				<-allJoined
				return int(loads.Add(1)), nil
			}, nil)
			var wg sync.WaitGroup
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if v, err := f(bg, "k"); v != 1 || err != nil {
						t.Errorf("f = %d, %v; want 1, nil", v, err)
					}
				}()
			}
			wg.Wait()
			if st := hmr.Stats(); st.Misses != 1 || st.Hits != n-1 || st.Joined != n-1 {
				t.Errorf("burst of %d served by one load: got %+v; want 1 miss, %d hits, all joined", n, st, n-1)
			}
			if st := rec.Stats(OpMemoize); st.Calls != n || st.Misses != 1 || st.Joined != n-1 {
				t.Errorf("expvar memoize: got %+v; want %d calls, 1 miss, %d joined", st, n, n-1)
			}
			if st := rec.Stats(OpLoad); st.Calls != 1 {
				t.Errorf("expvar load: got %+v; want 1 call", st)
			}
		})
	}
}

type tagKey struct{}

// TestPlugin_CallLevelOps checks what a plugin sees of a cold and a warm
// memoized call: the call, its store operations and its load, each store
// operation and the load in the context the call's Before returned.
func TestPlugin_CallLevelOps(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	tag := &tagPlugin{record: func(s string) { mu.Lock(); seen = append(seen, s); mu.Unlock() }}
	var tm Timing
	c := Must(New[string](memstore.Must(nil), jsonCodec[int]{}, &Options[string]{Namespace: "p", Middleware: []Middleware{WithPlugins(tag, &tm)}}))
	var loaderParent string
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		loaderParent = parentOp(ctx)
		time.Sleep(2 * time.Millisecond) // the load's duration, measured below
		return 1, nil
	}, nil)
	f(bg, "k")
	f(bg, "k")
	want := []string{
		"before memoize<-",
		"before get<-memoize", "after get<-memoize hits=0 misses=1", // the caller's read
		"before get<-memoize", "after get<-memoize hits=0 misses=1", // the shared call's read
		"before load<-memoize", "after load<-memoize hits=0 misses=0",
		"before set<-memoize", "after set<-memoize hits=0 misses=0",
		"after memoize<- hits=0 misses=1",
		"before memoize<-",
		"before get<-memoize", "after get<-memoize hits=1 misses=0",
		"after memoize<- hits=1 misses=0",
	}
	if got, w := strings.Join(seen, "\n"), strings.Join(want, "\n"); got != w {
		t.Errorf("plugin saw:\n%s\nwant:\n%s", got, w)
	}
	if loaderParent != "load" {
		t.Errorf("loader's ctx parent: got %v; want the load's Before context (load)", loaderParent)
	}
	if st := tm.Stats(OpLoad); st.Count != 1 || st.Min < 2*time.Millisecond {
		t.Errorf("Timing of load: got %+v; want 1 call of at least 2ms", st)
	}
	if st := tm.Stats(OpMemoize); st.Count != 2 || st.Max < 2*time.Millisecond {
		t.Errorf("Timing of memoize: got %+v; want 2 calls, the longest at least 2ms", st)
	}
}

// tagPlugin records every hook with the op of the call it runs in (the
// op of the context an enclosing Before returned), and tags the context
// its own Before returns with the op.
type tagPlugin struct{ record func(string) }

type frame struct {
	op     Op
	parent string
}

func parentOp(ctx context.Context) string {
	if f, ok := ctx.Value(tagKey{}).(frame); ok {
		return f.op.String()
	}
	return ""
}

func (p *tagPlugin) Before(ctx context.Context, c Call) context.Context {
	parent := parentOp(ctx)
	p.record("before " + c.Op.String() + "<-" + parent)
	return context.WithValue(ctx, tagKey{}, frame{c.Op, parent})
}

func (p *tagPlugin) After(ctx context.Context, c Call) {
	f, _ := ctx.Value(tagKey{}).(frame)
	p.record(fmt.Sprintf("after %v<-%s hits=%d misses=%d", c.Op, f.parent, c.Hits, c.Misses))
}

func TestExpvarRecorder_CallLevel(t *testing.T) {
	var rec ExpvarRecorder
	c, _, _ := newTestCache(t, &Options[string]{Middleware: []Middleware{Metrics(&rec)}})
	clock := &fakeClock{}
	clock.ns.Store(time.Now().UnixNano())
	errDB := errors.New("db down")
	var fail atomic.Bool
	var calls atomic.Int32
	refreshed := make(chan string, 1)
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		if fail.Load() {
			return 0, errDB
		}
		return int(calls.Add(1)), nil
	}, &MemoizeOptions[string, int]{TTL: time.Minute, StaleWhileRevalidate: time.Hour, now: clock.now, onRefresh: func(k string) { refreshed <- k }})

	fail.Store(true)
	if _, err := f(bg, "k"); !errors.Is(err, errDB) {
		t.Fatalf("failing loader: got %v; want %v", err, errDB)
	}
	fail.Store(false)
	f(bg, "k")                     // miss, loads 1
	clock.advance(2 * time.Minute) // stale, within the window
	if v, err := f(bg, "k"); v != 1 || err != nil {
		t.Fatalf("stale call = %d, %v; want the stale 1", v, err)
	}
	<-refreshed
	want := ExpvarStats{Calls: 3, Errors: 1, Hits: 1, Misses: 2, Stale: 1, Refreshes: 1}
	if st := rec.Stats(OpMemoize); st.Calls != want.Calls || st.Errors != want.Errors || st.Hits != want.Hits ||
		st.Misses != want.Misses || st.Stale != want.Stale || st.Refreshes != want.Refreshes || st.Joined != 0 {
		t.Errorf("memoize: got %+v; want %+v", st, want)
	}
	// Loads: the failed one, the miss, the background refresh.
	if st := rec.Stats(OpLoad); st.Calls != 3 || st.Errors != 1 || st.Total <= 0 {
		t.Errorf("load: got %+v; want 3 calls, 1 error, a positive total", st)
	}
	s := rec.String()
	if !strings.Contains(s, `"memoize": {"calls": 3, "errors": 1, "hits": 1, "misses": 2, "joined": 0, "stale": 1, "refreshes": 1, "total_ns": `) ||
		!strings.Contains(s, `"load": {"calls": 3, "errors": 1, `) {
		t.Errorf("String: got %s; want memoize and load counters", s)
	}
}

func TestMemoizeMany_CallLevel(t *testing.T) {
	var rec ExpvarRecorder
	var hmr HitMissRatio
	c, _, _ := newTestCache(t, &Options[string]{Namespace: "mm", Middleware: []Middleware{WithPlugins(&hmr), Metrics(&rec)}})
	var loaded [][]string
	f := MemoizeMany(c, func(ctx context.Context, keys []string) (map[string]int, error) {
		loaded = append(loaded, keys)
		out := map[string]int{}
		for _, k := range keys {
			out[k] = len(k)
		}
		return out, nil
	}, nil)
	f(bg, []string{"a", "bb"})
	f(bg, []string{"a", "bb", "ccc"})
	if st := rec.Stats(OpMemoizeMany); st.Calls != 2 || st.Hits != 2 || st.Misses != 3 {
		t.Errorf("memoize_many: got %+v; want 2 calls, 2 hits, 3 misses", st)
	}
	if st := rec.Stats(OpLoad); st.Calls != 2 {
		t.Errorf("load: got %+v; want 2 calls (%v)", st, loaded)
	}
	if st := hmr.Stats(); st.Hits != 2 || st.Misses != 3 {
		t.Errorf("HitMissRatio: got %+v; want 2 hits, 3 misses (keys of the calls, not their reads)", st)
	}
}

func TestPlugin_CallLevelPanic(t *testing.T) {
	p := AfterFunc(func(ctx context.Context, c Call) {
		if c.Op == OpMemoize {
			panic("boom")
		}
	})
	c, _, _ := newTestCache(t, &Options[string]{Middleware: []Middleware{WithPlugins(p)}})
	f := Memoize(c, func(ctx context.Context, k string) (int, error) { return 1, nil }, nil)
	v, err := f(bg, "k")
	if !errors.Is(err, ErrPluginPanic) || v != 1 {
		t.Errorf("got %d, %v; want 1 and an error wrapping ErrPluginPanic", v, err)
	}
}

func TestCache_NoObservers(t *testing.T) {
	c, _, _ := newTestCache(t, &Options[string]{Middleware: []Middleware{Timeout(time.Second)}})
	if c.obs != nil {
		t.Fatalf("a cache without plugins has observers: %v", c.obs.plugins)
	}
	var hmr HitMissRatio
	c2, _, _ := newTestCache(t, &Options[string]{Middleware: []Middleware{Timeout(time.Second), WithPlugins(&hmr), Logging(nil, nil)}})
	if c2.obs == nil || len(c2.obs.plugins) != 2 || c2.obs.plugins[0] != Plugin(&hmr) {
		t.Fatalf("observers: got %v; want HitMissRatio then Logging's plugin", c2.obs)
	}
	v, _ := c2.WithNamespace("other")
	if v.obs != c2.obs {
		t.Errorf("a view does not report to its cache's observers")
	}
}
