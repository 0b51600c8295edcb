package cachet

import (
	"context"
	"errors"
	"testing"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// Two caches with a local tier over one Store, in two namespaces, share
// one tracking connection per server, and each tier is invalidated by
// raw writes of its own keys.
func TestLocal_CachesShareTrackingConnections(t *testing.T) {
	tr := newTestRing(t)
	ctx := context.Background()
	ring := tr.client()
	defer ring.Close()
	st, err := redisstore.New(ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	users := newLocalIn(t, st, "users")
	orders := newLocalIn(t, st, "orders")
	// orders' new prefix restarted the shared connections: users' tier
	// is live again once they all track both prefixes.
	users.await(t, "users' stream restarted", func(ev store.Invalidation) bool { return ev.Flush && !ev.Live })
	users.await(t, "users' stream back", func(ev store.Invalidation) bool { return ev.Flush && ev.Live })
	for _, s := range tr.shards {
		awaitTrackingCount(t, s.Addr, 1)
	}

	raw := tr.client()
	defer raw.Close()
	for ns, c := range map[string]*redisLocal{"users": users, "orders": orders} {
		for _, k := range keysPerShardIn(t, raw, tr.shards, ns) {
			if err := c.c.Set(ctx, k, localUser{Name: "v1"}); err != nil {
				t.Fatal(err)
			}
			c.await(t, "the cache's own Set", keyEvent(ns+":"+k))
			c.mustGetKey(t, k, "v1")
			h := c.localHits()
			c.mustGetKey(t, k, "v1")
			if c.localHits() != h+1 {
				t.Fatalf("%s: the second Get was not a local hit", ns)
			}
			if err := raw.Del(ctx, ns+":"+k).Err(); err != nil {
				t.Fatal(err)
			}
			c.await(t, "a raw DEL", keyEvent(ns+":"+k))
			if _, err := c.c.Get(ctx, k); !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s: Get(%s) after a raw DEL = %v; want ErrNotFound", ns, k, err)
			}
		}
	}
}
