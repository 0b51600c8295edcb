package cachet

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/redisstore"
)

// hungReads pauses srv (SIGSTOP: it accepts connections and answers
// nothing) and reads through c, whose Options.Timeout is short and whose
// middleware holds FailOpen: every read must become a miss, reported,
// after about the cache's timeout; a caller whose own context ends first
// must get its context's error back, not a miss.
func hungReads(t *testing.T, srv *testserver.Server, c *Cache[string, string], rep *reports, timeout time.Duration) {
	t.Helper()
	if err := c.Set(bg, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()

	const reads = 4
	for i := range reads {
		start := time.Now()
		_, err := c.Get(bg, "k")
		if took := time.Since(start); !errors.Is(err, ErrNotFound) || took > timeout+2*time.Second {
			t.Errorf("Get %d from a hung server: got %v after %v; want a miss after about %v", i, err, took, timeout)
		}
	}
	if ok, err := c.Exists(bg, "k"); ok || err != nil {
		t.Errorf("Exists on a hung server: got %v, %v; want false, nil", ok, err)
	}
	if got, err := c.GetMany(bg, []string{"k", "j"}); err != nil || len(got) != 0 {
		t.Errorf("GetMany on a hung server: got %v, %v; want no values, nil", got, err)
	}
	if got := rep.take(); len(got) != reads+2 || !errors.Is(got[0].err, context.DeadlineExceeded) {
		t.Errorf("reports: got %v; want %d, the first with DeadlineExceeded", got, reads+2)
	}

	// The caller's own deadline, earlier than the cache's: not a miss.
	ctx, cancel := context.WithTimeout(bg, timeout/4)
	defer cancel()
	if _, err := c.Get(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNotFound) {
		t.Errorf("Get with the caller's deadline passing: got %v; want DeadlineExceeded, not a miss", err)
	}
	// The caller's cancellation, while the cache's deadline is later.
	ctx, cancel = context.WithCancel(bg)
	time.AfterFunc(timeout/4, cancel)
	if _, err := c.Get(ctx, "k"); !errors.Is(err, context.Canceled) || errors.Is(err, ErrNotFound) {
		t.Errorf("Get cancelled by the caller: got %v; want Canceled, not a miss", err)
	}
	if got := rep.take(); len(got) != 0 {
		t.Errorf("the caller's own cancellation was reported as an outage: %v", got)
	}
	// Writes still fail.
	if err := c.Set(bg, "k", "v2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Set to a hung server: got %v; want DeadlineExceeded", err)
	}
}

// TestFailOpen_CacheTimeoutRedisHung: the cache's own Options.Timeout
// over a hung redis-server is an outage, which FailOpen turns into a miss.
func TestFailOpen_CacheTimeoutRedisHung(t *testing.T) {
	srv := testserver.Redis(t)
	rs := openRedis(t, srv.Addr)
	defer rs.Close()
	var rep reports
	const timeout = 200 * time.Millisecond
	c, err := New[string](rs, codec.String(), &Options[string]{
		Namespace: "fo", Timeout: timeout, Middleware: []store.Middleware{FailOpen(rep.add)},
		Breaker: &BreakerOptions{Disable: true}, // every read reaches the hung server
	})
	if err != nil {
		t.Fatal(err)
	}
	hungReads(t, srv, c, &rep, timeout)
}

// TestFailOpen_CacheTimeoutMemcachedHung is the same over a hung memcached.
func TestFailOpen_CacheTimeoutMemcachedHung(t *testing.T) {
	srv := testserver.Memcached(t)
	ms, err := memcachestore.NewFromServers([]string{srv.Addr}, &memcachestore.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	var rep reports
	const timeout = 200 * time.Millisecond
	c, err := New[string](ms, codec.String(), &Options[string]{
		Namespace: "fo", Timeout: timeout, Middleware: []store.Middleware{FailOpen(rep.add)},
		Breaker: &BreakerOptions{Disable: true}, // every read reaches the hung server
	})
	if err != nil {
		t.Fatal(err)
	}
	hungReads(t, srv, c, &rep, timeout)
}

// TestFailOpen_StoreTimeoutRedisHung: over a redisstore built by Open,
// whose ContextTimeout is shorter than the cache's Timeout, the cache adds
// no timeout of its own (store.SelfTimed) to a call without a deadline,
// and the store's own bound makes a hung redis-server an outage after
// about ContextTimeout, as the cache's Timeout would have.
func TestFailOpen_StoreTimeoutRedisHung(t *testing.T) {
	srv := testserver.Redis(t)
	const timeout = 200 * time.Millisecond
	rs, err := redisstore.Open(&redisstore.Options{Addrs: []string{srv.Addr}, ContextTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var rep reports
	c, err := New[string](rs, codec.String(), &Options[string]{
		Namespace: "fo", Middleware: []store.Middleware{FailOpen(rep.add)},
		Breaker: &BreakerOptions{Disable: true}, // every read reaches the hung server
	})
	if err != nil {
		t.Fatal(err)
	}
	if !c.selfTimed {
		t.Fatal("the cache bounds its calls itself over a store with a shorter ContextTimeout")
	}
	hungReads(t, srv, c, &rep, timeout)
}
