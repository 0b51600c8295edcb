package cachet_test

import (
	"context"
	"testing"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/redisstore"
)

// eachBackend runs f once per real backend (memstore, redis-server, a
// three-node Redis Cluster and memcached, the servers started once for
// all of f's runs), with a function that opens a new, emptied store on it.
// Pass the names to skip, if any.
func eachBackend(t *testing.T, f func(t *testing.T, open func(t *testing.T) store.Store), skip ...string) {
	skipped := func(name string) bool {
		for _, s := range skip {
			if s == name {
				return true
			}
		}
		return false
	}
	empty := func(t *testing.T, s store.Store) store.Store {
		t.Helper()
		t.Cleanup(func() { s.Close() })
		if err := s.Clear(context.Background(), ""); err != nil {
			t.Fatalf("emptying the store: %v", err)
		}
		return s
	}
	t.Run("memstore", func(t *testing.T) {
		if skipped("memstore") {
			t.Skip("not for memstore")
		}
		f(t, func(t *testing.T) store.Store { return empty(t, memstore.Must(nil)) })
	})
	t.Run("redis", func(t *testing.T) {
		if skipped("redis") {
			t.Skip("not for redis")
		}
		srv := testserver.Redis(t)
		f(t, func(t *testing.T) store.Store {
			s, err := redisstore.Open(&redisstore.Options{Addrs: []string{srv.Addr}})
			if err != nil {
				t.Fatal(err)
			}
			return empty(t, s)
		})
	})
	t.Run("cluster", func(t *testing.T) {
		if skipped("cluster") || testing.Short() {
			t.Skip("not for the cluster, or -short")
		}
		c := testserver.RedisCluster(t)
		f(t, func(t *testing.T) store.Store {
			s, err := redisstore.Open(&redisstore.Options{Addrs: c.Addrs()})
			if err != nil {
				t.Fatal(err)
			}
			return empty(t, s)
		})
	})
	t.Run("memcached", func(t *testing.T) {
		if skipped("memcached") {
			t.Skip("not for memcached")
		}
		srv := testserver.Memcached(t)
		f(t, func(t *testing.T) store.Store {
			s, err := memcachestore.NewFromServers([]string{srv.Addr}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return empty(t, s)
		})
	})
}
