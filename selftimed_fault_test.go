package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/redisstore"
)

// TestSelfTimedFault_PausedMemcached: over memcached (store.SelfTimed,
// so the Cache adds no timeout context), a hung server still ends every
// one of many concurrent Cache.Gets, batched or direct, within about the
// client's Timeout; with FailOpen each is a miss and is reported, and a
// Memoized function still answers from its loader in that time. After
// Resume the cache reads again.
func TestSelfTimedFault_PausedMemcached(t *testing.T) {
	srv := testserver.Memcached(t)
	const timeout = 500 * time.Millisecond
	pausedSelfTimed(t, srv, timeout, func(t *testing.T, mw ...store.Middleware) *cachet.Cache[string, string] {
		ms, err := memcachestore.NewFromServers([]string{srv.Addr}, &memcachestore.Options{Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		c := cachet.Must(cachet.New[string](ms, codec.String(), &cachet.Options[string]{Namespace: "st", Middleware: mw}))
		t.Cleanup(func() { c.Close() })
		return c
	})
}

// TestSelfTimedFault_PausedRedis is the same over a redisstore built by
// Open with a ContextTimeout equal to the Cache's Timeout: the Gets, whose
// contexts have no deadline, get none from the Cache; the direct ones end
// at the deadline the store's hook gives them, the queued ones at the
// batcher's MaxWait. (The memoized shared call has a deadline of its own,
// CallTimeout, so the Cache's Timeout bounds its round trips, as over any
// store: hence the equal Timeouts. TestFailOpen_StoreTimeoutRedisHung
// checks a store bound shorter than the Cache's.)
func TestSelfTimedFault_PausedRedis(t *testing.T) {
	srv := testserver.Redis(t)
	const timeout = 500 * time.Millisecond
	pausedSelfTimed(t, srv, timeout, func(t *testing.T, mw ...store.Middleware) *cachet.Cache[string, string] {
		rs, err := redisstore.Open(&redisstore.Options{Addrs: []string{srv.Addr}, ContextTimeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		c := cachet.Must(cachet.New[string](rs, codec.String(), &cachet.Options[string]{
			Namespace: "st", Middleware: mw, OwnsStore: true, Timeout: timeout,
			Breaker: &cachet.BreakerOptions{Disable: true}, // every call reaches the hung server
		}))
		t.Cleanup(func() { c.Close() })
		return c
	})
}

// pausedSelfTimed runs the paused-server checks on srv, whose caches open
// makes over a store.SelfTimed store with round-trip bound timeout.
func pausedSelfTimed(t *testing.T, srv *testserver.Server, timeout time.Duration, open func(t *testing.T, mw ...store.Middleware) *cachet.Cache[string, string]) {
	// A queued Get that also waited for the round trips hung ahead of it
	// would take two Timeouts: the bound lies between one and two.
	bound := timeout + timeout/2
	var reported atomic.Int64
	plain := open(t)
	failOpen := open(t, cachet.FailOpen(func(cachet.Op, string, error) { reported.Add(1) }))
	ctx := context.Background()
	for i := range 10 {
		if err := plain.Set(ctx, fmt.Sprint(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	var loads atomic.Int64
	memo := cachet.Memoize(failOpen, func(_ context.Context, k string) (string, error) {
		loads.Add(1)
		return "loaded:" + k, nil
	}, nil)
	// Warm both caches (generation hints, pooled connections).
	for _, c := range []*cachet.Cache[string, string]{plain, failOpen} {
		if v, err := c.Get(ctx, "0"); err != nil || v != "v" {
			t.Fatalf("Get before the pause = %q, %v", v, err)
		}
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume()
		}
	}()
	var wg sync.WaitGroup
	for g := range 90 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := fmt.Sprint(g % 10)
			start := time.Now()
			var err error
			switch g % 3 {
			case 0:
				_, err = plain.Get(ctx, k)
				if err == nil || errors.Is(err, cachet.ErrNotFound) {
					t.Errorf("Get(%s) on a paused server = %v; want an outage error", k, err)
				}
			case 1:
				_, err = failOpen.Get(ctx, k)
				if !errors.Is(err, cachet.ErrNotFound) {
					t.Errorf("FailOpen Get(%s) on a paused server = %v; want a miss", k, err)
				}
			case 2:
				var v string
				v, err = memo(ctx, "m"+k)
				if err != nil || v != "loaded:m"+k {
					t.Errorf("memoized(%s) on a paused server = %q, %v; want the loader's value", k, v, err)
				}
			}
			if took := time.Since(start); took > 2*bound {
				// A memoized miss is a failed read then a load and a failed write:
				// two round trips at most; a Get is one.
				t.Errorf("call %d (kind %d) took %v on a paused server; client Timeout %v", g, g%3, took, timeout)
			} else if g%3 != 2 && took > bound {
				t.Errorf("Get %d (kind %d) took %v on a paused server; want at most about the client Timeout %v", g, g%3, took, timeout)
			}
		}()
	}
	wg.Wait()
	if reported.Load() == 0 {
		t.Error("FailOpen reported no outage")
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	for end := time.Now().Add(10 * time.Second); ; {
		v, err := failOpen.Get(ctx, "3")
		if err == nil && v == "v" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("Get 10s after Resume = %q, %v; want \"v\"", v, err)
		}
		time.Sleep(10 * time.Millisecond) // polling until the hung round trips have drained
	}
}
