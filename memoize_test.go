package cachet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/flight"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
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
	}, nil)
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
	}, nil)
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
	}, nil)
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
	down := &downStore{Store: memstore.Must(nil)}
	c, rec := newCacheOver(t, down, nil)
	var calls atomic.Int32
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		return int(calls.Add(1)), nil
	}, nil)
	down.down.Store(true)
	for i := 1; i <= 2; i++ {
		v, err := f(context.Background(), "k")
		if err != nil || v != i {
			t.Fatalf("call %d on a failing store = %d, %v; want %d, nil", i, v, err, i)
		}
	}
	errs := rec.errors()
	if len(errs) == 0 {
		t.Fatal("the middleware saw no store error")
	}
	for _, err := range errs {
		if !errors.Is(err, errDown) {
			t.Fatalf("middleware saw %v; want errDown", err)
		}
	}
}

// errDown is the error of a downStore that is down.
var errDown = errors.New("test: store down")

// downStore fails every read and write with errDown while down is set: an
// outage (unlike a closed store, which is an error for memoized calls).
type downStore struct {
	store.Store
	down atomic.Bool
}

func (d *downStore) Unwrap() store.Store { return d.Store }

func (d *downStore) Get(ctx context.Context, key string) ([]byte, error) {
	if d.down.Load() {
		return nil, errDown
	}
	return d.Store.Get(ctx, key)
}

func (d *downStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if d.down.Load() {
		return nil, errDown
	}
	return d.Store.GetMany(ctx, keys)
}

func (d *downStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if d.down.Load() {
		return errDown
	}
	return d.Store.Set(ctx, key, value, ttl)
}

func (d *downStore) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	if d.down.Load() {
		return errDown
	}
	return d.Store.SetMany(ctx, entries, ttl)
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
	}, nil)
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
	}, &MemoizeOptions[string, int]{TTL: time.Hour, NotFound: errNoUser, NotFoundTTL: 30 * time.Millisecond})

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
	}, &MemoizeOptions[string, int]{TTL: time.Hour, ZeroNotFoundTTL: time.Minute})
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
	if h, payload, err := entry.Decode(b); err != nil || h.Flags&^entry.FlagExpiry != entry.FlagZero || len(payload) != 0 {
		t.Fatalf("stored entry %q: header %+v, %v; want a zero-not-found entry", b, h, err)
	}
	if d, _ := s.TTL(ctx, "none"); d > time.Minute || d < 59*time.Second {
		t.Fatalf("TTL = %v; want the not-found ttl, 1m", d)
	}
}

func TestMemoize_ForeignValueIsAMiss(t *testing.T) {
	ctx := context.Background()
	c, s, _ := newTestCache(t, nil)
	var calls atomic.Int32
	f := Memoize(c, func(ctx context.Context, k string) (int, error) { calls.Add(1); return 9, nil }, nil)
	for _, raw := range [][]byte{[]byte("1"), {}, {entry.Magic}, {entry.Magic, entry.Version + 1, 0, 1, 2}, append(entry.Header{Flags: entry.FlagNotFound}.Append(nil), "garbage"...)} {
		if err := s.Set(ctx, "k", raw, 0); err != nil {
			t.Fatal(err)
		}
		// Cache.Get reports the value as undecodable, naming the cause...
		if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrDecode) {
			t.Fatalf("Get over %q: err = %v; want ErrDecode", raw, err)
		}
		// ...while the Memoizer treats it as a miss and overwrites it.
		before := calls.Load()
		if v, err := f(ctx, "k"); v != 9 || err != nil {
			t.Fatalf("over %q: got %d, %v; want 9, nil", raw, v, err)
		}
		if calls.Load() != before+1 {
			t.Fatalf("over %q: fn not called; want a miss", raw)
		}
		b, err := s.Get(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if _, payload, err := entry.Decode(b); err != nil || string(payload) != "9" {
			t.Fatalf("over %q: store holds %q; want the memoized entry", raw, b)
		}
		if v, err := c.Get(ctx, "k"); v != 9 || err != nil {
			t.Fatalf("Get after the Memoizer overwrote %q: got %d, %v; want 9, nil", raw, v, err)
		}
	}
	// A plain Set value is in the same format: a hit for the Memoizer.
	if err := c.Set(ctx, "plain", 4); err != nil {
		t.Fatal(err)
	}
	before := calls.Load()
	if v, err := f(ctx, "plain"); v != 4 || err != nil || calls.Load() != before {
		t.Fatalf("Memoize over Cache.Set: got %d, %v, %d calls of fn; want 4, nil, 0", v, err, calls.Load()-before)
	}
}

