package bench

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store/memstore"
	"github.com/dgraph-io/ristretto/v2"
	"github.com/maypok86/otter/v2"
	patrickmn "github.com/patrickmn/go-cache"
)

// memoryEntries is the number of entries of the memory benchmark: 1M with
// CACHET_BENCH_FULL=1, 20k otherwise.
func memoryEntries() int {
	if full {
		return 1_000_000
	}
	return 20_000
}

// memoryCaches are the contenders of BenchmarkMemoryPerEntry. fill stores
// n entries (key i -> its own 100-byte value) and returns the cache (kept
// alive while the heap is measured) and a Get to count the resident
// entries.
var memoryCaches = []struct {
	name string
	fill func(b *testing.B, keys []string, value func() []byte) (keep any, get func(string) bool)
}{
	{"cachet-memstore", func(b *testing.B, keys []string, value func() []byte) (any, func(string) bool) {
		ctx := context.Background()
		s, err := memstore.New(&memstore.Options{MaxEntries: 2 * len(keys), MaxBytes: -1})
		if err != nil {
			b.Fatal(err)
		}
		buf := value() // memstore copies what it stores
		for _, k := range keys {
			if err := s.Set(ctx, k, buf, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		return s, func(k string) bool { _, err := s.Get(ctx, k); return err == nil }
	}},
	{"otter", func(b *testing.B, keys []string, value func() []byte) (any, func(string) bool) {
		c := otter.Must(&otter.Options[string, []byte]{MaximumSize: 2 * len(keys), ExpiryCalculator: otter.ExpiryWriting[string, []byte](time.Hour)})
		for _, k := range keys {
			c.Set(k, value())
		}
		return c, func(k string) bool { _, ok := c.GetIfPresent(k); return ok }
	}},
	{"ristretto", func(b *testing.B, keys []string, value func() []byte) (any, func(string) bool) {
		c, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
			NumCounters: int64(10 * len(keys)), MaxCost: int64(2 * len(keys)), BufferItems: 64,
			IgnoreInternalCost: true,
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range keys {
			for !c.SetWithTTL(k, value(), 1, time.Hour) {
				c.Wait() // a full set buffer drops the Set: wait and retry
			}
		}
		c.Wait()
		return c, func(k string) bool { _, ok := c.Get(k); return ok }
	}},
	{"go-cache", func(b *testing.B, keys []string, value func() []byte) (any, func(string) bool) {
		c := patrickmn.New(time.Hour, 0)
		for _, k := range keys {
			c.Set(k, value(), time.Hour)
		}
		return c, func(k string) bool { _, ok := c.Get(k); return ok }
	}},
	{"map", func(b *testing.B, keys []string, value func() []byte) (any, func(string) bool) {
		m := make(map[string][]byte)
		for _, k := range keys {
			m[k] = value()
		}
		return m, func(k string) bool { _, ok := m[k]; return ok }
	}},
}

// heapInUse returns the heap in use after two full collections.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkMemoryPerEntry stores 1M entries (CACHET_BENCH_FULL=1; 20k
// otherwise) of 100-byte values with a one-hour ttl in each cache, each
// bounded well above that, and reports the heap in use after GC divided by
// the number of entries resident ("bytes/entry"). The keys ("key:<i>",
// 5-10 bytes) are allocated before the first reading, so they are not
// counted: the figure is the 100-byte value plus what the cache spends
// per entry (memstore copies the value in, the others keep the slice they
// are given). One op is one fill; the figure is that of the last one.
func BenchmarkMemoryPerEntry(b *testing.B) {
	n := memoryEntries()
	for _, mc := range memoryCaches {
		b.Run(mc.name, func(b *testing.B) {
			var perEntry, resident float64
			for b.Loop() {
				keys := make([]string, n)
				for i := range keys {
					keys[i] = "key:" + strconv.Itoa(i)
				}
				before := heapInUse()
				keep, get := mc.fill(b, keys, func() []byte { return make([]byte, 100) })
				after := heapInUse()
				hits := 0
				for _, k := range keys {
					if get(k) {
						hits++
					}
				}
				runtime.KeepAlive(keep)
				if hits < n*9/10 {
					b.Fatalf("%s kept %d of %d entries", mc.name, hits, n)
				}
				resident = float64(hits)
				perEntry = float64(after-before) / resident
			}
			b.ReportMetric(perEntry, "bytes/entry")
			b.ReportMetric(resident, "entries")
		})
	}
}
