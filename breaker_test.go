package cachet

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/storetest"
)

func TestBreaker_Conformance(t *testing.T) {
	storetest.RunMiddleware(t, func(t *testing.T) store.Store { return newMem(t) }, Breaker(nil), nil)
}

// TestBreaker_OrdinaryAnswersDoNotCount: misses, a taken key, a value
// that is not an integer and the caller's cancellation are answers, not
// connection failures: with a threshold of 1 none opens the breaker.
func TestBreaker_OrdinaryAnswersDoNotCount(t *testing.T) {
	s := Breaker(&BreakerOptions{Threshold: 1, Interval: time.Hour})(newMem(t))
	s.Set(bg, "text", []byte("x"), 0)
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	checks := []struct {
		name string
		call func() error
		want error
	}{
		{"miss", func() error { _, err := s.Get(bg, "absent"); return err }, store.ErrNotFound},
		{"exists", func() error { return s.Add(bg, "text", []byte("y"), 0) }, store.ErrExists},
		{"not integer", func() error { _, err := s.Increment(bg, "text", 1); return err }, store.ErrNotInteger},
		{"invalid key", func() error { return s.Set(bg, "", []byte("y"), 0) }, store.ErrInvalidKey},
		{"caller cancelled", func() error { _, err := s.Get(cancelled, "text"); return err }, context.Canceled},
	}
	for _, c := range checks {
		if err := c.call(); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v; want %v", c.name, err, c.want)
		}
		if v, err := s.Get(bg, "text"); err != nil || string(v) != "x" {
			t.Fatalf("Get after %s: got %q, %v; want x (the breaker opened)", c.name, v, err)
		}
	}
}

