package cachet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/redisstore"
)

type formatUser struct {
	Name string `json:"name"`
}

// backends opens a fresh store of each kind: memstore, a real
// redis-server and a real memcached.
func backends(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"memstore": func(t *testing.T) store.Store { return memstore.Must(nil) },
		"redis": func(t *testing.T) store.Store {
			srv := testserver.Redis(t)
			s, err := redisstore.Open(&redisstore.Options{Addrs: []string{srv.Addr}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"memcached": func(t *testing.T) store.Store {
			srv := testserver.Memcached(t)
			s, err := memcachestore.NewFromServers([]string{srv.Addr}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

// The snippet of issue 11, which used to break silently: a Memoizer, Get
// and Set over the same keys of one Cache see the same values.
func TestStoredFormat_MemoizeGetSetShareValues(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			users := Must(New[string](open(t), codec.JSON[formatUser](), &Options[string]{Namespace: "users"}))
			var loads atomic.Int32
			loadUser := func(ctx context.Context, id string) (formatUser, error) {
				loads.Add(1)
				return formatUser{Name: "db-" + id}, nil
			}
			get := Memoize(users, loadUser, nil)
			if u, err := get(ctx, "1"); err != nil || u.Name != "db-1" {
				t.Fatalf("first call = %+v, %v; want {db-1}, nil", u, err)
			}
			if u, err := users.Get(ctx, "1"); err != nil || u.Name != "db-1" {
				t.Fatalf("Get of a memoized value = %+v, %v; want {db-1}, nil", u, err)
			}
			if err := users.Set(ctx, "1", formatUser{Name: "updated"}); err != nil {
				t.Fatal(err)
			}
			if u, err := get(ctx, "1"); err != nil || u.Name != "updated" {
				t.Fatalf("call after Set = %+v, %v; want {updated}, nil", u, err)
			}
			if n := loads.Load(); n != 1 {
				t.Fatalf("loadUser ran %d times; want 1", n)
			}
			if u, err := users.Get(ctx, "1"); err != nil || u.Name != "updated" {
				t.Fatalf("Get after the call = %+v, %v; want {updated} (not overwritten)", u, err)
			}
			// GetOrLoad, SetMany and GetMany read and write the same format.
			if err := users.SetMany(ctx, map[string]formatUser{"2": {Name: "two"}}); err != nil {
				t.Fatal(err)
			}
			if u, err := get(ctx, "2"); err != nil || u.Name != "two" {
				t.Fatalf("call after SetMany = %+v, %v; want {two}", u, err)
			}
			u, err := users.GetOrLoad(ctx, "3", func(ctx context.Context) (formatUser, error) { return formatUser{Name: "three"}, nil })
			if err != nil || u.Name != "three" {
				t.Fatalf("GetOrLoad = %+v, %v", u, err)
			}
			if u, err := get(ctx, "3"); err != nil || u.Name != "three" || loads.Load() != 1 {
				t.Fatalf("call after GetOrLoad = %+v, %v, %d loads; want {three}, nil, 1", u, err, loads.Load())
			}
			got, err := users.GetMany(ctx, []string{"1", "2", "3", "4"})
			if err != nil || len(got) != 3 || got["1"].Name != "updated" {
				t.Fatalf("GetMany = %+v, %v", got, err)
			}
		})
	}
}

// Mixing the entry format with bare codec output (Options.Raw, another
// client, Increment) is a clear error wrapping ErrDecode that names the
// cause, never garbage.
func TestStoredFormat_MixingIsAClearError(t *testing.T) {
	ctx := context.Background()
	s := memstore.Must(nil)
	entries := Must(New[string](s, codec.JSON[formatUser](), nil))
	raw := Must(New[string](s, codec.JSON[formatUser](), &Options[string]{Raw: true}))

	if err := raw.Set(ctx, "bare", formatUser{Name: "bare"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Get(ctx, "bare"); string(b) != `{"name":"bare"}` {
		t.Fatalf("raw cache stored %q; want the bare JSON", b)
	}
	_, err := entries.Get(ctx, "bare")
	if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), "not in cachet's entry format") || !strings.Contains(err.Error(), "Options.Raw") {
		t.Fatalf("entry cache reading bare bytes: err = %v; want ErrDecode naming the cause", err)
	}
	if err := entries.Set(ctx, "entry", formatUser{Name: "entry"}); err != nil {
		t.Fatal(err)
	}
	_, err = raw.Get(ctx, "entry")
	if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), "is in cachet's entry format") {
		t.Fatalf("raw cache reading an entry: err = %v; want ErrDecode naming the cause", err)
	}
	if _, err := raw.GetMany(ctx, []string{"entry"}); !errors.Is(err, ErrDecode) {
		t.Fatalf("raw GetMany of an entry: err = %v; want ErrDecode", err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated", []byte{entry.Magic}, "truncated"},
		{"unknown version", []byte{entry.Magic, 9, 0, '{', '}'}, "version 9"},
		{"old version", []byte{entry.Magic, 1, 0, '{', '}'}, "version 1"},
		{"unknown flags", []byte{entry.Magic, entry.Version, 0x80, '{', '}'}, "unknown flags"},
	} {
		if err := s.Set(ctx, tc.name, tc.b, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := entries.Get(ctx, tc.name); !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want ErrDecode saying %q", tc.name, err, tc.want)
		}
	}

	// A memoized function over a raw cache reads and writes bare bytes.
	var loads atomic.Int32
	get := Memoize(raw, func(ctx context.Context, k string) (formatUser, error) {
		loads.Add(1)
		return formatUser{Name: "m-" + k}, nil
	}, nil)
	if u, err := get(ctx, "bare"); err != nil || u.Name != "bare" || loads.Load() != 0 {
		t.Fatalf("raw memoized call = %+v, %v, %d loads; want the bare value, no load", u, err, loads.Load())
	}
	get(ctx, "new")
	if b, _ := s.Get(ctx, "new"); string(b) != `{"name":"m-new"}` {
		t.Fatalf("raw memoizer stored %q; want bare JSON", b)
	}
	// ...and rejects the options that need the entry format.
	for name, o := range map[string]*MemoizeOptions[string, formatUser]{
		"not found":      {NotFound: ErrNotFound, NotFoundTTL: time.Minute},
		"zero not found": {ZeroNotFoundTTL: time.Minute},
		"early refresh":  {TTL: time.Minute, EarlyRefresh: 1},
		"stale":          {TTL: time.Minute, StaleWhileRevalidate: time.Minute},
	} {
		_, err := NewMemoizer(raw, func(context.Context, string) (formatUser, error) { return formatUser{}, nil }, o)
		if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "Options.Raw") {
			t.Errorf("%s over a raw cache: err = %v; want ErrInvalidOption naming Options.Raw", name, err)
		}
	}
}

// A negative entry is ErrNotFound for Get, and a value kept past its
// expiry for stale-while-revalidate is a miss for Get.
func TestStoredFormat_GetOfMemoizedMetadata(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newTestCache(t, nil)
	errNo := errors.New("no")
	get := Memoize(c, func(ctx context.Context, k string) (int, error) { return 0, errNo },
		&MemoizeOptions[string, int]{NotFound: errNo, NotFoundTTL: time.Minute})
	if _, err := get(ctx, "k"); !errors.Is(err, errNo) {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a not-found entry: err = %v; want ErrNotFound", err)
	}
	if got, err := c.GetMany(ctx, []string{"k"}); err != nil || len(got) != 0 {
		t.Fatalf("GetMany of a not-found entry = %v, %v; want empty", got, err)
	}
	stale := Memoize(c, func(ctx context.Context, k string) (int, error) { return 5, nil },
		&MemoizeOptions[string, int]{Prefix: "swr", TTL: 20 * time.Millisecond, StaleWhileRevalidate: time.Hour})
	if v, err := stale(ctx, "s"); v != 5 || err != nil {
		t.Fatal(v, err)
	}
	if v, err := c.Get(ctx, "swr:s"); v != 5 || err != nil {
		t.Fatalf("Get while fresh = %d, %v", v, err)
	}
	time.Sleep(30 * time.Millisecond) // the ttl must pass: there is nothing to await
	if _, err := c.Get(ctx, "swr:s"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a stale value: err = %v; want ErrNotFound", err)
	}
}

// A cold burst over Redis costs one GET and one SET, however many callers
// (the issue measured 55-64 GETs for 100 callers, 817-833 for 1000). The
// loader waits for every caller to have joined, so the count is exact.
func TestMemoize_ColdBurstOneRead(t *testing.T) {
	srv := testserver.Redis(t)
	rs, err := redisstore.Open(&redisstore.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	for _, n := range []int{100, 1000} {
		for _, api := range []string{"Memoize", "GetOrLoad"} {
			t.Run(fmt.Sprint(api, n), func(t *testing.T) {
				rec := &opRecorder{}
				c, err := New[string](rs, jsonCodec[int]{}, &Options[string]{
					Namespace:  fmt.Sprint("burst", api, n),
					Middleware: []store.Middleware{func(s store.Store) store.Store { rec.Store = s; return rec }},
				})
				if err != nil {
					t.Fatal(err)
				}
				key, _ := c.Key("k")
				allJoined := joinCounter(t, key, int32(n))
				var loads atomic.Int32
				load := func(ctx context.Context) (int, error) {
					loads.Add(1)
					<-allJoined
					time.Sleep(time.Millisecond)
					return 7, nil
				}
				call := func() (int, error) { return c.GetOrLoad(context.Background(), "k", load) }
				if api == "Memoize" {
					f := Memoize(c, func(ctx context.Context, _ string) (int, error) { return load(ctx) }, nil)
					call = func() (int, error) { return f(context.Background(), "k") }
				}
				var wg sync.WaitGroup
				for range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if v, err := call(); v != 7 || err != nil {
							t.Errorf("got %d, %v; want 7", v, err)
						}
					}()
				}
				wg.Wait()
				if gets, sets := rec.count("get"), rec.count("set"); gets != 1 || sets != 1 || loads.Load() != 1 {
					t.Fatalf("%d callers: %d GETs, %d SETs, %d loads; want 1, 1, 1", n, gets, sets, loads.Load())
				}
			})
		}
	}
}

