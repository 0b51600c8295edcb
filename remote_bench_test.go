package cachet_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/benchutil"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/redisstore"
)

var benchBlob = []byte(`{"id":42,"name":"Ada Lovelace","email":"ada@example.com","tags":["admin","math"]}`)

// BenchmarkCache_RedisOverhead compares a typed Cache Get/Set (bytes
// codec, namespace, default 5s timeout) over redisstore with the raw
// go-redis client doing the same GET/SET on the same server.
func BenchmarkCache_RedisOverhead(b *testing.B) {
	srv := testserver.Redis(b)
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := cachet.New[string](s, codec.Bytes(), &cachet.Options[string]{Namespace: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	raw := s.Client()
	if err := c.Set(ctx, "k", benchBlob); err != nil {
		b.Fatal(err)
	}
	b.Run("Get", func(b *testing.B) {
		benchutil.Paired(b, "cache", "raw",
			func() error { _, err := c.Get(ctx, "k"); return err },
			func() error { return raw.Get(ctx, "bench:k").Err() })
	})
	b.Run("Set", func(b *testing.B) {
		benchutil.Paired(b, "cache", "raw",
			func() error { return c.SetWithTTL(ctx, "k", benchBlob, time.Minute) },
			func() error { return raw.Set(ctx, "bench:k", benchBlob, time.Minute).Err() })
	})
	// GetMany of 100 keys against one MGET of the same 100 store keys:
	// the cache builds the store keys and a map of the values, the raw
	// side is given the store keys (its own key building not timed).
	keys := make([]string, 100)
	skeys := make([]string, len(keys))
	items := make(map[string][]byte, len(keys))
	for i := range keys {
		keys[i] = "m" + strconv.Itoa(i)
		skeys[i] = "bench:" + keys[i]
		items[keys[i]] = benchBlob
	}
	if err := c.SetMany(ctx, items); err != nil {
		b.Fatal(err)
	}
	// getMany returns one GetMany of every key from cc, which must find
	// them all.
	getMany := func(cc *cachet.Cache[string, []byte]) func() error {
		return func() error {
			m, err := cc.GetMany(ctx, keys)
			if err == nil && len(m) != len(keys) {
				err = fmt.Errorf("GetMany found %d of %d keys", len(m), len(keys))
			}
			return err
		}
	}
	b.Run("GetMany100", func(b *testing.B) {
		benchutil.Paired(b, "cache", "raw",
			getMany(c),
			func() error { return raw.MGet(ctx, skeys...).Err() })
	})
	// The same against MGET plus the map the caller of GetMany gets (the
	// raw side builds map[string][]byte from the reply, keyed by the
	// caller's keys): what the API's result costs over the bare MGET.
	b.Run("GetMany100VsMGetMap", func(b *testing.B) {
		benchutil.Paired(b, "cache", "raw",
			getMany(c),
			func() error {
				vals, err := raw.MGet(ctx, skeys...).Result()
				if err != nil {
					return err
				}
				m := make(map[string][]byte, len(keys))
				for i, v := range vals {
					if s, ok := v.(string); ok {
						m[keys[i]] = []byte(s)
					}
				}
				if len(m) != len(keys) {
					return fmt.Errorf("MGET found %d of %d keys", len(m), len(keys))
				}
				return nil
			})
	})
	// The same with values written under a ttl, whose expiry GetMany
	// checks (reading the clock once per call, not once per value).
	ct, err := cachet.New[string](s, codec.Bytes(), &cachet.Options[string]{Namespace: "bench-ttl", TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	tkeys := make([]string, len(keys))
	for i, k := range keys {
		tkeys[i] = "bench-ttl:" + k
	}
	if err := ct.SetMany(ctx, items); err != nil {
		b.Fatal(err)
	}
	b.Run("GetMany100TTL", func(b *testing.B) {
		benchutil.Paired(b, "cache", "raw",
			getMany(ct),
			func() error { return raw.MGet(ctx, tkeys...).Err() })
	})
}

// BenchmarkCache_MemcachedOverhead compares a typed Cache Get/Set over
// memcachestore with raw gomemcache on the same server, for a cache
// without a namespace (no generation lookups) and one with.
func BenchmarkCache_MemcachedOverhead(b *testing.B) {
	srv := testserver.Memcached(b)
	s, err := memcachestore.NewFromServers([]string{srv.Addr}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	raw := memcache.New(srv.Addr)
	raw.MaxIdleConns = 16
	if err := raw.Set(&memcache.Item{Key: "k", Value: benchBlob}); err != nil {
		b.Fatal(err)
	}
	for _, ns := range []string{"", "bench"} {
		name := "plain"
		if ns != "" {
			name = "namespace"
		}
		c, err := cachet.New[string](s, codec.Bytes(), &cachet.Options[string]{Namespace: ns})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Set(ctx, "k", benchBlob); err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/Get", func(b *testing.B) {
			benchutil.Paired(b, "cache", "raw",
				func() error { _, err := c.Get(ctx, "k"); return err },
				func() error { _, err := raw.Get("k"); return err })
		})
		b.Run(name+"/Set", func(b *testing.B) {
			benchutil.Paired(b, "cache", "raw",
				func() error { return c.SetWithTTL(ctx, "k", benchBlob, time.Minute) },
				func() error { return raw.Set(&memcache.Item{Key: "k", Value: benchBlob, Expiration: 60}) })
		})
	}
}
