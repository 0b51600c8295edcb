package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/benchutil"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/redisstore"
	gocache "github.com/eko/gocache/lib/v4/cache"
	gocachemarshaler "github.com/eko/gocache/lib/v4/marshaler"
	gocachestore "github.com/eko/gocache/lib/v4/store"
	gocacheredis "github.com/eko/gocache/store/redis/v4"
	rediscache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
)

// remoteCache is what the Redis benchmarks need of a library: a typed Get
// of a User that must hit, and a Set with a one-hour ttl.
type remoteCache struct {
	name string
	get  func(ctx context.Context, k string) error
	set  func(ctx context.Context, k string, v User) error
}

// remoteCaches builds every Redis-backed contender on the one shared
// server, each with its own go-redis client (default pool) and key prefix.
func remoteCaches(b *testing.B) []remoteCache {
	addr := needRedis(b)
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{addr}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ct := cachet.Must(cachet.New[string](s, codec.Msgpack[User](), &cachet.Options[string]{Namespace: "cachet", TTL: time.Hour}))

	rc := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { rc.Close() })
	// go-redis/cache with its defaults: msgpack, s2-compressed above 64
	// bytes, no local cache (it would turn Get into an in-process hit).
	grc := rediscache.New(&rediscache.Options{Redis: rc})

	ec := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { ec.Close() })
	// eko/gocache: its redis store under its msgpack marshaler, the
	// documented way to keep structs in Redis.
	em := gocachemarshaler.New(gocache.New[any](gocacheredis.NewRedis(ec)))

	return []remoteCache{
		{"cachet",
			func(ctx context.Context, k string) error { _, err := ct.Get(ctx, k); return err },
			func(ctx context.Context, k string, v User) error { return ct.Set(ctx, k, v) }},
		{"go-redis-cache",
			func(ctx context.Context, k string) error {
				var u User
				return grc.Get(ctx, "grc:"+k, &u)
			},
			func(ctx context.Context, k string, v User) error {
				return grc.Set(&rediscache.Item{Ctx: ctx, Key: "grc:" + k, Value: &v, TTL: time.Hour})
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

// BenchmarkRedis measures one typed Get (a hit) and one Set of a User per
// op, sequentially (one round trip each, so mostly loopback latency), for
// each library on the same redis-server.
func BenchmarkRedis(b *testing.B) {
	ctx := context.Background()
	const hot = 100 // keys cycled through, all set beforehand
	for _, rc := range remoteCaches(b) {
		for i := range hot {
			if err := rc.set(ctx, keys[i], ada); err != nil {
				b.Fatalf("%s: %v", rc.name, err)
			}
		}
		b.Run(rc.name+"/Get", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := rc.get(ctx, keys[i%hot]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(rc.name+"/Set", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := rc.set(ctx, keys[i%hot], ada); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRedisPaired times cachet and each peer in alternating pairs on
// the same server and reports the median ratio cachet/peer, which the
// machine's load disturbs far less than the separate ns/op figures.
// (B/op and allocs/op here are those of the pair.)
func BenchmarkRedisPaired(b *testing.B) {
	ctx := context.Background()
	cs := remoteCaches(b)
	for _, rc := range cs {
		if err := rc.set(ctx, "paired", ada); err != nil {
			b.Fatalf("%s: %v", rc.name, err)
		}
	}
	ct := cs[0]
	for _, peer := range cs[1:] {
		b.Run(fmt.Sprintf("%s/Get", peer.name), func(b *testing.B) {
			benchutil.Paired(b, "cachet", "peer",
				func() error { return ct.get(ctx, "paired") },
				func() error { return peer.get(ctx, "paired") })
		})
		b.Run(fmt.Sprintf("%s/Set", peer.name), func(b *testing.B) {
			benchutil.Paired(b, "cachet", "peer",
				func() error { return ct.set(ctx, "paired", ada) },
				func() error { return peer.set(ctx, "paired", ada) })
		})
	}
}
