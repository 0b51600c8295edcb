package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store/memstore"
	"github.com/dgraph-io/ristretto/v2"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/maypok86/otter/v2"
	"github.com/samber/hot"
	"github.com/viccon/sturdyc"
)

// trace is a fixed synthetic access trace: indices into its keys drawn
// from a Zipf distribution with exponent s and a fixed seed, so that every
// library replays exactly the same accesses.
type trace struct {
	keys     []string
	accesses []uint32
}

// traceSize is the trace's length and key space: 1M accesses over 100k
// keys with CACHET_BENCH_FULL=1, 20k over 2k otherwise (make test, where
// samber/hot's W-TinyLFU alone would otherwise take most of a minute).
func traceSize() (accesses, keySpace int) {
	if full {
		return 1_000_000, 100_000
	}
	return 20_000, 2_000
}

var (
	tracesMu sync.Mutex
	traces   = map[float64]*trace{}
)

// zipfTrace builds the trace for s once per process. Key ranks are
// shuffled (with the same fixed seed) so that the popular keys are not
// also the first keys inserted.
func zipfTrace(s float64) *trace {
	tracesMu.Lock()
	defer tracesMu.Unlock()
	if t, ok := traces[s]; ok {
		return t
	}
	n, space := traceSize()
	r := rand.New(rand.NewPCG(42, 1))
	// math/rand's Zipf needs s > 1, so draw ranks from the cumulative
	// distribution of weights 1/(rank+1)^s directly.
	cdf := make([]float64, space)
	sum := 0.0
	for i := range cdf {
		sum += math.Pow(float64(i+1), -s)
		cdf[i] = sum
	}
	perm := r.Perm(space)
	t := &trace{keys: make([]string, space), accesses: make([]uint32, n)}
	for i := range t.keys {
		t.keys[i] = "key:" + strconv.Itoa(i)
	}
	for i := range t.accesses {
		rank, _ := slices.BinarySearch(cdf, r.Float64()*sum)
		t.accesses[i] = uint32(perm[min(rank, space-1)])
	}
	traces[s] = t
	return t
}

// boundedCache is a cache bounded by its number of entries, as the hit
// ratio replay uses it: a Get that reports a hit, and a Set on a miss.
type boundedCache interface {
	get(k string) bool
	set(k string, v []byte)
	close()
}

type memstoreBounded struct{ s *memstore.Store }

func (c memstoreBounded) get(k string) bool {
	_, err := c.s.Get(context.Background(), k)
	return err == nil
}
func (c memstoreBounded) set(k string, v []byte) { _ = c.s.Set(context.Background(), k, v, 0) }
func (c memstoreBounded) close()                 { c.s.Close() }

type otterBounded struct{ c *otter.Cache[string, []byte] }

func (c otterBounded) get(k string) bool      { _, ok := c.c.GetIfPresent(k); return ok }
func (c otterBounded) set(k string, v []byte) { c.c.Set(k, v) }
func (c otterBounded) close()                 {}

type ristrettoBounded struct {
	c *ristretto.Cache[string, []byte]
}

func (c ristrettoBounded) get(k string) bool      { _, ok := c.c.Get(k); return ok }
func (c ristrettoBounded) set(k string, v []byte) { c.c.Set(k, v, 1) }
func (c ristrettoBounded) close()                 { c.c.Close() }

type lruBounded struct{ c *lru.Cache[string, []byte] }

func (c lruBounded) get(k string) bool      { _, ok := c.c.Get(k); return ok }
func (c lruBounded) set(k string, v []byte) { c.c.Add(k, v) }
func (c lruBounded) close()                 {}

type sturdyBounded struct{ c *sturdyc.Client[[]byte] }

func (c sturdyBounded) get(k string) bool      { _, ok := c.c.Get(k); return ok }
func (c sturdyBounded) set(k string, v []byte) { c.c.Set(k, v) }
func (c sturdyBounded) close()                 {}

type hotBounded struct{ c *hot.HotCache[string, []byte] }

func (c hotBounded) get(k string) bool {
	_, ok, err := c.c.Get(k)
	return ok && err == nil
}
func (c hotBounded) set(k string, v []byte) { c.c.Set(k, v) }
func (c hotBounded) close()                 { c.c.StopJanitor() }

