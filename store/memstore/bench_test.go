package memstore_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store/memstore"
	"github.com/maypok86/otter/v2"
)

// The benchmarks run one workload on memstore and on otter used directly,
// with byte-slice values and the same byte bound, so that the cost of the
// wrapper (validation, context check, expiry check, copies) can be read off
// as a ratio. Every goroutine walks a precomputed Zipf-distributed trace of
// keys (s = 1.1, like a typical cache workload), starting at its own
// offset. ttl is 10 minutes for every write.

const (
	benchKeys      = 100_000
	benchTraceLen  = 1 << 16
	benchValueSize = 128
	benchTTL       = 10 * time.Minute
)

var (
	benchKeyNames = func() []string {
		keys := make([]string, benchKeys)
		for i := range keys {
			keys[i] = "user:" + strconv.Itoa(i)
		}
		return keys
	}()
	benchTrace = func() []uint32 {
		r := rand.New(rand.NewPCG(1, 2))
		z := rand.NewZipf(r, 1.1, 1, benchKeys-1)
		trace := make([]uint32, benchTraceLen)
		for i := range trace {
			trace[i] = uint32(z.Uint64())
		}
		return trace
	}()
	benchValue = func() []byte {
		v := make([]byte, benchValueSize)
		for i := range v {
			v[i] = byte(i)
		}
		return v
	}()
)

// kv is the part of a store the workloads use.
type kv interface {
	get(key string) []byte
	set(key string, value []byte)
}

type memKV struct{ s *memstore.Store }

func (m memKV) get(key string) []byte {
	v, _ := m.s.Get(context.Background(), key)
	return v
}

func (m memKV) set(key string, value []byte) {
	if err := m.s.Set(context.Background(), key, value, benchTTL); err != nil {
		panic(err)
	}
}

type otterKV struct{ c *otter.Cache[string, []byte] }

func (o otterKV) get(key string) []byte {
	v, _ := o.c.GetIfPresent(key)
	return v
}

func (o otterKV) set(key string, value []byte) { o.c.Set(key, value) }

// otterCopyKV is otter used directly with the copies a byte store owes its
// callers (a copy in on Set, a copy out on Get), to show their share.
type otterCopyKV struct{ c *otter.Cache[string, []byte] }

func (o otterCopyKV) get(key string) []byte {
	v, ok := o.c.GetIfPresent(key)
	if !ok {
		return nil
	}
	c := make([]byte, len(v))
	copy(c, v)
	return c
}

func (o otterCopyKV) set(key string, value []byte) {
	c := make([]byte, len(value))
	copy(c, value)
	o.c.Set(key, c)
}

func newMem(b *testing.B) kv {
	s, err := memstore.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return memKV{s}
}

// newOtter returns otter configured as memstore configures it by default:
// a weight bound of 64 MiB and a per-entry expiry.
func newOtter(b *testing.B) *otter.Cache[string, []byte] {
	c := otter.Must(&otter.Options[string, []byte]{
		MaximumWeight: memstore.DefaultMaxBytes,
		Weigher: func(k string, v []byte) uint32 {
			return uint32(len(k) + len(v) + memstore.EntryOverhead)
		},
		ExpiryCalculator: otter.ExpiryWriting[string, []byte](benchTTL),
	})
	b.Cleanup(func() { c.StopAllGoroutines() })
	return c
}

var (
	benchSeed atomic.Uint64
	benchRead atomic.Int64 // bytes read, so that reads are not optimised away
)

// run fills the store and runs the workload in parallel: writePercent of
// the operations are writes, the rest reads.
func run(b *testing.B, s kv, writePercent int) {
	for _, k := range benchKeyNames {
		s.set(k, benchValue)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(benchSeed.Add(7919)) % benchTraceLen
		n, read := 0, 0
		for pb.Next() {
			k := benchKeyNames[benchTrace[i]]
			if n%100 < writePercent {
				s.set(k, benchValue)
			} else {
				read += len(s.get(k))
			}
			i = (i + 1) % benchTraceLen
			n += 7 // steps through 0..99 mod 100, so writes are spread out
		}
		benchRead.Add(int64(read))
	})
}

func benchStores(b *testing.B, writePercent int) {
	b.Run("memstore", func(b *testing.B) { run(b, newMem(b), writePercent) })
	b.Run("otter", func(b *testing.B) { run(b, otterKV{newOtter(b)}, writePercent) })
	b.Run("otter-copy", func(b *testing.B) { run(b, otterCopyKV{newOtter(b)}, writePercent) })
}

// BenchmarkGet reads only.
func BenchmarkGet(b *testing.B) { benchStores(b, 0) }

// BenchmarkSet writes only.
func BenchmarkSet(b *testing.B) { benchStores(b, 100) }

// BenchmarkMixed is 90% reads and 10% writes.
func BenchmarkMixed(b *testing.B) { benchStores(b, 10) }

// BenchmarkIncrement increments Zipf-skewed counters from every goroutine,
// the contended read-modify-write path (Add takes the same path).
func BenchmarkIncrement(b *testing.B) {
	s, err := memstore.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(benchSeed.Add(7919)) % benchTraceLen
		for pb.Next() {
			if _, err := s.Increment(ctx, benchKeyNames[benchTrace[i]], 1); err != nil {
				panic(err)
			}
			i = (i + 1) % benchTraceLen
		}
	})
}
