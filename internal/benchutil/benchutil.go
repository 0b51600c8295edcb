// Package benchutil holds helpers shared by cachet's benchmarks.
package benchutil

import (
	"slices"
	"testing"
	"time"
)

// Paired times op and raw in alternating pairs within one benchmark loop
// (op first on even iterations, raw first on odd ones, so that neither
// always runs on a warmer connection or cache line) and reports the
// median latency of each side as "<name>-ns/op" and "<rawName>-ns/op", and
// the median of the per-pair ratios as "<name>/<rawName>". On a loaded machine,
// where single ns/op figures swing several-fold, the paired ratio stays
// readable. The benchmark's own ns/op covers both calls, and so do its
// allocs/op; "<name>-allocs/op" and "<rawName>-allocs/op" give each side's
// own, measured with testing.AllocsPerRun before the timed loop.
func Paired(b *testing.B, name, rawName string, op, raw func() error) {
	b.Helper()
	b.ReportAllocs()
	opAllocs, rawAllocs := allocsPerRun(b, op), allocsPerRun(b, raw)
	var opNs, rawNs, ratios []float64
	for i := 0; b.Loop(); i++ {
		first, second := op, raw
		if i%2 == 1 {
			first, second = raw, op
		}
		t0 := time.Now()
		if err := first(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := second(); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		od, rd := t1.Sub(t0), t2.Sub(t1)
		if i%2 == 1 {
			od, rd = rd, od
		}
		opNs = append(opNs, float64(od))
		rawNs = append(rawNs, float64(rd))
		ratios = append(ratios, float64(od)/float64(max(rd, 1)))
	}
	b.ReportMetric(Median(opNs), name+"-ns/op")
	b.ReportMetric(Median(rawNs), rawName+"-ns/op")
	b.ReportMetric(Median(ratios), name+"/"+rawName)
	b.ReportMetric(opAllocs, name+"-allocs/op")
	b.ReportMetric(rawAllocs, rawName+"-allocs/op")
}

// allocsPerRun returns the average number of allocations of one call of
// f, failing b if f fails.
func allocsPerRun(b *testing.B, f func() error) float64 {
	b.Helper()
	var err error
	n := testing.AllocsPerRun(100, func() {
		if e := f(); e != nil && err == nil {
			err = e
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// Median returns the median of xs (sorting xs), or 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}
