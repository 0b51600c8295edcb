package memcachestore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
)

// slack is how much later than its bound a failing call may return on a
// loaded machine; the bounds checked are liveness, not speed.
const slack = 2 * time.Second

// fillPool leaves several idle connections in the client's pool.
func fillPool(t *testing.T, s store.Store, key string) {
	t.Helper()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Get(bg, key); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get: %v", err)
			}
		}()
	}
	wg.Wait()
}

// wantDown checks that an operation on a down server fails with a
// connection error (not a miss) naming the operation, within the bound.
func wantDown(t *testing.T, what string, bound time.Duration, fn func() error) {
	t.Helper()
	start := time.Now()
	err := fn()
	took := time.Since(start)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s on a down server: got %v; want a connection error", what, err)
	}
	var se *store.Error
	if !errors.As(err, &se) {
		t.Errorf("%s on a down server: error %v is not a *store.Error", what, err)
	}
	if took > bound+slack {
		t.Errorf("%s on a down server took %v; want at most about %v", what, took, bound)
	}
}

func TestFailure_StoppedServerAndRestart(t *testing.T) {
	srv := testserver.Memcached(t)
	const timeout = 300 * time.Millisecond
	s := fresh(t, srv, &memcachestore.Options{Timeout: timeout})
	mustSet(t, s, "k", "v", 0)
	mustSet(t, s, "ns:k", "v", 0)
	fillPool(t, s, "k")

	srv.Stop()
	wantDown(t, "Get", timeout, func() error { _, err := s.Get(bg, "k"); return err })
	wantDown(t, "Get namespaced", timeout, func() error { _, err := s.Get(bg, "ns:k"); return err })
	wantDown(t, "Set", timeout, func() error { return s.Set(bg, "k", []byte("v"), 0) })
	wantDown(t, "Increment", timeout, func() error { _, err := s.Increment(bg, "n", 1); return err })
	wantDown(t, "GetMany", timeout, func() error { _, err := s.GetMany(bg, []string{"k", "ns:k"}); return err })
	wantDown(t, "Clear", timeout, func() error { return s.Clear(bg, "") })

	if err := srv.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	// The restarted server is empty; the first call already works.
	wantMissing(t, s, "k")
	wantMissing(t, s, "ns:k")
	mustSet(t, s, "ns:k", "again", 0)
	wantValue(t, s, "ns:k", "again")
}

// TestFailure_RestartWithStaleConnections restarts the server while the
// client's pool still holds connections to the old process: the first
// calls must not fail on them.
func TestFailure_RestartWithStaleConnections(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, nil)
	mustSet(t, s, "k", "v", 0)
	fillPool(t, s, "k")
	if err := srv.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	wantMissing(t, s, "k")
	mustSet(t, s, "k", "v2", 0)
	wantValue(t, s, "k", "v2")
	if n, err := s.Increment(bg, "n", 1); err != nil || n != 1 {
		t.Fatalf("Increment after restart: got %d, %v; want 1", n, err)
	}
}

// TestFailure_HungServer pauses the server: connections are accepted but
// nothing answers, so only the timeout ends a call.
func TestFailure_HungServer(t *testing.T) {
	srv := testserver.Memcached(t)
	const timeout = 200 * time.Millisecond
	s := fresh(t, srv, &memcachestore.Options{Timeout: timeout})
	mustSet(t, s, "k", "v", 0)
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Resume() })
	var err error
	wantDown(t, "Get", timeout, func() error { _, err = s.Get(bg, "k"); return err })
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		if !errors.Is(err, os.ErrDeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
			t.Errorf("Get on a hung server: got %v; want a timeout error", err)
		}
	}
	wantDown(t, "Set", timeout, func() error { return s.Set(bg, "k", []byte("v"), 0) })
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, "k", "v")
}

