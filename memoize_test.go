package cachet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/flight"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/redisstore"
)

// jsonCodec is the test's codec (package codec's own live in their
// package's tests).
type jsonCodec[V any] struct{}

func (jsonCodec[V]) Marshal(v V) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", codec.ErrEncode, err)
	}
	return b, nil
}

func (jsonCodec[V]) Unmarshal(b []byte, v *V) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %w", codec.ErrDecode, err)
	}
	return nil
}

// opRecorder is a middleware that counts store operations and records their
// errors, to check what memoize does with the store and that its failures
// stay visible to middleware.
type opRecorder struct {
	store.Store
	mu   sync.Mutex
	ops  map[string]int
	errs []error
}

func (r *opRecorder) Unwrap() store.Store { return r.Store }

func (r *opRecorder) note(op string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ops == nil {
		r.ops = map[string]int{}
	}
	r.ops[op]++
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExists) {
		r.errs = append(r.errs, err)
	}
}

func (r *opRecorder) count(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops[op]
}

func (r *opRecorder) errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errs)
}

func (r *opRecorder) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := r.Store.Get(ctx, key)
	r.note("get", err)
	return b, err
}

func (r *opRecorder) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	b, err := r.Store.GetMany(ctx, keys)
	r.note("get_many", err)
	return b, err
}

func (r *opRecorder) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := r.Store.Set(ctx, key, value, ttl)
	r.note("set", err)
	return err
}

func (r *opRecorder) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	err := r.Store.SetMany(ctx, entries, ttl)
	r.note("set_many", err)
	return err
}

func (r *opRecorder) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := r.Store.Add(ctx, key, value, ttl)
	r.note("add", err)
	return err
}

// newTestCache returns a cache of ints over a fresh memstore, with an
// opRecorder as its innermost middleware.
func newTestCache(t testing.TB, o *Options[string]) (*Cache[string, int], *memstore.Store, *opRecorder) {
	t.Helper()
	s, err := memstore.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, rec := newCacheOver(t, s, o)
	return c, s, rec
}

// newCacheOver returns a cache of ints over s, with an opRecorder as its
// innermost middleware.
func newCacheOver(t testing.TB, s store.Store, o *Options[string]) (*Cache[string, int], *opRecorder) {
	t.Helper()
	rec := &opRecorder{}
	if o == nil {
		o = &Options[string]{}
	}
	o.Middleware = append(o.Middleware, func(s store.Store) store.Store { rec.Store = s; return rec })
	c, err := New[string](s, jsonCodec[int]{}, o)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

// joinCounter returns a channel closed once n callers joined key's call.
func joinCounter(t *testing.T, key string, n int32) <-chan struct{} {
	var joins atomic.Int32
	all := make(chan struct{})
	t.Cleanup(flight.SetJoinHook(func(k string) {
		if k == key && joins.Add(1) == n {
			close(all)
		}
	}))
	return all
}

func TestMemoize_ThousandCallersOneCall(t *testing.T) {
	c, _, _ := newTestCache(t, &Options[string]{Namespace: "sq"})
	const n = 1000
	allJoined := joinCounter(t, "sq:7", n)
	var calls atomic.Int32
	square := Memoize(c, func(ctx context.Context, k string) (int, error) {
		calls.Add(1)
		<-allJoined // every caller shares this call before it ends
		return 49, nil
	})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := square(context.Background(), "7")
			if err != nil || v != 49 {
				errs <- fmt.Errorf("got %d, %v; want 49, nil", v, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 1 {
		t.Fatalf("fn ran %d times; want 1", got)
	}
	if v, err := square(context.Background(), "7"); v != 49 || err != nil || calls.Load() != 1 {
		t.Fatalf("warm call = %d, %v with %d fn calls; want 49, nil from the cache", v, err, calls.Load())
	}
}

type memoCtxKey struct{}

func TestMemoize_LeaderCancelledOthersGetValue(t *testing.T) {
	c, _, _ := newTestCache(t, nil)
	allJoined := joinCounter(t, "k", 3)
	inFn := make(chan struct{})
	release := make(chan struct{})
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		close(inFn)
		<-release
		if err := ctx.Err(); err != nil {
			return 0, err // the shared call must not see the leader's cancellation
		}
		if ctx.Value(memoCtxKey{}) != "leader" {
			return 0, errors.New("context values of the leader lost")
		}
		return 5, nil
	})
	leaderCtx, cancel := context.WithCancel(context.WithValue(context.Background(), memoCtxKey{}, "leader"))
	leader := make(chan error, 1)
	go func() { _, err := f(leaderCtx, "k"); leader <- err }()
	<-inFn
	type res struct {
		v   int
		err error
	}
	others := make(chan res, 2)
	for range 2 {
		go func() { v, err := f(context.Background(), "k"); others <- res{v, err} }()
	}
	<-allJoined
	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader err = %v; want context.Canceled", err)
	}
	close(release)
	for range 2 {
		if r := <-others; r.v != 5 || r.err != nil {
			t.Fatalf("waiter got %d, %v; want 5, nil", r.v, r.err)
		}
	}
}

