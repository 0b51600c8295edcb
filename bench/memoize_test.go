package bench

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/benchutil"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/redisstore"
	rediscache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/viccon/sturdyc"
)

// BenchmarkMemoizeHit measures a read-through call whose key is cached:
// cachet's Memoize over memstore (msgpack, so a decode per hit) and
// sturdyc's GetOrFetch (a decoded value in memory). Paired times both in
// alternation and reports the median ratio cachet/sturdyc.
func BenchmarkMemoizeHit(b *testing.B) {
	ctx := context.Background()
	load := func(context.Context, string) (User, error) { return ada, nil }
	c := cachet.Must(cachet.New[string](memstore.Must(nil), codec.Msgpack[User](), &cachet.Options[string]{Namespace: "m"}))
	memo := cachet.Memoize(c, load, &cachet.MemoizeOptions[string, User]{TTL: time.Hour})
	sc := sturdyc.New[User](1000, 4, time.Hour, 10)
	fetch := func(ctx context.Context) (User, error) { return load(ctx, "k") }
	if _, err := memo(ctx, "k"); err != nil {
		b.Fatal(err)
	}
	if _, err := sc.GetOrFetch(ctx, "k", fetch); err != nil {
		b.Fatal(err)
	}
	cachetHit := func() error { _, err := memo(ctx, "k"); return err }
	sturdyHit := func() error { _, err := sc.GetOrFetch(ctx, "k", fetch); return err }
	for _, v := range []struct {
		name string
		f    func() error
	}{{"cachet", cachetHit}, {"sturdyc", sturdyHit}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := v.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Paired", func(b *testing.B) { benchutil.Paired(b, "cachet", "sturdyc", cachetHit, sturdyHit) })
}

// BenchmarkMemoizeHitRedis is BenchmarkMemoizeHit over Redis: cachet's
// Memoize over redisstore against go-redis/cache's Once (no local cache),
// both msgpack, on the shared server; Paired reports cachet/go-redis-cache.
func BenchmarkMemoizeHitRedis(b *testing.B) {
	ctx := context.Background()
	addr := needRedis(b)
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := cachet.Must(cachet.New[string](s, codec.Msgpack[User](), &cachet.Options[string]{Namespace: "mhit"}))
	memo := cachet.Memoize(c, func(context.Context, string) (User, error) { return ada, nil }, &cachet.MemoizeOptions[string, User]{TTL: time.Hour})
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	grc := rediscache.New(&rediscache.Options{Redis: rc})
	once := func() error {
		var u User
		return grc.Once(&rediscache.Item{Ctx: ctx, Key: "grc-hit:k", Value: &u, TTL: time.Hour,
			Do: func(*rediscache.Item) (any, error) { return ada, nil }})
	}
	cachetHit := func() error { _, err := memo(ctx, "k"); return err }
	for _, f := range []func() error{cachetHit, once} {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	for _, v := range []struct {
		name string
		f    func() error
	}{{"cachet", cachetHit}, {"go-redis-cache-Once", once}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := v.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Paired", func(b *testing.B) { benchutil.Paired(b, "cachet", "go-redis-cache", cachetHit, once) })
}

// burstCallers is the number of concurrent callers of one cold key.
const burstCallers = 100

// burstRun numbers the runs of the burst benchmarks, so that a key is
// never cold twice: the Redis server outlives a run (-count, and the
// several libraries share it), and a key left from an earlier run would
// be a hit.
var burstRun atomic.Int64

// BenchmarkMemoizeColdBurst sends 100 concurrent callers at one key that
// is not cached, released together; the function takes 1ms. One op is one
// burst (a new key each time), and fn-calls/op counts how many times the
// function ran per burst: 1 means the callers shared one call.
func BenchmarkMemoizeColdBurst(b *testing.B) {
	type caller func(ctx context.Context, k string, calls *atomic.Int64) error
	slow := func(calls *atomic.Int64) User {
		calls.Add(1)
		time.Sleep(time.Millisecond) // the work being cached, not synchronisation
		return ada
	}
	contenders := []struct {
		name  string
		build func(b *testing.B) caller
	}{
		{"cachet-memstore", func(b *testing.B) caller {
			c := cachet.Must(cachet.New[string](memstore.Must(nil), codec.Msgpack[User](), &cachet.Options[string]{Namespace: "m"}))
			return memoCaller(c, slow)
		}},
		{"cachet-redis", func(b *testing.B) caller {
			s, err := redisstore.Open(&redisstore.Options{Addrs: []string{needRedis(b)}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			c := cachet.Must(cachet.New[string](s, codec.Msgpack[User](), &cachet.Options[string]{Namespace: "burst"}))
			return memoCaller(c, slow)
		}},
		{"go-redis-cache-Once", func(b *testing.B) caller {
			rc := redis.NewClient(&redis.Options{Addr: needRedis(b)})
			b.Cleanup(func() { rc.Close() })
			grc := rediscache.New(&rediscache.Options{Redis: rc})
			return func(ctx context.Context, k string, calls *atomic.Int64) error {
				var u User
				return grc.Once(&rediscache.Item{Ctx: ctx, Key: "grc-burst:" + k, Value: &u, TTL: time.Hour,
					Do: func(*rediscache.Item) (any, error) { return slow(calls), nil }})
			}
		}},
		{"sturdyc", func(b *testing.B) caller {
			sc := sturdyc.New[User](1_000_000, 16, time.Hour, 10)
			return func(ctx context.Context, k string, calls *atomic.Int64) error {
				_, err := sc.GetOrFetch(ctx, k, func(context.Context) (User, error) { return slow(calls), nil })
				return err
			}
		}},
	}
	ctx := context.Background()
	for _, ct := range contenders {
		b.Run(ct.name, func(b *testing.B) {
			call := ct.build(b)
			b.ReportAllocs()
			var calls, failures atomic.Int64
			run, ops := strconv.FormatInt(burstRun.Add(1), 10), 0
			for b.Loop() {
				k := "cold:" + run + ":" + strconv.Itoa(ops)
				ops++
				start := make(chan struct{})
				var wg sync.WaitGroup
				for range burstCallers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						if err := call(ctx, k, &calls); err != nil {
							failures.Add(1)
						}
					}()
				}
				close(start)
				wg.Wait()
			}
			if n := failures.Load(); n > 0 {
				b.Errorf("%s: %d failed calls", ct.name, n)
			}
			b.ReportMetric(float64(calls.Load())/float64(ops), "fn-calls/op")
		})
	}
}

// memoCaller memoizes slow through c; the counter travels in the context
// so that one memoized function serves every burst.
func memoCaller(c *cachet.Cache[string, User], slow func(*atomic.Int64) User) func(ctx context.Context, k string, calls *atomic.Int64) error {
	type key struct{}
	memo := cachet.Memoize(c, func(ctx context.Context, _ string) (User, error) {
		return slow(ctx.Value(key{}).(*atomic.Int64)), nil
	}, &cachet.MemoizeOptions[string, User]{TTL: time.Hour})
	return func(ctx context.Context, k string, calls *atomic.Int64) error {
		_, err := memo(context.WithValue(ctx, key{}, calls), k)
		return err
	}
}
