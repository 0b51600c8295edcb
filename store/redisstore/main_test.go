package redisstore_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store/redisstore"
)

// The package's tests share one redis-server and one three-master cluster
// (a cluster takes seconds to form); tests that stop a server start their
// own. Tests using the shared servers do not run in parallel: each starts
// from an empty keyspace.
var (
	singleOnce sync.Once
	single     *testserver.Server
	singleErr  error

	clusterOnce sync.Once
	cluster     *testserver.Cluster
	clusterErr  error
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
	code := m.Run()
	if single != nil {
		single.Close()
	}
	if cluster != nil {
		cluster.Close()
	}
	os.Exit(code)
}

// skipOrFatal skips on a missing server binary (fails with CI=true) and
// fails on any other error.
func skipOrFatal(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, testserver.ErrNoBinary) && os.Getenv("CI") != "true" {
		tb.Skipf("%v; install it with: apt-get install redis-server redis-tools (or run make test)", err)
	}
	tb.Fatal(err)
}

func sharedRedis(tb testing.TB) *testserver.Server {
	tb.Helper()
	singleOnce.Do(func() { single, singleErr = testserver.StartRedis("") })
	if singleErr != nil {
		skipOrFatal(tb, singleErr)
	}
	return single
}

func sharedCluster(tb testing.TB) *testserver.Cluster {
	tb.Helper()
	clusterOnce.Do(func() { cluster, clusterErr = testserver.StartRedisCluster() })
	if clusterErr != nil {
		skipOrFatal(tb, clusterErr)
	}
	return cluster
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
