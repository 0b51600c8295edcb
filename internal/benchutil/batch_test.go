package benchutil

import (
	"fmt"
	"sync"
	"testing"
)

// TestPairedBatch_Alternates checks that PairedBatch still alternates the
// two sides (op's batches first on even iterations, raw's first on odd
// ones), that with several goroutines every goroutine finishes the first
// side before any starts the second, and that the counters are distinct.
func TestPairedBatch_Alternates(t *testing.T) {
	for _, goroutines := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(goroutines), func(t *testing.T) {
			const batch = 4
			type event struct {
				op bool
				i  int
			}
			var (
				mu     sync.Mutex
				events []event
			)
			side := func(op bool) func(int) error {
				return func(i int) error {
					mu.Lock()
					events = append(events, event{op, i})
					mu.Unlock()
					return nil
				}
			}
			var iters int
			testing.Benchmark(func(b *testing.B) {
				mu.Lock()
				events = events[:0] // testing.Benchmark may run the function more than once
				mu.Unlock()
				PairedBatch(b, "op", "raw", batch, goroutines, side(true), side(false))
				iters = b.N
			})
			// Before the loop, each side's allocations are measured
			// (testing.AllocsPerRun: one warm-up call and 100 runs each).
			const measured = 2 * 101
			if len(events) < measured {
				t.Fatalf("%d calls; want at least %d", len(events), measured)
			}
			loop := events[measured:]
			per := goroutines * batch // calls of one side in one iteration
			if len(loop) != 2*per*iters {
				t.Fatalf("%d calls in %d iterations; want %d", len(loop), iters, 2*per*iters)
			}
			seen := make(map[[2]any]bool)
			for it := range iters {
				chunk := loop[2*per*it : 2*per*(it+1)]
				wantFirst := it%2 == 0 // op first on even iterations
				for j, e := range chunk {
					want := wantFirst
					if j >= per {
						want = !wantFirst
					}
					if e.op != want {
						t.Fatalf("iteration %d, call %d: op = %v; want %v (sides interleaved or not alternated)", it, j, e.op, want)
					}
					k := [2]any{e.op, e.i}
					if seen[k] {
						t.Fatalf("iteration %d: counter %d given twice to op = %v", it, e.i, e.op)
					}
					seen[k] = true
				}
			}
		})
	}
}