// boundedCaches are the contenders of the hit ratio benchmark, each built
// for at most capacity entries with its documented configuration.
var boundedCaches = []struct {
	name string
	new  func(b *testing.B, capacity int) boundedCache
	// headlineOnly limits a contender to the headline capacities (1% and
	// 10%) of the curve, for one whose replay is slow enough (tens of
	// seconds per point) to take make bench past its time budget.
	headlineOnly bool
}{
	{"cachet-memstore", func(b *testing.B, n int) boundedCache {
		s, err := memstore.New(&memstore.Options{MaxEntries: n, MaxBytes: -1})
		if err != nil {
			b.Fatal(err)
		}
		return memstoreBounded{s}
	}, false},
	{"otter", func(b *testing.B, n int) boundedCache {
		return otterBounded{otter.Must(&otter.Options[string, []byte]{MaximumSize: n})}
	}, false},
	{"ristretto", func(b *testing.B, n int) boundedCache {
		// ristretto's documented sizing: 10 counters per entry, a cost of
		// 1 per entry, MaxCost the entry bound.
		c, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
			NumCounters: int64(10 * n), MaxCost: int64(n), BufferItems: 64,
			IgnoreInternalCost: true, // the cost is the entry count alone
		})
		if err != nil {
			b.Fatal(err)
		}
		return ristrettoBounded{c}
	}, false},
	{"golang-lru", func(b *testing.B, n int) boundedCache {
		c, err := lru.New[string, []byte](n)
		if err != nil {
			b.Fatal(err)
		}
		return lruBounded{c}
	}, false},
	{"sturdyc", func(b *testing.B, n int) boundedCache {
		// One shard, so that the bound is exactly n (sturdyc divides its
		// capacity between shards); 10% evicted when full, its example's.
		return sturdyBounded{sturdyc.New[[]byte](n, 1, time.Hour, 10)}
	}, false},
	{"samber-hot-lru", func(b *testing.B, n int) boundedCache {
		return hotBounded{hot.NewHotCache[string, []byte](hot.LRU, n).Build()}
	}, false},
	{"samber-hot-wtinylfu", func(b *testing.B, n int) boundedCache {
		return hotBounded{hot.NewHotCache[string, []byte](hot.WTinyLFU, n).Build()}
	}, true},
}

// hitRatioCapacities are the cache sizes of the curve, in per mille of the
// key space (1% and 10% are the headline points, the only ones of the
// small run).
func hitRatioCapacities() []int {
	if full {
		return []int{1, 5, 10, 25, 100}
	}
	return []int{10, 100}
}

// BenchmarkHitRatio replays a fixed Zipf trace (s = 0.9 and 1.01; 1M
// accesses over 100k keys with CACHET_BENCH_FULL=1) on each bounded cache,
// from empty, with a Set after every miss, and reports the fraction of
// Gets that hit as "hit-ratio" (and the replay's cost per access as
// ns/access). One op is one whole replay on a fresh cache; the ratio is
// that of the last replay. Writes are single-threaded and in order, so a
// cache that admits asynchronously (ristretto's buffered Set; memstore's
// engine, otter, applies its eviction policy through buffers drained on
// later calls) is measured as an application would see it: nothing waits
// for admission.
func BenchmarkHitRatio(b *testing.B) {
	value := make([]byte, 16)
	for _, s := range []float64{0.9, 1.01} {
		t := zipfTrace(s)
		for _, pm := range hitRatioCapacities() {
			capacity := len(t.keys) * pm / 1000
			for _, bc := range boundedCaches {
				if bc.headlineOnly && pm != 10 && pm != 100 {
					continue
				}
				b.Run(fmt.Sprintf("s=%v/cap=%.1f%%/%s", s, float64(pm)/10, bc.name), func(b *testing.B) {
					var hits int
					for b.Loop() {
						c := bc.new(b, capacity)
						hits = 0
						for _, a := range t.accesses {
							k := t.keys[a]
							if c.get(k) {
								hits++
							} else {
								c.set(k, value)
							}
						}
						c.close()
					}
					b.ReportMetric(float64(hits)/float64(len(t.accesses)), "hit-ratio")
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(t.accesses)), "ns/access")
				})
			}
		}
	}
}
