package cachet

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
)

// testRing is three redis-servers and the shard the heartbeat of the
// rings made by client reports down (the test decides, not a failed PING).
type testRing struct {
	shards map[string]*testserver.Server // shard name -> server
	down   atomic.Pointer[string]        // address the heartbeat reports down
}

func newTestRing(t *testing.T) *testRing {
	t.Helper()
	r := &testRing{shards: map[string]*testserver.Server{}}
	for _, name := range []string{"s1", "s2", "s3"} {
		r.shards[name] = testserver.Redis(t)
	}
	none := ""
	r.down.Store(&none)
	return r
}

// client returns a Ring over the three shards whose heartbeat (every
// 20ms, three failures mark a shard down) fails for the address in r.down
// and for a stopped server.
func (r *testRing) client() *redis.Ring {
	addrs := map[string]string{}
	for name, s := range r.shards {
		addrs[name] = s.Addr
	}
	return redis.NewRing(&redis.RingOptions{
		Addrs:              addrs,
		MaxRetries:         -1,
		HeartbeatFrequency: 20 * time.Millisecond,
		HeartbeatFn: func(ctx context.Context, c *redis.Client) bool {
			if c.Options().Addr == *r.down.Load() {
				return false
			}
			return c.Ping(ctx).Err() == nil
		},
	})
}

// keysPerShard returns, for each server address, a key of the "users"
// namespace (without the namespace) that ring places on it.
func keysPerShard(t *testing.T, ring *redis.Ring, shards map[string]*testserver.Server) map[string]string {
	t.Helper()
	return keysPerShardIn(t, ring, shards, "users")
}

