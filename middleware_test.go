package cachet

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/storetest"
)

var bg = context.Background()

func newMem(t testing.TB) *memstore.Store {
	t.Helper()
	s, err := memstore.New(nil)
	if err != nil {
		t.Fatalf("memstore.New: %v", err)
	}
	return s
}

// wrappers returns every built-in middleware, configured for the
// conformance suite.
func wrappers(t *testing.T) map[string]Middleware {
	quiet := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return map[string]Middleware{
		"Chain/Empty": Chain(),
		"Timeout":     Timeout(time.Second),
		"Logging":     Logging(quiet, nil),
		"Logging/ShowKeys": Logging(quiet, &LoggingOptions{
			ShowKeys: true, Level: slog.LevelInfo, Ops: []Op{OpGet, OpSet},
		}),
		"Metrics/Expvar": Metrics(&ExpvarRecorder{}),
		"Plugins":        WithPlugins(&HitMissRatio{}, &Timing{}, AfterFunc(func(context.Context, Call) {})),
		// Six plugins: more than a call keeps on its stack.
		"Plugins/Many": WithPlugins(&HitMissRatio{}, &Timing{}, &HitMissRatio{}, &Timing{}, BasePlugin{}, BasePlugin{}),
		"FailOpen": FailOpen(func(op Op, key string, err error) {
			t.Errorf("FailOpen reported %v %q: %v from a healthy store", op, key, err)
		}),
		"Breaker": Breaker(&BreakerOptions{Threshold: 1}),
		"Chain/All": Chain(
			FailOpen(nil),
			Timeout(time.Second),
			Logging(quiet, nil),
			Metrics(&ExpvarRecorder{}),
			WithPlugins(&HitMissRatio{}, &Timing{}),
			Breaker(nil),
		),
	}
}

// TestMiddleware_Conformance runs the store conformance suite on memstore
// wrapped in each built-in middleware, and checks that memstore's optional
// interfaces stay reachable through it.
func TestMiddleware_Conformance(t *testing.T) {
	for name, mw := range wrappers(t) {
		t.Run(name, func(t *testing.T) {
			storetest.RunMiddleware(t, func(t *testing.T) store.Store { return newMem(t) }, mw, nil)
		})
	}
}

// lener is an optional capability that only lenStore offers.
type lener interface{ Len() int }

// lenStore is a memstore with one extra method, standing for a backend
// layer with an optional capability.
type lenStore struct{ *memstore.Store }

func (lenStore) Len() int              { return 42 }
func (s lenStore) Unwrap() store.Store { return s.Store }

// TestMiddleware_OptionalInterfaces checks that store.As finds the
// backend and its optional capabilities through every wrapper.
func TestMiddleware_OptionalInterfaces(t *testing.T) {
	for name, mw := range wrappers(t) {
		t.Run(name, func(t *testing.T) {
			mem := newMem(t)
			defer mem.Close()
			s := mw(mw(lenStore{mem}))
			l, ok := store.As[lener](s)
			if !ok || l.Len() != 42 {
				t.Errorf("store.As[lener]: got %v, %v; want the lenStore", l, ok)
			}
			m, ok := store.As[*memstore.Store](s)
			if !ok || m != mem {
				t.Errorf("store.As[*memstore.Store]: got %p, %v; want %p, true", m, ok, mem)
			}
			if _, ok := store.As[store.InProcess](s); !ok {
				t.Errorf("store.As[store.InProcess]: not found through the wrappers")
			}
			if got := store.Unwrap(s); got != store.Store(mem) {
				t.Errorf("store.Unwrap: got %T; want the memstore", got)
			}
		})
	}
}

func TestChain_Order(t *testing.T) {
	var order []string
	tag := func(name string) Middleware {
		return WithPlugins(AfterFunc(func(context.Context, Call) { order = append(order, name) }))
	}
	s := Chain(tag("outer"), nil, tag("inner"))(newMem(t))
	defer s.Close()
	if _, err := s.Exists(bg, "k"); err != nil {
		t.Fatal(err)
	}
	// After hooks run as calls return: inner first.
	if got, want := strings.Join(order, ","), "inner,outer"; got != want {
		t.Errorf("After order: got %s; want %s", got, want)
	}
}