func TestMemoize_Options(t *testing.T) {
	ctx := context.Background()
	c, s, _ := newTestCache(t, &Options[string]{Namespace: "app", TTL: time.Hour})
	var calls atomic.Int32
	fn := func(ctx context.Context, k string) (int, error) { calls.Add(1); return len(k), nil }

	t.Run("prefix", func(t *testing.T) {
		m, err := NewMemoizer(c, fn, &MemoizeOptions[string, int]{Prefix: "len"})
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
		m, err := NewMemoizer(c, fn, &MemoizeOptions[string, int]{Key: func(k string) (string, error) {
			if k == "bad" {
				return "", errors.New("no")
			}
			return strings.ToUpper(k), nil
		}})
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
		m, _ := NewMemoizer(c, fn, &MemoizeOptions[string, int]{Prefix: "ttl", TTL: time.Minute})
		m.Call(ctx, "a")
		if d, _ := s.TTL(ctx, "app:ttl:a"); d > time.Minute || d < 59*time.Second {
			t.Fatalf("TTL = %v; want 1m", d)
		}
		m, _ = NewMemoizer(c, fn, &MemoizeOptions[string, int]{Prefix: "def"})
		m.Call(ctx, "a")
		if d, _ := s.TTL(ctx, "app:def:a"); d < 59*time.Minute {
			t.Fatalf("TTL = %v; want the cache's default, 1h", d)
		}
		m, _ = NewMemoizer(c, fn, &MemoizeOptions[string, int]{Prefix: "none", TTL: NoExpiry})
		m.Call(ctx, "a")
		if d, _ := s.TTL(ctx, "app:none:a"); d != 0 {
			t.Fatalf("TTL = %v; want 0 (no expiry)", d)
		}
	})
	t.Run("skip", func(t *testing.T) {
		m, _ := NewMemoizer(c, fn, &MemoizeOptions[string, int]{Prefix: "skip", Skip: func(v int) bool { return v > 3 }})
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
		type O = MemoizeOptions[string, int]
		for name, opt := range map[string]*O{
			"ttl":              {TTL: -5},
			"prefix":           {Prefix: "a:b"},
			"not found no err": {NotFoundTTL: time.Second},
			"not found no ttl": {NotFound: errNoUser},
			"not found ttl":    {NotFound: errNoUser, NotFoundTTL: -5},
			"zero ttl":         {ZeroNotFoundTTL: -5},
			"lock":             {StampedeLease: time.Second, StampedePoll: 2 * time.Second},
			"lock negative":    {StampedeLease: -1},
			"beta":             {EarlyRefresh: -1},
			"nan":              {EarlyRefresh: math.NaN()},
			"inf":              {EarlyRefresh: math.Inf(1)},
			"swr":              {StaleWhileRevalidate: -1},
		} {
			if _, err := NewMemoizer(c, fn, opt); !errors.Is(err, ErrInvalidOption) {
				t.Errorf("%s: err = %v; want ErrInvalidOption", name, err)
			}
		}
		noTTL, _, _ := newTestCache(t, nil)
		if _, err := NewMemoizer(noTTL, fn, &MemoizeOptions[string, int]{EarlyRefresh: 1}); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("early refresh without ttl: err = %v; want ErrInvalidOption", err)
		}
		func() {
			defer func() {
				if err, _ := recover().(error); !errors.Is(err, ErrInvalidOption) {
					t.Errorf("Memoize with an invalid option: recovered %v; want ErrInvalidOption", err)
				}
			}()
			Memoize(c, fn, &MemoizeOptions[string, int]{Prefix: "a:b"})
		}()
		func() {
			defer func() {
				if err, _ := recover().(error); !errors.Is(err, ErrInvalidOption) {
					t.Errorf("MemoizeMany with a lock: recovered %v; want ErrInvalidOption", err)
				}
			}()
			MemoizeMany(c, func(context.Context, []string) (map[string]int, error) { return nil, nil }, &MemoizeOptions[string, int]{StampedeLease: time.Second, StampedePoll: time.Millisecond})
		}()
	})
}

func TestMemoizer_RefreshNoWriteInvalidate(t *testing.T) {
	ctx := context.Background()
	c, s, _ := newTestCache(t, nil)
	var calls atomic.Int32
	m, err := NewMemoizer(c, func(ctx context.Context, k string) (int, error) { return int(calls.Add(1)), nil }, nil)
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
	f := Memoize(c, func(ctx context.Context, k string) (int, error) { return 8, nil }, nil)
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