// The shared call is bounded by CallTimeout, one minute by default.
func TestMemoize_CallTimeout(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newTestCache(t, nil)
	var left time.Duration
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		d, ok := ctx.Deadline()
		if !ok {
			return 0, errors.New("no deadline")
		}
		left = time.Until(d)
		return 1, nil
	}, nil)
	if _, err := f(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if left <= 59*time.Second || left > DefaultCallTimeout {
		t.Fatalf("fn's deadline is %v away; want DefaultCallTimeout (1m)", left)
	}
	short := Memoize(c, func(ctx context.Context, k string) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}, &MemoizeOptions[string, int]{CallTimeout: 20 * time.Millisecond})
	start := time.Now()
	if _, err := short(ctx, "short"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want DeadlineExceeded from the call timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the call took %v; want about 20ms", d)
	}
	// A negative CallTimeout removes the deadline.
	none := Memoize(c, func(ctx context.Context, k string) (int, error) {
		if _, ok := ctx.Deadline(); ok {
			return 0, errors.New("deadline set")
		}
		return 1, nil
	}, &MemoizeOptions[string, int]{CallTimeout: -1})
	if _, err := none(ctx, "none"); err != nil {
		t.Fatal(err)
	}
}

// A background refresh does not run while another process (here a second
// Cache and Memoizer over the same store) holds the key's stampede lock.
func TestMemoize_RefreshRespectsAnotherProcesssLock(t *testing.T) {
	ctx := context.Background()
	s := memstore.Must(nil)
	clock := &fakeClock{}
	clock.ns.Store(time.Now().UnixNano())
	refreshed := make(chan string, 1)
	var calls atomic.Int32
	c1, _ := newCacheOver(t, s, nil)
	p1 := Memoize(c1, func(ctx context.Context, k string) (int, error) { return int(calls.Add(1)), nil },
		&MemoizeOptions[string, int]{TTL: time.Minute, StaleWhileRevalidate: time.Hour, StampedeLease: time.Minute,
			now: clock.now, onRefresh: func(k string) { refreshed <- k }})
	if v, err := p1(ctx, "k"); v != 1 || err != nil {
		t.Fatal(v, err)
	}
	// The other process sees k as expired (its clock is later) and
	// computes it: it holds the lock.
	clock.advance(2 * time.Minute) // stale for p1
	c2, _ := newCacheOver(t, s, nil)
	inFn, release := make(chan struct{}), make(chan struct{})
	p2 := Memoize(c2, func(ctx context.Context, k string) (int, error) {
		close(inFn)
		<-release
		return 100, nil
	}, &MemoizeOptions[string, int]{TTL: time.Minute, StampedeLease: time.Minute, now: clock.now})
	done := make(chan struct{})
	go func() { defer close(done); p2(ctx, "k") }()
	<-inFn
	if ok, err := s.Exists(ctx, "k"+LockSuffix); err != nil || !ok {
		t.Fatalf("lock held: %v, %v; want true", ok, err)
	}
	if v, err := p1(ctx, "k"); v != 1 || err != nil {
		t.Fatalf("stale call = %d, %v; want the stale 1", v, err)
	}
	<-refreshed
	if n := calls.Load(); n != 1 {
		t.Fatalf("p1's fn ran %d times; want 1: the refresh must leave k to the lock's holder", n)
	}
	close(release)
	<-done
}

