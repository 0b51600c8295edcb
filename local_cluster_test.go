package cachet

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// newLocalOver is a cache with a local tier (namespace "users") over its
// own store on client, once its invalidation stream is live.
func newLocalOver(t *testing.T, client redis.UniversalClient) *redisLocal {
	t.Helper()
	t.Cleanup(func() { client.Close() })
	st, err := redisstore.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	return newLocalIn(t, st, "users")
}

// newLocalIn returns a Cache with a local tier over st, in namespace ns,
// whose invalidation events the returned redisLocal receives, once its
// stream is live.
func newLocalIn(t *testing.T, st store.Store, ns string) *redisLocal {
	t.Helper()
	c, err := New[string](st, codec.JSON[localUser](), &Options[string]{
		Namespace: ns,
		Local:     &LocalOptions[localUser]{},
		Breaker:   &BreakerOptions{Disable: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &redisLocal{c: c, events: make(chan store.Invalidation, 1024)}
	f := func(ev store.Invalidation) { r.events <- ev }
	c.local.inv.onEvent.Store(&f)
	r.await(t, "the stream live", func(ev store.Invalidation) bool { return ev.Flush && ev.Live })
	return r
}

func newClusterClient(c *testserver.Cluster) *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), MaxRetries: -1})
}

// keysPerMaster returns, for each master of the cluster, a key of the
// "users" namespace (without the namespace) that it owns.
func keysPerMaster(t *testing.T, raw *redis.ClusterClient, masters int) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys := map[string]string{} // master address -> key
	for i := 0; len(keys) < masters && i < 1000; i++ {
		k := fmt.Sprintf("k%d", i)
		m, err := raw.MasterForKey(ctx, "users:"+k)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := keys[m.Options().Addr]; !ok {
			keys[m.Options().Addr] = k
		}
	}
	if len(keys) != masters {
		t.Fatalf("keys found on %d masters; want %d", len(keys), masters)
	}
	return keys
}

func (r *redisLocal) mustGetKey(t *testing.T, key, want string) {
	t.Helper()
	v, err := r.c.Get(context.Background(), key)
	if err != nil || v.Name != want {
		t.Fatalf("Get(%s) = %v, %v; want %s", key, v, err, want)
	}
}

// localHits is the number of the cache's local hits so far.
func (r *redisLocal) localHits() uint64 {
	s, _ := r.c.LocalStats()
	return s.Hits
}

// trackingClients returns the ids of the connections of the server at
// addr that have client tracking on.
func trackingClients(t *testing.T, addr string) []string {
	t.Helper()
	list, err := testserver.RedisCommand(addr, "CLIENT", "LIST")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(list, "\n") {
		if m := trackingID.FindStringSubmatch(line); m != nil {
			ids = append(ids, m[1])
		}
	}
	return ids
}

