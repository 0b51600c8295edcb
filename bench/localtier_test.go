package bench

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	gocache "github.com/eko/gocache/lib/v4/cache"
	gocachestore "github.com/eko/gocache/lib/v4/store"
	gocachegocache "github.com/eko/gocache/store/go_cache/v4"
	gocacheredis "github.com/eko/gocache/store/redis/v4"
	rediscache "github.com/go-redis/cache/v9"
	patrickmn "github.com/patrickmn/go-cache"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/benchutil"
	"github.com/cachet-go/cachet/store/redisstore"
)

// localTierTTL is the local copy's lifetime for the peers whose local tier
// is not invalidated by other writers (go-redis/cache, eko/gocache's
// chain): their staleness after a foreign write is bounded by it.
const localTierTTL = 500 * time.Millisecond

// staleCap bounds one staleness measurement.
const staleCap = 2 * time.Second

// tiered is a two-tier (in-process in front of Redis) cache as the
// local-tier benchmarks use it: a Get of a string value, and a Set.
// Two tiered values of one peer are two application instances sharing
// one Redis.
type tiered struct {
	get func(ctx context.Context, k string) (string, error)
	set func(ctx context.Context, k, v string) error
}

// localTierPeers are the libraries with a local tier, cachet's first.
var localTierPeers = []struct {
	name string
	open func(b *testing.B, addr string) tiered
}{
	{"cachet-local", func(b *testing.B, addr string) tiered {
		rc := redis.NewClient(&redis.Options{Addr: addr})
		b.Cleanup(func() { rc.Close() })
		st, err := redisstore.New(rc, nil)
		if err != nil {
			b.Fatal(err)
		}
		// Invalidated by Redis (client tracking): the local ttl is only
		// a backstop, an hour as rueidis'.
		c, err := cachet.New[string](st, codec.String(), &cachet.Options[string]{
			Namespace: "cachet",
			TTL:       time.Hour,
			Local:     &cachet.LocalOptions[string]{TTL: time.Hour},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		// Wait for the invalidation stream (until then every read goes
		// to Redis): poll, the public API has no signal for it.
		for s, _ := c.LocalStats(); !s.Live; s, _ = c.LocalStats() {
			time.Sleep(time.Millisecond)
		}
		return tiered{
			func(ctx context.Context, k string) (string, error) { return c.Get(ctx, k) },
			func(ctx context.Context, k, v string) error { return c.Set(ctx, k, v) }}
	}},
	{"go-redis-cache-tinylfu", func(b *testing.B, addr string) tiered {
		rc := redis.NewClient(&redis.Options{Addr: addr})
		b.Cleanup(func() { rc.Close() })
		c := rediscache.New(&rediscache.Options{Redis: rc, LocalCache: rediscache.NewTinyLFU(10_000, localTierTTL)})
		return tiered{
			func(ctx context.Context, k string) (string, error) {
				var v string
				err := c.Get(ctx, "grc:"+k, &v)
				return v, err
			},
			func(ctx context.Context, k, v string) error {
				return c.Set(&rediscache.Item{Ctx: ctx, Key: "grc:" + k, Value: v, TTL: time.Hour})
			}}
	}},
	{"rueidis-client-side", func(b *testing.B, addr string) tiered {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		return tiered{
			func(ctx context.Context, k string) (string, error) {
				// Server-assisted client-side caching: the local copy
				// lives until Redis invalidates it (or the hour passes).
				return c.DoCache(ctx, c.B().Get().Key("rue:"+k).Cache(), time.Hour).ToString()
			},
			func(ctx context.Context, k, v string) error {
				return c.Do(ctx, c.B().Set().Key("rue:"+k).Value(v).Ex(time.Hour).Build()).Error()
			}}
	}},
	{"eko-gocache-chain", func(b *testing.B, addr string) tiered {
		rc := redis.NewClient(&redis.Options{Addr: addr})
		b.Cleanup(func() { rc.Close() })
		mem := gocache.New[any](gocachegocache.NewGoCache(patrickmn.New(localTierTTL, time.Minute),
			gocachestore.WithExpiration(localTierTTL)))
		remote := gocache.New[any](gocacheredis.NewRedis(rc, gocachestore.WithExpiration(time.Hour)))
		c := gocache.NewChain[any](mem, remote)
		return tiered{
			func(ctx context.Context, k string) (string, error) {
				v, err := c.Get(ctx, "eko:"+k)
				if err != nil {
					return "", err
				}
				switch v := v.(type) {
				case string:
					return v, nil
				case []byte:
					return string(v), nil
				}
				return "", errors.New("eko chain: unexpected value type")
			},
			func(ctx context.Context, k, v string) error { return c.Set(ctx, "eko:"+k, v) }}
	}},
}

// BenchmarkLocalTier measures the peers that keep a local copy in front of
// Redis. Hit: a Get served from the local tier (the key was read once
// before). Staleness: instance B reads a key (so it holds a local copy),
// instance A writes a new value, and B polls every 100 µs until it sees
// it; "stale-ms" is how long B kept serving the old value (rueidis is told
// by Redis and should show about a round trip; the others their local
// ttl, 500 ms here). A reader still stale after staleCap stops there:
// "capped" is the fraction of rounds that did (eko/gocache's chain copies
// a Redis hit into its memory tier with the Redis key's remaining ttl, an
// hour here, not with the memory store's own). Polling is the measurement itself, not a
// synchronisation; the one sleep (5 ms before A writes) is explained
// below.
func BenchmarkLocalTier(b *testing.B) {
	addr := needRedis(b)
	ctx := context.Background()
	for _, p := range localTierPeers {
		b.Run("Hit/"+p.name, func(b *testing.B) {
			c := p.open(b, addr)
			if err := c.set(ctx, "hit", "v"); err != nil {
				b.Fatal(err)
			}
			if _, err := c.get(ctx, "hit"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.get(ctx, "hit"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Hot-key throughput: 64 goroutines (32 per CPU on the 2-core
	// machine) Get one key held locally.
	for _, p := range localTierPeers {
		b.Run("HotKey64/"+p.name, func(b *testing.B) {
			c := p.open(b, addr)
			if err := c.set(ctx, "hot", "v"); err != nil {
				b.Fatal(err)
			}
			if _, err := c.get(ctx, "hot"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.get(ctx, "hot"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mops/s")
		})
	}
	for _, p := range localTierPeers {
		b.Run("Staleness/"+p.name, func(b *testing.B) {
			writer, reader := p.open(b, addr), p.open(b, addr)
			var stale time.Duration
			capped := 0
			for i := 0; b.Loop(); i++ {
				k := "stale" + strconv.Itoa(i)
				if err := writer.set(ctx, k, "old"); err != nil {
					b.Fatal(err)
				}
				if v, err := reader.get(ctx, k); err != nil || v != "old" {
					b.Fatalf("reader got %q, %v; want old", v, err)
				}
				// eko/gocache's chain fills its memory tier from a
				// goroutine after the Get returns, and says nothing when
				// it is done: give it 5 ms (every peer alike) so that B
				// holds a local copy when A writes.
				time.Sleep(5 * time.Millisecond)
				if err := writer.set(ctx, k, "new"); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				for {
					v, err := reader.get(ctx, k)
					if err != nil {
						b.Fatal(err)
					}
					if v == "new" {
						break
					}
					if time.Since(start) > staleCap {
						capped++ // still stale: counted as staleCap
						break
					}
					time.Sleep(100 * time.Microsecond)
				}
				stale += time.Since(start)
			}
			b.ReportMetric(float64(stale.Microseconds())/1000/float64(b.N), "stale-ms")
			b.ReportMetric(float64(capped)/float64(b.N), "capped")
		})
	}
}

// BenchmarkLocalTierHotKey64Paired pairs cachet's local tier with rueidis'
// DoCache on one hot key held locally: each iteration runs one burst of
// each (64 goroutines, 200 Gets each; which goes first alternates) and
// reports the median throughput of each side in Mops/s and the median of
// the per-pair ratios "cachet/rueidis" (above 1: cachet serves more).
func BenchmarkLocalTierHotKey64Paired(b *testing.B) {
	addr := needRedis(b)
	ctx := context.Background()
	sides := make([]tiered, 2)
	for i, name := range []string{"cachet-local", "rueidis-client-side"} {
		for _, p := range localTierPeers {
			if p.name == name {
				sides[i] = p.open(b, addr)
			}
		}
		if err := sides[i].set(ctx, "hot", "v"); err != nil {
			b.Fatal(err)
		}
		if _, err := sides[i].get(ctx, "hot"); err != nil {
			b.Fatal(err)
		}
	}
	const goroutines, gets = 64, 200
	burst := func(c tiered) float64 {
		var wg sync.WaitGroup
		start := time.Now()
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range gets {
					if _, err := c.get(ctx, "hot"); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return goroutines * gets / time.Since(start).Seconds() / 1e6
	}
	var mops [2][]float64
	var ratios []float64
	for i := 0; b.Loop(); i++ {
		var r [2]float64
		if i%2 == 0 {
			r[0], r[1] = burst(sides[0]), burst(sides[1])
		} else {
			r[1], r[0] = burst(sides[1]), burst(sides[0])
		}
		mops[0], mops[1] = append(mops[0], r[0]), append(mops[1], r[1])
		ratios = append(ratios, r[0]/r[1])
	}
	b.ReportMetric(benchutil.Median(mops[0]), "cachet-Mops/s")
	b.ReportMetric(benchutil.Median(mops[1]), "rueidis-Mops/s")
	b.ReportMetric(benchutil.Median(ratios), "cachet/rueidis")
}
