package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
)

// newLocalOnly returns a memory-only cache, closed at the end of the test.
func newLocalOnly[V any](t testing.TB, lo *cachet.LocalOptions[V], o *cachet.Options[string]) *cachet.Cache[string, V] {
	t.Helper()
	c, err := cachet.NewLocal[string](lo, o)
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// errName names the sentinel err wraps, for comparing outcomes.
func errName(err error) string {
	if err == nil {
		return "ok"
	}
	for _, s := range []struct {
		name string
		err  error
	}{
		{"NotFound", cachet.ErrNotFound}, {"Exists", cachet.ErrExists},
		{"InvalidTTL", cachet.ErrInvalidTTL}, {"ClearAll", cachet.ErrClearAll},
		{"Overflow", cachet.ErrOverflow}, {"NotInteger", cachet.ErrNotInteger},
		{"Closed", cachet.ErrClosed}, {"NotSupported", cachet.ErrNotSupported},
		{"InvalidKey", cachet.ErrInvalidKey}, {"Canceled", context.Canceled},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "other: " + err.Error()
}

// roundTTL rounds a remaining ttl to the minute, so that two caches'
// answers a few microseconds apart compare equal.
func roundTTL(d time.Duration) time.Duration { return d.Round(time.Minute) }

// onlyStep is one operation of the comparison table: it returns the
// operation's outcome as a string.
type onlyStep struct {
	name string
	do   func(ctx context.Context, c *cachet.Cache[string, int64]) string
}

func show(v any, err error) string { return fmt.Sprintf("%v %s", v, errName(err)) }

func sortedMap(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, m[k])
	}
	return b.String()
}