func TestMemoize_PanicReachesEveryWaiter(t *testing.T) {
	c, _, _ := newTestCache(t, nil)
	const n = 5
	allJoined := joinCounter(t, "p", n)
	var calls atomic.Int32
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		if calls.Add(1) == 1 {
			<-allJoined
			panic("boom")
		}
		return 1, nil
	})
	var wg sync.WaitGroup
	var panics atomic.Int32
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p, ok := recover().(*PanicError); ok && p.Value == "boom" {
					panics.Add(1)
				}
			}()
			f(context.Background(), "p")
		}()
	}
	wg.Wait()
	if got := panics.Load(); got != n {
		t.Fatalf("%d of %d callers panicked with the PanicError; want all", got, n)
	}
	// Nothing was cached: the next call runs fn again.
	if v, err := f(context.Background(), "p"); v != 1 || err != nil || calls.Load() != 2 {
		t.Fatalf("after the panic: %d, %v, %d calls; want 1, nil, 2 calls", v, err, calls.Load())
	}
}

func TestMemoize_StoreFailureStillAnswers(t *testing.T) {
	c, s, rec := newTestCache(t, nil)
	var calls atomic.Int32
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		return int(calls.Add(1)), nil
	})
	s.Close()
	for i := 1; i <= 2; i++ {
		v, err := f(context.Background(), "k")
		if err != nil || v != i {
			t.Fatalf("call %d on a closed store = %d, %v; want %d, nil", i, v, err, i)
		}
	}
	errs := rec.errors()
	if len(errs) == 0 {
		t.Fatal("the middleware saw no store error")
	}
	for _, err := range errs {
		if !errors.Is(err, store.ErrClosed) {
			t.Fatalf("middleware saw %v; want ErrClosed", err)
		}
	}
}

func TestMemoize_ErrorsAreNotCached(t *testing.T) {
	c, _, _ := newTestCache(t, nil)
	boom := errors.New("boom")
	var calls atomic.Int32
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		if calls.Add(1) == 1 {
			return 0, boom
		}
		return 3, nil
	})
	if _, err := f(context.Background(), "k"); !errors.Is(err, boom) {
		t.Fatalf("err = %v; want boom", err)
	}
	if v, err := f(context.Background(), "k"); v != 3 || err != nil {
		t.Fatalf("second call = %d, %v; want 3, nil", v, err)
	}
}

var errNoUser = errors.New("no such user")

