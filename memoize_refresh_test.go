package cachet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/redisstore"
)

// hideCAD hides the store's CompareAndDeleter, to test the fallback.
type hideCAD struct{ store.Store }

func TestMemoize_StampedeLock(t *testing.T) {
	memory := func(t *testing.T) store.Store {
		s := memstore.Must(nil)
		t.Cleanup(func() { s.Close() })
		return s
	}
	for _, tc := range []struct {
		name string
		open func(t *testing.T) store.Store
		wrap func(store.Store) store.Store
	}{
		{"memstore", memory, nil},
		{"memstore without CompareAndDelete", memory, func(s store.Store) store.Store { return hideCAD{s} }},
		{"redis", func(t *testing.T) store.Store {
			s, err := redisstore.Open(&redisstore.Options{Addrs: []string{testserver.Redis(t).Addr}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}, nil},
		{"memcached", func(t *testing.T) store.Store {
			s, err := memcachestore.NewFromServers([]string{testserver.Memcached(t).Addr}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			o := Options[string]{Namespace: "lock"}
			if tc.wrap != nil {
				o.Middleware = []store.Middleware{tc.wrap}
			}
			s := tc.open(t)
			c, rec := newCacheOver(t, s, &o)
			_, hasCAD := store.As[store.CompareAndDeleter](c.s)
			if want := tc.wrap == nil; hasCAD != want {
				t.Fatalf("CompareAndDeleter found: %v; want %v", hasCAD, want)
			}
			// Two Memoizers of one function stand for two processes: they
			// share the store but not their singleflight.
			var calls atomic.Int32
			inFn := make(chan struct{})
			release := make(chan struct{})
			fn := func(ctx context.Context, k string) (int, error) {
				if calls.Add(1) == 1 {
					close(inFn)
					<-release
				}
				return 11, nil
			}
			opt := &MemoizeOptions[string, int]{StampedeLease: 10 * time.Second, StampedePoll: time.Millisecond}
			p1, _ := NewMemoizer(c, fn, opt)
			p2, _ := NewMemoizer(c, fn, opt)
			first := make(chan int, 1)
			go func() { v, _ := p1.Call(ctx, "k"); first <- v }()
			<-inFn
			lockKey := "lock:k" + LockSuffix
			if ok, _ := s.Exists(ctx, lockKey); !ok {
				t.Fatal("no lock while fn runs")
			}
			second := make(chan int, 1)
			addsBefore := rec.count("add")
			go func() { v, _ := p2.Call(ctx, "k"); second <- v }()
			// The second process is waiting once it has tried the lock.
			for rec.count("add") == addsBefore {
				time.Sleep(time.Millisecond)
			}
			close(release)
			if v1, v2 := <-first, <-second; v1 != 11 || v2 != 11 {
				t.Fatalf("got %d and %d; want 11 twice", v1, v2)
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("fn ran %d times across the two processes; want 1", n)
			}
			if ok, _ := s.Exists(ctx, lockKey); ok {
				t.Fatal("lock not released")
			}
		})
	}
}

func TestMemoize_StampedeLockTakeOver(t *testing.T) {
	ctx := context.Background()
	c, s, _ := newTestCache(t, nil)
	// Another process holds the lock and dies without a value: the waiter
	// takes over when the lease expires.
	if err := s.Add(ctx, "k"+LockSuffix, []byte("someone else"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	f := Memoize(c, func(ctx context.Context, k string) (int, error) { calls.Add(1); return 2, nil },
		&MemoizeOptions[string, int]{StampedeLease: time.Second, StampedePoll: 5 * time.Millisecond})
	if v, err := f(ctx, "k"); v != 2 || err != nil || calls.Load() != 1 {
		t.Fatalf("got %d, %v after %d calls; want 2, nil after 1", v, err, calls.Load())
	}
	// A caller's own ctx bounds its wait.
	if err := s.Add(ctx, "w"+LockSuffix, []byte("someone else"), time.Minute); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := f(wctx, "w"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting caller: err = %v; want DeadlineExceeded", err)
	}
	// The owner's lock is not released by anyone else.
	if b, _ := s.Get(ctx, "w"+LockSuffix); string(b) != "someone else" {
		t.Fatalf("lock holds %q; want the other owner's token", b)
	}
}

func TestXFetch_ProbabilityRisesNearExpiry(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const (
		n      = 20000
		delta  = int64(100 * time.Millisecond)
		expiry = int64(1e12)
	)
	// With beta = 1 the chance of a refresh at gap g before expiry is
	// exp(-g/delta).
	prev := -1.0
	for _, gap := range []float64{5, 3, 2, 1, 0.5, 0.25, 0.1, 0} {
		hits := 0
		now := expiry - int64(gap*float64(delta))
		for range n {
			if xfetch(now, expiry, delta, 1, 1-rng.Float64()) {
				hits++
			}
		}
		p := float64(hits) / n
		want := math.Exp(-gap)
		if math.Abs(p-want) > 0.015 {
			t.Errorf("gap %.2f delta: refresh rate %.4f; want %.4f ± 0.015", gap, p, want)
		}
		if p <= prev && gap > 0 {
			t.Errorf("gap %.2f delta: refresh rate %.4f did not rise (was %.4f)", gap, p, prev)
		}
		prev = p
	}
	if prev != 1 {
		t.Errorf("at expiry the refresh rate is %v; want 1", prev)
	}
}

// TestXFetch_EntriesRefreshEarlier checks the decision on stored entries:
// a Memoizer with beta = 1 and a fixed seed reads entries of n keys whose
// recomputation took 1s, at several times before their expiry. The draw
// is made once per entry, so the share of keys refreshed early at gap g
// before the expiry is exp(-(g-delta)/delta) (1 within delta of it), and
// each entry's decision is the same on every read.
func TestXFetch_EntriesRefreshEarlier(t *testing.T) {
	c, _, _ := newTestCache(t, nil)
	m, err := NewMemoizer(c, func(context.Context, string) (int, error) { return 1, nil },
		&MemoizeOptions[string, int]{TTL: time.Hour, EarlyRefresh: 1, seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(1_000_000, 0)
	b, _, err := m.entry("k", created, entry.Header{Delta: int64(time.Second)}, 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expiry := created.Add(time.Hour)
	const n = 10000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d", i)
	}
	prev := -1.0
	wasEarly := make([]bool, n)
	for _, before := range []time.Duration{time.Minute, 5 * time.Second, 3 * time.Second, 2 * time.Second, 1500 * time.Millisecond, time.Second, 200 * time.Millisecond, 0} {
		early := 0
		for i, key := range keys {
			_, _, state := m.decode(key, b, expiry.Add(-before).UnixNano())
			if _, _, again := m.decode(key, b, expiry.Add(-before).UnixNano()); again != state {
				t.Fatalf("%s %v before expiry: state %v, then %v; want one decision per entry", key, before, state, again)
			}
			switch state {
			case entryEarly:
				early++
				wasEarly[i] = true
			case entryFresh:
				if wasEarly[i] && before > 0 {
					t.Fatalf("%s: early at an earlier time, not %v before expiry", key, before)
				}
			default:
				if before > 0 {
					t.Fatalf("%v before expiry: state %v; want fresh or early", before, state)
				}
			}
		}
		p := float64(early) / n
		// One delta (1s) earlier than XFetch's moment.
		want := math.Min(1, math.Exp(-(before - time.Second).Seconds()))
		if before == 0 {
			want = 0 // at expiry the entry is a miss, not an early refresh
		}
		if math.Abs(p-want) > 0.02 {
			t.Errorf("%v before expiry: early refresh rate %.4f; want %.4f ± 0.02", before, p, want)
		}
		if before > 0 && p < prev {
			t.Errorf("%v before expiry: rate %.4f fell from %.4f", before, p, prev)
		}
		prev = p
	}
}

// fakeClock is a settable clock for memoize's now seam.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestMemoize_EarlyRefresh(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newTestCache(t, nil)
	clock := &fakeClock{}
	clock.ns.Store(time.Now().UnixNano())
	var calls atomic.Int32
	var r atomic.Value
	r.Store(1.0) // ln 1 = 0: never early
	refreshed := make(chan string, 1)
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		clock.advance(time.Second) // fn "takes" 1s: delta
		return int(calls.Add(1)), nil
	}, &MemoizeOptions[string, int]{TTL: time.Hour, EarlyRefresh: 1, now: clock.now,
		draw: func(string, int64) float64 { return r.Load().(float64) }, onRefresh: func(k string) { refreshed <- k }})

	if v, _ := f(ctx, "k"); v != 1 {
		t.Fatalf("first call = %d; want 1", v)
	}
	clock.advance(time.Hour - 10*time.Second)
	if v, _ := f(ctx, "k"); v != 1 || calls.Load() != 1 {
		t.Fatalf("got %d with %d calls; want the cached 1 without a refresh", v, calls.Load())
	}
	// -ln(1e-6) ≈ 13.8 deltas ≥ the 10s left.
	r.Store(1e-6)
	if v, _ := f(ctx, "k"); v != 1 {
		t.Fatalf("early call = %d; want the cached 1 while refreshing", v)
	}
	<-refreshed
	if v, _ := f(ctx, "k"); v != 2 || calls.Load() != 2 {
		t.Fatalf("after the early refresh: %d with %d calls; want 2 with 2", v, calls.Load())
	}
}

func TestMemoize_StaleWhileRevalidate(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newTestCache(t, nil)
	clock := &fakeClock{}
	clock.ns.Store(time.Now().UnixNano())
	var calls atomic.Int32
	release := make(chan struct{})
	refreshed := make(chan string, 1)
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		if calls.Add(1) == 2 {
			<-release
		}
		return int(calls.Load()), nil
	}, &MemoizeOptions[string, int]{TTL: time.Minute, StaleWhileRevalidate: time.Hour, now: clock.now, onRefresh: func(k string) { refreshed <- k }})

	f(ctx, "k")
	clock.advance(2 * time.Minute) // stale, within the window
	for range 3 {
		if v, err := f(ctx, "k"); v != 1 || err != nil {
			t.Fatalf("stale call = %d, %v; want the stale 1 at once", v, err)
		}
	}
	close(release)
	<-refreshed
	if n := calls.Load(); n != 2 {
		t.Fatalf("fn ran %d times; want 2 (one background refresh for three stale calls)", n)
	}
	if v, _ := f(ctx, "k"); v != 2 {
		t.Fatalf("after the refresh: %d; want 2", v)
	}
	clock.advance(2 * time.Hour) // past the window: a miss
	if v, _ := f(ctx, "k"); v != 3 {
		t.Fatalf("past the window: %d; want 3 (computed synchronously)", v)
	}
}
