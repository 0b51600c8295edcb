package memcachestore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
)

// Fault probes of the batched Gets (group commit over internal/batch),
// against a real memcached that is paused (SIGSTOP), killed and restarted.

type timedResult struct {
	v    []byte
	err  error
	took time.Duration
}

// getAsync runs s.Get(ctx, key) on a goroutine of its own and reports
// its result and how long it took.
func getAsync(s store.Store, ctx context.Context, key string) <-chan timedResult {
	ch := make(chan timedResult, 1)
	go func() {
		start := time.Now()
		v, err := s.Get(ctx, key)
		ch <- timedResult{v, err, time.Since(start)}
	}()
	return ch
}

// pause stops srv until the test ends (or resume is called).
func pause(t *testing.T, srv *testserver.Server) (resume func()) {
	t.Helper()
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			if err := srv.Resume(); err != nil {
				t.Errorf("Resume: %v", err)
			}
		})
	}
	t.Cleanup(resume)
	return resume
}

// waitPending polls until at least n gets are queued (the queue is the
// signal; the poll has a deadline).
func waitPending(t *testing.T, s *memcachestore.Store, n int) {
	t.Helper()
	end := time.Now().Add(10 * time.Second)
	for memcachestore.Pending(s) < n {
		if time.Now().After(end) {
			t.Fatalf("%d gets queued after 10s; want %d", memcachestore.Pending(s), n)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// TestBatchFault_PausedOwnDeadlines: on a paused server, each of many
// concurrent callers (queued or in flight) returns by its own deadline
// with its own context's error, whatever the others' deadlines; after
// Resume every key reads again.
func TestBatchFault_PausedOwnDeadlines(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, &memcachestore.Options{Timeout: 10 * time.Second})
	for i := range 8 {
		mustSet(t, s, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i), 0)
	}
	resume := pause(t, srv)
	const n = 48
	type call struct {
		budget time.Duration
		ch     <-chan timedResult
	}
	calls := make([]call, n)
	for i := range calls {
		budget := time.Duration(30+10*(i%12)) * time.Millisecond
		ctx, cancel := context.WithTimeout(bg, budget)
		t.Cleanup(cancel)
		calls[i] = call{budget, getAsync(s, ctx, fmt.Sprintf("k%d", i%8))}
	}
	const grace = 250 * time.Millisecond // scheduling on a loaded 2-core machine
	for i, c := range calls {
		r := <-c.ch
		if !errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("call %d: Get = %q, %v; want context.DeadlineExceeded", i, r.v, r.err)
		}
		if r.took > c.budget+grace {
			t.Errorf("call %d: returned after %v; its deadline was %v", i, r.took, c.budget)
		}
	}
	resume()
	// The round trips started while paused may still be under way (their
	// client Timeout is 10s); fresh callers queue behind them and must get
	// their values once the server answers.
	for i := range 8 {
		wantValue(t, s, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
}

// TestBatchFault_PausedNoDeadline: a caller without a deadline (what a
// cachet.Cache sends over a store.SelfTimed store) is bounded by the
// client's Timeout only; queued behind round trips that hang on a paused
// server, it must still end within about that Timeout, as
// RoundTripTimeout promises.
func TestBatchFault_PausedNoDeadline(t *testing.T) {
	srv := testserver.Memcached(t)
	const timeout = 400 * time.Millisecond
	s := fresh(t, srv, &memcachestore.Options{Timeout: timeout})
	mustSet(t, s, "k", "v", 0)
	fillPool(t, s, "k")
	resume := pause(t, srv)
	const n = 300 // more than InFlight * MaxSize: several GetMultis' worth
	chs := make([]<-chan timedResult, n)
	for i := range chs {
		chs[i] = getAsync(s, bg, fmt.Sprintf("k%d", i%50))
	}
	var worst time.Duration
	for i, ch := range chs {
		r := <-ch
		if r.err == nil || errors.Is(r.err, store.ErrNotFound) {
			t.Errorf("call %d: Get = %q, %v; want a timeout error", i, r.v, r.err)
		}
		worst = max(worst, r.took)
	}
	if bound := timeout + timeout/2 + 250*time.Millisecond; worst > bound {
		t.Errorf("slowest of %d Gets without a deadline on a paused server took %v; want at most about the client Timeout %v (bound %v)", n, worst, timeout, bound)
	}
	resume()
	wantValue(t, s, "k", "v")
}

// TestBatchFault_CloseWhileQueued: Close while Gets are queued on a hung
// server makes them return (ErrClosed) without waiting for the server,
// and leaves no goroutine behind once the server answers again.
func TestBatchFault_CloseWhileQueued(t *testing.T) {
	srv := testserver.Memcached(t)
	s, err := memcachestore.NewFromServers([]string{srv.Addr}, &memcachestore.Options{Timeout: 5 * time.Second, Batch: memcachestore.BatchOptions{InFlight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "k", "v", 0)
	before := runtime.NumGoroutine()
	resume := pause(t, srv)
	// With InFlight 1, one of these Gets is in flight (hung on the paused
	// server) and the other n queue behind it.
	const n = 20
	results := make(chan timedResult, n+1)
	for range n + 1 {
		go func() {
			start := time.Now()
			v, err := s.Get(bg, "k")
			results <- timedResult{v, err, time.Since(start)}
		}()
	}
	waitPending(t, s, n)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	for i := range n {
		select {
		case r := <-results:
			if !errors.Is(r.err, store.ErrClosed) {
				t.Errorf("queued Get after Close = %q, %v; want ErrClosed", r.v, r.err)
			}
		case <-timer.C:
			t.Fatalf("%d of %d queued Gets still waiting 1s after Close (the server is paused)", n-i, n)
		}
	}
	resume()
	<-results // the one that was in flight
	if _, err := s.Get(bg, "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close = %v; want ErrClosed", err)
	}
	// Every goroutine of the store (runners, round trips) must end.
	end := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(end) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines 10s after Close; %d before the Gets:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond) // polling runtime.NumGoroutine until it settles
	}
}

// TestBatchFault_KillRestart: Gets queued while the server is killed fail
// (not as misses) within the client Timeout; after a restart on the same
// port every caller reads again through the pool's dead connections.
func TestBatchFault_KillRestart(t *testing.T) {
	srv := testserver.Memcached(t)
	const timeout = 300 * time.Millisecond
	s := fresh(t, srv, &memcachestore.Options{Timeout: timeout})
	memcachestore.QueueAll(s)
	mustSet(t, s, "k", "v", 0)
	fillPool(t, s, "k")
	srv.Stop()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			v, err := s.Get(bg, fmt.Sprintf("k%d", i%4))
			if err == nil || errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get on a killed server = %q, %v; want a connection error", v, err)
			}
			if took := time.Since(start); took > 2*timeout+slack {
				t.Errorf("Get on a killed server took %v", took)
			}
		}()
	}
	wg.Wait()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "k", "v2", 0)
	for range 3 {
		var wg sync.WaitGroup
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if v, err := s.Get(bg, "k"); err != nil || string(v) != "v2" {
					t.Errorf("Get after restart = %q, %v; want v2", v, err)
				}
			}()
		}
		wg.Wait()
	}
}

