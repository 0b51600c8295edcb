package cachet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store"
)

// recorder is a Plugin that keeps every Call it sees.
type recorder struct {
	mu     sync.Mutex
	before []Call
	after  []Call
}

func (r *recorder) Before(ctx context.Context, c Call) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.before = append(r.before, c)
	return ctx
}

func (r *recorder) After(_ context.Context, c Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.after = append(r.after, c)
}

func TestOp_String(t *testing.T) {
	want := "get get_many set set_many add delete exists increment expire ttl clear get_or_load memoize memoize_many load"
	var names []string
	for _, op := range Ops() {
		names = append(names, op.String())
	}
	if got := strings.Join(names, " "); got != want {
		t.Errorf("Ops names: got %q; want %q", got, want)
	}
	for _, op := range []Op{0, 200} {
		if got, want := op.String(), fmt.Sprintf("Op(%d)", op); got != want {
			t.Errorf("Op(%d).String(): got %q; want %q", uint8(op), got, want)
		}
	}
}

func TestWithPlugins_Calls(t *testing.T) {
	var r recorder
	s := WithPlugins(&r)(newMem(t))
	defer s.Close()
	entries := []store.Entry{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}

	s.SetMany(bg, entries, time.Minute)
	s.Set(bg, "c", []byte("3"), time.Hour)
	s.Get(bg, "a")
	s.Get(bg, "nope")
	s.GetMany(bg, []string{"a", "nope", "b"})
	s.Add(bg, "a", []byte("x"), time.Second)
	s.Exists(bg, "a")
	s.Increment(bg, "n", 5)
	s.Expire(bg, "a", 2*time.Second)
	s.TTL(bg, "a")
	s.Delete(bg, "a", "nope")
	s.Clear(bg, "pre")

	want := []Call{
		{Op: OpSetMany, Entries: entries, TTL: time.Minute},
		{Op: OpSet, Key: "c", TTL: time.Hour},
		{Op: OpGet, Key: "a", Hits: 1},
		{Op: OpGet, Key: "nope", Misses: 1, Err: store.ErrNotFound},
		{Op: OpGetMany, Keys: []string{"a", "nope", "b"}, Hits: 2, Misses: 1},
		{Op: OpAdd, Key: "a", TTL: time.Second, Err: store.ErrExists},
		{Op: OpExists, Key: "a"},
		{Op: OpIncrement, Key: "n"},
		{Op: OpExpire, Key: "a", TTL: 2 * time.Second},
		{Op: OpTTL, Key: "a"},
		{Op: OpDelete, Keys: []string{"a", "nope"}},
		{Op: OpClear, Key: "pre"},
	}
	if len(r.before) != len(want) || len(r.after) != len(want) {
		t.Fatalf("got %d Before and %d After calls; want %d", len(r.before), len(r.after), len(want))
	}
	same := func(got, want Call) bool {
		return got.Op == want.Op && got.Key == want.Key && got.TTL == want.TTL &&
			fmt.Sprint(got.Keys) == fmt.Sprint(want.Keys) && fmt.Sprint(got.Entries) == fmt.Sprint(want.Entries)
	}
	for i, w := range want {
		b, a := r.before[i], r.after[i]
		if !same(b, w) || b.Hits != 0 || b.Misses != 0 || b.Err != nil || b.Duration != 0 {
			t.Errorf("Before %d: got %+v; want the arguments of %+v and no outcome", i, b, w)
		}
		if !same(a, w) || a.Hits != w.Hits || a.Misses != w.Misses {
			t.Errorf("After %d: got %+v; want %+v", i, a, w)
		}
		if (w.Err == nil) != (a.Err == nil) || w.Err != nil && !errors.Is(a.Err, w.Err) {
			t.Errorf("After %d (%v): got error %v; want %v", i, w.Op, a.Err, w.Err)
		}
		if a.Duration <= 0 {
			t.Errorf("After %d (%v): got duration %v; want > 0", i, w.Op, a.Duration)
		}
	}
}

