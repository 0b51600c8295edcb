package cachet

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
)

// redisLocal is a cache with a local tier over its own client of addr,
// and the stream events it applied.
type redisLocal struct {
	c      *Cache[string, localUser]
	events chan store.Invalidation
}

func newRedisLocal(t *testing.T, addr string) *redisLocal {
	t.Helper()
	return newLocalOver(t, redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1}))
}

// assertLive checks that the tier is live and holds n values.
func (r *redisLocal) assertLive(t *testing.T, n int) {
	t.Helper()
	if s, _ := r.c.LocalStats(); !s.Live || r.c.local.size() != n {
		t.Fatalf("tier live %v with %d values; want live with %d", s.Live, r.c.local.size(), n)
	}
}

// assertOffAndEmpty checks that the tier is off and empty, as after its
// invalidation stream was lost.
func (r *redisLocal) assertOffAndEmpty(t *testing.T) {
	t.Helper()
	if s, _ := r.c.LocalStats(); s.Live {
		t.Fatal("tier live after the stream was lost")
	}
	if n := r.c.local.size(); n != 0 {
		t.Fatalf("%d values in the tier after the stream was lost; want 0", n)
	}
}

// rawDel deletes k's store key through raw, a client of the same
// deployment, waits for the tier to hear of it (what names the DEL), and
// checks that a Get of k then misses.
func (r *redisLocal) rawDel(t *testing.T, raw redis.Cmdable, k, what string) {
	t.Helper()
	ctx := context.Background()
	if err := raw.Del(ctx, "users:"+k).Err(); err != nil {
		t.Fatal(err)
	}
	r.await(t, what, keyEvent("users:"+k))
	if _, err := r.c.Get(ctx, k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(%s) after %s = %v; want ErrNotFound", k, what, err)
	}
}

// await waits (at most 5s) for an event for which match is true.
func (r *redisLocal) await(t *testing.T, what string, match func(store.Invalidation) bool) {
	t.Helper()
	if s, _ := r.c.LocalStats(); what == "the stream live" && s.Live {
		return
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-r.events:
			if match(ev) {
				return
			}
		case <-timeout:
			t.Fatalf("no invalidation event for %s within 5s", what)
		}
	}
}

func keyEvent(key string) func(store.Invalidation) bool {
	return func(ev store.Invalidation) bool {
		for _, k := range ev.Keys {
			if k == key {
				return true
			}
		}
		return false
	}
}

func (r *redisLocal) mustGet(t *testing.T, want string) {
	t.Helper()
	v, err := r.c.Get(context.Background(), "k")
	if err != nil || v.Name != want {
		t.Fatalf("Get = %v, %v; want %s", v, err, want)
	}
}

func TestLocal_RedisInvalidation(t *testing.T) {
	srv := testserver.Redis(t)
	ctx := context.Background()
	a, b := newRedisLocal(t, srv.Addr), newRedisLocal(t, srv.Addr)
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer raw.Close()

	a.c.Set(ctx, "k", localUser{Name: "v1"})
	a.await(t, "a's own Set", keyEvent("users:k"))
	a.mustGet(t, "v1")
	a.mustGet(t, "v1")
	if s, _ := a.c.LocalStats(); s.Hits == 0 {
		t.Fatalf("stats %+v: the second Get was not a local hit", s)
	}

	// A write by another cachet Cache (its own connection).
	b.c.Set(ctx, "k", localUser{Name: "v2"})
	a.await(t, "b's Set", keyEvent("users:k"))
	a.mustGet(t, "v2")

	// A write by a plain client: SET of the bytes another writer made.
	v3, _ := New[string](b.c.Store(), codec.JSON[localUser](), &Options[string]{Namespace: "other"})
	v3.Set(ctx, "k", localUser{Name: "v3"})
	bytes3, err := raw.Get(ctx, "other:k").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	a.mustGet(t, "v2")
	if err := raw.Set(ctx, "users:k", bytes3, 0).Err(); err != nil {
		t.Fatal(err)
	}
	a.await(t, "a raw SET", keyEvent("users:k"))
	a.mustGet(t, "v3")
	if err := raw.Del(ctx, "users:k").Err(); err != nil {
		t.Fatal(err)
	}
	a.await(t, "a raw DEL", keyEvent("users:k"))
	if _, err := a.c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after a raw DEL = %v; want ErrNotFound", err)
	}
	// Another namespace's keys reach no one (PREFIX) and are ignored.
	a.c.local.inv.event(store.Invalidation{Keys: []string{"other:k"}})
}

var trackingID = regexp.MustCompile(`id=(\d+) .*flags=\S*t`)

func TestLocal_RedisLostStreamTurnsTheTierOff(t *testing.T) {
	srv := testserver.Redis(t)
	ctx := context.Background()
	a := newRedisLocal(t, srv.Addr)
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer raw.Close()
	a.c.Set(ctx, "k", localUser{Name: "v1"})
	a.await(t, "a's own Set", keyEvent("users:k"))
	a.mustGet(t, "v1")

	down := func(ev store.Invalidation) bool { return ev.Flush && !ev.Live }
	up := func(ev store.Invalidation) bool { return ev.Flush && ev.Live }
	assertOff := func() {
		t.Helper()
		s, _ := a.c.LocalStats()
		if s.Live {
			t.Fatal("tier live after the stream was lost")
		}
	}

	// CLIENT KILL of the tracking connection.
	list, err := raw.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, line := range strings.Split(list, "\n") {
		if m := trackingID.FindStringSubmatch(line); m != nil {
			id = m[1]
		}
	}
	if id == "" {
		t.Fatalf("no tracking connection in CLIENT LIST:\n%s", list)
	}
	if err := raw.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
		t.Fatal(err)
	}
	a.await(t, "the killed connection", down)
	assertOff()
	a.await(t, "the stream back", up)
	a.mustGet(t, "v1")

	// A restart of the server.
	srv.Stop()
	a.await(t, "the stopped server", down)
	assertOff()
	s0, _ := a.c.LocalStats()
	if _, err := a.c.Get(ctx, "k"); err == nil {
		t.Fatal("Get while the server is down answered from the tier")
	}
	if s1, _ := a.c.LocalStats(); s1.Hits != s0.Hits {
		t.Fatal("a Get while the stream is down was a local hit")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	a.await(t, "the restarted server", up)
	if _, err := a.c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after a restart without persistence = %v; want ErrNotFound", err)
	}
}