// deadStore runs the breaker checks on a cache over a network store whose
// server is stopped, then restarted: after the default threshold of
// consecutive connection failures every call fails at once with
// ErrUnavailable; after the restart one probe per interval closes it.
func deadStore(t *testing.T, srv *testserver.Server, s store.Store) {
	t.Helper()
	var rep reports
	const timeout = 300 * time.Millisecond
	c, err := New[string](s, codec.String(), &Options[string]{Namespace: "br", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	fo, err := New[string](s, codec.String(), &Options[string]{
		Namespace: "br", Timeout: timeout, Middleware: []store.Middleware{FailOpen(rep.add)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(bg, "k", "v"); err != nil {
		t.Fatal(err)
	}
	srv.Stop()

	for i := range DefaultBreakerThreshold {
		if _, err := c.Get(bg, "k"); err == nil || errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get %d with the server down: got %v; want the connection failure", i, err)
		}
	}
	for i := range 20 {
		start := time.Now()
		_, err := c.Get(bg, "k")
		if took := time.Since(start); !errors.Is(err, ErrUnavailable) || took > 20*time.Millisecond {
			t.Fatalf("Get %d after %d failures: got %v after %v; want ErrUnavailable at once", i, DefaultBreakerThreshold, err, took)
		}
	}
	if _, err := c.Increment(bg, "n", 1); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Increment with the breaker open: got %v; want ErrUnavailable", err)
	}

	// FailOpen over a dead store: a miss, not a stall (its own breaker
	// opens after its own threshold of failures).
	for range DefaultBreakerThreshold {
		fo.Get(bg, "k")
	}
	start := time.Now()
	if _, err := fo.Get(bg, "k"); !errors.Is(err, ErrNotFound) || time.Since(start) > 20*time.Millisecond {
		t.Errorf("FailOpen Get over an open breaker: got %v after %v; want a miss at once", err, time.Since(start))
	}
	if got := rep.take(); len(got) == 0 || !errors.Is(got[len(got)-1].err, ErrUnavailable) {
		t.Errorf("FailOpen reports: got %v; want the last to be ErrUnavailable", got)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// Within a few intervals a probe finds the server and closes the breaker.
	deadline := time.Now().Add(10 * DefaultBreakerInterval)
	for {
		err := c.Set(bg, "k", "v2")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Set after the restart: still %v", err)
		}
		time.Sleep(DefaultBreakerInterval / 10) // polling for the next probe
	}
	for i := range 5 {
		if v, err := c.Get(bg, "k"); err != nil || v != "v2" {
			t.Fatalf("Get %d once the breaker closed: got %q, %v; want v2", i, v, err)
		}
	}
}

func TestBreaker_RedisDown(t *testing.T) {
	srv := testserver.Redis(t)
	rs := openRedis(t, srv.Addr)
	defer rs.Close()
	deadStore(t, srv, rs)
}

func TestBreaker_MemcachedDown(t *testing.T) {
	srv := testserver.Memcached(t)
	ms, err := memcachestore.NewFromServers([]string{srv.Addr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	deadStore(t, srv, ms)
}

// TestBreaker_MemcachedConnectTimeout: a memcached server that never
// answers the connection attempt (gomemcache's ConnectTimeoutError) counts
// as a connection failure: after the threshold the breaker answers at once
// with ErrUnavailable instead of costing every call the dial timeout.
func TestBreaker_MemcachedConnectTimeout(t *testing.T) {
	const timeout = 150 * time.Millisecond
	ms, err := memcachestore.NewFromServers([]string{testserver.Unanswered(t)}, &memcachestore.Options{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	c, err := New[string](ms, codec.String(), &Options[string]{Namespace: "br", Timeout: 5 * timeout})
	if err != nil {
		t.Fatal(err)
	}
	for i := range DefaultBreakerThreshold {
		if _, err := c.Get(bg, "k"); err == nil || errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get %d with connections unanswered: got %v; want the connect timeout", i, err)
		}
	}
	start := time.Now()
	if _, err := c.Get(bg, "k"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get after %d connect timeouts: got %v; want ErrUnavailable", DefaultBreakerThreshold, err)
	}
	if took := time.Since(start); took >= timeout {
		t.Errorf("Get with the breaker open took %v; want less than the %v dial timeout", took, timeout)
	}
}

// TestBreaker_RedisHungHalfOpen: the cache's own timeouts on a hung
// redis-server count as failures; once the interval has passed, of many
// concurrent calls exactly one is let through as the probe.
func TestBreaker_RedisHungHalfOpen(t *testing.T) {
	srv := testserver.Redis(t)
	rs := openRedis(t, srv.Addr)
	defer rs.Close()
	const timeout, interval = 200 * time.Millisecond, 300 * time.Millisecond
	c, err := New[string](rs, codec.String(), &Options[string]{
		Timeout: timeout, Breaker: &BreakerOptions{Threshold: 2, Interval: interval},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Set(bg, "k", "v")
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()
	for range 2 {
		if _, err := c.Get(bg, "k"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get from a hung server: got %v; want DeadlineExceeded", err)
		}
	}
	if _, err := c.Get(bg, "k"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get after 2 timeouts: got %v; want ErrUnavailable", err)
	}
	time.Sleep(interval) // the breaker's interval must pass: what is tested

	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var probes, fast int
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Get(bg, "k")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrUnavailable):
				fast++
			case errors.Is(err, context.DeadlineExceeded):
				probes++
			default:
				t.Errorf("Get in half-open: got %v", err)
			}
		}()
	}
	wg.Wait()
	if probes != 1 || fast != n-1 {
		t.Errorf("half-open: %d probes and %d fast failures; want 1 and %d", probes, fast, n-1)
	}

	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(interval) // the next probe is due after the interval
	if v, err := c.Get(bg, "k"); err != nil || v != "v" {
		t.Errorf("the probe after the server resumed: got %q, %v; want v", v, err)
	}
	if v, err := c.Get(bg, "k"); err != nil || v != "v" {
		t.Errorf("Get once closed: got %q, %v; want v", v, err)
	}
}

// TestBreaker_Disabled: with Disable every call reaches the dead store.
func TestBreaker_Disabled(t *testing.T) {
	srv := testserver.Memcached(t)
	ms, err := memcachestore.NewFromServers([]string{srv.Addr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	c, err := New[string](ms, codec.String(), &Options[string]{Breaker: &BreakerOptions{Disable: true}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for i := range 3 * DefaultBreakerThreshold {
		if _, err := c.Get(bg, "k"); err == nil || errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get %d with the breaker disabled: got %v; want the connection failure", i, err)
		}
	}
}
