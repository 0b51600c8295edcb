package redisstore_test

import (
	"context"
	"flag"
	"log"
	"os"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store/redisstore"
)

// The package's tests and examples share one redis-server and one
// three-master cluster (a cluster takes seconds to form), each started on
// first use; tests that stop a server start their own. Tests using the
// shared servers do not run in parallel: each starts from an empty
// keyspace. The examples also share one sentinel setup.
var (
	singleOnce sync.Once
	single     *testserver.Server
	singleErr  error

	clusterOnce sync.Once
	cluster     *testserver.Cluster
	clusterErr  error

	sentinelOnce sync.Once
	sentinel     *testserver.Sentinel
	sentinelErr  error
)

// quietLogger drops go-redis's log lines (dial failures while a test has
// stopped a server are expected).
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		redis.SetLogger(quietLogger{})
	}
	testserver.SkipExamplesWithout("redis-server redis-tools", "redis-server", "redis-cli")
	code := m.Run()
	if single != nil {
		single.Close()
	}
	if cluster != nil {
		cluster.Close()
	}
	if sentinel != nil {
		sentinel.Close()
	}
	os.Exit(code)
}

func startSingle() (*testserver.Server, error) {
	singleOnce.Do(func() { single, singleErr = testserver.StartRedis("") })
	return single, singleErr
}

func startCluster() (*testserver.Cluster, error) {
	clusterOnce.Do(func() { cluster, clusterErr = testserver.StartRedisCluster() })
	return cluster, clusterErr
}

// redisAddr returns the address of the shared redis-server, for the
// examples; they stop the test binary when it does not start (TestMain
// has skipped them when redis-server is missing outside CI).
func redisAddr() string {
	s, err := startSingle()
	if err != nil {
		log.Fatalf("redisstore examples: %v", err)
	}
	return s.Addr
}

// clusterAddrs is redisAddr for the shared cluster: its masters' addresses.
func clusterAddrs() []string {
	c, err := startCluster()
	if err != nil {
		log.Fatalf("redisstore examples: %v", err)
	}
	return c.Addrs()
}

// sentinelAddrs is redisAddr for a sentinel setup, which monitors its
// master under the name testserver.SentinelMasterName ("mymaster").
func sentinelAddrs() []string {
	sentinelOnce.Do(func() { sentinel, sentinelErr = testserver.StartRedisSentinel() })
	if sentinelErr != nil {
		log.Fatalf("redisstore examples: %v", sentinelErr)
	}
	return sentinel.Addrs()
}

func sharedRedis(tb testing.TB) *testserver.Server {
	tb.Helper()
	s, err := startSingle()
	if err != nil {
		testserver.SkipOrFail(tb, err, "redis-server")
	}
	return s
}

func sharedCluster(tb testing.TB) *testserver.Cluster {
	tb.Helper()
	c, err := startCluster()
	if err != nil {
		testserver.SkipOrFail(tb, err, "redis-server redis-tools")
	}
	return c
}

// openStore opens a store on addrs with an empty keyspace and closes it
// when the test ends.
func openStore(tb testing.TB, opts *redisstore.Options) *redisstore.Store {
	tb.Helper()
	s, err := redisstore.Open(opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Clear(context.Background(), ""); err != nil {
		tb.Fatalf("Clear(\"\"): %v", err)
	}
	return s
}

// backend is one kind of deployment the tests run against.
type backend struct {
	name string
	open func(tb testing.TB) *redisstore.Store
}

var backends = []backend{
	{"single", func(tb testing.TB) *redisstore.Store {
		return openStore(tb, &redisstore.Options{Addrs: []string{sharedRedis(tb).Addr}})
	}},
	{"cluster", func(tb testing.TB) *redisstore.Store {
		return openStore(tb, &redisstore.Options{Addrs: sharedCluster(tb).Addrs()})
	}},
}

// forEachBackend runs f as a subtest per backend.
func forEachBackend(t *testing.T, f func(t *testing.T, s *redisstore.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.open(t)) })
	}
}