func TestLocal_ClusterInvalidation(t *testing.T) {
	cl := testserver.RedisCluster(t)
	ctx := context.Background()
	a, b := newLocalOver(t, newClusterClient(cl)), newLocalOver(t, newClusterClient(cl))
	raw := newClusterClient(cl)
	defer raw.Close()

	// One tracking connection per master and per cache.
	for _, n := range cl.Nodes {
		if ids := trackingClients(t, n.Addr); len(ids) != 2 {
			t.Fatalf("master %s has %d tracking connections; want 2 (one per cache)", n.Addr, len(ids))
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

	for master, k := range keysPerMaster(t, raw, len(cl.Nodes)) {
		t.Run(master, func(t *testing.T) {
			checkEveryWriter(t, a, b, raw, k, bytes3)
		})
	}
}

func TestLocal_ClusterLostStreamTurnsTheTierOff(t *testing.T) {
	cl := testserver.RedisCluster(t)
	ctx := context.Background()
	a := newLocalOver(t, newClusterClient(cl))
	raw := newClusterClient(cl)
	defer raw.Close()
	keys := keysPerMaster(t, raw, len(cl.Nodes))

	down := func(ev store.Invalidation) bool { return ev.Flush && !ev.Live }
	up := func(ev store.Invalidation) bool { return ev.Flush && ev.Live }
	fill := func() {
		t.Helper()
		for _, k := range keys {
			// A restarted master may refuse writes for a moment
			// (CLUSTERDOWN) while it rejoins: poll, as nothing signals it.
			deadline := time.Now().Add(10 * time.Second)
			for err := a.c.Set(ctx, k, localUser{Name: "v1"}); err != nil; err = a.c.Set(ctx, k, localUser{Name: "v1"}) {
				if time.Now().After(deadline) {
					t.Fatalf("Set(%s): %v", k, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			a.await(t, "a's own Set", keyEvent("users:"+k))
			a.mustGetKey(t, k, "v1")
		}
		a.assertLive(t, len(keys))
	}
	fill()

	// CLIENT KILL of one master's tracking connection: the whole tier
	// goes off (the other masters' keys too) and comes back.
	victim := cl.Nodes[1]
	ids := trackingClients(t, victim.Addr)
	if len(ids) != 1 {
		t.Fatalf("%d tracking connections on %s; want 1", len(ids), victim.Addr)
	}
	if _, err := testserver.RedisCommand(victim.Addr, "CLIENT", "KILL", "ID", ids[0]); err != nil {
		t.Fatal(err)
	}
	a.await(t, "the killed connection", down)
	a.assertOffAndEmpty(t)
	a.await(t, "the stream back", up)
	for _, n := range cl.Nodes {
		if ids := trackingClients(t, n.Addr); len(ids) != 1 {
			t.Fatalf("after the redial, master %s has %d tracking connections; want 1", n.Addr, len(ids))
		}
	}
	fill()

	// A restart of one master: the tier stays off until it is back.
	victim.Stop()
	a.await(t, "the stopped master", down)
	a.assertOffAndEmpty(t)
	h := a.localHits()
	for _, k := range keys {
		a.c.Get(ctx, k) // from the store (the stopped master's key fails)
	}
	if a.localHits() != h {
		t.Fatal("a Get while the stream is down was a local hit")
	}
	if err := victim.Restart(); err != nil {
		t.Fatal(err)
	}
	a.await(t, "the restarted master", up)
	if ids := trackingClients(t, victim.Addr); len(ids) != 1 {
		t.Fatalf("the restarted master has %d tracking connections; want 1", len(ids))
	}
	// Writes by a plain client reach the tier again, on every master.
	// (The restarted master lost its data: no persistence.)
	fill()
	for _, k := range keys {
		a.rawDel(t, raw, k, "a raw DEL after the restart")
	}
}

// redisCLI runs redis-cli with args and returns its output.
func redisCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// A master that joins the cluster and takes slots is tracked once the
// cluster's slot map names it; meanwhile the tier is off.
func TestLocal_ClusterNewMaster(t *testing.T) {
	if testing.Short() {
		t.Skip("resharding takes seconds; skipped with -short")
	}
	cl := testserver.RedisCluster(t)
	ctx := context.Background()
	a := newLocalOver(t, newClusterClient(cl))

	bus, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	n4, err := testserver.StartRedis("", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-port", strconv.Itoa(bus), "--cluster-node-timeout", "5000")
	if err != nil {
		testserver.SkipOrFail(t, err, "redis-server")
	}
	t.Cleanup(n4.Close)
	id4, err := testserver.RedisCommand(n4.Addr, "CLUSTER", "MYID")
	if err != nil {
		t.Fatal(err)
	}
	id0, err := testserver.RedisCommand(cl.Nodes[0].Addr, "CLUSTER", "MYID")
	if err != nil {
		t.Fatal(err)
	}
	redisCLI(t, "--cluster", "add-node", n4.Addr, cl.Nodes[0].Addr)
	nodes := append(cl.Nodes[:len(cl.Nodes):len(cl.Nodes)], n4)
	// Nothing signals that every node knows the new node: poll.
	awaitClusterInfo(t, nodes, "cluster_known_nodes:4")
	if s, _ := a.c.LocalStats(); !s.Live {
		t.Fatal("a master without slots turned the tier off")
	}
	// redis-cli's reshard refuses while the nodes do not yet agree on the
	// configuration, and nothing signals when they do: poll its check.
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := exec.Command("redis-cli", "--cluster", "check", cl.Nodes[0].Addr).CombinedOutput()
		if err == nil && !strings.Contains(string(out), "[ERR]") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the nodes do not agree on the configuration after 30s: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	redisCLI(t, "--cluster", "reshard", cl.Nodes[0].Addr, "--cluster-from", id0, "--cluster-to", id4,
		"--cluster-slots", "1000", "--cluster-yes")
	// Right after a reshard a node may still answer CLUSTERDOWN, and
	// nothing signals the end of that: poll.
	awaitClusterInfo(t, nodes, "cluster_state:ok")
	a.await(t, "the new topology", func(ev store.Invalidation) bool { return ev.Flush && !ev.Live })
	a.await(t, "the stream on four masters", func(ev store.Invalidation) bool { return ev.Flush && ev.Live })
	if ids := trackingClients(t, n4.Addr); len(ids) != 1 {
		t.Fatalf("the new master has %d tracking connections; want 1", len(ids))
	}

	raw := newClusterClient(cl)
	defer raw.Close()
	k := keysPerMaster(t, raw, 4)[n4.Addr]
	if err := a.c.Set(ctx, k, localUser{Name: "v1"}); err != nil {
		t.Fatal(err)
	}
	a.await(t, "a's own Set on the new master", keyEvent("users:"+k))
	a.mustGetKey(t, k, "v1")
	h := a.localHits()
	a.mustGetKey(t, k, "v1")
	if a.localHits() != h+1 {
		t.Fatal("the second Get was not a local hit")
	}
	a.rawDel(t, raw, k, "a raw DEL on the new master")
}

// awaitClusterInfo polls CLUSTER INFO on every node until it contains
// want, for at most 30s.
func awaitClusterInfo(t *testing.T, nodes []*testserver.Server, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range nodes {
		for {
			info, err := testserver.RedisCommand(n.Addr, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no %q in CLUSTER INFO after 30s: %q %v", n.Addr, want, info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// checkEveryWriter checks, for k (held locally by a), that a's own Set,
// another Cache b's Set and a plain client's SET (bytes3 holds "v3") and
// DEL each reach a's tier: the value read next is the new one, and a
// second read is a local hit.
func checkEveryWriter(t *testing.T, a, b *redisLocal, raw redis.UniversalClient, k string, bytes3 []byte) {
	t.Helper()
	ctx := context.Background()
	a.c.Set(ctx, k, localUser{Name: "v1"})
	a.await(t, "a's own Set", keyEvent("users:"+k))
	a.mustGetKey(t, k, "v1")
	h := a.localHits()
	a.mustGetKey(t, k, "v1")
	if a.localHits() != h+1 {
		t.Fatal("the second Get was not a local hit")
	}

	// Another cachet Cache over its own client.
	b.c.Set(ctx, k, localUser{Name: "v2"})
	a.await(t, "b's Set", keyEvent("users:"+k))
	a.mustGetKey(t, k, "v2")
	h = a.localHits()
	a.mustGetKey(t, k, "v2")
	if a.localHits() != h+1 {
		t.Fatal("the Get after the refill was not a local hit")
	}

	// A plain go-redis client of the same deployment.
	if err := raw.Set(ctx, "users:"+k, bytes3, 0).Err(); err != nil {
		t.Fatal(err)
	}
	a.await(t, "a raw SET", keyEvent("users:"+k))
	a.mustGetKey(t, k, "v3")
	a.rawDel(t, raw, k, "a raw DEL")
}