// onlySteps is the table run in order against a cache over memstore and a
// memory-only cache, which must give the same outcome at every step.
var onlySteps = []onlyStep{
	{"get missing", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.Get(ctx, "a")) }},
	{"set", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(nil, c.Set(ctx, "a", 1)) }},
	{"get", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.Get(ctx, "a")) }},
	{"add taken", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(nil, c.Add(ctx, "a", 2)) }},
	{"get after failed add", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.Get(ctx, "a")) }},
	{"add free", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(nil, c.Add(ctx, "b", 2)) }},
	{"get added", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.Get(ctx, "b")) }},
	{"exists", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.Exists(ctx, "a")) }},
	{"exists missing", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.Exists(ctx, "z")) }},
	{"ttl default", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		d, err := c.TTL(ctx, "a")
		return show(roundTTL(d), err)
	}},
	{"ttl missing", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.TTL(ctx, "z")) }},
	{"set with ttl", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(nil, c.SetWithTTL(ctx, "c", 3, time.Hour))
	}},
	{"ttl of ttl'd", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		d, err := c.TTL(ctx, "c")
		return show(roundTTL(d), err)
	}},
	{"set with NoExpiry", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(nil, c.SetWithTTL(ctx, "n", 9, cachet.NoExpiry))
	}},
	{"ttl of NoExpiry", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.TTL(ctx, "n")) }},
	{"set with bad ttl", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(nil, c.SetWithTTL(ctx, "c", 4, -5*time.Second))
	}},
	{"add with bad ttl", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(nil, c.AddWithTTL(ctx, "q", 4, -5*time.Second))
	}},
	{"value kept after bad ttl", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.Get(ctx, "c")) }},
	{"expire", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(c.Expire(ctx, "a", 2*time.Hour))
	}},
	{"ttl after expire", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		d, err := c.TTL(ctx, "a")
		return show(roundTTL(d), err)
	}},
	{"expire NoExpiry", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(c.Expire(ctx, "a", cachet.NoExpiry))
	}},
	{"ttl after persist", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.TTL(ctx, "a")) }},
	{"expire default", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(c.Expire(ctx, "c", cachet.DefaultTTL))
	}},
	{"ttl after expire default", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		d, err := c.TTL(ctx, "c")
		return show(roundTTL(d), err)
	}},
	{"expire missing", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(c.Expire(ctx, "z", time.Hour))
	}},
	{"expire bad ttl", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(c.Expire(ctx, "a", -time.Hour))
	}},
	{"get many", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		m, err := c.GetMany(ctx, []string{"a", "b", "z", "c"})
		return show(sortedMap(m), err)
	}},
	{"set many", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(nil, c.SetMany(ctx, map[string]int64{"d": 4, "e": 5}))
	}},
	{"set many bad ttl", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(nil, c.SetManyWithTTL(ctx, map[string]int64{"f": 6}, -2))
	}},
	{"get many after set many", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		m, err := c.GetMany(ctx, []string{"d", "e", "f"})
		return show(sortedMap(m), err)
	}},
	{"get many empty", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		m, err := c.GetMany(ctx, nil)
		return show(sortedMap(m), err)
	}},
	{"delete", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(c.Delete(ctx, "a", "z", "d"))
	}},
	{"get deleted", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.Get(ctx, "a")) }},
	{"delete none", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.Delete(ctx)) }},
	{"increment missing", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(c.Increment(ctx, "n1", 5))
	}},
	{"increment negative", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(c.Increment(ctx, "n1", -7))
	}},
	{"increment overflow", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		if _, err := c.Increment(ctx, "n2", math.MaxInt64); err != nil {
			return show(nil, err)
		}
		return show(c.Increment(ctx, "n2", 1))
	}},
	{"increment underflow", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		if _, err := c.Increment(ctx, "n3", math.MinInt64); err != nil {
			return show(nil, err)
		}
		return show(c.Increment(ctx, "n3", -1))
	}},
	{"counter kept after overflow", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(c.Increment(ctx, "n2", 0))
	}},
	{"counter has no ttl", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.TTL(ctx, "n1")) }},
	{"counter keeps its ttl", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		if _, err := c.Expire(ctx, "n1", time.Hour); err != nil {
			return show(nil, err)
		}
		if _, err := c.Increment(ctx, "n1", 1); err != nil {
			return show(nil, err)
		}
		d, err := c.TTL(ctx, "n1")
		return show(roundTTL(d), err)
	}},
	{"get or load miss", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(c.GetOrLoad(ctx, "g", func(context.Context) (int64, error) { return 7, nil }))
	}},
	{"get or load hit", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(c.GetOrLoad(ctx, "g", func(context.Context) (int64, error) { return 8, nil }))
	}},
	{"get or load error", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		return show(c.GetOrLoad(ctx, "h", func(context.Context) (int64, error) { return 0, errors.New("boom") }))
	}},
	{"get or load error caches nothing", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.Exists(ctx, "h")) }},
	{"cancelled set", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		return show(nil, c.Set(ctx, "k", 1))
	}},
	{"cancelled set wrote nothing", func(ctx context.Context, c *cachet.Cache[string, int64]) string { return show(c.Exists(ctx, "k")) }},
	{"other namespace untouched by clear", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		other, err := c.WithNamespace("other")
		if err != nil {
			return show(nil, err)
		}
		if err := other.Set(ctx, "b", 42); err != nil {
			return show(nil, err)
		}
		if err := c.Clear(ctx); err != nil {
			return show(nil, err)
		}
		bv, berr := c.Get(ctx, "b")
		ov, oerr := other.Get(ctx, "b")
		return show(bv, berr) + " / " + show(ov, oerr)
	}},
	{"new version hides old values", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		if err := c.Set(ctx, "v", 1); err != nil {
			return show(nil, err)
		}
		v2, err := c.WithVersion(2)
		if err != nil {
			return show(nil, err)
		}
		return show(v2.Get(ctx, "v"))
	}},
	{"clear drops every version", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		v2, err := c.WithVersion(2)
		if err != nil {
			return show(nil, err)
		}
		if err := v2.Set(ctx, "v", 2); err != nil {
			return show(nil, err)
		}
		if err := c.Clear(ctx); err != nil {
			return show(nil, err)
		}
		return show(v2.Exists(ctx, "v"))
	}},
	{"disabled reads miss and drops writes", func(ctx context.Context, c *cachet.Cache[string, int64]) string {
		if err := c.Set(ctx, "s", 1); err != nil {
			return show(nil, err)
		}
		c.Disable()
		gv, gerr := c.Get(ctx, "s")
		serr := c.Set(ctx, "s", 2)
		aerr := c.Add(ctx, "t", 2)
		m, merr := c.GetMany(ctx, []string{"s"})
		ok, eerr := c.Exists(ctx, "s")
		c.Enable()
		after, err := c.Get(ctx, "s")
		texists, _ := c.Exists(ctx, "t")
		return fmt.Sprint(show(gv, gerr), show(nil, serr), show(nil, aerr), show(sortedMap(m), merr), show(ok, eerr), show(after, err), texists)
	}},
}

func TestLocalOnly_SameAsMemstore(t *testing.T) {
	ctx := context.Background()
	for _, o := range []struct {
		name string
		opts cachet.Options[string]
	}{
		{"no namespace", cachet.Options[string]{}},
		{"no default ttl", cachet.Options[string]{Namespace: "ns"}},
		{"default ttl", cachet.Options[string]{Namespace: "ns", TTL: time.Hour}},
		{"default NoExpiry", cachet.Options[string]{Namespace: "ns", TTL: cachet.NoExpiry, Version: 1}},
	} {
		t.Run(o.name, func(t *testing.T) {
			ms, err := memstore.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ms.Close() })
			opts := o.opts
			want, err := cachet.New[string](ms, codec.JSON[int64](), &opts)
			if err != nil {
				t.Fatal(err)
			}
			opts2 := o.opts
			got := newLocalOnly[int64](t, nil, &opts2)
			for _, st := range onlySteps {
				w, g := st.do(ctx, want), st.do(ctx, got)
				if g != w {
					t.Errorf("%s: memory-only got %q; over memstore %q", st.name, g, w)
				}
			}
			// After Close, both refuse every operation alike.
			want.Close()
			got.Close()
			for _, st := range onlySteps[:12] {
				w, g := st.do(ctx, want), st.do(ctx, got)
				if g != w {
					t.Errorf("closed: %s: memory-only got %q; over memstore %q", st.name, g, w)
				}
			}
		})
	}
}

