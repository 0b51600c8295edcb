package cachet

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// The tests of issue 17: early refresh about once per ttl window at any
// read rate, no refresh when a newer value is there, and no lock flood.

// redisCache returns a cache of ints over a fresh real redis-server, with
// an opRecorder as its innermost middleware; wrap (if not nil) goes
// outside it.
func redisCache(t *testing.T, wrap store.Middleware) (*Cache[string, int], store.Store, *opRecorder) {
	t.Helper()
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{testserver.Redis(t).Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	o := &Options[string]{}
	if wrap != nil {
		o.Middleware = []store.Middleware{wrap}
	}
	c, rec := newCacheOver(t, s, o)
	t.Cleanup(func() { c.Close() })
	return c, s, rec
}

// earlySim reads one key of a Memoizer with early refresh (beta 1) on a
// real redis-server at rate reads per simulated second for windows ttl
// windows, with a simulated clock: fn takes delta (it advances the
// clock). perRead makes the XFetch draw on every read, as before issue 17.
// It returns the recomputations (after the first fill) per ttl window:
// their mean and maximum.
func earlySim(t *testing.T, rate float64, ttl, delta time.Duration, windows int, perRead bool) (mean float64, most int) {
	// Redis keeps the entries: their logical expiry, on the simulated
	// clock, is what counts.
	c, _, _ := redisCache(t, func(s store.Store) store.Store { return persist{s} })
	clock := &fakeClock{}
	start := time.Unix(1_700_000_000, 0)
	clock.ns.Store(start.UnixNano())
	var starts []time.Duration // fn's start times, since start
	refreshed := make(chan string, 1)
	o := &MemoizeOptions[string, int]{TTL: ttl, EarlyRefresh: 1, now: clock.now, seed: 42,
		onRefresh: func(k string) { refreshed <- k }}
	if perRead {
		rng := rand.New(rand.NewPCG(1, 2))
		var mu sync.Mutex // draw runs on readers and on the background refresh
		o.draw = func(string, int64) float64 {
			mu.Lock()
			defer mu.Unlock()
			return 1 - rng.Float64()
		}
	}
	m, err := NewMemoizer(c, func(ctx context.Context, k string) (int, error) {
		starts = append(starts, time.Duration(clock.ns.Load()-start.UnixNano()))
		clock.advance(delta)
		return len(starts), nil
	}, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key, _ := m.Key("hot")
	step := time.Duration(float64(time.Second) / rate)
	end := start.Add(time.Duration(windows) * ttl)
	for at := start; at.Before(end); at = at.Add(step) {
		if now := clock.now(); now.Before(at) {
			clock.ns.Store(at.UnixNano())
		}
		if _, err := m.Call(ctx, "hot"); err != nil {
			t.Fatal(err)
		}
		// A refresh started by this read runs to its end before the next
		// read (reads during it would find the key busy).
		if v, ok := m.refreshing.Load(key); ok && v.(*refreshMark).until == 0 {
			<-refreshed
		}
	}
	if len(starts) == 0 || starts[0] != 0 {
		t.Fatalf("fn started at %v; want the first fill at 0", starts)
	}
	per := make([]int, windows)
	for _, s := range starts[1:] {
		if i := int(s / ttl); i < windows {
			per[i]++
		}
	}
	for _, n := range per {
		most = max(most, n)
	}
	return float64(len(starts)-1) / float64(windows), most
}

func TestMemoize_EarlyRefreshOncePerWindow(t *testing.T) {
	// ttl/delta = 10, as the 2s/200ms, scaled down so that 20,000
	// reads per simulated second stay few round trips.
	const (
		ttl     = 200 * time.Millisecond
		delta   = 20 * time.Millisecond
		windows = 10
	)
	for _, rate := range []float64{100, 20_000} {
		mean, most := earlySim(t, rate, ttl, delta, windows, false)
		t.Logf("%.0f reads/s: %.2f recomputes per ttl window (max %d)", rate, mean, most)
		if mean > 1.2 || mean < 0.8 || most > 2 {
			t.Errorf("%.0f reads/s: %.2f recomputes per ttl window (max %d); want 0.8..1.2, max 2", rate, mean, most)
		}
	}
	// The model of the issue: a draw on every read refreshes earlier the
	// more reads there are (delta*ln(reads per delta) before the expiry).
	mean, most := earlySim(t, 20_000, ttl, delta, 5, true)
	t.Logf("a draw per read, 20000 reads/s: %.2f recomputes per ttl window (max %d)", mean, most)
	if mean < 1.5 {
		t.Errorf("a draw per read at 20000 reads/s: %.2f recomputes per window; the model says about 2.5", mean)
	}
}

// persist is a middleware that stores every value without a ttl.
type persist struct{ store.Store }

func (p persist) Unwrap() store.Store { return p.Store }

func (p persist) Set(ctx context.Context, key string, value []byte, _ time.Duration) error {
	return p.Store.Set(ctx, key, value, 0)
}

// lockHook is a middleware that calls onLock after each Add of a lock key.
type lockHook struct {
	store.Store
	onLock func(ctx context.Context, err error)
}

func (h *lockHook) Unwrap() store.Store { return h.Store }

func (h *lockHook) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := h.Store.Add(ctx, key, value, ttl)
	if strings.HasSuffix(key, LockSuffix) && h.onLock != nil {
		h.onLock(ctx, err)
	}
	return err
}

func TestMemoize_RefreshSkipsNewerValue(t *testing.T) {
	ctx := context.Background()
	hook := &lockHook{}
	c, _, rec := redisCache(t, func(s store.Store) store.Store { hook.Store = s; return hook })
	clock := &fakeClock{}
	clock.ns.Store(time.Now().UnixNano())
	var calls atomic.Int32
	var r atomic.Value
	r.Store(1.0) // never early
	refreshed := make(chan string, 1)
	m, err := NewMemoizer(c, func(ctx context.Context, k string) (int, error) {
		clock.advance(time.Second)
		return int(calls.Add(1)), nil
	}, &MemoizeOptions[string, int]{TTL: time.Hour, EarlyRefresh: 1, StampedeLease: 10 * time.Second, now: clock.now,
		draw: func(string, int64) float64 { return r.Load().(float64) }, onRefresh: func(k string) { refreshed <- k }})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Call(ctx, "k"); v != 1 {
		t.Fatalf("first call = %d; want 1", v)
	}
	clock.advance(time.Hour - 10*time.Second)
	r.Store(1e-6) // due: -ln(1e-6) ≈ 13.8 deltas ≥ the 10s left

	// Another writer stores a newer value after the refresh has taken the
	// lock and before it reads the entry again.
	var wrote atomic.Bool
	adds := rec.count("add")
	hook.onLock = func(ctx context.Context, err error) {
		if err == nil && wrote.CompareAndSwap(false, true) {
			if err := c.Set(ctx, "k", 99); err != nil {
				t.Error(err)
			}
		}
	}
	if v, _ := m.Call(ctx, "k"); v != 1 {
		t.Fatalf("early call = %d; want the cached 1", v)
	}
	<-refreshed
	if !wrote.Load() {
		t.Fatal("the background refresh took no lock")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("fn ran %d times; want 1: the refresh found a newer value and must not call fn", n)
	}
	if v, err := c.Get(ctx, "k"); v != 99 || err != nil {
		t.Fatalf("Get = %d, %v; want the newer 99", v, err)
	}
	if n := rec.count("add") - adds; n != 1 {
		t.Fatalf("%d Adds; want 1 lock attempt", n)
	}

	// Without another writer, a read of the old entry that arrives just
	// after this process refreshed it starts nothing: no lock attempt, no
	// fn. Set the old entry back and let the refresh run.
	hook.onLock = nil
	if _, err := m.Refresh(ctx, "k"); err != nil { // calls = 2
		t.Fatal(err)
	}
	key, _ := m.Key("k")
	old := readHeader(t, c, key).Expiry
	clock.advance(time.Hour - 10*time.Second)
	m.Call(ctx, "k") // due: refreshes (calls = 3)
	<-refreshed
	if n := calls.Load(); n != 3 {
		t.Fatalf("fn ran %d times; want 3", n)
	}
	adds = rec.count("add")
	m.refreshAsync(ctx, "k", key, old) // a late trigger by the old entry
	if v, ok := m.refreshing.Load(key); !ok || v.(*refreshMark).until == 0 {
		t.Fatalf("mark %v after a late trigger; want the held mark, no refresh", v)
	}
	if n := rec.count("add"); n != adds || calls.Load() != 3 {
		t.Fatalf("a late trigger by the refreshed entry cost %d Adds and %d calls of fn; want none", n-adds, calls.Load()-3)
	}
	// Once the hold is over, a trigger by the old entry takes the lock,
	// reads the entry again, finds the newer one and does not call fn.
	clock.advance(11 * time.Second)
	m.refreshAsync(ctx, "k", key, old)
	<-refreshed
	if n := rec.count("add"); n != adds+1 || calls.Load() != 3 {
		t.Fatalf("a trigger by a replaced entry: %d Adds, fn ran %d more times; want 1 Add, fn not called", n-adds, calls.Load()-3)
	}
}

// readHeader returns the entry header stored at key.
func readHeader(t *testing.T, c *Cache[string, int], key string) (h struct{ Expiry int64 }) {
	t.Helper()
	b, err := c.Store().Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	eh, err := c.decodeEntry("get", key, b, &v)
	if err != nil {
		t.Fatal(err)
	}
	h.Expiry = eh.Expiry
	return h
}

func TestMemoize_RefreshLockTakenMarksBusy(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"early", "stale"} {
		t.Run(mode, func(t *testing.T) {
			c, s, rec := redisCache(t, nil)
			clock := &fakeClock{}
			clock.ns.Store(time.Now().UnixNano())
			var calls atomic.Int32
			refreshed := make(chan string, 1)
			const lease = 10 * time.Second
			o := &MemoizeOptions[string, int]{TTL: time.Hour, StampedeLease: lease, now: clock.now,
				onRefresh: func(k string) {
					select {
					case refreshed <- k:
					default: // more refreshes than expected: the counts below fail
					}
				}}
			if mode == "early" {
				o.EarlyRefresh = 1
				o.draw = func(string, int64) float64 { return 1e-15 } // 34.5 deltas early
			} else {
				o.StaleWhileRevalidate = time.Hour
			}
			m, err := NewMemoizer(c, func(ctx context.Context, k string) (int, error) {
				clock.advance(time.Second)
				return int(calls.Add(1)), nil
			}, o)
			if err != nil {
				t.Fatal(err)
			}
			m.Call(ctx, "k")
			if mode == "early" {
				clock.advance(time.Hour - 30*time.Second) // still fresh after the lease
			} else {
				clock.advance(time.Hour + 5*time.Second)
			}
			// Another process holds the lock and computes the value.
			key, _ := m.Key("k")
			if err := s.Add(ctx, key+LockSuffix, []byte("another process"), time.Minute); err != nil {
				t.Fatal(err)
			}
			adds := rec.count("add")
			for i := range 200 {
				if v, err := m.Call(ctx, "k"); v != 1 || err != nil {
					t.Fatalf("call %d = %d, %v; want the cached 1", i, v, err)
				}
				if i == 0 {
					<-refreshed // the attempt has failed
				}
			}
			if n := rec.count("add") - adds; n != 1 {
				t.Fatalf("200 reads of a due entry while another process holds the lock sent %d SET NX; want 1", n)
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("fn ran %d times; want 1", n)
			}
			// The key stays busy until the lease would have expired; then
			// one read tries again.
			clock.advance(lease - time.Second)
			m.Call(ctx, "k")
			if n := rec.count("add") - adds; n != 1 {
				t.Fatalf("before the lease is over: %d SET NX; want still 1", n)
			}
			clock.advance(2 * time.Second)
			m.Call(ctx, "k")
			<-refreshed
			if n := rec.count("add") - adds; n != 2 {
				t.Fatalf("after the lease: %d SET NX; want 2", n)
			}
		})
	}
}

