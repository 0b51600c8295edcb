package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store/redisstore"
)

// TestStore_SentinelFailover opens a store through Redis Sentinel, makes
// the master hang, and checks that the same store follows the sentinel to the
// promoted replica and keeps the data written before the failover.
func TestStore_SentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("failover takes seconds; skipped with -short")
	}
	st := testserver.RedisSentinel(t)
	s := openStore(t, &redisstore.Options{
		Addrs:      st.Addrs(),
		MasterName: testserver.SentinelMasterName,
	})
	ctx := context.Background()
	if err := s.Set(ctx, "before", []byte("failover"), 0); err != nil {
		t.Fatalf("Set through the sentinel: %v", err)
	}
	// Wait until the replica has the write (replication is asynchronous).
	if n, err := s.Client().Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v; want the replica to acknowledge", n, err)
	}
	// Make the master stop answering rather than stopping its process:
	// a stopped server frees its port, which another test's server could
	// take. The sentinel sees the master down after 1s and promotes the
	// replica; the pause then ends and the sentinel turns the old master
	// into a replica.
	if _, err := testserver.RedisCommand(st.Master.Addr, "CLIENT", "PAUSE", "10000", "ALL"); err != nil {
		t.Fatalf("CLIENT PAUSE on the master: %v", err)
	}

	deadline, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		opCtx, opCancel := context.WithTimeout(deadline, time.Second)
		err := s.Set(opCtx, "after", []byte("ok"), 0)
		opCancel()
		if err == nil {
			break
		}
		if deadline.Err() != nil {
			t.Fatalf("no write succeeded within 30s of the master's hang: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling the sentinel's failover
	}
	if addr, err := st.MasterAddr(); err != nil || addr != st.Replica.Addr {
		t.Errorf("master after failover = %s, %v; want the old replica %s", addr, err, st.Replica.Addr)
	}
	for k, want := range map[string]string{"before": "failover", "after": "ok"} {
		if got, err := s.Get(ctx, k); err != nil || string(got) != want {
			t.Errorf("Get(%s) after failover = %q, %v; want %q", k, got, err, want)
		}
	}
}