type ctxKey struct{ name string }

// tagger adds its name to the context in Before, and checks in After that
// it gets back the context its Before returned.
type tagger struct {
	name string
	log  *[]string
}

func (p *tagger) Before(ctx context.Context, _ Call) context.Context {
	*p.log = append(*p.log, "before "+p.name)
	return context.WithValue(ctx, ctxKey{p.name}, p.name)
}

func (p *tagger) After(ctx context.Context, _ Call) {
	*p.log = append(*p.log, "after "+p.name)
	if ctx.Value(ctxKey{p.name}) != p.name {
		*p.log = append(*p.log, p.name+" lost its context")
	}
}

func TestWithPlugins_OrderAndContext(t *testing.T) {
	for _, n := range []int{1, 3, inlineCtxs, inlineCtxs + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var log []string
			var plugins []Plugin
			var wantLog []string
			for i := range n {
				name := fmt.Sprint("p", i)
				plugins = append(plugins, &tagger{name: name, log: &log})
				wantLog = append(wantLog, "before "+name)
			}
			for i := n - 1; i >= 0; i-- {
				wantLog = append(wantLog, fmt.Sprint("after p", i))
			}
			inner := &ctxStore{Store: newMem(t)}
			defer inner.Close()
			s := WithPlugins(plugins...)(inner)
			s.Get(bg, "k")
			if got, want := strings.Join(log, "; "), strings.Join(wantLog, "; "); got != want {
				t.Errorf("hooks: got %s; want %s", got, want)
			}
			// The store runs with the context every Before built.
			for i := range n {
				name := fmt.Sprint("p", i)
				if inner.last().Value(ctxKey{name}) != name {
					t.Errorf("store context lacks %s's value", name)
				}
			}
		})
	}
}

func TestWithPlugins_NilIgnored(t *testing.T) {
	mem := newMem(t)
	defer mem.Close()
	if s := WithPlugins()(mem); s != store.Store(mem) {
		t.Errorf("WithPlugins(): got %T; want the store unchanged", s)
	}
	if s := WithPlugins(nil, AfterFunc(nil), nil)(mem); s != store.Store(mem) {
		t.Errorf("WithPlugins(nil...): got %T; want the store unchanged", s)
	}
	var hm HitMissRatio
	s := WithPlugins(nil, &hm, nil)(mem)
	s.Get(bg, "k")
	if hm.Misses() != 1 {
		t.Errorf("plugin beside nils: got %d misses; want 1", hm.Misses())
	}
}

// panicker panics in the hook named by where, with value v.
type panicker struct {
	where string
	v     any
}

func (p panicker) Before(ctx context.Context, _ Call) context.Context {
	if p.where == "Before" {
		panic(p.v)
	}
	return ctx
}

func (p panicker) After(context.Context, Call) {
	if p.where == "After" {
		panic(p.v)
	}
}

func TestWithPlugins_Panic(t *testing.T) {
	boom := errors.New("boom")
	for _, where := range []string{"Before", "After"} {
		t.Run(where, func(t *testing.T) {
			mem := newMem(t)
			defer mem.Close()
			var hm HitMissRatio
			s := WithPlugins(&hm, panicker{where, "oops"})(mem)

			// The write is done, and the panic reported as its error.
			err := s.Set(bg, "k", []byte("v"), 0)
			if !errors.Is(err, ErrPluginPanic) {
				t.Fatalf("Set: got error %v; want ErrPluginPanic", err)
			}
			for _, part := range []string{"set", `"k"`, "cachet.panicker." + where, "oops"} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("Set error %q does not name %s", err, part)
				}
			}
			if v, err := mem.Get(bg, "k"); err != nil || string(v) != "v" {
				t.Errorf("value written through a panicking plugin: got %q, %v; want v, nil", v, err)
			}

			// Other plugins still run; the store's own error is kept.
			_, err = s.Get(bg, "absent")
			if !errors.Is(err, ErrPluginPanic) || !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(absent): got %v; want ErrPluginPanic and ErrNotFound", err)
			}
			if hm.Misses() != 1 {
				t.Errorf("other plugin: got %d misses; want 1", hm.Misses())
			}

			// A panic value that is an error stays reachable.
			s = WithPlugins(panicker{where, boom})(mem)
			if _, err := s.Exists(bg, "k"); !errors.Is(err, boom) || !errors.Is(err, ErrPluginPanic) {
				t.Errorf("Exists: got %v; want ErrPluginPanic wrapping boom", err)
			}
		})
	}
}

