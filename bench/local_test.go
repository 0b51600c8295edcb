package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memstore"
	gocache "github.com/eko/gocache/lib/v4/cache"
	gocachestore "github.com/eko/gocache/lib/v4/store"
	gocachegocache "github.com/eko/gocache/store/go_cache/v4"
	patrickmn "github.com/patrickmn/go-cache"
	"github.com/samber/hot"
	"github.com/viccon/sturdyc"
)

// localCache is what the in-process benchmarks need of a library: a typed
// Get that reports a hit, and a Set. Every adapter pays the same interface
// call.
type localCache interface {
	get(ctx context.Context, k string) bool
	set(ctx context.Context, k string, v User) error
}

type cachetLocal struct{ c *cachet.Cache[string, User] }

func (a cachetLocal) get(ctx context.Context, k string) bool {
	_, err := a.c.Get(ctx, k)
	return err == nil
}
func (a cachetLocal) set(ctx context.Context, k string, v User) error { return a.c.Set(ctx, k, v) }

// memstoreRaw is memstore at the byte level, with the User's msgpack
// encoding prepared once: the cost of the store without the codec.
type memstoreRaw struct {
	s   *memstore.Store
	val []byte
}

func (a memstoreRaw) get(ctx context.Context, k string) bool {
	_, err := a.s.Get(ctx, k)
	return err == nil
}
func (a memstoreRaw) set(ctx context.Context, k string, _ User) error {
	return a.s.Set(ctx, k, a.val, time.Hour)
}

type hotLocal struct{ c *hot.HotCache[string, User] }

func (a hotLocal) get(_ context.Context, k string) bool {
	_, ok, err := a.c.Get(k)
	return ok && err == nil
}
func (a hotLocal) set(_ context.Context, k string, v User) error { a.c.Set(k, v); return nil }

type sturdyLocal struct{ c *sturdyc.Client[User] }

func (a sturdyLocal) get(_ context.Context, k string) bool {
	_, ok := a.c.Get(k)
	return ok
}
func (a sturdyLocal) set(_ context.Context, k string, v User) error { a.c.Set(k, v); return nil }

type gocacheLocal struct{ c *gocache.Cache[User] }

func (a gocacheLocal) get(ctx context.Context, k string) bool {
	_, err := a.c.Get(ctx, k)
	return err == nil
}
func (a gocacheLocal) set(ctx context.Context, k string, v User) error {
	return a.c.Set(ctx, k, v, gocachestore.WithExpiration(time.Hour))
}

// localCaches builds every in-process contender, sized so that the whole
// key space fits (no evictions: this measures hits, not hit ratios), with
// a one-hour ttl.
func localCaches(b *testing.B) []struct {
	name string
	c    localCache
} {
	raw, err := codec.Msgpack[User]().Marshal(ada)
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		c    localCache
	}{
		{"cachet", cachetLocal{cachet.Must(cachet.New[string](memstore.Must(nil), codec.Msgpack[User](),
			&cachet.Options[string]{Namespace: "u", TTL: time.Hour}))}},
		{"cachet-memstore-raw", memstoreRaw{memstore.Must(nil), raw}},
		{"samber-hot", hotLocal{hot.NewHotCache[string, User](hot.LRU, 2*numKeys).WithTTL(time.Hour).Build()}},
		{"sturdyc", sturdyLocal{sturdyc.New[User](2*numKeys, 16, time.Hour, 10)}},
		{"eko-gocache", gocacheLocal{gocache.New[User](gocachegocache.NewGoCache(patrickmn.New(time.Hour, 10*time.Minute)))}},
	}
}

var errMiss = errors.New("miss on a key that was set")

// BenchmarkLocal runs a parallel, Zipf-skewed workload over 10,000 keys
// on each in-process cache: Get (all hits), Set, and Mixed (90% Get, 10%
// Set). cachet keeps encoded bytes (msgpack) and decodes on every Get; the
// peers keep the decoded Go values (no codec, and a Get hands out values
// sharing the cached slices), so cachet-memstore-raw, the byte-level Get
// and Set without the codec, is given for reference.
func BenchmarkLocal(b *testing.B) {
	ctx := context.Background()
	for _, lc := range localCaches(b) {
		for _, k := range keys {
			if err := lc.c.set(ctx, k, ada); err != nil {
				b.Fatal(err)
			}
		}
		for _, op := range []string{"Get", "Set", "Mixed"} {
			b.Run(lc.name+"/"+op, func(b *testing.B) {
				b.ReportAllocs()
				var misses, failures atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					r, z := newZipf()
					for pb.Next() {
						k := keys[z.Uint64()]
						write := op == "Set" || (op == "Mixed" && r.IntN(10) == 0)
						if write {
							if err := lc.c.set(ctx, k, ada); err != nil {
								failures.Add(1)
							}
						} else if !lc.c.get(ctx, k) {
							misses.Add(1)
						}
					}
				})
				if n := misses.Load() + failures.Load(); n > 0 {
					b.Errorf("%s: %d misses, %d failed sets: %v", lc.name, misses.Load(), failures.Load(), errMiss)
				}
			})
		}
	}
}
