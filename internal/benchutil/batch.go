package benchutil

import (
	"sync"
	"testing"
	"time"
)

// PairedBatch is Paired for operations too short to time one by one (a
// clock read costs 30-80 ns on a virtual machine's clock, as much as the
// operation): each timed side runs its operation batch times in a row, and
// the reported "-ns/op" medians are per operation.
//
// With goroutines > 1, that many goroutines run the pairs at once, each
// side's batches starting together (a barrier before each), so that the
// two sides are compared under the same contention. The medians and the
// ratio are over every goroutine's batches. Each iteration of b.Loop is
// one batch of each side on each goroutine.
//
// op and raw are given a counter, distinct across goroutines and calls,
// to pick their key with; they must be safe for concurrent use when
// goroutines > 1.
func PairedBatch(b *testing.B, name, rawName string, batch, goroutines int, op, raw func(i int) error) {
	b.Helper()
	b.ReportAllocs()
	batch, goroutines = max(batch, 1), max(goroutines, 1)
	n := 0
	opAllocs := allocsPerRun(b, func() error { n++; return op(n) })
	rawAllocs := allocsPerRun(b, func() error { n++; return raw(n) })
	type sample struct{ op, raw float64 }
	var (
		mu      sync.Mutex
		samples []sample
		failed  error
	)
	for i := 0; b.Loop(); i++ {
		first, second := op, raw
		if i%2 == 1 {
			first, second = raw, op
		}
		// Two barriers: every goroutine starts the first side together,
		// then the second side together.
		var start1, start2 sync.WaitGroup
		start1.Add(1)
		start2.Add(goroutines)
		var done sync.WaitGroup
		done.Add(goroutines)
		for g := range goroutines {
			go func() {
				defer done.Done()
				at := (i*goroutines + g) * batch
				start1.Wait()
				d1, err1 := timeBatch(first, at, batch)
				start2.Done()
				start2.Wait()
				d2, err2 := timeBatch(second, at, batch)
				if i%2 == 1 {
					d1, d2 = d2, d1
				}
				mu.Lock()
				defer mu.Unlock()
				for _, err := range []error{err1, err2} {
					if err != nil && failed == nil {
						failed = err
					}
				}
				samples = append(samples, sample{op: float64(d1) / float64(batch), raw: float64(d2) / float64(batch)})
			}()
		}
		start1.Done()
		done.Wait()
		if failed != nil {
			b.Fatal(failed)
		}
	}
	opNs := make([]float64, len(samples))
	rawNs := make([]float64, len(samples))
	ratios := make([]float64, len(samples))
	for i, s := range samples {
		opNs[i], rawNs[i] = s.op, s.raw
		ratios[i] = s.op / max(s.raw, 1e-3)
	}
	b.ReportMetric(Median(opNs), name+"-ns/op")
	b.ReportMetric(Median(rawNs), rawName+"-ns/op")
	b.ReportMetric(Median(ratios), name+"/"+rawName)
	b.ReportMetric(opAllocs, name+"-allocs/op")
	b.ReportMetric(rawAllocs, rawName+"-allocs/op")
}

// timeBatch times n calls of f, with counters from at, stopping at its
// first error.
func timeBatch(f func(int) error, at, n int) (time.Duration, error) {
	t0 := time.Now()
	for i := range n {
		if err := f(at + i); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}
