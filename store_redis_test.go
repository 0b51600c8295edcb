package cachet_test

import (
	"context"
	"testing"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
	"github.com/cachet-go/cachet/store/storetest"
)

// redisSuite runs the conformance suite on stores opened with opts, each
// starting from an empty keyspace (the subtests run one after the other on
// the same server).
func redisSuite(t *testing.T, opts *redisstore.Options) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := redisstore.Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Clear(context.Background(), ""); err != nil {
			t.Fatalf("Clear(\"\"): %v", err)
		}
		return s
	}, nil)
}

func TestStore_Redis(t *testing.T) {
	srv := testserver.Redis(t)
	redisSuite(t, &redisstore.Options{Addrs: []string{srv.Addr}})
}

func TestStore_RedisCluster(t *testing.T) {
	c := testserver.RedisCluster(t)
	redisSuite(t, &redisstore.Options{Addrs: c.Addrs()})
}

func TestStore_RedisSentinel(t *testing.T) {
	st := testserver.RedisSentinel(t)
	redisSuite(t, &redisstore.Options{Addrs: st.Addrs(), MasterName: testserver.SentinelMasterName})
}