// ctxStore records the context its Get was called with and, when block
// is set, waits for that context to end.
type ctxStore struct {
	store.Store
	block bool
	mu    sync.Mutex
	got   context.Context
}

func (s *ctxStore) Unwrap() store.Store { return s.Store }

func (s *ctxStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	s.got = ctx
	s.mu.Unlock()
	if s.block {
		select {
		case <-ctx.Done():
			return nil, store.Errorf("get", key, ctx.Err())
		case <-time.After(10 * time.Second):
			return nil, store.Errorf("get", key, errors.New("ctxStore: context never ended"))
		}
	}
	return s.Store.Get(ctx, key)
}

func (s *ctxStore) last() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

func TestTimeout_Fires(t *testing.T) {
	inner := &ctxStore{Store: newMem(t), block: true}
	defer inner.Close()
	s := Timeout(20 * time.Millisecond)(inner)
	start := time.Now()
	_, err := s.Get(bg, "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on a store that blocks: got error %v; want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Get took %v; want about 20ms", took)
	}
}

func TestTimeout_Deadlines(t *testing.T) {
	const d = time.Minute
	inner := &ctxStore{Store: newMem(t)}
	defer inner.Close()
	s := Timeout(d)(inner)

	// No deadline: one is added, d from now.
	before := time.Now()
	s.Get(bg, "k")
	dl, ok := inner.last().Deadline()
	if !ok || dl.Before(before.Add(d)) || dl.After(time.Now().Add(d)) {
		t.Errorf("no caller deadline: store got deadline %v, %v; want about now+%v", dl, ok, d)
	}

	// An earlier caller deadline is kept, context and all.
	early, cancel := context.WithTimeout(bg, time.Second)
	defer cancel()
	s.Get(early, "k")
	if inner.last() != early {
		t.Errorf("earlier caller deadline: the store did not get the caller's context")
	}

	// A later caller deadline is shortened to d.
	late, cancel2 := context.WithTimeout(bg, time.Hour)
	defer cancel2()
	s.Get(late, "k")
	if dl, ok := inner.last().Deadline(); !ok || dl.After(time.Now().Add(d)) {
		t.Errorf("later caller deadline: store got deadline %v, %v; want at most now+%v", dl, ok, d)
	}
}

// TestTimeout_EveryOp checks that every operation runs with the deadline,
// seen by a plugin inside the Timeout.
func TestTimeout_EveryOp(t *testing.T) {
	seen := map[Op]bool{}
	var mu sync.Mutex
	spy := AfterFunc(func(ctx context.Context, c Call) {
		dl, ok := ctx.Deadline()
		mu.Lock()
		defer mu.Unlock()
		seen[c.Op] = ok && time.Until(dl) <= time.Minute
	})
	s := Chain(Timeout(time.Minute), WithPlugins(spy))(newMem(t))
	defer s.Close()
	s.Get(bg, "k")
	s.GetMany(bg, []string{"k"})
	s.Set(bg, "k", []byte("1"), 0)
	s.SetMany(bg, []store.Entry{{Key: "k", Value: []byte("1")}}, 0)
	s.Add(bg, "k", []byte("1"), 0)
	s.Delete(bg, "k")
	s.Exists(bg, "k")
	s.Increment(bg, "k", 1)
	s.Expire(bg, "k", time.Hour)
	s.TTL(bg, "k")
	s.Clear(bg, "")
	for _, op := range Ops() {
		if op > OpClear {
			break // call-level operations: not store operations
		}
		if !seen[op] {
			t.Errorf("%v ran without the Timeout's deadline", op)
		}
	}
}

func TestTimeout_NonPositiveIsIdentity(t *testing.T) {
	mem := newMem(t)
	defer mem.Close()
	for _, d := range []time.Duration{0, -time.Second} {
		if s := Timeout(d)(mem); s != store.Store(mem) {
			t.Errorf("Timeout(%v): got %T; want the store unchanged", d, s)
		}
	}
}

