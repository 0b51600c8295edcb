package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/benchutil"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/redisstore"
	gocache "github.com/eko/gocache/lib/v4/cache"
	gocachemarshaler "github.com/eko/gocache/lib/v4/marshaler"
	gocachestore "github.com/eko/gocache/lib/v4/store"
	gocachememcache "github.com/eko/gocache/store/memcache/v4"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/vmihailenco/msgpack/v5"
)

// cpuTime returns the process's user+sys CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// contender is one client in BenchmarkRedisThroughput.
type contender struct {
	name string
	get  func(k string) error
}

// BenchmarkRedisThroughput measures typed Gets (hits) of a User over 100
// keys from 1, 16 and 64 goroutines, all contenders in the same run on the
// one redis-server, each with its own client: cachet's Cache.Get over
// redisstore (the default: group commit over go-redis, concurrent Gets
// sharing MGETs; Conns 1 and 2: pipelined connections of the store's own;
// batching off), raw go-redis GET (default
// pool) plus msgpack decoding, go-redis' experimental AutoPipeline GET plus
// decoding, and rueidis Do GET plus decoding (rueidis pipelines concurrent
// callers implicitly). The contenders alternate in rounds (see
// interleaved); for each it reports "<name>-ops/s" and "<name>-cpu-ns/op",
// the process's user+sys CPU time (getrusage) over its rounds divided by
// its operations (client side only: the server's CPU is not included).
func BenchmarkRedisThroughput(b *testing.B) {
	addr := needRedis(b)
	ctx := context.Background()
	const hot = 100

	var cs []contender
	val, err := msgpack.Marshal(ada)
	if err != nil {
		b.Fatal(err)
	}
	// cachet with the default batching, with one and two pipelined
	// connections (to justify the default), and with batching off.
	for _, bo := range []struct {
		name string
		o    redisstore.BatchOptions
	}{
		{"cachet", redisstore.BatchOptions{}},
		{"cachet-pipe1", redisstore.BatchOptions{Conns: 1}},
		{"cachet-pipe2", redisstore.BatchOptions{Conns: 2}},
		{"cachet-nobatch", redisstore.BatchOptions{Disabled: true}},
	} {
		s, err := redisstore.Open(&redisstore.Options{Addrs: []string{addr}, Batch: bo.o})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		ns, name := "tp-cachet", bo.name
		ct := cachet.Must(cachet.New[string](s, codec.Msgpack[User](), &cachet.Options[string]{Namespace: ns, TTL: time.Hour}))
		for i := range hot {
			if err := ct.Set(ctx, keys[i], ada); err != nil {
				b.Fatal(err)
			}
		}
		cs = append(cs, contender{name, func(k string) error { _, err := ct.Get(ctx, k); return err }})
	}

	rc := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { rc.Close() })
	for i := range hot {
		if err := rc.Set(ctx, "tp:"+keys[i], val, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
	decode := func(data []byte) error { var u User; return msgpack.Unmarshal(data, &u) }
	cs = append(cs, contender{"raw-go-redis", func(k string) error {
		data, err := rc.Get(ctx, "tp:"+k).Bytes()
		if err != nil {
			return err
		}
		return decode(data)
	}})

	apc := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { apc.Close() })
	ap, err := apc.AutoPipeline()
	if err != nil {
		b.Fatal(err)
	}
	cs = append(cs, contender{"go-redis-autopipeline", func(k string) error {
		data, err := ap.Get(ctx, "tp:"+k).Bytes()
		if err != nil {
			return err
		}
		return decode(data)
	}})

	rue, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(rue.Close)
	cs = append(cs, contender{"rueidis", func(k string) error {
		data, err := rue.Do(ctx, rue.B().Get().Key("tp:"+k).Build()).AsBytes()
		if err != nil {
			return err
		}
		return decode(data)
	}})

	for _, g := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("Get/g=%d", g), func(b *testing.B) {
			interleaved(b, g, cs, map[string]string{"cachet/raw": "raw-go-redis", "cachet/rueidis": "rueidis"})
		})
	}
}

// interleaved runs b.N operations of every contender with g goroutines,
// in 10 rounds that alternate the contenders, so that load from other
// processes falls on all of them alike; per contender it reports ops/s
// and cpu-ns/op over its rounds, and for each metric name in ratios,
// cachet's ops/s divided by that of the contender it names.
func interleaved(b *testing.B, g int, cs []contender, ratios map[string]string) {
	const rounds = 10
	elapsed := make([]time.Duration, len(cs))
	cpu := make([]time.Duration, len(cs))
	ops := make([]int, len(cs))
	b.ReportAllocs()
	b.ResetTimer()
	for r := range rounds {
		n := b.N / rounds
		if r < b.N%rounds {
			n++
		}
		for ci := range cs {
			c := cs[(ci+r)%len(cs)]
			i := (ci + r) % len(cs)
			cpu0, t0 := cpuTime(b), time.Now()
			if err := runN(g, n, c.get); err != nil {
				b.Fatalf("%s: %v", c.name, err)
			}
			elapsed[i] += time.Since(t0)
			cpu[i] += cpuTime(b) - cpu0
			ops[i] += n
		}
	}
	b.StopTimer()
	rate := map[string]float64{}
	for i, c := range cs {
		rate[c.name] = float64(ops[i]) / elapsed[i].Seconds()
		b.ReportMetric(rate[c.name], c.name+"-ops/s")
		b.ReportMetric(float64(cpu[i])/float64(ops[i]), c.name+"-cpu-ns/op")
	}
	for metric, ref := range ratios {
		b.ReportMetric(rate["cachet"]/rate[ref], metric)
	}
}