// A caller that misses just before another caller's shared call stores
// the value, and reaches the group just after that call ended, reads the
// value inside its own shared call instead of computing it again.
func TestMemoize_RecheckInsideSharedCall(t *testing.T) {
	ctx := context.Background()
	s := memstore.Must(nil)
	// The first read of k misses, and the value is stored at once after
	// it (by another caller): the re-read must find it.
	mw := &missOnce{}
	c, err := New[string](s, jsonCodec[int]{}, &Options[string]{Middleware: []store.Middleware{func(next store.Store) store.Store {
		mw.Store = next
		mw.after = func() {
			other := Must(New[string](s, jsonCodec[int]{}, nil))
			other.Set(ctx, "k", 3)
		}
		return mw
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	f := Memoize(c, func(ctx context.Context, k string) (int, error) { calls.Add(1); return 9, nil }, nil)
	if v, err := f(ctx, "k"); v != 3 || err != nil || calls.Load() != 0 {
		t.Fatalf("got %d, %v after %d calls of fn; want 3, nil after 0", v, err, calls.Load())
	}
}

// missOnce reports its first Get as a miss, then runs after.
type missOnce struct {
	store.Store
	once  sync.Once
	after func()
}

func (m *missOnce) Unwrap() store.Store { return m.Store }

func (m *missOnce) Get(ctx context.Context, key string) ([]byte, error) {
	missed := false
	m.once.Do(func() { missed = true })
	if missed {
		m.after()
		return nil, store.ErrNotFound
	}
	return m.Store.Get(ctx, key)
}

// Close cancels the background refreshes and waits for them; memoized
// calls after Close return ErrClosed instead of bypassing the cache.
func TestCache_CloseStopsMemoize(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newTestCache(t, nil)
	clock := &fakeClock{}
	clock.ns.Store(time.Now().UnixNano())
	inRefresh := make(chan struct{})
	var refreshEnded atomic.Bool
	var calls atomic.Int32
	m, err := NewMemoizer(c, func(ctx context.Context, k string) (int, error) {
		if calls.Add(1) == 1 {
			return 1, nil
		}
		close(inRefresh)
		<-ctx.Done()                      // only Close ends it: the call timeout is an hour
		time.Sleep(20 * time.Millisecond) // a slow cleanup Close must wait for
		refreshEnded.Store(true)
		return 0, ctx.Err()
	}, &MemoizeOptions[string, int]{TTL: time.Minute, StaleWhileRevalidate: time.Hour, CallTimeout: time.Hour, now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	m.Call(ctx, "k")
	clock.advance(2 * time.Minute)
	if v, err := m.Call(ctx, "k"); v != 1 || err != nil {
		t.Fatalf("stale call = %d, %v", v, err)
	}
	<-inRefresh
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not cancel the background refresh")
	}
	if !refreshEnded.Load() {
		t.Fatal("Close returned before the background refresh ended")
	}
	if _, err := m.Call(ctx, "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Call after Close: err = %v; want ErrClosed", err)
	}
	if _, err := m.Refresh(ctx, "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Refresh after Close: err = %v; want ErrClosed", err)
	}
	if _, err := m.CallNoWrite(ctx, "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("CallNoWrite after Close: err = %v; want ErrClosed", err)
	}
	many := MemoizeMany(c, func(context.Context, []string) (map[string]int, error) { return nil, nil }, nil)
	if _, err := many(ctx, []string{"k"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("MemoizeMany after Close: err = %v; want ErrClosed", err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("fn ran %d times; want 2 (none after Close)", n)
	}
}

// A memoized function over a store another cache closed returns ErrClosed
// too (it is not an outage to bypass).
func TestMemoize_ClosedStoreIsAnError(t *testing.T) {
	ctx := context.Background()
	c, s, _ := newTestCache(t, nil)
	f := Memoize(c, func(context.Context, string) (int, error) { return 1, nil }, nil)
	s.Close()
	if _, err := f(ctx, "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v; want ErrClosed", err)
	}
}

// A loader sets the ttl of its value with SetTTL.
func TestSetTTL(t *testing.T) {
	ctx := context.Background()
	c, s, _ := newTestCache(t, &Options[string]{TTL: time.Hour})
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		if !SetTTL(ctx, time.Minute) {
			return 0, errors.New("SetTTL refused a loader's context")
		}
		return 1, nil
	}, nil)
	if _, err := f(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	c.GetOrLoad(ctx, "g", func(ctx context.Context) (int, error) { SetTTL(ctx, 2*time.Minute); return 1, nil })
	many := MemoizeMany(c, func(ctx context.Context, ks []string) (map[string]int, error) {
		SetTTL(ctx, 3*time.Minute)
		return map[string]int{ks[0]: 1}, nil
	}, nil)
	many(ctx, []string{"b"})
	for key, want := range map[string]time.Duration{"m": time.Minute, "g": 2 * time.Minute, "b": 3 * time.Minute} {
		d, err := s.TTL(ctx, key)
		if err != nil || d > want || d < want-5*time.Second {
			t.Errorf("TTL(%s) = %v, %v; want %v", key, d, err, want)
		}
	}
	if SetTTL(ctx, time.Minute) {
		t.Error("SetTTL outside a load reported true")
	}
}
