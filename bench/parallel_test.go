package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memcachestore"
	gocache "github.com/eko/gocache/lib/v4/cache"
	gocachemarshaler "github.com/eko/gocache/lib/v4/marshaler"
	gocachestore "github.com/eko/gocache/lib/v4/store"
	gocachememcache "github.com/eko/gocache/store/memcache/v4"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// memcacheIdle is every memcached client's idle-connection pool: gomemcache
// keeps 2 by default, which under 64 goroutines would measure connection
// set-up rather than the library; all three get the same 64.
const memcacheIdle = 64

// newMemcacheClient returns a gomemcache client of the shared server with
// the one configuration every memcached contender uses.
func newMemcacheClient(b *testing.B) *memcache.Client {
	c := memcache.New(needMemcached(b))
	c.MaxIdleConns = memcacheIdle
	c.Timeout = 10 * time.Second // generous: 1 MB values on a loaded machine
	b.Cleanup(func() { c.Close() })
	return c
}

// rawRedis is go-redis itself: GET and SET of the User's msgpack
// encoding, prepared once (no codec, no key building): the floor.
func rawRedis(b *testing.B) remoteCache {
	rc := redis.NewClient(&redis.Options{Addr: needRedis(b)})
	b.Cleanup(func() { rc.Close() })
	val, err := msgpack.Marshal(ada)
	if err != nil {
		b.Fatal(err)
	}
	return remoteCache{"raw-go-redis",
		func(ctx context.Context, k string) error { return rc.Get(ctx, "raw:"+k).Err() },
		func(ctx context.Context, k string, _ User) error {
			return rc.Set(ctx, "raw:"+k, val, time.Hour).Err()
		}}
}

// memcachedCaches builds every memcached contender on the shared server,
// each with its own client: cachet over memcachestore (Msgpack), raw
// gomemcache (Get and Set of the pre-encoded User), and eko/gocache's
// memcache store under its msgpack marshaler.
func memcachedCaches(b *testing.B) []remoteCache {
	s, err := memcachestore.New(newMemcacheClient(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	ct := cachet.Must(cachet.New[string](s, codec.Msgpack[User](), &cachet.Options[string]{Namespace: "cachet", TTL: time.Hour}))

	raw := newMemcacheClient(b)
	val, err := msgpack.Marshal(ada)
	if err != nil {
		b.Fatal(err)
	}
	em := gocachemarshaler.New(gocache.New[any](gocachememcache.NewMemcache(newMemcacheClient(b))))
	return []remoteCache{
		{"cachet",
			func(ctx context.Context, k string) error { _, err := ct.Get(ctx, k); return err },
			func(ctx context.Context, k string, v User) error { return ct.Set(ctx, k, v) }},
		{"raw-gomemcache",
			func(_ context.Context, k string) error { _, err := raw.Get("raw:" + k); return err },
			func(_ context.Context, k string, _ User) error {
				return raw.Set(&memcache.Item{Key: "raw:" + k, Value: val, Expiration: 3600})
			}},
		{"eko-gocache",
			func(ctx context.Context, k string) error {
				var u User
				_, err := em.Get(ctx, "eko:"+k, &u)
				return err
			},
			func(ctx context.Context, k string, v User) error {
				return em.Set(ctx, "eko:"+k, v, gocachestore.WithExpiration(time.Hour))
			}},
	}
}

// runConcurrent runs b.N calls of op spread over g goroutines and reports
// the throughput as "ops/s" (ns/op is then wall time per op, all
// goroutines together).
func runConcurrent(b *testing.B, g int, op func(i int) error) {
	b.ReportAllocs()
	var next atomic.Int64
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := op(i); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
}

// BenchmarkRemoteParallel measures throughput under concurrent load: 16 and
// 64 goroutines doing typed Gets (hits) or Sets of a User over 100 keys,
// for each Redis contender (cachet, raw go-redis, go-redis/cache,
// eko/gocache; each its own go-redis client with the default pool of 10
// connections per CPU) and each memcached contender (cachet, raw
// gomemcache, eko/gocache's memcache store; each its own client with 64
// idle connections).
func BenchmarkRemoteParallel(b *testing.B) {
	ctx := context.Background()
	const hot = 100
	backends := []struct {
		name  string
		build func(b *testing.B) []remoteCache
	}{
		{"redis", func(b *testing.B) []remoteCache { return append(remoteCaches(b), rawRedis(b)) }},
		{"memcached", memcachedCaches},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			for _, rc := range be.build(b) {
				for i := range hot {
					if err := rc.set(ctx, keys[i], ada); err != nil {
						b.Fatalf("%s: %v", rc.name, err)
					}
				}
				for _, g := range []int{16, 64} {
					b.Run(fmt.Sprintf("%s/Get/g=%d", rc.name, g), func(b *testing.B) {
						runConcurrent(b, g, func(i int) error { return rc.get(ctx, keys[i%hot]) })
					})
					b.Run(fmt.Sprintf("%s/Set/g=%d", rc.name, g), func(b *testing.B) {
						runConcurrent(b, g, func(i int) error { return rc.set(ctx, keys[i%hot], ada) })
					})
				}
			}
		})
	}
}
