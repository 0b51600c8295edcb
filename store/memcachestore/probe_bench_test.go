package memcachestore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store/memcachestore"
)

// BenchmarkBatchMaxWait measures what bounding a queued Get's wait by the
// client Timeout costs (a count on the shared wait clock per queued Get
// without a deadline, as a Cache sends over memcached): 16 goroutines Get
// without a deadline from a store with the bound and from one without,
// in alternating rounds of 16 x 200 Gets; ns-bounded/op and
// ns-unbounded/op are per Get, ratio is bounded/unbounded.
func BenchmarkBatchMaxWait(b *testing.B) {
	srv := testserver.Memcached(b)
	bounded := openBench(b, srv, nil)
	unbounded := openBench(b, srv, nil)
	memcachestore.NoMaxWait(unbounded)
	mustSet(b, bounded, "k", string(benchValue), 0)
	const g, per = 16, 200
	round := func(s *memcachestore.Store) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					if _, err := s.Get(bg, "k"); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	b.ReportAllocs()
	var tb, tu time.Duration
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			tb += round(bounded)
			tu += round(unbounded)
		} else {
			tu += round(unbounded)
			tb += round(bounded)
		}
	}
	n := float64(b.N * g * per)
	b.ReportMetric(float64(tb.Nanoseconds())/n, "ns-bounded/op")
	b.ReportMetric(float64(tu.Nanoseconds())/n, "ns-unbounded/op")
	b.ReportMetric(float64(tb)/float64(tu), "ratio")
}