// TestBatchFault_HostileKeysOneBatch: keys that memcached cannot take as
// they are (spaces, control bytes, 251+ bytes, '%', non-ASCII) share a
// GetMulti with plain keys and with one another; each caller gets its own
// key's value, none fails the batch, and an empty key is refused alone.
func TestBatchFault_HostileKeysOneBatch(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, &memcachestore.Options{Namespaces: []string{"ns"}})
	memcachestore.QueueAll(s)
	keys := []string{"plain", "with space", "ctl\x00\r\n", strings.Repeat("L", 251), strings.Repeat("ü", 300),
		"pct%20", "ns:with space", "ns:" + strings.Repeat("x", 400), "dup", "dup", "dup", "missing one"}
	for _, k := range keys {
		if k != "missing one" {
			mustSet(t, s, k, "v:"+k, 0)
		}
	}
	for round := range 20 {
		var wg sync.WaitGroup
		for _, k := range append(keys, "") {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := s.Get(bg, k)
				switch k {
				case "":
					if !errors.Is(err, store.ErrInvalidKey) {
						t.Errorf("round %d: Get(\"\") = %q, %v; want ErrInvalidKey", round, v, err)
					}
				case "missing one":
					if !errors.Is(err, store.ErrNotFound) {
						t.Errorf("round %d: Get(%q) = %q, %v; want ErrNotFound", round, k, v, err)
					}
				default:
					if err != nil || string(v) != "v:"+k {
						t.Errorf("round %d: Get(%.30q) = %.30q, %v; want its value", round, k, v, err)
					}
					if len(v) > 0 {
						v[0] = '!' // owned: must not show in another caller's copy
					}
				}
			}()
		}
		wg.Wait()
	}
}

// TestBatchFault_TooLargeBesideBatch: a Set of a value over the item size
// limit fails with ErrInvalidValue and leaves batched Gets of other keys
// (and of its own, which stays missing) unharmed.
func TestBatchFault_TooLargeBesideBatch(t *testing.T) {
	srv := testserver.Memcached(t, "-I", "1m")
	s := fresh(t, srv, nil)
	memcachestore.QueueAll(s)
	mustSet(t, s, "small", "ok", 0)
	big := make([]byte, 2<<20)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%4 == 0 {
				if err := s.Set(bg, "big", big, 0); !errors.Is(err, store.ErrInvalidValue) {
					t.Errorf("Set of 2 MiB with -I 1m = %v; want ErrInvalidValue", err)
				}
				return
			}
			if v, err := s.Get(bg, "small"); err != nil || string(v) != "ok" {
				t.Errorf("Get(small) beside a too-large Set = %q, %v", v, err)
			}
			if _, err := s.Get(bg, "big"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(big) after a refused Set = %v; want ErrNotFound", err)
			}
		}()
	}
	wg.Wait()
}
