package bench

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/redisstore"
)

// growthKeyCounts are the resident key counts of the growth benchmark:
// 1e3, 1e5 and 1e6 with CACHET_BENCH_FULL=1, 1e3 and 1e4 otherwise.
func growthKeyCounts() []int {
	if full {
		return []int{1_000, 100_000, 1_000_000}
	}
	return []int{1_000, 10_000}
}

// growthStores builds a cachet Cache[string, []byte] (codec.Bytes) over
// each backend, with a fresh namespace per call so that earlier fills do
// not count.
var growthStores = []struct {
	name string
	open func(b *testing.B) store.Store
}{
	{"memstore", func(b *testing.B) store.Store {
		return memstore.Must(&memstore.Options{MaxBytes: -1})
	}},
	{"redis", func(b *testing.B) store.Store {
		s, err := redisstore.Open(&redisstore.Options{Addrs: []string{needRedis(b)}})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
	{"memcached", func(b *testing.B) store.Store {
		s, err := memcachestore.New(newMemcacheClient(b), nil)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
}

// growthRun fills n keys of value through a fresh Cache on the store,
// then times Get (hits, cycling over all n keys) and Set, reporting
// ns/byte through b.SetBytes.
func growthRun(b *testing.B, name string, open func(b *testing.B) store.Store, axis string, n int, value []byte) {
	ctx := context.Background()
	s := open(b)
	defer s.Close()
	ns := fmt.Sprintf("g%s%d-%d", axis, n, len(value))
	c := cachet.Must(cachet.New[string](s, codec.Bytes(), &cachet.Options[string]{Namespace: ns, TTL: time.Hour}))
	keys := make([]string, n)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	const batch = 500
	for i := 0; i < n; i += batch {
		m := make(map[string][]byte, batch)
		for _, k := range keys[i:min(i+batch, n)] {
			m[k] = value
		}
		if err := c.SetMany(ctx, m); err != nil {
			b.Fatalf("%s: filling %d keys: %v", name, n, err)
		}
	}
	label := fmt.Sprintf("n=%d", n)
	if axis == "size" {
		label = fmt.Sprintf("bytes=%d", len(value))
	}
	b.Run(name+"/Get/"+label, func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(value)))
		for i := 0; b.Loop(); i++ {
			if _, err := c.Get(ctx, keys[(i*7919)%n]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(name+"/Set/"+label, func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(value)))
		for i := 0; b.Loop(); i++ {
			if err := c.Set(ctx, keys[(i*7919)%n], value); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Empty the whole backend (one FLUSHDB / flush_all), not the Cache's
	// namespace: Clear of a million keys is a SCAN over them and would
	// outlast the Cache's 5 s per-operation timeout.
	if err := s.Clear(ctx, ""); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkGrowth measures how a Cache's Get (a hit) and Set grow with the
// number of resident keys (100-byte values; 1e3, 1e5, 1e6 keys with
// CACHET_BENCH_FULL=1) and with the value size (100 B, 10 KB, 1 MB; 100
// resident keys), over memstore, Redis and memcached, through
// codec.Bytes. Keys are visited in a stride that defeats any locality of
// insertion order. MB/s in the output is the value throughput (b.SetBytes).
func BenchmarkGrowth(b *testing.B) {
	small := make([]byte, 100)
	b.Run("keys", func(b *testing.B) {
		for _, gs := range growthStores {
			for _, n := range growthKeyCounts() {
				growthRun(b, gs.name, gs.open, "keys", n, small)
			}
		}
	})
	b.Run("size", func(b *testing.B) {
		for _, gs := range growthStores {
			for _, size := range []int{100, 10_000, 1_000_000} {
				growthRun(b, gs.name, gs.open, "size", 100, make([]byte, size))
			}
		}
	})
}