// TestMemoize_LateRefreshServesOldValue: a background refresh that is
// still running when the entry's ttl passes (here, blocked in fn) leaves
// no reader without a value: within the margin past the ttl, every
// process serves the old value at once, without a lock attempt per read,
// and fn runs once. Past the margin, or with no refresh under way, a
// reader misses as before.
func TestMemoize_LateRefreshServesOldValue(t *testing.T) {
	for _, backend := range []string{"redis", "memstore"} {
		t.Run(backend, func(t *testing.T) {
			var c *Cache[string, int]
			var s store.Store
			var rec *opRecorder
			if backend == "redis" {
				c, s, rec = redisCache(t, nil)
			} else {
				c, s, rec = newTestCache(t, nil)
			}
			ctx := context.Background()
			clock := &fakeClock{}
			clock.ns.Store(time.Now().UnixNano())
			const (
				ttl   = time.Minute
				delta = 5 * time.Second // margin: max(2*delta, ttl/10) = 10s
				lease = 30 * time.Second
			)
			var calls atomic.Int32
			inFn := make(chan struct{}, 1)
			release := make(chan struct{})
			fn := func(ctx context.Context, k string) (int, error) {
				n := calls.Add(1)
				if n == 1 {
					clock.advance(delta)
					return 1, nil
				}
				inFn <- struct{}{}
				<-release
				return int(n), nil
			}
			var r atomic.Value
			r.Store(1.0) // never early
			refreshed := make(chan string, 8)
			// Three Memoizers of one function stand for three processes.
			var p [3]*Memoizer[string, int]
			for i := range p {
				var err error
				p[i], err = NewMemoizer(c, fn, &MemoizeOptions[string, int]{TTL: ttl, EarlyRefresh: 1,
					StampedeLease: lease, StampedePoll: time.Millisecond, now: clock.now,
					draw:      func(string, int64) float64 { return r.Load().(float64) },
					onRefresh: func(k string) { refreshed <- k }})
				if err != nil {
					t.Fatal(err)
				}
			}
			// A call that waits for the blocked refresh fails here
			// instead of hanging.
			call := func(i int) (int, error) {
				ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				return p[i].Call(ctx, "k")
			}
			if v, err := call(0); v != 1 || err != nil {
				t.Fatalf("first call = %d, %v; want 1, nil", v, err)
			}
			key, _ := p[0].Key("k")
			if d, err := s.TTL(ctx, key); err != nil || d <= ttl || d > ttl+10*time.Second {
				t.Fatalf("store ttl %v, %v; want the ttl and the margin, %v", d, err, ttl+10*time.Second)
			}

			// 10s before the expiry the entry is due (-ln r ≈ 13.8 deltas):
			// process 0 starts the refresh, which blocks in fn; process 1
			// finds the lock taken.
			clock.advance(ttl - 10*time.Second)
			r.Store(1e-6)
			if v, err := call(0); v != 1 || err != nil {
				t.Fatalf("due call = %d, %v; want the cached 1", v, err)
			}
			<-inFn
			if v, err := call(1); v != 1 || err != nil {
				t.Fatalf("due call in process 1 = %d, %v; want the cached 1", v, err)
			}
			<-refreshed // process 1's attempt found the lock taken

			// The ttl passes while the refresh is blocked; within the margin
			// every process serves the old value, the ones that knew of the
			// refresh without a lock attempt, process 2 after one.
			clock.advance(15 * time.Second) // 5s past the expiry
			adds := rec.count("add")
			for i := range 30 {
				if v, err := call(i % 3); v != 1 || err != nil {
					t.Fatalf("process %d, 5s past the ttl, refresh under way: %d, %v; want the old 1 at once", i%3, v, err)
				}
			}
			if n := rec.count("add") - adds; n != 1 {
				t.Fatalf("30 reads within the margin sent %d SET NX; want 1 (process 2's first read)", n)
			}
			if n := calls.Load(); n != 2 {
				t.Fatalf("fn ran %d times; want 2 (the fill and the refresh)", n)
			}

			// Past the margin the old value is not served: the reader
			// waits for the refresh.
			clock.advance(6 * time.Second) // 11s past the expiry
			wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			_, err := p[2].Call(wctx, "k")
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("past the margin: err = %v; want the wait for the refresh to end at the deadline", err)
			}

			r.Store(1.0) // the new entry is not due
			close(release)
			<-refreshed // process 0's refresh stored 2
			for i := range p {
				if v, err := call(i); v != 2 || err != nil {
					t.Fatalf("process %d after the refresh: %d, %v; want 2", i, v, err)
				}
			}
			if n := calls.Load(); n != 2 {
				t.Fatalf("fn ran %d times; want 2: one recompute for the late refresh", n)
			}

			// Within the margin of the new entry but with no refresh under
			// way (none was due), a reader computes the value itself, as at
			// the ttl without early refresh.
			clock.advance(ttl + 3*time.Second)
			if v, err := call(1); v != 3 || err != nil {
				t.Fatalf("within the margin, no refresh under way: %d, %v; want a new value, 3", v, err)
			}
		})
	}
}