func TestLocalOnly_Options(t *testing.T) {
	tests := []struct {
		name string
		lo   *cachet.LocalOptions[int]
		o    *cachet.Options[string]
		want error
	}{
		{"nil options", nil, nil, nil},
		{"NoExpiry", nil, &cachet.Options[string]{TTL: cachet.NoExpiry}, nil},
		{"negative TTL", nil, &cachet.Options[string]{TTL: -2}, cachet.ErrInvalidTTL},
		{"local TTL", &cachet.LocalOptions[int]{TTL: time.Second}, nil, cachet.ErrInvalidOption},
		{"negative MaxEntries", &cachet.LocalOptions[int]{MaxEntries: -1}, nil, cachet.ErrInvalidOption},
		{"Weigher without MaxWeight", &cachet.LocalOptions[int]{Weigher: func(string, int) uint32 { return 1 }}, nil, cachet.ErrInvalidOption},
		{"Options.Local", nil, &cachet.Options[string]{Local: &cachet.LocalOptions[int]{}}, cachet.ErrInvalidOption},
		{"Raw", nil, &cachet.Options[string]{Raw: true}, cachet.ErrInvalidOption},
		{"bad namespace", nil, &cachet.Options[string]{Namespace: "a:b"}, cachet.ErrInvalidOption},
		{"version without namespace", nil, &cachet.Options[string]{Version: 1}, cachet.ErrInvalidOption},
		{"plugins", nil, &cachet.Options[string]{Middleware: []store.Middleware{cachet.WithPlugins(&cachet.HitMissRatio{}), cachet.Metrics(&cachet.ExpvarRecorder{})}}, nil},
		{"byte middleware", nil, &cachet.Options[string]{Middleware: []store.Middleware{cachet.Timeout(time.Second)}}, cachet.ErrNotSupported},
		{"byte middleware inside plugins", nil, &cachet.Options[string]{Middleware: []store.Middleware{cachet.WithPlugins(&cachet.HitMissRatio{}), cachet.FailOpen(nil)}}, cachet.ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := cachet.NewLocal[string](tt.lo, tt.o)
			if c != nil {
				defer c.Close()
			}
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("NewLocal: %v; want no error", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("NewLocal: %v; want an error wrapping %v", err, tt.want)
			case tt.want != nil && !errors.Is(err, cachet.ErrInvalidOption):
				t.Fatalf("NewLocal: %v; want an error wrapping ErrInvalidOption too", err)
			}
		})
	}
}