// passthrough is the smallest middleware: it wraps and forwards Get.
type passthrough struct{ store.Store }

func (p passthrough) Unwrap() store.Store { return p.Store }
func (p passthrough) Get(ctx context.Context, key string) ([]byte, error) {
	return p.Store.Get(ctx, key)
}

func passthroughMW(s store.Store) store.Store { return passthrough{s} }

func benchGet(b *testing.B, s store.Store) {
	b.Helper()
	if err := s.Set(bg, "key", []byte("value"), 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Get(bg, "key"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChain_Get compares a bare memstore Get with one through three
// pass-through middlewares, and through each built-in.
func BenchmarkChain_Get(b *testing.B) {
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil)) // info: debug records are dropped
	cases := []struct {
		name string
		mw   Middleware
	}{
		{"bare", Chain()},
		{"passthrough3", Chain(passthroughMW, passthroughMW, passthroughMW)},
		{"plugins0", WithPlugins()},
		{"BasePlugin", WithPlugins(BasePlugin{})},
		{"HitMissRatio+Timing", WithPlugins(&HitMissRatio{}, &Timing{})},
		{"Metrics/Expvar", Metrics(&ExpvarRecorder{})},
		{"Logging/disabled", Logging(quiet, nil)},
		{"Timeout", Timeout(time.Second)},
		{"FailOpen", FailOpen(nil)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := c.mw(newMem(b))
			defer s.Close()
			benchGet(b, s)
		})
	}
}

func benchParallelGet(b *testing.B, s store.Store) {
	if err := s.Set(bg, "key", []byte("value"), 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(bg, "key"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPlugins_ParallelGet measures HitMissRatio and Timing under
// parallel Gets; run with -cpu 1,2 to see how they scale.
func BenchmarkPlugins_ParallelGet(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		s := newMem(b)
		defer s.Close()
		benchParallelGet(b, s)
	})
	b.Run("HitMissRatio+Timing", func(b *testing.B) {
		s := WithPlugins(&HitMissRatio{}, &Timing{})(newMem(b))
		defer s.Close()
		benchParallelGet(b, s)
	})
}

// BenchmarkChain_Overhead measures what a chain adds to a memstore Get by
// alternating blocks of Gets on the bare store and through the chain, so
// that both see the same machine load; it reports the difference as
// added-ns/op.
func BenchmarkChain_Overhead(b *testing.B) {
	cases := []struct {
		name string
		mw   Middleware
	}{
		{"passthrough3", Chain(passthroughMW, passthroughMW, passthroughMW)},
		{"BasePlugin", WithPlugins(BasePlugin{})},
		{"HitMissRatio+Timing", WithPlugins(&HitMissRatio{}, &Timing{})},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			bare := newMem(b)
			defer bare.Close()
			chained := c.mw(bare)
			if err := bare.Set(bg, "key", []byte("value"), 0); err != nil {
				b.Fatal(err)
			}
			const block = 100
			var tBare, tChain time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += block {
				n := min(block, b.N-i)
				start := time.Now()
				for range n {
					bare.Get(bg, "key")
				}
				mid := time.Now()
				for range n {
					chained.Get(bg, "key")
				}
				tBare += mid.Sub(start)
				tChain += time.Since(mid)
			}
			b.StopTimer()
			b.ReportMetric(float64(tBare)/float64(b.N), "bare-ns/op")
			b.ReportMetric(float64(tChain-tBare)/float64(b.N), "added-ns/op")
		})
	}
}

