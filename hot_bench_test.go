package cachet_test

import (
	"context"
	"errors"
	"flag"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/benchutil"
)

// The paired benchmarks of the Cache's hot paths over memstore (issue 13):
// each times a Cache operation against the cheapest way to do the same
// work without the Cache, in the same loop, and reports their ratio.
// Targets (ratio cache/raw on the 2-core reference machine):
//
//	Hit   typed Get hit (msgpack User)  ≤ 1.15x memstore byte Get + msgpack Unmarshal, ≤ 5 allocs
//	Miss  typed Get miss                ≤ 1.3x  memstore byte miss, 0–1 allocs
//	Set   typed Set (msgpack User)      ≤ 1.3x  msgpack Marshal + memstore Set
//	Bytes Cache[string, []byte] Get 100 B ≤ 1.2x memstore byte Get
//
// The raw side of Hit, Miss and Bytes reads a constant key (say
// "u:42"), which costs it nothing to build, while the cache builds its
// store key from the namespace and the typed key on every call (in a
// pooled buffer over memstore, a store.Finder; elsewhere a string, one
// allocation): that is the strict comparison of the issue, "the store
// and the codec alone". The */keyed variants run the same cache side
// against a raw side that builds the same key the same way at run time
// ("u:" + k, k not a constant), as a program keeping namespaced keys in a
// bare store would: the cost of the cache's own layer beyond the key.
//
// One operation takes about as long as a clock read, and timed one by one
// the medians fall on the clock's steps (~10 ns on the reference
// machine), which moves a ratio near 1.2 by about ±0.07; and a median of
// single operations leaves out the garbage collector's work, which the
// few operations that assist it pay. -cachet.hotbatch=20 times 20
// operations of a side at once (as benchutil.PairedBatch does, on the
// benchmark's goroutine): finer, and with the collector's work shared out
// by what each side allocates.
//
// Run with
//
//	go test -run '^$' -bench 'Cache_Hot' -benchtime 20000x .
//	go test -run '^$' -bench 'Cache_Hot' -benchtime 2000x -cachet.hotbatch=20 .
func BenchmarkCache_Hot(b *testing.B) {
	ctx := context.Background()
	mc := codec.Msgpack[User]()
	const key = "42" // stored under "u:42"
	k := hotKey      // the same key, not a constant: built at run time

	b.Run("Hit", func(b *testing.B) {
		s := newMem(b)
		c := cachet.Must(cachet.New[string](s, mc, &cachet.Options[string]{Namespace: "u"}))
		if err := c.Set(ctx, key, benchUser); err != nil {
			b.Fatal(err)
		}
		// The raw side reads the codec's bare output (the cache's entry
		// carries a 3-byte header in front of it).
		rb, err := mc.Marshal(benchUser)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Set(ctx, "r:"+key, rb, 0); err != nil {
			b.Fatal(err)
		}
		raw := func(key string) error {
			data, err := s.Get(ctx, key)
			if err != nil {
				return err
			}
			var u User
			return mc.Unmarshal(data, &u)
		}
		b.Run("strict", func(b *testing.B) {
			hotPaired(b,
				func() error { _, err := c.Get(ctx, key); return err },
				func() error { return raw("r:" + key) })
		})
		b.Run("keyed", func(b *testing.B) {
			hotPaired(b,
				func() error { _, err := c.Get(ctx, k); return err },
				func() error { return raw("r:" + k) })
		})
	})
	b.Run("Miss", func(b *testing.B) {
		s := newMem(b)
		c := cachet.Must(cachet.New[string](s, mc, &cachet.Options[string]{Namespace: "u"}))
		b.Run("strict", func(b *testing.B) {
			hotPaired(b,
				func() error { _, err := c.Get(ctx, key); return wantMiss(err) },
				func() error { _, err := s.Get(ctx, "u:"+key); return wantMiss(err) })
		})
		b.Run("keyed", func(b *testing.B) {
			hotPaired(b,
				func() error { _, err := c.Get(ctx, k); return wantMiss(err) },
				func() error { _, err := s.Get(ctx, "u:"+k); return wantMiss(err) })
		})
	})
	b.Run("Set", func(b *testing.B) {
		s := newMem(b)
		c := cachet.Must(cachet.New[string](s, mc, &cachet.Options[string]{Namespace: "u"}))
		hotPaired(b,
			func() error { return c.Set(ctx, key, benchUser) },
			func() error {
				data, err := mc.Marshal(benchUser)
				if err != nil {
					return err
				}
				return s.Set(ctx, "u:"+key, data, 0)
			})
	})
	b.Run("Bytes", func(b *testing.B) {
		s := newMem(b)
		c := cachet.Must(cachet.New[string](s, codec.Bytes(), &cachet.Options[string]{Namespace: "u"}))
		value := make([]byte, 100)
		if err := c.Set(ctx, key, value); err != nil {
			b.Fatal(err)
		}
		b.Run("strict", func(b *testing.B) {
			hotPaired(b,
				func() error { _, err := c.Get(ctx, key); return err },
				func() error { _, err := s.Get(ctx, "u:"+key); return err })
		})
		b.Run("keyed", func(b *testing.B) {
			hotPaired(b,
				func() error { _, err := c.Get(ctx, k); return err },
				func() error { _, err := s.Get(ctx, "u:"+k); return err })
		})
	})
}