// TestFailure_ContextDeadlineShorterThanTimeout: the call returns at the
// context's deadline even though the client's timeout is much longer.
func TestFailure_ContextDeadlineShorterThanTimeout(t *testing.T) {
	srv := testserver.Memcached(t)
	const timeout = 10 * time.Second
	s := fresh(t, srv, &memcachestore.Options{Timeout: timeout})
	mustSet(t, s, "k", "v", 0)
	mustSet(t, s, "ns:k", "v", 0)
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Resume() })
	const deadline = 100 * time.Millisecond
	value := []byte("new value")
	for name, fn := range map[string]func(ctx context.Context) error{
		"Get":   func(ctx context.Context) error { _, err := s.Get(ctx, "k"); return err },
		"GetNS": func(ctx context.Context) error { _, err := s.Get(ctx, "ns:k"); return err },
		"Set":   func(ctx context.Context) error { return s.Set(ctx, "k", value, 0) },
		"SetMany": func(ctx context.Context) error {
			return s.SetMany(ctx, []store.Entry{{Key: "a", Value: value}, {Key: "b", Value: value}}, 0)
		},
		"Add":       func(ctx context.Context) error { return s.Add(ctx, "k2", value, 0) },
		"Increment": func(ctx context.Context) error { _, err := s.Increment(ctx, "n", 1); return err },
		"Delete":    func(ctx context.Context) error { _, err := s.Delete(ctx, "k"); return err },
		"Clear":     func(ctx context.Context) error { return s.Clear(ctx, "ns:") },
	} {
		ctx, cancel := context.WithTimeout(bg, deadline)
		start := time.Now()
		err := fn(ctx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with a %v deadline on a hung server: got %v; want an error wrapping context.DeadlineExceeded", name, deadline, err)
		}
		if took > deadline+slack {
			t.Errorf("%s with a %v deadline took %v; want it to return at the deadline, not after the %v timeout", name, deadline, took, timeout)
		}
		// The abandoned round trip may still be reading value: changing
		// the caller's slice now must be safe (go test -race).
		value[0] ^= 1
	}
}

// TestFailure_TwoServers stops one of two servers: only the keys it owns
// fail, and they work again once it is back.
func TestFailure_TwoServers(t *testing.T) {
	s1, s2 := testserver.Memcached(t), testserver.Memcached(t)
	var sl memcache.ServerList
	if err := sl.SetServers(s1.Addr, s2.Addr); err != nil {
		t.Fatal(err)
	}
	client := memcache.NewFromSelector(&sl)
	client.Timeout = 2 * time.Second // generous: a loaded machine must not fail the live server's calls
	s, err := memcachestore.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Clear(bg, ""); err != nil {
		t.Fatal(err)
	}
	// Plain keys are their own physical keys, so the selector tells
	// which server owns each.
	owned := map[string][]string{}
	for i := 0; len(owned[s1.Addr]) < 20 || len(owned[s2.Addr]) < 20; i++ {
		k := fmt.Sprintf("key%d", i)
		addr, err := sl.PickServer(k)
		if err != nil {
			t.Fatal(err)
		}
		owned[addr.String()] = append(owned[addr.String()], k)
	}
	live, lost := owned[s1.Addr][:10], owned[s2.Addr][:10]
	counters := owned[s1.Addr][10:20] // also on the server that stays up
	for _, k := range append(append([]string{}, live...), lost...) {
		mustSet(t, s, k, "v", 0)
	}
	// Both servers hold some keys.
	for _, srv := range []*testserver.Server{s1, s2} {
		if it, err := memcache.New(srv.Addr).Get(owned[srv.Addr][0]); err != nil || string(it.Value) != "v" {
			t.Fatalf("raw Get on %s: %v, %v; want the key there", srv.Addr, it, err)
		}
	}

	s2.Stop()
	for i, k := range live {
		wantValue(t, s, k, "v")
		mustSet(t, s, k, "v2", 0)
		wantValue(t, s, k, "v2")
		if n, err := s.Increment(bg, counters[i], 2); err != nil || n != 2 {
			t.Fatalf("Increment(%s) on the live server: %d, %v", counters[i], n, err)
		}
	}
	if got, err := s.GetMany(bg, live); err != nil || len(got) != len(live) || string(got[0]) != "v2" {
		t.Fatalf("GetMany of keys on the live server: %q, %v", got, err)
	}
	for _, k := range lost {
		wantDown(t, "Get "+k, client.Timeout, func() error { _, err := s.Get(bg, k); return err })
	}
	wantDown(t, "GetMany over both servers", client.Timeout, func() error {
		_, err := s.GetMany(bg, []string{live[0], lost[0]})
		return err
	})

	if err := s2.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, k := range lost {
		wantMissing(t, s, k) // the restarted server is empty
		mustSet(t, s, k, "back", 0)
		wantValue(t, s, k, "back")
	}
	for _, k := range live {
		wantValue(t, s, k, "v2")
	}
}

