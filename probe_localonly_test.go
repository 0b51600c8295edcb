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
)

// within runs fn and fails the test when it has not returned within d
// (a deadlocked cache would hang the test otherwise).
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: not done within %v (deadlock?)", what, d)
	}
}

// mustPanicOrErr runs fn and reports whether it panicked.
func panics(fn func()) (p any) {
	defer func() { p = recover() }()
	fn()
	return nil
}

// TestLocalProbe_WeigherPanics: a Weigher that panics on one value makes
// the write that stores it panic on the caller's goroutine (the user's
// function, the user's panic), and leaves the cache working for every
// other key and goroutine afterwards: no lock is left held.
func TestLocalProbe_WeigherPanics(t *testing.T) {
	c, err := cachet.NewLocal[string](&cachet.LocalOptions[int]{
		Weigher: func(_ string, v int) uint32 {
			if v < 0 {
				panic("negative weight")
			}
			return 1
		},
		MaxWeight: 1000,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for i := range 20 {
		k := fmt.Sprint(i)
		p := panics(func() { c.Set(ctx, k, -1) })
		t.Logf("Set of a value whose Weigher panics: panic %v", p)
	}
	within(t, 20*time.Second, "concurrent use after Weigher panics", func() {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 500 {
					k := fmt.Sprint((g + j) % 40)
					if err := c.Set(ctx, k, j); err != nil {
						t.Errorf("Set after Weigher panics: %v", err)
						return
					}
					if _, err := c.Get(ctx, k); err != nil && !errors.Is(err, cachet.ErrNotFound) {
						t.Errorf("Get after Weigher panics: %v", err)
						return
					}
					c.Delete(ctx, k)
				}
			}()
		}
		wg.Wait()
	})
	if err := c.Set(ctx, "x", 7); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "x"); err != nil || v != 7 {
		t.Errorf("Get(x) = %d, %v; want 7", v, err)
	}
}

