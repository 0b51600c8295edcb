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
// The batches run on long-lived goroutines: the benchmark's own with
// goroutines == 1, the same workers for every iteration otherwise. A new
// goroutine per batch would start on a small stack and grow it during
// the batch, a cost charged to whichever side has the deeper call chain.
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
	var samples []sample
	if goroutines == 1 {
		samples = pairedBatchHere(b, batch, op, raw)
	} else {
		samples = pairedBatchWorkers(b, batch, goroutines, op, raw)
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

// sample is one pair of batches: each side's time per operation, in ns.
type sample struct{ op, raw float64 }

// pairedBatchHere runs PairedBatch's loop for one goroutine on the
// benchmark's own.
func pairedBatchHere(b *testing.B, batch int, op, raw func(i int) error) []sample {
	var samples []sample
	for i := 0; b.Loop(); i++ {
		s, err := timePair(op, raw, i, i*batch, batch, nil)
		if err != nil {
			b.Fatal(err)
		}
		samples = append(samples, s)
	}
	return samples
}

// pairedBatchWorkers runs PairedBatch's loop on goroutines workers that
// live for the whole benchmark; each iteration hands every worker its
// round and waits for all of them.
func pairedBatchWorkers(b *testing.B, batch, goroutines int, op, raw func(i int) error) []sample {
	type round struct {
		i      int
		start1 chan struct{}  // closed: every worker starts the first side
		start2 sync.WaitGroup // done: every worker starts the second side
		done   sync.WaitGroup
	}
	var (
		mu      sync.Mutex
		samples []sample
		failed  error
	)
	work := make([]chan *round, goroutines)
	var exited sync.WaitGroup
	for g := range work {
		work[g] = make(chan *round)
		exited.Add(1)
		go func() {
			defer exited.Done()
			for r := range work[g] {
				<-r.start1
				s, err := timePair(op, raw, r.i, (r.i*goroutines+g)*batch, batch, &r.start2)
				mu.Lock()
				if err != nil && failed == nil {
					failed = err
				}
				samples = append(samples, s)
				mu.Unlock()
				r.done.Done()
			}
		}()
	}
	defer func() {
		for _, w := range work {
			close(w)
		}
		exited.Wait()
	}()
	for i := 0; b.Loop(); i++ {
		r := &round{i: i, start1: make(chan struct{})}
		r.start2.Add(goroutines)
		r.done.Add(goroutines)
		for _, w := range work {
			w <- r
		}
		close(r.start1)
		r.done.Wait()
		if failed != nil {
			b.Fatal(failed)
		}
	}
	return samples
}

// timePair times one batch of each side for iteration i, op first on even
// iterations and raw first on odd ones, with counters from at. A non-nil
// barrier is passed between the two sides (Done, then Wait), even after
// an error, so that no other worker waits for ever.
func timePair(op, raw func(int) error, i, at, batch int, barrier *sync.WaitGroup) (sample, error) {
	first, second := op, raw
	if i%2 == 1 {
		first, second = raw, op
	}
	d1, err1 := timeBatch(first, at, batch)
	if barrier != nil {
		barrier.Done()
		barrier.Wait()
	}
	d2, err2 := timeBatch(second, at, batch)
	if i%2 == 1 {
		d1, d2 = d2, d1
	}
	err := err1
	if err == nil {
		err = err2
	}
	return sample{op: float64(d1) / float64(batch), raw: float64(d2) / float64(batch)}, err
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