type report struct {
	op  Op
	key string
	err error
}

func TestFailOpen_ReadsBecomeMisses(t *testing.T) {
	mem := newMem(t)
	var reports []report
	s := FailOpen(func(op Op, key string, err error) { reports = append(reports, report{op, key, err}) })(mem)
	if err := s.Set(bg, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	// A healthy store: reads answer as usual, nothing reported.
	if v, err := s.Get(bg, "k"); err != nil || string(v) != "v" {
		t.Fatalf("Get: got %q, %v; want v, nil", v, err)
	}
	if _, err := s.Get(bg, "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(absent): got %v; want ErrNotFound", err)
	}
	if len(reports) != 0 {
		t.Fatalf("reports from a healthy store: %v", reports)
	}

	// The backend fails (closed beneath the middleware, by someone else).
	mem.Close()
	if v, err := s.Get(bg, "k"); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrClosed) || v != nil {
		t.Errorf("Get on a failed store: got %q, %v; want nil, ErrNotFound only", v, err)
	}
	vs, err := s.GetMany(bg, []string{"k", "j"})
	if err != nil || len(vs) != 2 || vs[0] != nil || vs[1] != nil {
		t.Errorf("GetMany on a failed store: got %q, %v; want two nil slots, nil", vs, err)
	}
	if ok, err := s.Exists(bg, "k"); ok || err != nil {
		t.Errorf("Exists on a failed store: got %v, %v; want false, nil", ok, err)
	}
	if _, err := s.TTL(bg, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TTL on a failed store: got %v; want ErrNotFound", err)
	}
	want := []report{{OpGet, "k", nil}, {OpGetMany, "k", nil}, {OpExists, "k", nil}, {OpTTL, "k", nil}}
	if len(reports) != len(want) {
		t.Fatalf("got %d reports %v; want %d", len(reports), reports, len(want))
	}
	for i, w := range want {
		if r := reports[i]; r.op != w.op || r.key != w.key || !errors.Is(r.err, store.ErrClosed) {
			t.Errorf("report %d: got %v %q %v; want %v %q ErrClosed", i, r.op, r.key, r.err, w.op, w.key)
		}
	}

	// Writes fail as usual and are not reported.
	reports = nil
	if err := s.Set(bg, "k", []byte("v"), 0); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Set on a failed store: got %v; want ErrClosed", err)
	}
	if _, err := s.Delete(bg, "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Delete on a failed store: got %v; want ErrClosed", err)
	}
	if _, err := s.Increment(bg, "n", 1); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Increment on a failed store: got %v; want ErrClosed", err)
	}
	if len(reports) != 0 {
		t.Errorf("writes were reported: %v", reports)
	}
}

func TestFailOpen_NotOutages(t *testing.T) {
	mem := newMem(t)
	reported := 0
	s := FailOpen(func(Op, string, error) { reported++ })(mem)

	// The caller gave up: its own error comes back.
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := s.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: got %v; want context.Canceled", err)
	}
	// Bad input is the caller's bug.
	if _, err := s.Get(bg, ""); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("Get(\"\"): got %v; want ErrInvalidKey", err)
	}
	// Closed through the middleware: the caller's own doing.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(bg, "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close: got %v; want ErrClosed", err)
	}
	if reported != 0 {
		t.Errorf("got %d reports; want none", reported)
	}
}

func TestFailOpen_TimeoutInside(t *testing.T) {
	inner := &ctxStore{Store: newMem(t), block: true}
	defer inner.Close()
	var got []report
	s := Chain(
		FailOpen(func(op Op, key string, err error) { got = append(got, report{op, key, err}) }),
		Timeout(10*time.Millisecond),
	)(inner)
	if _, err := s.Get(bg, "slow"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get from a store that hangs: got %v; want a miss", err)
	}
	if len(got) != 1 || got[0].op != OpGet || got[0].key != "slow" || !errors.Is(got[0].err, context.DeadlineExceeded) {
		t.Errorf("reports: got %v; want one get of \"slow\" with DeadlineExceeded", got)
	}
}
