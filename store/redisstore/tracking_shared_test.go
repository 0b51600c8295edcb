package redisstore_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// subscription is one Subscribe's events.
type subscription struct {
	events chan store.Invalidation
	stop   func()
}

func subscribe(t *testing.T, s *redisstore.Store, prefix string) *subscription {
	t.Helper()
	sub := &subscription{events: make(chan store.Invalidation, 1024)}
	stop, err := s.Subscribe(context.Background(), prefix, func(ev store.Invalidation) { sub.events <- ev })
	if err != nil {
		t.Fatal(err)
	}
	sub.stop = stop
	t.Cleanup(stop)
	return sub
}

// next returns the subscription's next event (within 5s).
func (sub *subscription) next(t *testing.T, what string) store.Invalidation {
	t.Helper()
	select {
	case ev := <-sub.events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no event for %s within 5s", what)
		return store.Invalidation{}
	}
}

// expect checks that the subscription's next event is want.
func (sub *subscription) expect(t *testing.T, what string, want store.Invalidation) {
	t.Helper()
	got := sub.next(t, what)
	if got.Flush != want.Flush || got.Live != want.Live || !slices.Equal(got.Keys, want.Keys) {
		t.Fatalf("%s: event %+v; want %+v", what, got, want)
	}
}

var (
	live = store.Invalidation{Flush: true, Live: true}
	lost = store.Invalidation{Flush: true, Live: false}
)

func keys(k ...string) store.Invalidation { return store.Invalidation{Keys: k} }

var trackingConn = regexp.MustCompile(`id=(\d+) .*flags=\S*t`)

// awaitTrackingConns polls (the server drops a connection the client closed
// on its own time; nothing signals it) until the server at addr has n
// connections with client tracking on, for at most 5s.
func awaitTrackingConns(t *testing.T, addr string, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		list, err := testserver.RedisCommand(addr, "CLIENT", "LIST")
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, line := range strings.Split(list, "\n") {
			if trackingConn.MatchString(line) {
				got++
			}
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d tracking connections after 5s; want %d", addr, got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The subscriptions of one Store share one tracking connection per server
// and each sees the keys of its prefix only.
func TestStore_SubscribeSharesOneConnection(t *testing.T) {
	srv := testserver.Redis(t)
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	s, err := redisstore.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer raw.Close()
	set := func(k string) {
		t.Helper()
		if err := raw.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	a := subscribe(t, s, "a:")
	a.expect(t, "a's start", live)
	awaitTrackingConns(t, srv.Addr, 1)

	// A new prefix: the connection starts again, tracking both; a sees
	// the interruption, b starts live.
	b := subscribe(t, s, "b:")
	a.expect(t, "b's prefix added: a's stream lost", lost)
	a.expect(t, "b's prefix added: a's stream back", live)
	b.expect(t, "b's start", live)
	awaitTrackingConns(t, srv.Addr, 1)

	// Each sees its keys only (one connection: the pushes are in order).
	set("b:1")
	set("a:1")
	set("b:2")
	a.expect(t, "a's key", keys("a:1"))
	b.expect(t, "b's first key", keys("b:1"))
	b.expect(t, "b's second key", keys("b:2"))

	// A prefix the connection already covers: live at once, and no
	// interruption for the others.
	ax := subscribe(t, s, "a:x:")
	ax.expect(t, "a:x:'s start", live)
	set("a:2")
	set("a:x:1")
	a.expect(t, "a's key after a:x: joined", keys("a:2"))
	a.expect(t, "a's key a:x:1", keys("a:x:1"))
	ax.expect(t, "a:x:'s key", keys("a:x:1"))
	awaitTrackingConns(t, srv.Addr, 1)

	// A stopped subscription gets nothing more; the others go on.
	b.stop()
	set("b:3")
	set("a:3")
	a.expect(t, "a's key after b stopped", keys("a:3"))
	select {
	case ev := <-b.events:
		t.Fatalf("event %+v after b's stop", ev)
	default:
	}

	// "" covers every prefix: tracking starts again without PREFIX.
	all := subscribe(t, s, "")
	a.expect(t, "the empty prefix added: a's stream lost", lost)
	a.expect(t, "the empty prefix added: a's stream back", live)
	all.expect(t, "the empty prefix's start", live)
	set("z")
	set("a:4")
	all.expect(t, "a key of no other prefix", keys("z"))
	all.expect(t, "a's key seen by the empty prefix", keys("a:4"))
	awaitTrackingConns(t, srv.Addr, 1)

	// The last stop closes the connection.
	a.stop()
	ax.stop()
	all.stop()
	awaitTrackingConns(t, srv.Addr, 0)

	// And a new subscription opens one again.
	c := subscribe(t, s, "c:")
	c.expect(t, "c's start", live)
	set("c:1")
	c.expect(t, "c's key", keys("c:1"))
	awaitTrackingConns(t, srv.Addr, 1)
}

// On a Cluster, two subscriptions share one connection per master.
func TestStore_SubscribeSharesClusterConnections(t *testing.T) {
	cl := testserver.RedisCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	defer client.Close()
	s, err := redisstore.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := subscribe(t, s, "a:")
	a.expect(t, "a's start", live)
	b := subscribe(t, s, "b:")
	b.expect(t, "b's start", live)
	for _, n := range cl.Nodes {
		awaitTrackingConns(t, n.Addr, 1)
	}
	ctx := context.Background()
	for i, k := range []string{"b:{1}", "a:{1}", "b:{2}", "a:{2}", "b:{3}", "a:{3}"} {
		if err := client.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Keys of different masters come in any order: collect.
	for _, sub := range []struct {
		s    *subscription
		want []string
	}{{a, []string{"a:{1}", "a:{2}", "a:{3}"}}, {b, []string{"b:{1}", "b:{2}", "b:{3}"}}} {
		var got []string
		for len(got) < len(sub.want) {
			ev := sub.s.next(t, "a key")
			if ev.Flush {
				continue // a's restart for b's prefix
			}
			got = append(got, ev.Keys...)
		}
		slices.Sort(got)
		if !slices.Equal(got, sub.want) {
			t.Fatalf("keys %v; want %v", got, sub.want)
		}
	}
}
