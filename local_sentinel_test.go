package cachet

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
)

// awaitWithin is await with a deadline of its own.
func (r *redisLocal) awaitWithin(t *testing.T, d time.Duration, what string, match func(store.Invalidation) bool) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-r.events:
			if match(ev) {
				return
			}
		case <-timeout:
			t.Fatalf("no invalidation event for %s within %v", what, d)
		}
	}
}

// TestLocal_SentinelFailover: a failover flushes the tier, tracking is
// set up again on the promoted master, and a write there by another
// client is seen. Two failovers: one the sentinel is asked for (it kills
// the clients of the demoted master), one where the master hangs (the
// tracking connection's pings go unanswered).
func TestLocal_SentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("failovers take seconds; skipped with -short")
	}
	st := testserver.RedisSentinel(t)
	ctx := context.Background()
	failover := func() *redis.Client {
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: testserver.SentinelMasterName, SentinelAddrs: st.Addrs(), MaxRetries: -1})
	}
	a := newLocalOver(t, failover())
	raw := failover()
	defer raw.Close()
	// Ping's first dial goes through the failover client's dialer (the
	// master's address from the sentinel).
	if err := a.c.Store().(store.Pinger).Ping(ctx); err != nil {
		t.Fatalf("Ping over a failover client: %v", err)
	}
	down := func(ev store.Invalidation) bool { return ev.Flush && !ev.Live }
	up := func(ev store.Invalidation) bool { return ev.Flush && ev.Live }

	check := func(master *testserver.Server, name string) {
		t.Helper()
		if ids := trackingClients(t, master.Addr); len(ids) != 1 {
			t.Fatalf("master %s has %d tracking connections; want 1", master.Addr, len(ids))
		}
		// Poll: the failover client may still write to the old master
		// for a moment (READONLY) until it has asked the sentinel again.
		deadline := time.Now().Add(10 * time.Second)
		for err := a.c.Set(ctx, "k", localUser{Name: name}); err != nil; err = a.c.Set(ctx, "k", localUser{Name: name}) {
			if time.Now().After(deadline) {
				t.Fatalf("Set on the master: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		a.awaitWithin(t, 5*time.Second, "a's own Set", keyEvent("users:k"))
		a.mustGet(t, name)
		h := a.localHits()
		a.mustGet(t, name)
		if a.localHits() != h+1 {
			t.Fatal("the second Get was not a local hit")
		}
		// Another client's write on this master reaches the tier.
		if err := raw.Del(ctx, "users:k").Err(); err != nil {
			t.Fatal(err)
		}
		a.awaitWithin(t, 5*time.Second, "another client's DEL", keyEvent("users:k"))
		if a.holds("k") {
			t.Fatal("the local copy survived another client's DEL")
		}
	}
	assertOffAndEmpty := func() {
		t.Helper()
		if s, _ := a.c.LocalStats(); s.Live {
			t.Fatal("tier live after the failover began")
		}
		if n := a.c.local.size(); n != 0 {
			t.Fatalf("%d values in the tier after the failover began; want 0", n)
		}
	}
	check(st.Master, "v1")
	a.c.Set(ctx, "k", localUser{Name: "v1"})
	a.mustGet(t, "v1")

	// 1. SENTINEL FAILOVER.
	if _, err := testserver.RedisCommand(st.Sentinel.Addr, "SENTINEL", "FAILOVER", testserver.SentinelMasterName); err != nil {
		t.Fatal(err)
	}
	a.awaitWithin(t, 20*time.Second, "the failover", down)
	assertOffAndEmpty()
	a.awaitWithin(t, 20*time.Second, "tracking on the new master", up)
	if addr, err := st.MasterAddr(); err != nil || addr != st.Replica.Addr {
		t.Fatalf("master after failover = %s, %v; want %s", addr, err, st.Replica.Addr)
	}
	check(st.Replica, "v2")
	if ids := trackingClients(t, st.Master.Addr); len(ids) != 0 {
		t.Fatalf("the demoted master still has %d tracking connections", len(ids))
	}
	a.c.Set(ctx, "k", localUser{Name: "v2"})
	a.mustGet(t, "v2")

	// 2. The master (now st.Replica) hangs; the sentinel promotes the
	// other node back.
	if _, err := testserver.RedisCommand(st.Replica.Addr, "CLIENT", "PAUSE", "10000", "ALL"); err != nil {
		t.Fatal(err)
	}
	a.awaitWithin(t, 20*time.Second, "the hung master", down)
	assertOffAndEmpty()
	a.awaitWithin(t, 30*time.Second, "tracking on the new master", up)
	if addr, err := st.MasterAddr(); err != nil || addr != st.Master.Addr {
		t.Fatalf("master after the second failover = %s, %v; want %s", addr, err, st.Master.Addr)
	}
	check(st.Master, "v3")
}