func TestLocalOnly_ShortTTL(t *testing.T) {
	ctx := context.Background()
	c := newLocalOnly[string](t, nil, &cachet.Options[string]{Namespace: "ns", TTL: 30 * time.Millisecond})
	if err := c.Set(ctx, "a", "x"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWithTTL(ctx, "long", "y", time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "a"); err != nil || v != "x" {
		t.Fatalf("Get = %q, %v; want x", v, err)
	}
	if err := c.Add(ctx, "a", "z"); !errors.Is(err, cachet.ErrExists) {
		t.Fatalf("Add of a live key = %v; want ErrExists", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Get(ctx, "a")
		if errors.Is(err, cachet.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("value with a 30ms ttl still there after 5s: %v", err)
		}
		time.Sleep(5 * time.Millisecond) // polling a clock-driven expiry: nothing to wait on
	}
	for _, check := range []func() error{
		func() error { _, err := c.TTL(ctx, "a"); return err },
		func() error {
			if ok, err := c.Exists(ctx, "a"); ok || err != nil {
				return fmt.Errorf("Exists = %v, %v", ok, err)
			}
			return cachet.ErrNotFound
		},
		func() error {
			if ok, err := c.Expire(ctx, "a", time.Hour); ok || err != nil {
				return fmt.Errorf("Expire = %v, %v", ok, err)
			}
			return cachet.ErrNotFound
		},
	} {
		if err := check(); !errors.Is(err, cachet.ErrNotFound) {
			t.Errorf("expired key: %v; want it missing", err)
		}
	}
	if err := c.Add(ctx, "a", "z"); err != nil {
		t.Fatalf("Add of an expired key = %v; want it to succeed", err)
	}
	if v, err := c.Get(ctx, "long"); err != nil || v != "y" {
		t.Fatalf("Get(long) = %q, %v; want y", v, err)
	}
}

func TestLocalOnly_AddConcurrent(t *testing.T) {
	ctx := context.Background()
	c := newLocalOnly[int](t, nil, &cachet.Options[string]{Namespace: "ns"})
	const n = 64
	for round := range 20 {
		key := fmt.Sprint("k", round)
		var wins, exists atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				switch err := c.Add(ctx, key, i); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, cachet.ErrExists):
					exists.Add(1)
				default:
					t.Errorf("Add: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || exists.Load() != n-1 {
			t.Fatalf("round %d: %d Adds won, %d found the key taken; want 1 and %d", round, wins.Load(), exists.Load(), n-1)
		}
	}
}

func TestLocalOnly_IncrementConcurrent(t *testing.T) {
	ctx := context.Background()
	c := newLocalOnly[int32](t, nil, &cachet.Options[string]{Namespace: "ns"})
	const goroutines, each = 16, 500
	var wg sync.WaitGroup
	seen := make([]map[int64]bool, goroutines)
	for g := range goroutines {
		wg.Add(1)
		seen[g] = map[int64]bool{}
		go func() {
			defer wg.Done()
			for range each {
				n, err := c.Increment(ctx, "hits", 1)
				if err != nil {
					t.Errorf("Increment: %v", err)
					return
				}
				seen[g][n] = true
			}
		}()
	}
	wg.Wait()
	if v, err := c.Get(ctx, "hits"); err != nil || v != goroutines*each {
		t.Fatalf("Get = %d, %v; want %d", v, err, goroutines*each)
	}
	all := map[int64]bool{}
	for _, s := range seen {
		for n := range s {
			if all[n] {
				t.Fatalf("two Increments returned %d", n)
			}
			all[n] = true
		}
	}
	if len(all) != goroutines*each {
		t.Fatalf("%d distinct results; want %d", len(all), goroutines*each)
	}
}

func TestLocalOnly_IncrementTypes(t *testing.T) {
	ctx := context.Background()
	type count uint8
	c8 := newLocalOnly[count](t, nil, nil)
	if n, err := c8.Increment(ctx, "k", 255); err != nil || n != 255 {
		t.Fatalf("Increment = %d, %v; want 255", n, err)
	}
	if _, err := c8.Increment(ctx, "k", 1); !errors.Is(err, cachet.ErrOverflow) {
		t.Fatalf("Increment past uint8 = %v; want ErrOverflow", err)
	}
	if _, err := c8.Increment(ctx, "k", -256); !errors.Is(err, cachet.ErrOverflow) {
		t.Fatalf("Increment below 0 = %v; want ErrOverflow", err)
	}
	if v, _ := c8.Get(ctx, "k"); v != 255 {
		t.Fatalf("value after refused Increments = %d; want 255", v)
	}
	if err := c8.Set(ctx, "s", 7); err != nil {
		t.Fatal(err)
	}
	if n, err := c8.Increment(ctx, "s", 3); err != nil || n != 10 {
		t.Fatalf("Increment of a value Set wrote = %d, %v; want 10", n, err)
	}

	cu := newLocalOnly[uint64](t, nil, nil)
	if err := cu.Set(ctx, "big", math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	if _, err := cu.Increment(ctx, "big", 0); !errors.Is(err, cachet.ErrOverflow) {
		t.Fatalf("Increment of a uint64 above MaxInt64 = %v; want ErrOverflow", err)
	}

	cs := newLocalOnly[string](t, nil, nil)
	if _, err := cs.Increment(ctx, "k", 1); !errors.Is(err, cachet.ErrNotSupported) {
		t.Fatalf("Increment of a string cache = %v; want ErrNotSupported", err)
	}
	if ok, _ := cs.Exists(ctx, "k"); ok {
		t.Fatal("a refused Increment created its key")
	}
}

// noCodec is a value no codec can encode: a func and a channel.
type noCodec struct {
	Name string
	F    func() int
	C    chan int
}

func TestLocalOnly_NoCodec(t *testing.T) {
	ctx := context.Background()
	c := newLocalOnly[*noCodec](t, nil, &cachet.Options[string]{Namespace: "ns"})
	v := &noCodec{Name: "a", F: func() int { return 42 }, C: make(chan int, 1)}
	if _, err := codec.JSON[*noCodec]().Marshal(v); err == nil {
		t.Fatal("JSON encoded a func; the test needs a value no codec encodes")
	}
	if err := c.Set(ctx, "a", v); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "a")
	if err != nil || got != v || got.F() != 42 {
		t.Fatalf("Get = %p, %v; want the value Set put in (%p)", got, err, v)
	}
	got.C <- 1
	if <-v.C != 1 {
		t.Fatal("the channel read is not the one written")
	}
	m, err := c.GetMany(ctx, []string{"a", "b"})
	if err != nil || len(m) != 1 || m["a"] != v {
		t.Fatalf("GetMany = %v, %v; want a only", m, err)
	}
	calls := 0
	memo := cachet.Memoize(c, func(_ context.Context, k string) (*noCodec, error) {
		calls++
		return &noCodec{Name: k, C: make(chan int)}, nil
	}, nil)
	first, err := memo(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	second, err := memo(ctx, "m")
	if err != nil || second != first || calls != 1 {
		t.Fatalf("memoized twice: %p, %p, %v, %d calls; want one call, one value", first, second, err, calls)
	}
	if err := c.SetMany(ctx, map[string]*noCodec{"x": v, "y": v}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get(ctx, "y"); got != v {
		t.Fatal("SetMany did not store the value itself")
	}
}

func TestLocalOnly_Clone(t *testing.T) {
	ctx := context.Background()
	shared := newLocalOnly[[]int](t, nil, nil)
	cloned := newLocalOnly(t, &cachet.LocalOptions[[]int]{Clone: func(s []int) []int { return append([]int(nil), s...) }}, nil)
	for _, tt := range []struct {
		name  string
		c     *cachet.Cache[string, []int]
		alias bool
	}{{"shared", shared, true}, {"cloned", cloned, false}} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c.Set(ctx, "k", []int{1, 2}); err != nil {
				t.Fatal(err)
			}
			a, _ := tt.c.Get(ctx, "k")
			a[0] = 99
			b, _ := tt.c.Get(ctx, "k")
			if got := b[0] == 99; got != tt.alias {
				t.Fatalf("a change to a read value seen by the next read: %v; want %v", got, tt.alias)
			}
		})
	}
}