// TestMemoize_EarlyRefreshRoundTrips checks on a real redis-server what a
// hot key costs with early refresh and the stampede lock: a hit is one
// GET and no other command, and an entry that comes due while three
// processes read it concurrently costs one SET NX per process and one
// call of fn.
func TestMemoize_EarlyRefreshRoundTrips(t *testing.T) {
	srv := testserver.Redis(t)
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, rec := newCacheOver(t, s, nil)
	t.Cleanup(func() { c.Close() })
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	ctx := context.Background()
	clock := &fakeClock{}
	clock.ns.Store(time.Now().UnixNano())
	var calls atomic.Int32
	release := make(chan struct{})
	fn := func(ctx context.Context, k string) (int, error) {
		n := calls.Add(1)
		if n == 1 {
			clock.advance(time.Second) // delta
		} else {
			<-release
		}
		return int(n), nil
	}
	var r atomic.Value
	r.Store(1.0)
	refreshed := make(chan string, 8)
	var p [3]*Memoizer[string, int]
	for i := range p {
		p[i], err = NewMemoizer(c, fn, &MemoizeOptions[string, int]{TTL: time.Hour, EarlyRefresh: 1,
			StampedeLease: 10 * time.Second, now: clock.now,
			draw:      func(string, int64) float64 { return r.Load().(float64) },
			onRefresh: func(k string) { refreshed <- k }})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p[0].Call(ctx, "k"); err != nil {
		t.Fatal(err)
	}

	// Hits: one GET each, nothing else.
	before := commandStats(t, admin)
	const hits = 90
	for i := range hits {
		if v, err := p[i%3].Call(ctx, "k"); v != 1 || err != nil {
			t.Fatalf("hit %d = %d, %v; want 1, nil", i, v, err)
		}
	}
	after := commandStats(t, admin)
	for cmd, n := range after {
		n -= before[cmd]
		switch {
		case cmd == "info":
		case cmd == "get" && n != hits:
			t.Errorf("%d hits sent %d GETs; want one each", hits, n)
		case cmd != "get" && n != 0:
			t.Errorf("%d hits sent %d %s; want none", hits, n, strings.ToUpper(cmd))
		}
	}

	// The entry comes due; 3 processes x 4 workers read it 25 times each
	// while the refresh (blocked in fn) runs.
	clock.advance(time.Hour - 10*time.Second)
	r.Store(1e-6)
	adds, gets := rec.count("add"), rec.count("get")
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				if v, err := p[w%3].Call(ctx, "k"); v != 1 || err != nil {
					t.Errorf("process %d: %d, %v; want the cached 1 during the refresh", w%3, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(release)
	for range p {
		<-refreshed // one refresh attempt per process
	}
	if n := rec.count("add") - adds; n != 3 {
		t.Errorf("300 reads of a due entry by 3 processes sent %d SET NX; want 3, one per process", n)
	}
	if n := rec.count("get") - gets; n > 300+1 {
		t.Errorf("300 reads sent %d GETs; want at most one each and the refresh's re-read", n)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("fn ran %d times; want 2 (the fill and one refresh)", n)
	}
	for i := range p {
		if v, err := p[i].Call(ctx, "k"); v != 2 || err != nil {
			t.Errorf("process %d after the refresh: %d, %v; want 2", i, v, err)
		}
	}
	select {
	case k := <-refreshed:
		t.Errorf("a further refresh of %s; want none", k)
	default:
	}
}

// commandStats returns the number of calls of each command a
// redis-server has served (INFO commandstats).
func commandStats(t *testing.T, c *redis.Client) map[string]int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	stats := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		// cmdstat_get:calls=12,usec=...
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, err := strconv.Atoi(calls)
		if err != nil {
			t.Fatalf("INFO commandstats line %q: %v", line, err)
		}
		stats[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	if len(stats) == 0 {
		t.Fatalf("no command statistics in %q", info)
	}
	return stats
}
