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
	want := "get get_many set set_many add delete exists increment expire ttl clear"
	var names []string
	for _, op := range Ops() {
		names = append(names, op.String())
	}
	if got := strings.Join(names, " "); got != want {
		t.Errorf("Ops names: got %q; want %q", got, want)
	}
	for _, op := range []Op{0, numOps, 200} {
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

func TestHitMissRatio_Concurrent(t *testing.T) {
	var hm HitMissRatio
	var other Timing
	s := WithPlugins(&hm, &other)(newMem(t))
	defer s.Close()
	if err := s.Set(bg, "hit", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 8, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				s.Get(bg, "hit")
				s.Get(bg, "miss")
				s.GetMany(bg, []string{"hit", "miss", "miss2"})
				s.Set(bg, "other", []byte("x"), 0) // not counted
			}
		}()
	}
	wg.Wait()
	const hits, misses = workers * rounds * 2, workers * rounds * 3
	st := hm.Stats()
	want := HitMissStats{Total: hits + misses, Hits: hits, Misses: misses, Ratio: float64(hits) / float64(hits+misses)}
	if st != want {
		t.Errorf("Stats: got %+v; want %+v", st, want)
	}
	if hm.Hits() != hits || hm.Misses() != misses || hm.Total() != hits+misses || hm.Ratio() != want.Ratio {
		t.Errorf("accessors: got %d %d %d %v; want %+v", hm.Hits(), hm.Misses(), hm.Total(), hm.Ratio(), want)
	}
	if got := other.Stats(OpSet).Count; got != workers*rounds+1 {
		t.Errorf("Timing set count: got %d; want %d", got, workers*rounds+1)
	}
}

func TestHitMissRatio_FailedReadsAreMisses(t *testing.T) {
	var hm HitMissRatio
	mem := newMem(t)
	s := WithPlugins(&hm)(mem)
	mem.Close()
	s.Get(bg, "a")
	s.GetMany(bg, []string{"a", "b"})
	if st := hm.Stats(); st.Misses != 3 || st.Hits != 0 || st.Ratio != 0 {
		t.Errorf("Stats after failed reads: got %+v; want 3 misses", st)
	}
	var empty HitMissRatio
	if st := empty.Stats(); st != (HitMissStats{}) {
		t.Errorf("zero HitMissRatio: got %+v; want zeros", st)
	}
}

func TestTiming_MinMax(t *testing.T) {
	var tm Timing
	for _, d := range []time.Duration{5 * time.Millisecond, time.Millisecond, 9 * time.Millisecond, 0} {
		tm.After(bg, Call{Op: OpGet, Duration: d})
	}
	tm.After(bg, Call{Op: OpSet, Duration: time.Second})
	want := TimingStats{Count: 4, Total: 15 * time.Millisecond, Avg: 3750 * time.Microsecond, Min: 0, Max: 9 * time.Millisecond}
	if got := tm.Stats(OpGet); got != want {
		t.Errorf("Stats(OpGet): got %+v; want %+v", got, want)
	}
	if got := tm.Stats(OpSet); got.Min != time.Second || got.Max != time.Second || got.Count != 1 {
		t.Errorf("Stats(OpSet): got %+v; want one call of 1s", got)
	}
	if got := tm.Stats(OpClear); got != (TimingStats{}) {
		t.Errorf("Stats(OpClear): got %+v; want zeros", got)
	}
	if got := tm.Stats(0); got != (TimingStats{}) {
		t.Errorf("Stats(0): got %+v; want zeros", got)
	}
	tm.After(bg, Call{Op: 0, Duration: time.Hour}) // ignored, no panic
}

func TestTiming_Concurrent(t *testing.T) {
	var tm Timing
	const workers, n = 8, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Worker w records w+1, w+1+workers, ... so that together
			// they record 1..workers*n exactly once.
			for i := range n {
				tm.After(bg, Call{Op: OpExists, Duration: time.Duration(w + 1 + i*workers)})
			}
		}()
	}
	wg.Wait()
	const last = workers * n
	want := TimingStats{Count: last, Total: last * (last + 1) / 2, Min: 1, Max: last}
	want.Avg = want.Total / last
	if got := tm.Stats(OpExists); got != want {
		t.Errorf("Stats: got %+v; want %+v", got, want)
	}
}

func TestTiming_ThroughStore(t *testing.T) {
	var tm Timing
	inner := &ctxStore{Store: newMem(t), block: true}
	defer inner.Close()
	s := Chain(WithPlugins(&tm), Timeout(20*time.Millisecond))(inner)
	s.Get(bg, "k")
	s.Set(bg, "k", []byte("v"), 0)
	if st := tm.Stats(OpGet); st.Count != 1 || st.Min < 20*time.Millisecond || st.Max != st.Min {
		t.Errorf("Stats(OpGet) of a call that timed out after 20ms: got %+v", st)
	}
	if st := tm.Stats(OpSet); st.Count != 1 || st.Max <= 0 {
		t.Errorf("Stats(OpSet): got %+v; want one call", st)
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