// TestAfterFunc_Results checks that After sees what Exists, Delete,
// Increment, Expire and TTL returned, and Increment's delta.
func TestAfterFunc_Results(t *testing.T) {
	var mu sync.Mutex
	var calls []Call
	s := WithPlugins(AfterFunc(func(_ context.Context, c Call) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, c)
	}))(newMem(t))
	last := func() Call {
		mu.Lock()
		defer mu.Unlock()
		return calls[len(calls)-1]
	}
	if _, err := s.Increment(bg, "n", 41); err != nil {
		t.Fatal(err)
	}
	if c := last(); c.Op != OpIncrement || c.Int != 41 || c.Delta != 41 {
		t.Errorf("Increment(+41): got Int %d Delta %d; want 41, 41", c.Int, c.Delta)
	}
	s.Increment(bg, "n", -2)
	if c := last(); c.Int != 39 || c.Delta != -2 {
		t.Errorf("Increment(-2): got Int %d Delta %d; want 39, -2", c.Int, c.Delta)
	}
	s.Exists(bg, "n")
	if c := last(); c.Op != OpExists || !c.Bool {
		t.Errorf("Exists(present): got Bool %v; want true", c.Bool)
	}
	s.Exists(bg, "absent")
	if c := last(); c.Bool {
		t.Errorf("Exists(absent): got Bool %v; want false", c.Bool)
	}
	s.Expire(bg, "n", time.Minute)
	if c := last(); c.Op != OpExpire || !c.Bool || c.TTL != time.Minute {
		t.Errorf("Expire(present): got Bool %v TTL %v; want true, 1m", c.Bool, c.TTL)
	}
	s.Expire(bg, "absent", time.Minute)
	if c := last(); c.Bool {
		t.Errorf("Expire(absent): got Bool %v; want false", c.Bool)
	}
	s.TTL(bg, "n")
	if c := last(); c.Op != OpTTL || c.Remaining <= 50*time.Second || c.Remaining > time.Minute {
		t.Errorf("TTL: got Remaining %v; want about 1m", c.Remaining)
	}
	s.Set(bg, "m", []byte("v"), 0)
	s.Delete(bg, "n", "m", "absent")
	if c := last(); c.Op != OpDelete || c.Int != 2 {
		t.Errorf("Delete(2 of 3 present): got Int %d; want 2", c.Int)
	}
	s.Close()
	s.Increment(bg, "n", 1)
	if c := last(); c.Err == nil || c.Int != 0 || c.Delta != 1 {
		t.Errorf("Increment on a closed store: got Int %d Delta %d Err %v; want 0, 1, an error", c.Int, c.Delta, c.Err)
	}
}

// TestAfterFunc_ResultsNoAlloc checks that passing the results to a
// plugin costs Exists and Increment no allocation beyond the store's own.
func TestAfterFunc_ResultsNoAlloc(t *testing.T) {
	var sum int64
	mem := newMem(t)
	s := WithPlugins(AfterFunc(func(_ context.Context, c Call) {
		sum += c.Int
		if c.Bool {
			sum++
		}
	}))(mem)
	s.Increment(bg, "n", 1)
	for _, tc := range []struct {
		name string
		f    func(store.Store)
	}{
		{"Exists", func(s store.Store) { s.Exists(bg, "n") }},
		{"Increment", func(s store.Store) { s.Increment(bg, "n", 1) }},
	} {
		bare := testing.AllocsPerRun(100, func() { tc.f(mem) })
		hooked := testing.AllocsPerRun(100, func() { tc.f(s) })
		if hooked != bare {
			t.Errorf("%s through AfterFunc: %v allocations; want the store's own %v", tc.name, hooked, bare)
		}
	}
	if sum == 0 {
		t.Error("the plugin saw no result")
	}
}