func TestLocalOnly_Bounds(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		lo   *cachet.LocalOptions[string]
		max  int
	}{
		{"MaxEntries", &cachet.LocalOptions[string]{MaxEntries: 100}, 100},
		{"Weigher", &cachet.LocalOptions[string]{Weigher: func(_ string, v string) uint32 { return uint32(len(v)) }, MaxWeight: 1000}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newLocalOnly(t, tt.lo, nil)
			for i := range 2000 {
				if err := c.Set(ctx, fmt.Sprint(i), strings.Repeat("x", 100)); err != nil {
					t.Fatal(err)
				}
			}
			keys := make([]string, 2000)
			for i := range keys {
				keys[i] = fmt.Sprint(i)
			}
			// otter applies evictions in batches: wait for the count to settle.
			deadline := time.Now().Add(5 * time.Second)
			for {
				m, err := c.GetMany(ctx, keys)
				if err != nil {
					t.Fatal(err)
				}
				if len(m) <= tt.max {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d values kept; want at most %d", len(m), tt.max)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

func TestLocalOnly_NotSupported(t *testing.T) {
	ctx := context.Background()
	c := newLocalOnly[int](t, nil, &cachet.Options[string]{Namespace: "ns"})
	if err := c.Set(ctx, "k", 1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() error
	}{
		{"Update", func() error {
			_, err := c.Update(ctx, "k", func(old int, _ bool) (int, error) { return old + 1, nil })
			return err
		}},
		{"IncrementFloat", func() error { _, err := c.IncrementFloat(ctx, "k", 1); return err }},
		{"Lock", func() error { _, err := c.Lock(ctx, "k", time.Second); return err }},
		{"TryLock", func() error { _, err := c.TryLock(ctx, "k", time.Second); return err }},
		{"CodecView", func() error { _, err := cachet.CodecView(c, codec.JSON[string]()); return err }},
		{"Store().Set", func() error { return c.Store().Set(ctx, "ns:k", []byte("1"), 0) }},
		{"Store().Add", func() error { return c.Store().Add(ctx, "ns:k", []byte("1"), 0) }},
		{"Store().SetMany", func() error {
			return c.Store().SetMany(ctx, []store.Entry{{Key: "ns:k", Value: []byte("1")}}, 0)
		}},
		{"memoize NotFoundTTL", func() error {
			_, err := cachet.NewMemoizer(c, func(context.Context, string) (int, error) { return 0, nil },
				&cachet.MemoizeOptions[string, int]{NotFound: cachet.ErrNotFound, NotFoundTTL: time.Second})
			return err
		}},
		{"memoize EarlyRefresh", func() error {
			_, err := cachet.NewMemoizer(c, func(context.Context, string) (int, error) { return 0, nil },
				&cachet.MemoizeOptions[string, int]{TTL: time.Minute, EarlyRefresh: 1})
			return err
		}},
		{"memoize StaleWhileRevalidate", func() error {
			_, err := cachet.NewMemoizer(c, func(context.Context, string) (int, error) { return 0, nil },
				&cachet.MemoizeOptions[string, int]{TTL: time.Minute, StaleWhileRevalidate: time.Minute})
			return err
		}},
		{"memoize StampedeLease", func() error {
			_, err := cachet.NewMemoizer(c, func(context.Context, string) (int, error) { return 0, nil },
				&cachet.MemoizeOptions[string, int]{StampedeLease: time.Second})
			return err
		}},
		{"MemoizeMany ZeroNotFoundTTL", func() error {
			_, err := cachet.NewManyMemoizer(c, func(context.Context, []string) (map[string]int, error) { return nil, nil },
				&cachet.MemoizeOptions[string, int]{ZeroNotFoundTTL: time.Second})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !errors.Is(err, cachet.ErrNotSupported) {
				t.Fatalf("got %v; want an error wrapping ErrNotSupported", err)
			}
		})
	}
	if v, err := c.Get(ctx, "k"); err != nil || v != 1 {
		t.Fatalf("value after the refused operations = %d, %v; want 1", v, err)
	}
	if _, err := c.Store().Get(ctx, "ns:k"); !errors.Is(err, cachet.ErrNotFound) {
		t.Fatalf("Store().Get = %v; want ErrNotFound (the store beneath holds no bytes)", err)
	}
	if n, err := c.Store().Delete(ctx, "ns:k"); err != nil || n != 1 {
		t.Fatalf("Store().Delete = %d, %v; want 1 (it acts on the values)", n, err)
	}
}

func TestLocalOnly_Memoize(t *testing.T) {
	ctx := context.Background()
	var hits cachet.HitMissRatio
	c := newLocalOnly[string](t, nil, &cachet.Options[string]{Namespace: "ns", Middleware: []store.Middleware{cachet.WithPlugins(&hits)}})
	var calls atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	m, err := cachet.NewMemoizer(c, func(_ context.Context, k string) (string, error) {
		calls.Add(1)
		started <- struct{}{}
		<-release
		return "v:" + k, nil
	}, &cachet.MemoizeOptions[string, string]{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	results := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := m.Call(ctx, "a")
			if err != nil {
				t.Errorf("Call: %v", err)
			}
			results[i] = v
		}()
	}
	<-started
	// The callers that have not joined yet may still join, or find the
	// value once it is written: either way, one call of fn.
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("fn called %d times for %d concurrent callers; want 1", calls.Load(), n)
	}
	for _, v := range results {
		if v != "v:a" {
			t.Fatalf("a caller got %q; want v:a", v)
		}
	}
	if v, err := c.Get(ctx, "a"); err != nil || v != "v:a" {
		t.Fatalf("Get of the memoized key = %q, %v; want v:a (one stored format)", v, err)
	}
	if d, err := c.TTL(ctx, "a"); err != nil || d < 59*time.Minute {
		t.Fatalf("TTL of the memoized key = %v, %v; want about an hour", d, err)
	}
	if hits.Misses() != 1 || hits.Hits() != n {
		t.Fatalf("HitMissRatio: %d hits, %d misses; want %d and 1", hits.Hits(), hits.Misses(), n)
	}
	// Invalidate forgets the value; the next call computes it again.
	if err := m.Invalidate(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	// (release is closed, and started has room for the new call's signal.)
	if _, err := m.Call(ctx, "a"); err != nil || calls.Load() != 2 {
		t.Fatalf("after Invalidate: %v, %d calls; want 2", err, calls.Load())
	}
	// A value Set is what the memoized function returns, without a call.
	if err := c.Set(ctx, "b", "set"); err != nil {
		t.Fatal(err)
	}
	if v, err := m.Call(ctx, "b"); err != nil || v != "set" || calls.Load() != 2 {
		t.Fatalf("memoized call of a key Set wrote = %q, %v, %d calls; want set, no call", v, err, calls.Load())
	}
}

func TestLocalOnly_MemoizeMany(t *testing.T) {
	ctx := context.Background()
	c := newLocalOnly[int](t, nil, &cachet.Options[string]{Namespace: "ns"})
	var asked [][]string
	var mu sync.Mutex
	mm, err := cachet.NewManyMemoizer(c, func(_ context.Context, keys []string) (map[string]int, error) {
		mu.Lock()
		asked = append(asked, append([]string(nil), keys...))
		mu.Unlock()
		out := map[string]int{}
		for _, k := range keys {
			if k != "none" {
				out[k] = len(k)
			}
		}
		return out, nil
	}, &cachet.MemoizeOptions[string, int]{Skip: func(v int) bool { return v == 4 }})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "a", 100); err != nil {
		t.Fatal(err)
	}
	got, err := mm.Call(ctx, []string{"a", "bb", "none", "skip"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "a=100 bb=2 skip=4 "; fmt.Sprint(sortedIntMap(got)) != want {
		t.Fatalf("Call = %s; want %s", sortedIntMap(got), want)
	}
	got, err = mm.Call(ctx, []string{"a", "bb", "skip"})
	if err != nil || len(got) != 3 {
		t.Fatalf("second Call = %v, %v", got, err)
	}
	want := [][]string{{"bb", "none", "skip"}, {"skip"}}
	if fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Fatalf("fn asked for %v; want %v (hits and kept values not asked again)", asked, want)
	}
}

func sortedIntMap(m map[string]int) string {
	m64 := make(map[string]int64, len(m))
	for k, v := range m {
		m64[k] = int64(v)
	}
	return sortedMap(m64)
}

// opLog is a plugin that records the operations it sees.
type opLog struct {
	mu    sync.Mutex
	calls []cachet.Call
}

func (p *opLog) Before(ctx context.Context, _ cachet.Call) context.Context { return ctx }
func (p *opLog) After(_ context.Context, c cachet.Call) {
	p.mu.Lock()
	p.calls = append(p.calls, c)
	p.mu.Unlock()
}

func (p *opLog) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, c := range p.calls {
		out = append(out, fmt.Sprintf("%v hits=%d misses=%d local=%v err=%s", c.Op, c.Hits, c.Misses, c.Local, errName(c.Err)))
	}
	p.calls = nil
	return out
}

func TestLocalOnly_Plugins(t *testing.T) {
	ctx := context.Background()
	var log opLog
	var ratio cachet.HitMissRatio
	rec := &cachet.ExpvarRecorder{}
	c := newLocalOnly[int](t, nil, &cachet.Options[string]{
		Namespace:  "ns",
		Middleware: []store.Middleware{cachet.WithPlugins(&log, &ratio), cachet.Metrics(rec)},
	})
	steps := []struct {
		do   func()
		want []string
	}{
		{func() { c.Get(ctx, "a") }, []string{"get hits=0 misses=1 local=false err=NotFound"}},
		{func() { c.Set(ctx, "a", 1) }, []string{"set hits=0 misses=0 local=false err=ok"}},
		{func() { c.Get(ctx, "a") }, []string{"get hits=1 misses=0 local=true err=ok"}},
		{func() { c.Add(ctx, "a", 2) }, []string{"add hits=0 misses=0 local=false err=Exists"}},
		{func() { c.GetMany(ctx, []string{"a", "b"}) }, []string{"get_many hits=1 misses=1 local=true err=ok"}},
		{func() { c.SetMany(ctx, map[string]int{"b": 2}) }, []string{"set_many hits=0 misses=0 local=false err=ok"}},
		{func() { c.Exists(ctx, "b") }, []string{"exists hits=0 misses=0 local=false err=ok"}},
		{func() { c.Increment(ctx, "n", 1) }, []string{"increment hits=0 misses=0 local=false err=ok"}},
		{func() { c.Expire(ctx, "n", time.Hour) }, []string{"expire hits=0 misses=0 local=false err=ok"}},
		{func() { c.TTL(ctx, "n") }, []string{"ttl hits=0 misses=0 local=false err=ok"}},
		{func() { c.Delete(ctx, "n") }, []string{"delete hits=0 misses=0 local=false err=ok"}},
		{func() {
			c.GetOrLoad(ctx, "g", func(context.Context) (int, error) { return 7, nil })
		}, []string{"get hits=0 misses=1 local=false err=NotFound", "get hits=0 misses=1 local=false err=NotFound", "load hits=0 misses=0 local=false err=ok", "set hits=0 misses=0 local=false err=ok", "get_or_load hits=0 misses=1 local=false err=ok"}},
		{func() {
			c.GetOrLoad(ctx, "g", func(context.Context) (int, error) { return 8, nil })
		}, []string{"get_or_load hits=1 misses=0 local=true err=ok"}},
		{func() { c.Clear(ctx) }, []string{"clear hits=0 misses=0 local=false err=ok"}},
	}
	for i, st := range steps {
		st.do()
		if got := log.take(); fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Errorf("step %d: plugin saw %q; want %q", i, got, st.want)
		}
	}
	// Get miss, Get hit, GetMany (1 hit, 1 miss), GetOrLoad miss and hit.
	if ratio.Hits() != 3 || ratio.Misses() != 3 || ratio.LocalHits() != 3 {
		t.Fatalf("HitMissRatio: %d hits (%d local), %d misses; want 3 (3), 3", ratio.Hits(), ratio.LocalHits(), ratio.Misses())
	}
	if s := rec.Stats(cachet.OpSet); s.Calls != 2 {
		t.Fatalf("Metrics saw %d sets; want 2", s.Calls)
	}
	st, ok := c.LocalStats()
	if !ok || st.Hits != 3 || st.Misses != 4 || st.Fills != 4 || !st.Live {
		t.Fatalf("LocalStats = %+v, %v; want 3 hits (Get, GetMany, GetOrLoad), 4 misses (Get, GetMany, GetOrLoad's two reads), 4 fills (Set, SetMany, Increment, load), live", st, ok)
	}
	// Disabled, plugins see nothing (as for any cache: the switch is outside them).
	c.Disable()
	c.Set(ctx, "a", 1)
	c.Get(ctx, "a")
	if got := log.take(); len(got) != 0 {
		t.Fatalf("disabled cache reported %q", got)
	}
}

func TestLocalOnly_ConcurrentMixed(t *testing.T) {
	ctx := context.Background()
	c := newLocalOnly[int](t, &cachet.LocalOptions[int]{MaxEntries: 64}, &cachet.Options[string]{Namespace: "ns", TTL: time.Minute})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := fmt.Sprint((g + i) % 100)
				switch i % 7 {
				case 0:
					c.Set(ctx, k, i)
				case 1:
					c.Get(ctx, k)
				case 2:
					c.Add(ctx, k, i)
				case 3:
					c.Delete(ctx, k)
				case 4:
					c.GetOrLoad(ctx, k, func(context.Context) (int, error) { return i, nil })
				case 5:
					c.Expire(ctx, k, time.Hour)
				case 6:
					if i%70 == 6 {
						c.Clear(ctx)
					} else {
						c.GetMany(ctx, []string{k, "1", "2"})
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestLocalOnly_GetOrLoadConcurrent(t *testing.T) {
	ctx := context.Background()
	c := newLocalOnly[int](t, nil, &cachet.Options[string]{Namespace: "ns"})
	for round := range 10 {
		key := fmt.Sprint("k", round)
		var loads atomic.Int32
		release := make(chan struct{})
		var wg sync.WaitGroup
		const n = 32
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := c.GetOrLoad(ctx, key, func(context.Context) (int, error) {
					loads.Add(1)
					<-release
					return round, nil
				})
				if err == nil && v != round {
					err = fmt.Errorf("got %d; want %d", v, round)
				}
				errs <- err
			}()
		}
		close(release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if loads.Load() != 1 {
			t.Fatalf("round %d: %d loads for %d concurrent callers; want 1", round, loads.Load(), n)
		}
	}
}

func TestLocalOnly_ClearAllAndPing(t *testing.T) {
	ctx := context.Background()
	c := newLocalOnly[int](t, nil, &cachet.Options[string]{Namespace: "a"})
	other, err := c.WithNamespace("b")
	if err != nil {
		t.Fatal(err)
	}
	c.Set(ctx, "k", 1)
	other.Set(ctx, "k", 2)
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	if err := other.ClearAll(ctx); err != nil {
		t.Fatalf("ClearAll = %v", err)
	}
	for _, cc := range []*cachet.Cache[string, int]{c, other} {
		if ok, err := cc.Exists(ctx, "k"); ok || err != nil {
			t.Fatalf("after ClearAll: Exists = %v, %v; want false", ok, err)
		}
	}
	c.Close()
	if err := c.Ping(ctx); !errors.Is(err, cachet.ErrClosed) {
		t.Fatalf("Ping after Close = %v; want ErrClosed", err)
	}
	if err := other.Set(ctx, "k", 1); !errors.Is(err, cachet.ErrClosed) {
		t.Fatalf("Set through a view after Close = %v; want ErrClosed", err)
	}
}

// Expire changes when a value goes, both ways.
func TestLocalOnly_ExpireShortens(t *testing.T) {
	ctx := context.Background()
	c := newLocalOnly[int](t, nil, &cachet.Options[string]{Namespace: "ns"})
	c.Set(ctx, "goes", 1)                              // no expiry
	c.SetWithTTL(ctx, "stays", 2, 30*time.Millisecond) // would expire
	c.Increment(ctx, "counter", 1)                     // no expiry
	for _, e := range []struct {
		key string
		ttl time.Duration
	}{{"goes", 30 * time.Millisecond}, {"stays", time.Hour}, {"counter", 30 * time.Millisecond}} {
		if ok, err := c.Expire(ctx, e.key, e.ttl); !ok || err != nil {
			t.Fatalf("Expire(%s) = %v, %v", e.key, ok, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		g, _ := c.Exists(ctx, "goes")
		n, _ := c.Exists(ctx, "counter")
		if !g && !n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("values given a 30ms ttl by Expire still there after 5s (goes %v, counter %v)", g, n)
		}
		time.Sleep(5 * time.Millisecond) // polling a clock-driven expiry
	}
	if v, err := c.Get(ctx, "stays"); err != nil || v != 2 {
		t.Fatalf("value given an hour by Expire: %d, %v; want 2", v, err)
	}
	if n, err := c.Increment(ctx, "counter", 5); err != nil || n != 5 {
		t.Fatalf("Increment of an expired counter = %d, %v; want 5 (it starts at 0)", n, err)
	}
}
