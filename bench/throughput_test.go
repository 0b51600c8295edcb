package bench

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/redisstore"
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

// BenchmarkRedisThroughput measures typed Gets (hits) of a User over 100
// keys from 16 and 64 goroutines, all contenders in the same run on the
// one redis-server, each with its own client: cachet's Cache.Get over
// redisstore (batching on, the default; and off), raw go-redis GET (default
// pool) plus msgpack decoding, go-redis' experimental AutoPipeline GET plus
// decoding, and rueidis Do GET plus decoding (rueidis pipelines concurrent
// callers implicitly). It reports "ops/s" and "cpu-ns/op", the process's
// user+sys CPU time (getrusage) over the loop divided by the operations
// (client side only: the server's CPU is not included).
func BenchmarkRedisThroughput(b *testing.B) {
	addr := needRedis(b)
	ctx := context.Background()
	const hot = 100

	type contender struct {
		name string
		get  func(k string) error
	}
	var cs []contender
	val, err := msgpack.Marshal(ada)
	if err != nil {
		b.Fatal(err)
	}
	// cachet with the default batching, with InFlight 1 and 4 (to justify
	// the default), and with batching off.
	for _, bo := range []struct {
		name string
		o    redisstore.BatchOptions
	}{
		{"cachet", redisstore.BatchOptions{}},
		{"cachet-inflight1", redisstore.BatchOptions{InFlight: 1}},
		{"cachet-inflight4", redisstore.BatchOptions{InFlight: 4}},
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

	for _, g := range []int{16, 64} {
		for _, c := range cs {
			b.Run(fmt.Sprintf("Get/g=%d/%s", g, c.name), func(b *testing.B) {
				cpu0 := cpuTime(b)
				runConcurrent(b, g, func(i int) error { return c.get(keys[i%hot]) })
				b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