// TestFailure_NamespaceCounterServerDown stops the server that holds a
// namespace's generation counter: the namespace's keys on the server that
// stays up remain readable and writable with the last generation seen
// (issue 12: one down server took the whole namespace down).
func TestFailure_NamespaceCounterServerDown(t *testing.T) {
	s1, s2 := testserver.Memcached(t), testserver.Memcached(t)
	var sl memcache.ServerList
	if err := sl.SetServers(s1.Addr, s2.Addr); err != nil {
		t.Fatal(err)
	}
	client := memcache.NewFromSelector(&sl)
	client.Timeout = 2 * time.Second // generous: a loaded machine must not fail the live server's calls
	// Find a namespace whose counter lives on s2.
	var ns string
	for i := 0; ns == ""; i++ {
		cand := fmt.Sprintf("ns%d", i)
		if addr, err := sl.PickServer(cand + ":%n"); err == nil && addr.String() == s2.Addr {
			ns = cand
		}
	}
	for _, ttl := range []time.Duration{0, -1} {
		t.Run(fmt.Sprint("GenerationCacheTTL=", ttl), func(t *testing.T) {
			s, err := memcachestore.New(client, &memcachestore.Options{Namespaces: []string{ns}, GenerationCacheTTL: ttl})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Clear(bg, ""); err != nil {
				t.Fatal(err)
			}
			gen := func() string {
				it, err := memcache.New(s2.Addr).Get(ns + ":%n")
				if err != nil {
					t.Fatalf("raw Get of the counter on %s: %v", s2.Addr, err)
				}
				return string(it.Value)
			}
			mustSet(t, s, ns+":first", "x", 0) // creates the counter on s2
			g := gen()
			// Keys of the namespace whose physical key lives on s1.
			var live []string
			for i := 0; len(live) < 10; i++ {
				k := fmt.Sprintf("%s:k%d", ns, i)
				pk := ns + ":%g" + base36(t, g) + fmt.Sprintf(":k%d", i)
				if addr, err := sl.PickServer(pk); err == nil && addr.String() == s1.Addr {
					live = append(live, k)
					mustSet(t, s, k, "v", 0)
				}
			}
			s2.Stop()
			for _, k := range live {
				wantValue(t, s, k, "v")
				mustSet(t, s, k, "v2", 0)
				wantValue(t, s, k, "v2")
			}
			got, err := s.GetMany(bg, live)
			if err != nil || string(got[0]) != "v2" || string(got[len(got)-1]) != "v2" {
				t.Fatalf("GetMany of the namespace's keys on the live server: %q, %v", got, err)
			}
			// A Clear needs the counter: it fails rather than pretend.
			wantDown(t, "Clear("+ns+":)", client.Timeout, func() error { return s.Clear(bg, ns+":") })
			// A Store that never read the generation cannot serve the namespace.
			other, err := memcachestore.New(client, &memcachestore.Options{Namespaces: []string{ns}, GenerationCacheTTL: ttl})
			if err != nil {
				t.Fatal(err)
			}
			wantDown(t, "Get by a Store that never saw the generation", client.Timeout, func() error {
				_, err := other.Get(bg, live[0])
				return err
			})
			if err := s2.Restart(); err != nil {
				t.Fatal(err)
			}
			// The counter was lost with the restart: a new generation
			// starts, and the namespace reads empty, in both Stores,
			// once the first one reads the counter again.
			if ttl < 0 {
				wantMissing(t, s, live[0])
				wantMissing(t, other, live[0])
			}
		})
	}
}

// base36 converts the decimal generation g to the base-36 digits in
// physical keys.
func base36(t *testing.T, g string) string {
	t.Helper()
	n, err := strconv.ParseUint(g, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatUint(n, 36)
}

// TestFailure_ConnectTimeout: a server that never answers the connection
// attempt gives gomemcache's ConnectTimeoutError, which is not a net.Error;
// the store's error must still say "timeout" to errors.As(net.Error), so
// that the circuit breaker and FailOpen count it as an unreachable server.
func TestFailure_ConnectTimeout(t *testing.T) {
	addr := testserver.Unanswered(t)
	const timeout = 200 * time.Millisecond
	s, err := memcachestore.NewFromServers([]string{addr}, &memcachestore.Options{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var getErr error
	wantDown(t, "Get", timeout, func() error { _, getErr = s.Get(bg, "k"); return getErr })
	var cte *memcache.ConnectTimeoutError
	if !errors.As(getErr, &cte) {
		t.Fatalf("Get: got %v; want a *memcache.ConnectTimeoutError inside", getErr)
	}
	var ne net.Error
	if !errors.As(getErr, &ne) || !ne.Timeout() {
		t.Errorf("Get: got %v; want an error that is a net.Error with Timeout() true", getErr)
	}
	if !errors.Is(getErr, os.ErrDeadlineExceeded) {
		t.Errorf("Get: got %v; want errors.Is os.ErrDeadlineExceeded", getErr)
	}
}