// hotBatch is how many operations BenchmarkCache_Hot times at once: 1
// (the default, each operation timed alone, as the targets were
// set) or more with -cachet.hotbatch (see BenchmarkCache_Hot).
var hotBatch = flag.Int("cachet.hotbatch", 1, "operations per timing in BenchmarkCache_Hot (1: each timed alone)")

// hotPaired runs cache and raw as the paired sides of b, one operation or
// *hotBatch at a time.
func hotPaired(b *testing.B, cache, raw func() error) {
	b.Helper()
	if *hotBatch <= 1 {
		benchutil.Paired(b, "cache", "raw", cache, raw)
		return
	}
	pairedBatchHere(b, *hotBatch, cache, raw)
}

// pairedBatchHere is benchutil.PairedBatch with one goroutine, run on the
// benchmark's own: PairedBatch starts a goroutine per batch, whose new
// stack the deeper side (the cache's call chain, down to msgpack's)
// grows once per batch (runtime.newstack and copystack were 20% of the
// cache side's profile), which would be counted as the cache's cost.
func pairedBatchHere(b *testing.B, batch int, cache, raw func() error) {
	b.Helper()
	b.ReportAllocs()
	allocs := func(f func() error) float64 {
		return testing.AllocsPerRun(100, func() {
			if err := f(); err != nil {
				b.Fatal(err)
			}
		})
	}
	cacheAllocs, rawAllocs := allocs(cache), allocs(raw)
	run := func(f func() error) time.Duration {
		t0 := time.Now()
		for range batch {
			if err := f(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(t0)
	}
	var cacheNs, rawNs, ratios []float64
	for i := 0; b.Loop(); i++ {
		var c, r time.Duration
		if i%2 == 0 {
			c, r = run(cache), run(raw)
		} else {
			r, c = run(raw), run(cache)
		}
		cacheNs = append(cacheNs, float64(c)/float64(batch))
		rawNs = append(rawNs, float64(r)/float64(batch))
		ratios = append(ratios, float64(c)/float64(max(r, 1)))
	}
	b.ReportMetric(benchutil.Median(cacheNs), "cache-ns/op")
	b.ReportMetric(benchutil.Median(rawNs), "raw-ns/op")
	b.ReportMetric(benchutil.Median(ratios), "cache/raw")
	b.ReportMetric(cacheAllocs, "cache-allocs/op")
	b.ReportMetric(rawAllocs, "raw-allocs/op")
}

// hotKey is BenchmarkCache_Hot's key as a variable, so that "u:"+hotKey
// is built at run time.
var hotKey = "42"

// wantMiss turns the expected ErrNotFound into nil, and anything else,
// a hit included, into an error.
func wantMiss(err error) error {
	if errors.Is(err, cachet.ErrNotFound) {
		return nil
	}
	if err == nil {
		return errors.New("hit; want a miss")
	}
	return err
}