// TestLocalProbe_WeigherZero: a Weigher that returns 0 for every value
// must not make a weight-bounded memory-only cache unbounded.
func TestLocalProbe_WeigherZero(t *testing.T) {
	c, err := cachet.NewLocal[int](&cachet.LocalOptions[int]{
		Weigher:   func(string, int) uint32 { return 0 },
		MaxWeight: 100,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for i := range 5000 {
		if err := c.Set(ctx, i, i); err != nil {
			t.Fatal(err)
		}
	}
	kept := 0
	for i := range 5000 {
		if _, err := c.Get(ctx, i); err == nil {
			kept++
		}
	}
	t.Logf("Weigher returning 0, MaxWeight 100: %d of 5000 values kept", kept)
	if kept > 200 {
		t.Errorf("Weigher returning 0, MaxWeight 100: %d of 5000 values kept; want the cache bounded", kept)
	}
}

// TestLocalProbe_ClonePanics: a Clone that panics panics on the reading
// caller's goroutine (Get, GetOrLoad, memoized calls, concurrent ones
// included), never on a goroutine of the cache's own, and the cache works
// afterwards.
func TestLocalProbe_ClonePanics(t *testing.T) {
	var explode atomic.Bool
	c, err := cachet.NewLocal[string](&cachet.LocalOptions[[]int]{
		Clone: func(v []int) []int {
			if explode.Load() {
				panic("clone failed")
			}
			return append([]int(nil), v...)
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", []int{1}); err != nil {
		t.Fatal(err)
	}
	loads := atomic.Int64{}
	memo := cachet.Memoize(c, func(_ context.Context, k string) ([]int, error) {
		loads.Add(1)
		return []int{2}, nil
	}, nil)
	explode.Store(true)
	if p := panics(func() { c.Get(ctx, "k") }); p == nil {
		t.Error("Get with a panicking Clone did not panic")
	}
	within(t, 20*time.Second, "concurrent reads with a panicking Clone", func() {
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := fmt.Sprint("m", g%4)
				panics(func() { memo(ctx, k) })
				panics(func() {
					c.GetOrLoad(ctx, fmt.Sprint("l", g%4), func(context.Context) ([]int, error) { return []int{3}, nil })
				})
			}()
		}
		wg.Wait()
	})
	explode.Store(false)
	if v, err := c.Get(ctx, "k"); err != nil || len(v) != 1 || v[0] != 1 {
		t.Errorf("Get after Clone panics = %v, %v; want [1]", v, err)
	}
	if v, err := memo(ctx, "m0"); err != nil || len(v) != 1 || v[0] != 2 {
		t.Errorf("memoized call after Clone panics = %v, %v; want [2]", v, err)
	}
}

// TestLocalProbe_MemoizeErrors: a memoized function's error is returned
// to every concurrent caller of its key, is not cached (the next call
// runs the function again), and a later success is cached.
func TestLocalProbe_MemoizeErrors(t *testing.T) {
	c, err := cachet.NewLocal[int](&cachet.LocalOptions[string]{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errBoom := errors.New("boom")
	var calls atomic.Int64
	var fail atomic.Bool
	fail.Store(true)
	memo := cachet.Memoize(c, func(_ context.Context, k int) (string, error) {
		calls.Add(1)
		if fail.Load() {
			return "", errBoom
		}
		return fmt.Sprint("v", k), nil
	}, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := memo(ctx, 1); !errors.Is(err, errBoom) {
				t.Errorf("memoized call of a failing function = %q, %v; want its error", v, err)
			}
		}()
	}
	wg.Wait()
	n := calls.Load()
	if _, err := memo(ctx, 1); !errors.Is(err, errBoom) || calls.Load() != n+1 {
		t.Errorf("error was cached: calls %d -> %d, err %v", n, calls.Load(), err)
	}
	if _, err := c.Get(ctx, 1); !errors.Is(err, cachet.ErrNotFound) {
		t.Errorf("Get after failed loads = %v; want ErrNotFound", err)
	}
	fail.Store(false)
	if v, err := memo(ctx, 1); err != nil || v != "v1" {
		t.Fatalf("memoized call after recovery = %q, %v", v, err)
	}
	n = calls.Load()
	if v, err := memo(ctx, 1); err != nil || v != "v1" || calls.Load() != n {
		t.Errorf("success not cached: %q, %v, calls %d -> %d", v, err, n, calls.Load())
	}
}

// TestLocalProbe_ShortTTLConcurrent: with a 20ms ttl, concurrent Set, Get,
// Delete, Increment, Expire and Clear under -race never return a value
// that was not written for the key, and every value Set wrote expires
// (polled). A counter that Increment created has no ttl (as over
// memstore), so counters use keys of their own.
func TestLocalProbe_ShortTTLConcurrent(t *testing.T) {
	c, err := cachet.NewLocal[string](&cachet.LocalOptions[int64]{MaxEntries: 64}, &cachet.Options[string]{Namespace: "t", TTL: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 400 {
				k := fmt.Sprint(j % 16)
				var err error
				switch (g + j) % 6 {
				case 0:
					err = c.Set(ctx, k, int64(j%16)*1000)
				case 1:
					var v int64
					v, err = c.Get(ctx, k)
					if err == nil && v != int64(j%16)*1000 {
						t.Errorf("Get(%s) = %d", k, v)
					}
				case 2:
					_, err = c.Delete(ctx, k)
				case 3:
					// Counters get no ttl when Increment creates them (as
					// over memstore): on keys of their own.
					_, err = c.Increment(ctx, "c"+k, 1)
				case 4:
					_, err = c.Expire(ctx, k, 5*time.Millisecond)
				case 5:
					if j%50 == 0 {
						err = c.Clear(ctx)
					}
				}
				if err != nil && !errors.Is(err, cachet.ErrNotFound) {
					t.Errorf("op %d on %s: %v", (g+j)%6, k, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for end := time.Now().Add(5 * time.Second); ; {
		left := 0
		for i := range 16 {
			if _, err := c.Get(ctx, fmt.Sprint(i)); err == nil {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("%d values still readable 5s after the last write with a 20ms ttl", left)
		}
		time.Sleep(5 * time.Millisecond) // polling expiry
	}
}
