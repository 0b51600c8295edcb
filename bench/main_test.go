package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/testserver"
)

// redisAddr is the address of the one redis-server every Redis benchmark
// shares (so that all libraries meet the same server in the same run);
// redisErr says why there is none.
var (
	redisAddr string
	redisErr  error
)

func TestMain(m *testing.M) {
	srv, err := testserver.StartRedis("")
	if err != nil {
		redisErr = err
	} else {
		redisAddr = srv.Addr
	}
	code := m.Run()
	if srv != nil {
		srv.Close()
	}
	os.Exit(code)
}

// needRedis returns the shared server's address, or skips the benchmark
// when redis-server is missing (fails it when CI=true, like testserver).
func needRedis(b *testing.B) string {
	b.Helper()
	if redisErr != nil {
		if errors.Is(redisErr, testserver.ErrNoBinary) && os.Getenv("CI") != "true" {
			b.Skipf("no redis-server (apt-get install redis-server): %v", redisErr)
		}
		b.Fatalf("starting redis-server: %v", redisErr)
	}
	return redisAddr
}

// numKeys is the key space of the in-process and Redis workloads.
const numKeys = 10_000

// keys are the workload's keys, "user:0" ... "user:9999".
var keys = func() []string {
	ks := make([]string, numKeys)
	for i := range ks {
		ks[i] = "user:" + strconv.Itoa(i)
	}
	return ks
}()

var seed atomic.Uint64

// newZipf returns a Zipf-distributed index generator over keys (s = 1.01,
// the skew the otter and ristretto benchmarks use: a few keys take most of
// the traffic), seeded differently for each caller.
func newZipf() (*rand.Rand, *rand.Zipf) {
	r := rand.New(rand.NewPCG(seed.Add(1), 0x9e3779b97f4a7c15))
	return r, rand.NewZipf(r, 1.01, 1, numKeys-1)
}

// paired times a and b in alternating pairs (neither always first) and
// reports the median time of each and the median of their ratio a/b, the
// technique of cachet's remote_bench_test.go: on a loaded machine single
// ns/op figures swing widely, the paired ratio much less.
func paired(b *testing.B, nameA, nameB string, fa, fb func() error) {
	b.Helper()
	b.ReportAllocs()
	var as, bs, ratios []float64
	for i := 0; b.Loop(); i++ {
		first, second := fa, fb
		if i%2 == 1 {
			first, second = fb, fa
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
		da, db := t1.Sub(t0), t2.Sub(t1)
		if i%2 == 1 {
			da, db = db, da
		}
		as = append(as, float64(da))
		bs = append(bs, float64(db))
		ratios = append(ratios, float64(da)/float64(db))
	}
	b.ReportMetric(median(as), nameA+"-ns/op")
	b.ReportMetric(median(bs), nameB+"-ns/op")
	b.ReportMetric(median(ratios), fmt.Sprintf("%s/%s", nameA, nameB))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}
