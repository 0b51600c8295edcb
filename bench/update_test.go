package bench

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/benchutil"
	"github.com/cachet-go/cachet/store/redisstore"
)

// redisCacheAndClient returns a cachet Cache of Users over the shared
// redis-server and a plain go-redis client on the same server.
func redisCacheAndClient(b *testing.B) (*cachet.Cache[string, User], *redis.Client) {
	addr := needRedis(b)
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{addr}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	c := cachet.Must(cachet.New[string](s, codec.Msgpack[User](), &cachet.Options[string]{Namespace: "upd", TTL: time.Hour}))
	rc := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { rc.Close() })
	return c, rc
}

// BenchmarkUpdatePaired times Cache.Update (GET, then the compare-and-swap
// script: two round trips, atomic) against the unsafe read-modify-write it
// replaces, Cache.Get then Cache.Set (two round trips, a concurrent
// writer's update can be lost), on one key of a User, in alternating pairs
// (see benchutil.Paired).
func BenchmarkUpdatePaired(b *testing.B) {
	ctx := context.Background()
	c, _ := redisCacheAndClient(b)
	for _, k := range []string{"u:update", "u:getset"} {
		if err := c.Set(ctx, k, ada); err != nil {
			b.Fatal(err)
		}
	}
	bump := func(u User, _ bool) (User, error) { u.ID++; return u, nil }
	benchutil.Paired(b, "update", "get+set",
		func() error { _, err := c.Update(ctx, "u:update", bump); return err },
		func() error {
			u, err := c.Get(ctx, "u:getset")
			if err != nil {
				return err
			}
			u, _ = bump(u, true)
			return c.Set(ctx, "u:getset", u)
		})
}

// BenchmarkIncrementFloatPaired times Cache.IncrementFloat against the raw
// INCRBYFLOAT of a go-redis client on the same server, in alternating
// pairs: the cost of cachet's key building, checks and error mapping over
// one round trip.
func BenchmarkIncrementFloatPaired(b *testing.B) {
	ctx := context.Background()
	c, rc := redisCacheAndClient(b)
	key, err := c.Key("f:cachet")
	if err != nil {
		b.Fatal(err)
	}
	rc.Del(ctx, key, "f:raw")
	benchutil.Paired(b, "cachet", "raw",
		func() error { _, err := c.IncrementFloat(ctx, "f:cachet", 0.5); return err },
		func() error { return rc.IncrByFloat(ctx, "f:raw", 0.5).Err() })
}