func TestMemoize_NegativeCaching(t *testing.T) {
	ctx := context.Background()
	c, s, _ := newTestCache(t, nil)
	calls := map[string]int{}
	var mu sync.Mutex
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		mu.Lock()
		calls[k]++
		mu.Unlock()
		switch k {
		case "ghost":
			return 0, fmt.Errorf("load %s: %w", k, errNoUser)
		case "zero":
			return 0, nil
		}
		return 7, nil
	}, WithTTL(time.Hour), WithNotFound(errNoUser, 30*time.Millisecond))

	for i := range 3 {
		if _, err := f(ctx, "ghost"); !errors.Is(err, errNoUser) {
			t.Fatalf("ghost call %d: err = %v; want errNoUser", i, err)
		}
		v, err := f(ctx, "zero")
		if v != 0 || err != nil {
			t.Fatalf("zero call %d = %d, %v; want 0, nil (a stored zero is a value)", i, v, err)
		}
	}
	if calls["ghost"] != 1 || calls["zero"] != 1 {
		t.Fatalf("fn calls = %v; want one each", calls)
	}
	// The not-found entry has its own ttl: it expires, the value does not.
	if d, err := s.TTL(ctx, "ghost"); err != nil || d <= 0 || d > 30*time.Millisecond {
		t.Fatalf("TTL(ghost) = %v, %v; want at most 30ms", d, err)
	}
	if d, err := s.TTL(ctx, "zero"); err != nil || d < 59*time.Minute {
		t.Fatalf("TTL(zero) = %v, %v; want about 1h", d, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		f(ctx, "ghost")
		mu.Lock()
		n := calls["ghost"]
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not-found entry did not expire")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMemoize_ZeroNotFound(t *testing.T) {
	ctx := context.Background()
	c, s, _ := newTestCache(t, nil)
	var calls atomic.Int32
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		calls.Add(1)
		if k == "none" {
			return 0, nil
		}
		return 1, nil
	}, WithTTL(time.Hour), WithZeroNotFound(time.Minute))
	for range 2 {
		if v, err := f(ctx, "none"); v != 0 || err != nil {
			t.Fatalf("got %d, %v; want 0, nil", v, err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("fn ran %d times; want 1", calls.Load())
	}
	b, err := s.Get(ctx, "none")
	if err != nil {
		t.Fatal(err)
	}
	if h, payload, ok := entry.Decode(b); !ok || h.Flags != entry.FlagZero || len(payload) != 0 {
		t.Fatalf("stored entry %q: header %+v ok=%v; want a zero-not-found entry", b, h, ok)
	}
	if d, _ := s.TTL(ctx, "none"); d > time.Minute || d < 59*time.Second {
		t.Fatalf("TTL = %v; want the not-found ttl, 1m", d)
	}
}

func TestMemoize_ForeignValueIsAMiss(t *testing.T) {
	ctx := context.Background()
	c, s, _ := newTestCache(t, nil)
	var calls atomic.Int32
	f := Memoize(c, func(ctx context.Context, k string) (int, error) { calls.Add(1); return 9, nil })
	for _, raw := range [][]byte{[]byte("1"), {}, {entry.Magic}, {entry.Magic, entry.Version + 1, 0, 1, 2}, append(entry.Header{}.Append(nil), "garbage"...)} {
		if err := s.Set(ctx, "k", raw, 0); err != nil {
			t.Fatal(err)
		}
		before := calls.Load()
		if v, err := f(ctx, "k"); v != 9 || err != nil {
			t.Fatalf("over %q: got %d, %v; want 9, nil", raw, v, err)
		}
		if calls.Load() != before+1 {
			t.Fatalf("over %q: fn not called; want a miss", raw)
		}
		b, _ := s.Get(ctx, "k")
		if _, payload, ok := entry.Decode(b); !ok || string(payload) != "9" {
			t.Fatalf("over %q: store holds %q; want the memoized entry", raw, b)
		}
	}
	// A plain Set value does not carry the header: it is raw codec output.
	if err := c.Set(ctx, "plain", 4); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Get(ctx, "plain"); string(b) != "4" {
		t.Fatalf("Cache.Set stored %q; want raw codec output %q", b, "4")
	}
}

func TestMemoize_Options(t *testing.T) {
	ctx := context.Background()
	c, s, _ := newTestCache(t, &Options[string]{Namespace: "app", TTL: time.Hour})
	var calls atomic.Int32
	fn := func(ctx context.Context, k string) (int, error) { calls.Add(1); return len(k), nil }

	t.Run("prefix", func(t *testing.T) {
		m, err := NewMemoizer(c, fn, WithPrefix("len"))
		if err != nil {
			t.Fatal(err)
		}
		if key, _ := m.Key("abc"); key != "app:len:abc" {
			t.Fatalf("Key = %q; want app:len:abc", key)
		}
		m.Call(ctx, "abc")
		if ok, _ := s.Exists(ctx, "app:len:abc"); !ok {
			t.Fatal("entry not stored under the prefixed key")
		}
	})
	t.Run("key", func(t *testing.T) {
		m, err := NewMemoizer(c, fn, WithKey(func(k string) (string, error) {
			if k == "bad" {
				return "", errors.New("no")
			}
			return strings.ToUpper(k), nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		if v, err := m.Call(ctx, "xy"); v != 2 || err != nil {
			t.Fatalf("got %d, %v", v, err)
		}
		if ok, _ := s.Exists(ctx, "app:XY"); !ok {
			t.Fatal("entry not stored under the key function's key")
		}
		if _, err := m.Call(ctx, "bad"); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("bad key: err = %v; want ErrInvalidKey", err)
		}
	})
	t.Run("ttl", func(t *testing.T) {
		m, _ := NewMemoizer(c, fn, WithPrefix("ttl"), WithTTL(time.Minute))
		m.Call(ctx, "a")
		if d, _ := s.TTL(ctx, "app:ttl:a"); d > time.Minute || d < 59*time.Second {
			t.Fatalf("TTL = %v; want 1m", d)
		}
		m, _ = NewMemoizer(c, fn, WithPrefix("def"))
		m.Call(ctx, "a")
		if d, _ := s.TTL(ctx, "app:def:a"); d < 59*time.Minute {
			t.Fatalf("TTL = %v; want the cache's default, 1h", d)
		}
		m, _ = NewMemoizer(c, fn, WithPrefix("none"), WithTTL(NoExpiry))
		m.Call(ctx, "a")
		if d, _ := s.TTL(ctx, "app:none:a"); d != 0 {
			t.Fatalf("TTL = %v; want 0 (no expiry)", d)
		}
	})
	t.Run("skip", func(t *testing.T) {
		m, _ := NewMemoizer(c, fn, WithPrefix("skip"), WithSkip(func(v int) bool { return v > 3 }))
		m.Call(ctx, "long")
		m.Call(ctx, "abc")
		if ok, _ := s.Exists(ctx, "app:skip:long"); ok {
			t.Fatal("skipped result was stored")
		}
		if ok, _ := s.Exists(ctx, "app:skip:abc"); !ok {
			t.Fatal("result not skipped was not stored")
		}
	})
	t.Run("invalid", func(t *testing.T) {
		for name, opt := range map[string]MemoizeOption{
			"ttl":          WithTTL(-5),
			"prefix":       WithPrefix("a:b"),
			"empty":        WithPrefix(""),
			"key type":     WithKey(func(int) (string, error) { return "", nil }),
			"skip type":    WithSkip(func(string) bool { return false }),
			"not found":    WithNotFound(nil, time.Second),
			"lock":         WithStampedeLock(time.Second, 2*time.Second),
			"beta":         WithEarlyRefresh(0),
			"nan":          WithEarlyRefresh(math.NaN()),
			"swr":          WithStaleWhileRevalidate(-1),
			"negative ttl": WithNotFound(errNoUser, 0),
		} {
			if _, err := NewMemoizer(c, fn, opt); !errors.Is(err, ErrInvalidOption) {
				t.Errorf("%s: err = %v; want ErrInvalidOption", name, err)
			}
		}
		noTTL, _, _ := newTestCache(t, nil)
		if _, err := NewMemoizer(noTTL, fn, WithEarlyRefresh(1)); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("early refresh without ttl: err = %v; want ErrInvalidOption", err)
		}
		func() {
			defer func() {
				if err, _ := recover().(error); !errors.Is(err, ErrInvalidOption) {
					t.Errorf("Memoize with an invalid option: recovered %v; want ErrInvalidOption", err)
				}
			}()
			Memoize(c, fn, WithPrefix(""))
		}()
		func() {
			defer func() {
				if err, _ := recover().(error); !errors.Is(err, ErrInvalidOption) {
					t.Errorf("MemoizeMany with a lock: recovered %v; want ErrInvalidOption", err)
				}
			}()
			MemoizeMany(c, func(context.Context, []string) (map[string]int, error) { return nil, nil }, WithStampedeLock(time.Second, time.Millisecond))
		}()
	})
}

func TestMemoizer_RefreshNoWriteInvalidate(t *testing.T) {
	ctx := context.Background()
	c, s, _ := newTestCache(t, nil)
	var calls atomic.Int32
	m, err := NewMemoizer(c, func(ctx context.Context, k string) (int, error) { return int(calls.Add(1)), nil })
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.CallNoWrite(ctx, "k"); v != 1 {
		t.Fatalf("CallNoWrite = %d; want 1", v)
	}
	if ok, _ := s.Exists(ctx, "k"); ok {
		t.Fatal("CallNoWrite stored its result")
	}
	if v, _ := m.Call(ctx, "k"); v != 2 {
		t.Fatalf("Call = %d; want 2", v)
	}
	if v, _ := m.CallNoWrite(ctx, "k"); v != 2 {
		t.Fatalf("CallNoWrite on a cached key = %d; want the cached 2", v)
	}
	if v, _ := m.Refresh(ctx, "k"); v != 3 {
		t.Fatalf("Refresh = %d; want 3 (fn called despite the cached value)", v)
	}
	if v, _ := m.Call(ctx, "k"); v != 3 {
		t.Fatalf("Call after Refresh = %d; want the refreshed 3", v)
	}
	if err := m.Invalidate(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Call(ctx, "k"); v != 4 {
		t.Fatalf("Call after Invalidate = %d; want 4", v)
	}
	s.Close()
	if err := m.Invalidate(ctx, "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Invalidate on a closed store: err = %v; want ErrClosed", err)
	}
}

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
			opt := WithStampedeLock(10*time.Second, time.Millisecond)
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
		WithStampedeLock(time.Second, 5*time.Millisecond))
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
// a Memoizer with beta = 1 and a seeded random source reads an entry
// whose recomputation took 1s, at several times before its expiry.
func TestXFetch_EntriesRefreshEarlier(t *testing.T) {
	c, _, _ := newTestCache(t, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	m, err := NewMemoizer(c, func(context.Context, string) (int, error) { return 1, nil },
		WithTTL(time.Hour), WithEarlyRefresh(1), withRand(rng.Float64))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(1_000_000, 0)
	b, _ := m.entry(created, entry.Header{Delta: int64(time.Second)}, []byte("1"), time.Hour)
	expiry := created.Add(time.Hour)
	const n = 10000
	prev := -1.0
	for _, before := range []time.Duration{time.Minute, 5 * time.Second, 2 * time.Second, time.Second, 200 * time.Millisecond, 0} {
		early := 0
		for range n {
			_, _, state := m.decode(b, expiry.Add(-before).UnixNano())
			switch state {
			case entryEarly:
				early++
			case entryFresh:
			default:
				if before > 0 {
					t.Fatalf("%v before expiry: state %v; want fresh or early", before, state)
				}
			}
		}
		p := float64(early) / n
		want := math.Exp(-before.Seconds())
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

func withClock(c *fakeClock) MemoizeOption {
	return func(cfg *memoConfig) { cfg.now = c.now }
}

func withRand(f func() float64) MemoizeOption {
	return func(cfg *memoConfig) { cfg.rand = f }
}

func withRefreshHook(f func(key string)) MemoizeOption {
	return func(cfg *memoConfig) { cfg.onRefresh = f }
}

func TestMemoize_EarlyRefresh(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newTestCache(t, nil)
	clock := &fakeClock{}
	clock.ns.Store(time.Now().UnixNano())
	var calls atomic.Int32
	var r atomic.Value
	r.Store(0.0) // rand() = 0 gives 1-0 = 1: ln 1 = 0, never early
	refreshed := make(chan string, 1)
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		clock.advance(time.Second) // fn "takes" 1s: delta
		return int(calls.Add(1)), nil
	}, WithTTL(time.Hour), WithEarlyRefresh(1), withClock(clock),
		withRand(func() float64 { return r.Load().(float64) }), withRefreshHook(func(k string) { refreshed <- k }))

	if v, _ := f(ctx, "k"); v != 1 {
		t.Fatalf("first call = %d; want 1", v)
	}
	clock.advance(time.Hour - 10*time.Second)
	if v, _ := f(ctx, "k"); v != 1 || calls.Load() != 1 {
		t.Fatalf("got %d with %d calls; want the cached 1 without a refresh", v, calls.Load())
	}
	// rand() close to 1: -ln(1-r) = ln(1e6) ≈ 13.8 deltas ≥ the 10s left.
	r.Store(1 - 1e-6)
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
	}, WithTTL(time.Minute), WithStaleWhileRevalidate(time.Hour), withClock(clock), withRefreshHook(func(k string) { refreshed <- k }))

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

func TestMemoizeMany(t *testing.T) {
	ctx := context.Background()
	c, _, rec := newTestCache(t, &Options[string]{Namespace: "n"})
	var mu sync.Mutex
	var got [][]string
	f := MemoizeMany(c, func(ctx context.Context, keys []string) (map[string]int, error) {
		mu.Lock()
		got = append(got, slices.Sorted(slices.Values(keys)))
		mu.Unlock()
		out := map[string]int{}
		for _, k := range keys {
			if k != "gone" {
				out[k] = len(k)
			}
		}
		return out, nil
	}, WithNotFound(nil, time.Hour))
	calls := func() [][]string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}

	if m, err := f(ctx, []string{"a"}); err != nil || m["a"] != 1 {
		t.Fatalf("f([a]) = %v, %v", m, err)
	}
	m, err := f(ctx, []string{"a", "bb", "bb", "gone"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"a": 1, "bb": 2}; fmt.Sprint(m) != fmt.Sprint(want) {
		t.Fatalf("f([a bb bb gone]) = %v; want %v", m, want)
	}
	if want := [][]string{{"a"}, {"bb", "gone"}}; fmt.Sprint(calls()) != fmt.Sprint(want) {
		t.Fatalf("fn calls = %v; want %v (only the missed keys, once each)", calls(), want)
	}
	m, err = f(ctx, []string{"gone", "bb", "a"})
	if err != nil || len(m) != 2 {
		t.Fatalf("all cached: %v, %v; want a and bb", m, err)
	}
	if len(calls()) != 2 {
		t.Fatalf("fn called although every key was cached (not-found included): %v", calls())
	}
	gets := rec.count("get_many")
	if m, err := f(ctx, nil); err != nil || m == nil || len(m) != 0 {
		t.Fatalf("empty input = %v, %v; want an empty map", m, err)
	}
	if rec.count("get_many") != gets || len(calls()) != 2 {
		t.Fatal("empty input reached the store or fn")
	}
}

func TestMemoizeMany_OverlappingBatchesShareKeys(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newTestCache(t, &Options[string]{Namespace: "overlap"})
	// Joins: the first batch joins a and b, the second b and c.
	var joins atomic.Int32
	allJoined := make(chan struct{})
	t.Cleanup(flight.SetJoinHook(func(key string) {
		if strings.HasPrefix(key, "overlap:") && joins.Add(1) == 4 {
			close(allJoined)
		}
	}))
	var mu sync.Mutex
	seen := map[string]int{}
	f := MemoizeMany(c, func(ctx context.Context, keys []string) (map[string]int, error) {
		mu.Lock()
		for _, k := range keys {
			seen[k]++
		}
		mu.Unlock()
		<-allJoined
		out := map[string]int{}
		for _, k := range keys {
			out[k] = int(k[0])
		}
		return out, nil
	})
	var wg sync.WaitGroup
	for _, batch := range [][]string{{"a", "b"}, {"b", "c"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := f(ctx, batch)
			if err != nil || len(m) != 2 || m[batch[0]] != int(batch[0][0]) || m[batch[1]] != int(batch[1][0]) {
				t.Errorf("f(%v) = %v, %v", batch, m, err)
			}
		}()
	}
	wg.Wait()
	if seen["a"] != 1 || seen["b"] != 1 || seen["c"] != 1 {
		t.Fatalf("fn saw keys %v; want each once", seen)
	}
}

func TestMemoizeMany_FailuresAndPanics(t *testing.T) {
	ctx := context.Background()
	c, s, rec := newTestCache(t, nil)
	boom := errors.New("boom")
	var calls atomic.Int32
	f := MemoizeMany(c, func(ctx context.Context, keys []string) (map[string]int, error) {
		switch calls.Add(1) {
		case 1:
			return nil, boom
		case 2:
			panic("batch boom")
		}
		return map[string]int{"x": 1}, nil
	})
	if _, err := f(ctx, []string{"x"}); !errors.Is(err, boom) {
		t.Fatalf("err = %v; want boom", err)
	}
	func() {
		defer func() {
			if p, ok := recover().(*PanicError); !ok || p.Value != "batch boom" {
				t.Fatalf("recovered %v; want the batch's panic", p)
			}
		}()
		f(ctx, []string{"x"})
	}()
	s.Close()
	if m, err := f(ctx, []string{"x"}); err != nil || m["x"] != 1 {
		t.Fatalf("closed store: %v, %v; want fn's result", m, err)
	}
	if len(rec.errors()) == 0 {
		t.Fatal("middleware saw no store error")
	}
}

// The project's own middleware sees the store failures of memoized calls.
func TestMemoize_FailOpenReportsStoreFailures(t *testing.T) {
	s := memstore.Must(nil)
	var mu sync.Mutex
	var reported []string
	c, err := New[string](s, jsonCodec[int]{}, &Options[string]{
		Middleware: []store.Middleware{FailOpen(func(op Op, key string, err error) {
			mu.Lock()
			defer mu.Unlock()
			if errors.Is(err, store.ErrClosed) {
				reported = append(reported, fmt.Sprint(op, " ", key))
			}
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := Memoize(c, func(ctx context.Context, k string) (int, error) { return 8, nil })
	s.Close() // the backend fails beneath the middleware: an outage
	if v, err := f(context.Background(), "k"); v != 8 || err != nil {
		t.Fatalf("got %d, %v; want fn's 8, nil", v, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) == 0 || !strings.HasSuffix(reported[0], " k") {
		t.Fatalf("FailOpen reported %q; want the failed read of k", reported)
	}
}