// BenchmarkMemcachedThroughput is BenchmarkRedisThroughput for memcached:
// typed Gets (hits) of a User over 100 keys from 1, 16 and 64 goroutines
// on the one memcached, contenders interleaved, each with its own
// gomemcache client (gomemcache's default Timeout, 500 ms, and 64 idle
// connections): cachet's Cache.Get over memcachestore with its defaults
// (concurrent Gets sharing GetMultis), with batching off
// (cachet-nobatch), and with a client Timeout of 10 s, longer than the
// Cache's 5 s (cachet-timeout10s: the Cache then bounds each Get by a
// context, which memcachestore can honour only from a goroutine of the
// round trip's own); raw gomemcache Get plus msgpack decoding; and
// eko/gocache's memcache store under its msgpack marshaler.
func BenchmarkMemcachedThroughput(b *testing.B) {
	addr := needMemcached(b)
	ctx := context.Background()
	const hot = 100
	client := func(timeout time.Duration) *memcache.Client {
		c := memcache.New(addr)
		c.MaxIdleConns = memcacheIdle
		c.Timeout = timeout
		b.Cleanup(func() { c.Close() })
		return c
	}
	var cs []contender
	for _, v := range []struct {
		name    string
		timeout time.Duration
		o       memcachestore.BatchOptions
	}{
		{"cachet", memcache.DefaultTimeout, memcachestore.BatchOptions{}},
		{"cachet-nobatch", memcache.DefaultTimeout, memcachestore.BatchOptions{Disabled: true}},
		{"cachet-timeout10s", 10 * time.Second, memcachestore.BatchOptions{}},
	} {
		s, err := memcachestore.New(client(v.timeout), &memcachestore.Options{Batch: v.o})
		if err != nil {
			b.Fatal(err)
		}
		ct := cachet.Must(cachet.New[string](s, codec.Msgpack[User](), &cachet.Options[string]{Namespace: "tpm-" + v.name, TTL: time.Hour}))
		for i := range hot {
			if err := ct.Set(ctx, keys[i], ada); err != nil {
				b.Fatal(err)
			}
		}
		cs = append(cs, contender{v.name, func(k string) error { _, err := ct.Get(ctx, k); return err }})
	}
	val, err := msgpack.Marshal(ada)
	if err != nil {
		b.Fatal(err)
	}
	raw := client(memcache.DefaultTimeout)
	for i := range hot {
		if err := raw.Set(&memcache.Item{Key: "tpm:" + keys[i], Value: val, Expiration: 3600}); err != nil {
			b.Fatal(err)
		}
	}
	cs = append(cs, contender{"raw-gomemcache", func(k string) error {
		it, err := raw.Get("tpm:" + k)
		if err != nil {
			return err
		}
		var u User
		return msgpack.Unmarshal(it.Value, &u)
	}})
	em := gocachemarshaler.New(gocache.New[any](gocachememcache.NewMemcache(client(memcache.DefaultTimeout))))
	for i := range hot {
		if err := em.Set(ctx, "tpm-eko:"+keys[i], ada, gocachestore.WithExpiration(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	cs = append(cs, contender{"eko-gocache", func(k string) error {
		var u User
		_, err := em.Get(ctx, "tpm-eko:"+k, &u)
		return err
	}})
	for _, g := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("Get/g=%d", g), func(b *testing.B) {
			interleaved(b, g, cs, map[string]string{"cachet/raw": "raw-gomemcache", "cachet/eko": "eko-gocache"})
		})
	}
}

// runN runs n calls of get over 100 keys from g goroutines.
func runN(g, n int, get func(k string) error) error {
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := get(keys[i%100]); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	err, _ := failed.Load().(error)
	return err
}

// BenchmarkRedisLoneCaller times one goroutine's Cache.Get (a User, msgpack,
// over redisstore.Open with its defaults) against the same GET plus
// msgpack decoding through a plain go-redis client with its defaults, in
// alternating pairs on one redis-server: the lone caller's latency that
// batching must not cost (ratio cachet/raw).
func BenchmarkRedisLoneCaller(b *testing.B) {
	addr := needRedis(b)
	ctx := context.Background()
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{addr}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ct := cachet.Must(cachet.New[string](s, codec.Msgpack[User](), &cachet.Options[string]{Namespace: "lone", TTL: time.Hour}))
	rc := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { rc.Close() })
	val, err := msgpack.Marshal(ada)
	if err != nil {
		b.Fatal(err)
	}
	if err := ct.Set(ctx, "k", ada); err != nil {
		b.Fatal(err)
	}
	if err := rc.Set(ctx, "lone-raw:k", val, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	benchutil.Paired(b, "cachet", "raw",
		func() error { _, err := ct.Get(ctx, "k"); return err },
		func() error {
			data, err := rc.Get(ctx, "lone-raw:k").Bytes()
			if err != nil {
				return err
			}
			var u User
			return msgpack.Unmarshal(data, &u)
		})
}