// keysPerShardIn returns, for each server address, a key of namespace ns
// (without the namespace) that ring places on it.
func keysPerShardIn(t *testing.T, ring *redis.Ring, shards map[string]*testserver.Server, ns string) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys := map[string]string{} // server address -> key
	for i := 0; len(keys) < len(shards) && i < 1000; i++ {
		k := fmt.Sprintf("k%d", i)
		// The Ring hashes "probe:{ns:k}" as "ns:k" (hash tag), and the
		// probe, out of the namespace, sends the caches no invalidation.
		probe := "probe:{" + ns + ":" + k + "}"
		if err := ring.Set(ctx, probe, "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
		for _, s := range shards {
			if n, err := testserver.RedisCommand(s.Addr, "EXISTS", probe); err == nil && n == "1" {
				if _, ok := keys[s.Addr]; !ok {
					keys[s.Addr] = k
				}
			}
		}
		if err := ring.Del(ctx, probe).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if len(keys) != len(shards) {
		t.Fatalf("keys found on %d shards; want %d", len(keys), len(shards))
	}
	return keys
}

// awaitRingLen polls (nothing signals a heartbeat's verdict) until ring
// has n live shards, for at most 5s.
func awaitRingLen(t *testing.T, ring *redis.Ring, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ring.Len() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("the ring has %d live shards after 5s; want %d", ring.Len(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// awaitNoTracking polls (the server closes a connection the client closed
// on its own time, and nothing signals it) until the server at addr has no
// tracking connection, for at most 5s.
func awaitNoTracking(t *testing.T, addr string) {
	t.Helper()
	awaitTrackingCount(t, addr, 0)
}

// awaitTrackingCount polls, as awaitNoTracking, until the server at addr
// has n tracking connections.
func awaitTrackingCount(t *testing.T, addr string, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		ids := trackingClients(t, addr)
		if len(ids) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d tracking connections after 5s; want %d", addr, len(ids), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLocal_RingInvalidation(t *testing.T) {
	tr := newTestRing(t)
	ctx := context.Background()
	a, b := newLocalOver(t, tr.client()), newLocalOver(t, tr.client())
	raw := tr.client()
	defer raw.Close()

	// One tracking connection per shard and per cache.
	for _, s := range tr.shards {
		if ids := trackingClients(t, s.Addr); len(ids) != 2 {
			t.Fatalf("shard %s has %d tracking connections; want 2 (one per cache)", s.Addr, len(ids))
		}
	}
	// A plain client's bytes for "v3": what another writer would store.
	other, _ := New[string](b.c.Store(), codec.JSON[localUser](), &Options[string]{Namespace: "other"})
	if err := other.Set(ctx, "x", localUser{Name: "v3"}); err != nil {
		t.Fatal(err)
	}
	bytes3, err := raw.Get(ctx, "other:x").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for addr, k := range keysPerShard(t, raw, tr.shards) {
		t.Run(addr, func(t *testing.T) {
			checkEveryWriter(t, a, b, raw, k, bytes3)
		})
	}
}

// ringHold makes r's stream events wait, when hold is set, until release
// is closed, after reporting them on held.
type ringHold struct {
	held    chan store.Invalidation
	release chan struct{}
	hold    func(store.Invalidation) bool
}

// holdEvents replaces r's event hook: an event for which hold is true is
// reported on the returned ringHold's held and its delivery (and so every
// later event) waits until release is closed; other events go to r.events.
func (r *redisLocal) holdEvents(hold func(store.Invalidation) bool) *ringHold {
	h := &ringHold{held: make(chan store.Invalidation, 1), release: make(chan struct{}), hold: hold}
	var once atomic.Bool
	f := func(ev store.Invalidation) {
		if hold(ev) && once.CompareAndSwap(false, true) {
			h.held <- ev
			<-h.release
		}
		r.events <- ev
	}
	r.c.local.inv.onEvent.Store(&f)
	return h
}

func TestLocal_RingLostStreamTurnsTheTierOff(t *testing.T) {
	tr := newTestRing(t)
	ctx := context.Background()
	ring := tr.client()
	a := newLocalOver(t, ring)
	raw := tr.client()
	defer raw.Close()
	keys := keysPerShard(t, raw, tr.shards)

	down := func(ev store.Invalidation) bool { return ev.Flush && !ev.Live }
	up := func(ev store.Invalidation) bool { return ev.Flush && ev.Live }
	fill := func() {
		t.Helper()
		for _, k := range keys {
			if err := a.c.Set(ctx, k, localUser{Name: "v1"}); err != nil {
				t.Fatal(err)
			}
			a.await(t, "a's own Set", keyEvent("users:"+k))
			a.mustGetKey(t, k, "v1")
		}
		a.assertLive(t, len(keys))
	}
	// assertOffAndNotRefilled checks, while the stream is down (the test
	// holds the delivery of the next event), that the tier is empty and
	// that Gets read the store without filling it.
	assertOffAndNotRefilled := func() {
		t.Helper()
		a.assertOffAndEmpty(t)
		h := a.localHits()
		for _, k := range keys {
			a.c.Get(ctx, k) // from the store (a stopped shard's key fails)
			a.c.Get(ctx, k)
		}
		if a.localHits() != h {
			t.Fatal("a Get while the stream is down was a local hit")
		}
		if n := a.c.local.size(); n != 0 {
			t.Fatalf("%d values in the tier after Gets while the stream is down; want 0", n)
		}
	}
	fill()

	// CLIENT KILL of one shard's tracking connection: the whole tier goes
	// off (the other shards' keys too), is not refilled while off, and
	// comes back on every shard.
	var victim *testserver.Server
	for _, s := range tr.shards {
		victim = s
		break
	}
	ids := trackingClients(t, victim.Addr)
	if len(ids) != 1 {
		t.Fatalf("%d tracking connections on %s; want 1", len(ids), victim.Addr)
	}
	hold := a.holdEvents(down)
	if _, err := testserver.RedisCommand(victim.Addr, "CLIENT", "KILL", "ID", ids[0]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hold.held:
	case <-time.After(5 * time.Second):
		t.Fatal("no flush within 5s of the CLIENT KILL")
	}
	assertOffAndNotRefilled()
	close(hold.release)
	a.await(t, "the stream back", up)
	for _, s := range tr.shards {
		if ids := trackingClients(t, s.Addr); len(ids) != 1 {
			t.Fatalf("after the redial, shard %s has %d tracking connections; want 1", s.Addr, len(ids))
		}
	}
	fill()

	// A restart of one shard: the tier goes off at once (its connection
	// drops), comes back on the two others once the Ring's heartbeat takes
	// the shard out, and goes through another flush when it is back in.
	hold = a.holdEvents(down)
	victim.Stop()
	select {
	case <-hold.held:
	case <-time.After(5 * time.Second):
		t.Fatal("no flush within 5s of the shard's stop")
	}
	assertOffAndNotRefilled()
	close(hold.release)
	a.await(t, "the stream on the two other shards", up)
	awaitRingLen(t, raw, 2)
	if ring.Len() != 2 {
		t.Fatalf("the cache's ring has %d live shards; want 2", ring.Len())
	}
	// The victim's key now lives on another shard, tracked: a raw write
	// there reaches the tier.
	k := keys[victim.Addr]
	if err := a.c.Set(ctx, k, localUser{Name: "moved"}); err != nil {
		t.Fatal(err)
	}
	a.await(t, "a's own Set on the new owner", keyEvent("users:"+k))
	a.mustGetKey(t, k, "moved")
	a.rawDel(t, raw, k, "a raw DEL on the new owner")

	if err := victim.Restart(); err != nil {
		t.Fatal(err)
	}
	a.await(t, "the shard back in the ring", down)
	a.await(t, "the stream on three shards", up)
	awaitRingLen(t, raw, 3)
	if ids := trackingClients(t, victim.Addr); len(ids) != 1 {
		t.Fatalf("the restarted shard has %d tracking connections; want 1", len(ids))
	}
	// Writes by a plain client reach the tier again, on every shard.
	// (The restarted shard lost its data: no persistence.)
	fill()
	for _, k := range keys {
		a.rawDel(t, raw, k, "a raw DEL after the restart")
	}
}

// A shard that the Ring's heartbeat marks down while its server still
// runs (its tracking connection stays up): the keys it owned re-hash to
// other shards, and the tier must not keep serving what it read from the
// old owner. A DEL on the new owner of a key it does not hold sends no
// invalidation, so only the flush on the change of shards protects it.
func TestLocal_RingShardMarkedDown(t *testing.T) {
	tr := newTestRing(t)
	ctx := context.Background()
	ring := tr.client()
	a := newLocalOver(t, ring)
	raw := tr.client()
	defer raw.Close()
	keys := keysPerShard(t, raw, tr.shards)
	var victim string
	for addr := range keys {
		victim = addr
		break
	}
	k := keys[victim]
	if err := a.c.Set(ctx, k, localUser{Name: "v1"}); err != nil {
		t.Fatal(err)
	}
	a.await(t, "a's own Set", keyEvent("users:"+k))
	a.mustGetKey(t, k, "v1")
	h := a.localHits()
	a.mustGetKey(t, k, "v1")
	if a.localHits() != h+1 {
		t.Fatal("the second Get was not a local hit")
	}

	tr.down.Store(&victim)
	a.await(t, "the shard marked down", func(ev store.Invalidation) bool { return ev.Flush && !ev.Live })
	a.await(t, "the stream on two shards", func(ev store.Invalidation) bool { return ev.Flush && ev.Live })
	if ring.Len() != 2 {
		t.Fatalf("the cache's ring has %d live shards; want 2", ring.Len())
	}
	awaitNoTracking(t, victim)
	// The key's new owner does not hold it: the tier must say so too.
	awaitRingLen(t, raw, 2)
	if err := raw.Del(ctx, "users:"+k).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.Get(ctx, k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(%s) after its shard was marked down = %v; want ErrNotFound", k, err)
	}

	none := ""
	tr.down.Store(&none)
	a.await(t, "the shard marked up", func(ev store.Invalidation) bool { return ev.Flush && !ev.Live })
	a.await(t, "the stream on three shards", func(ev store.Invalidation) bool { return ev.Flush && ev.Live })
	if ids := trackingClients(t, victim); len(ids) != 1 {
		t.Fatalf("the shard marked up has %d tracking connections; want 1", len(ids))
	}
	// The old owner still holds v1, and owns the key again.
	a.mustGetKey(t, k, "v1")
	h = a.localHits()
	a.mustGetKey(t, k, "v1")
	if a.localHits() != h+1 {
		t.Fatal("the Get after the shard came back was not a local hit")
	}
	awaitRingLen(t, raw, 3)
	a.rawDel(t, raw, k, "a raw DEL on the old owner")
}

// Ring.SetAddrs: a shard added is tracked before the tier serves again, a
// shard removed is no longer tracked.
func TestLocal_RingSetAddrs(t *testing.T) {
	tr := newTestRing(t)
	ctx := context.Background()
	ring := tr.client()
	a := newLocalOver(t, ring)
	s4 := testserver.Redis(t)

	addrs := map[string]string{"s4": s4.Addr}
	for name, s := range tr.shards {
		addrs[name] = s.Addr
	}
	ring.SetAddrs(addrs)
	a.await(t, "the new shard", func(ev store.Invalidation) bool { return ev.Flush && !ev.Live })
	a.await(t, "the stream on four shards", func(ev store.Invalidation) bool { return ev.Flush && ev.Live })
	if ids := trackingClients(t, s4.Addr); len(ids) != 1 {
		t.Fatalf("the added shard has %d tracking connections; want 1", len(ids))
	}
	raw := redis.NewRing(&redis.RingOptions{Addrs: addrs})
	defer raw.Close()
	all := map[string]*testserver.Server{"s4": s4}
	for name, s := range tr.shards {
		all[name] = s
	}
	k := keysPerShard(t, raw, all)[s4.Addr]
	if err := a.c.Set(ctx, k, localUser{Name: "v1"}); err != nil {
		t.Fatal(err)
	}
	a.await(t, "a's own Set on the new shard", keyEvent("users:"+k))
	a.mustGetKey(t, k, "v1")
	h := a.localHits()
	a.mustGetKey(t, k, "v1")
	if a.localHits() != h+1 {
		t.Fatal("the second Get was not a local hit")
	}
	a.rawDel(t, raw, k, "a raw DEL on the new shard")

	delete(addrs, "s4")
	ring.SetAddrs(addrs)
	a.await(t, "the removed shard", func(ev store.Invalidation) bool { return ev.Flush && !ev.Live })
	a.await(t, "the stream on three shards", func(ev store.Invalidation) bool { return ev.Flush && ev.Live })
	awaitNoTracking(t, s4.Addr)
}
