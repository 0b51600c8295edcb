package bench

import (
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cachet-go/cachet/internal/testserver"
)

// redisAddr is the address of the one redis-server every Redis benchmark
// shares (so that all libraries meet the same server in the same run);
// redisErr says why there is none. memcachedAddr and memcachedErr are the
// same for the one memcached (1 GiB of memory, 4 MiB items, so that the
// growth benchmarks' million keys and 1 MB values fit).
var (
	redisAddr     string
	redisErr      error
	memcachedAddr string
	memcachedErr  error
)

// full is true when CACHET_BENCH_FULL=1 (make bench sets it): the hit
// ratio trace, the memory and the growth benchmarks then use their full
// sizes (a million accesses or keys); otherwise they use small ones, so
// that make test's one-iteration run of every benchmark stays quick.
var full = os.Getenv("CACHET_BENCH_FULL") == "1"

func TestMain(m *testing.M) {
	srv, err := testserver.StartRedis("")
	if err != nil {
		redisErr = err
	} else {
		redisAddr = srv.Addr
	}
	mc, err := testserver.StartMemcached("-m", "1024")
	if err != nil {
		memcachedErr = err
	} else {
		memcachedAddr = mc.Addr
	}
	code := m.Run()
	if srv != nil {
		srv.Close()
	}
	if mc != nil {
		mc.Close()
	}
	os.Exit(code)
}

// needMemcached is needRedis for the shared memcached.
func needMemcached(b *testing.B) string {
	b.Helper()
	if memcachedErr != nil {
		testserver.SkipOrFail(b, memcachedErr, "memcached")
	}
	return memcachedAddr
}

// needRedis returns the shared server's address, or skips the benchmark
// when redis-server is missing (fails it when CI=true, like testserver).
func needRedis(b *testing.B) string {
	b.Helper()
	if redisErr != nil {
		testserver.SkipOrFail(b, redisErr, "redis-server")
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
