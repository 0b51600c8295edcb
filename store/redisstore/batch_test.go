package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
	"github.com/cachet-go/cachet/store/storetest"
)

// The batching tests hold a round trip in a go-redis hook (gate) while
// other callers queue behind it, so that what shares the next round trip
// is known, and record every command the client sends.

// gate is a go-redis hook that records the commands sent and can hold the
// next command of a given name until released.
type gate struct {
	mu       sync.Mutex
	sent     [][][]string // per Process or pipeline call, per command: name, args...
	holdName string       // the next command with this name is held
	release  chan struct{}
	held     chan struct{}
}

func newGate() *gate { return &gate{held: make(chan struct{}, 1)} }

// hold makes the next command named name wait, once it is sent, until the
// returned func is called; g.held receives when it is waiting.
func (g *gate) hold(name string) (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.holdName, g.release = name, ch
	g.mu.Unlock()
	return func() { close(ch) }
}

func (g *gate) wait(cmds []redis.Cmder) {
	var call [][]string
	var release chan struct{}
	g.mu.Lock()
	for _, c := range cmds {
		args := []string{c.Name()}
		for _, a := range c.Args()[1:] {
			args = append(args, fmt.Sprint(a))
		}
		call = append(call, args)
		if g.holdName != "" && c.Name() == g.holdName {
			g.holdName, release = "", g.release
		}
	}
	g.sent = append(g.sent, call)
	g.mu.Unlock()
	if release != nil {
		g.held <- struct{}{}
		<-release
	}
}

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		g.wait([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		g.wait(cmds)
		return next(ctx, cmds)
	}
}

// record returns the commands sent so far, one slice per round trip.
func (g *gate) record() [][][]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.sent)
}

// reset forgets the commands sent so far.
func (g *gate) reset() {
	g.mu.Lock()
	g.sent = nil
	g.mu.Unlock()
}

// waitPending waits until s has gets Gets and sets Sets queued.
func waitPending(t *testing.T, s *redisstore.Store, gets, sets int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, st := redisstore.Pending(s)
		if g == gets && st == sets {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queued Gets, Sets = %d, %d; want %d, %d", g, st, gets, sets)
		}
		time.Sleep(time.Millisecond)
	}
}

// openBatch opens a store of backend b with one round trip in flight per
// kind, and a gate hook on its client. Gets and Sets go through the
// client (no pipelined connections, Conns -1), so that the gate sees them.
func openBatch(t *testing.T, b backend) (*redisstore.Store, *gate) {
	t.Helper()
	var opts *redisstore.Options
	switch b.name {
	case "single":
		opts = &redisstore.Options{Addrs: []string{sharedRedis(t).Addr}}
	default:
		opts = &redisstore.Options{Addrs: sharedCluster(t).Addrs()}
	}
	opts.Batch = redisstore.BatchOptions{InFlight: 1, Conns: -1}
	s := openStore(t, opts)
	g := newGate()
	s.Client().AddHook(g)
	return s, g
}

// TestStore_BatchStoretest runs the conformance suite with every Get and
// Set going through the shared round trips: over the client on one server
// and on a Cluster, and over a pipelined connection.
func TestStore_BatchStoretest(t *testing.T) {
	bs := append(slices.Clip(backends), backend{"single-pipelined", func(tb testing.TB) *redisstore.Store {
		return openStore(tb, &redisstore.Options{Addrs: []string{sharedRedis(tb).Addr}, Batch: redisstore.BatchOptions{Conns: 1}})
	}})
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				s := b.open(t)
				redisstore.QueueAll(s)
				return s
			}, nil)
		})
	}
}

// TestStore_BatchGetsShareOneRoundTrip holds a Get in flight while 20 more
// queue, and checks that the 20 share one round trip (one MGET; on a
// Cluster one pipeline with an MGET or GET per hash slot, each within its
// slot) and that each caller gets its own key's value, a missing key its
// own ErrNotFound.
func TestStore_BatchGetsShareOneRoundTrip(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, g := openBatch(t, b)
			ctx := context.Background()
			const n = 20
			want := make([][]byte, n)
			for i := range n {
				switch {
				case i%5 == 0: // missing
				case i == 7:
					want[i] = []byte{}
				default:
					want[i] = []byte(fmt.Sprintf("v%d", i))
				}
				if want[i] != nil {
					if err := s.Set(ctx, fmt.Sprintf("k%d", i), want[i], 0); err != nil {
						t.Fatal(err)
					}
				}
			}
			g.reset()
			release := g.hold("get")
			first := make(chan error, 1)
			go func() { _, err := s.Get(ctx, "first"); first <- err }()
			<-g.held
			vals := make([][]byte, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					vals[i], errs[i] = s.Get(ctx, fmt.Sprintf("k%d", i))
				}()
			}
			waitPending(t, s, n, 0)
			release()
			wg.Wait()
			if err := <-first; !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(first) error = %v; want ErrNotFound", err)
			}
			for i := range n {
				switch {
				case want[i] == nil:
					if !errors.Is(errs[i], store.ErrNotFound) {
						t.Errorf("Get(k%d) = %q, %v; want ErrNotFound", i, vals[i], errs[i])
					}
				case errs[i] != nil || !bytes.Equal(vals[i], want[i]) || vals[i] == nil:
					t.Errorf("Get(k%d) = %q, %v; want %q", i, vals[i], errs[i], want[i])
				}
			}
			rec := g.record()
			if len(rec) != 2 {
				t.Fatalf("round trips = %v; want the held GET and one shared round trip", rec)
			}
			keys := 0
			for _, c := range rec[1] {
				name, args := c[0], c[1:]
				if b.name == "single" && name != "mget" {
					t.Errorf("shared command %v; want mget", c)
				}
				for _, k := range args {
					if b.name == "cluster" && redisstore.Slot(k) != redisstore.Slot(args[0]) {
						t.Errorf("command %v spans hash slots", c)
					}
				}
				keys += len(args)
			}
			if keys != n {
				t.Errorf("shared round trip %v carries %d keys; want %d", rec[1], keys, n)
			}
		})
	}
}

// TestStore_BatchCallerContexts checks that each queued caller's context
// is its own: a caller cancelled while queued leaves at once and its
// command is never sent; callers whose context is cancelled or whose
// deadline passes while their shared round trip is under way leave at
// once, and the others in that round trip still get their values.
func TestStore_BatchCallerContexts(t *testing.T) {
	s, g := openBatch(t, backends[0])
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := s.Set(ctx, k, []byte("v"+k), 0); err != nil {
			t.Fatal(err)
		}
	}
	g.reset()
	releaseFirst := g.hold("get")
	first := make(chan error, 1)
	go func() { _, err := s.Get(ctx, "first"); first <- err }()
	<-g.held

	type result struct {
		v   []byte
		err error
	}
	get := func(ctx context.Context, k string) chan result {
		ch := make(chan result, 1)
		go func() { v, err := s.Get(ctx, k); ch <- result{v, err} }()
		return ch
	}
	// a is withdrawn while queued.
	actx, acancel := context.WithCancel(ctx)
	a := get(actx, "a")
	waitPending(t, s, 1, 0)
	// b is cancelled and c's deadline passes while their shared round
	// trip is held; d shares it with them.
	bctx, bcancel := context.WithCancel(ctx)
	defer bcancel()
	b, d := get(bctx, "b"), get(ctx, "d")
	waitPending(t, s, 3, 0)
	acancel()
	if r := <-a; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("queued Get(a) after cancel = %q, %v; want context.Canceled", r.v, r.err)
	}
	cctx, ccancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer ccancel()
	c := get(cctx, "c")
	waitPending(t, s, 4, 0) // a, withdrawn, is still in the queue
	releaseMGET := g.hold("mget")
	releaseFirst()
	if err := <-first; !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(first) error = %v; want ErrNotFound", err)
	}
	<-g.held // the shared MGET is under way, and held
	bcancel()
	if r := <-b; !errors.Is(r.err, context.Canceled) {
		t.Errorf("Get(b) cancelled in flight = %q, %v; want context.Canceled", r.v, r.err)
	}
	if r := <-c; !errors.Is(r.err, context.DeadlineExceeded) {
		t.Errorf("Get(c) past its deadline in flight = %q, %v; want context.DeadlineExceeded", r.v, r.err)
	}
	rec := g.record()
	shared := rec[len(rec)-1]
	if len(shared) != 1 || !slices.Equal(slices.Sorted(slices.Values(shared[0][1:])), []string{"b", "c", "d"}) {
		t.Errorf("shared round trip = %v; want one MGET of b, d, c (a withdrawn)", shared)
	}
	releaseMGET()
	if r := <-d; r.err != nil || string(r.v) != "vd" {
		t.Errorf("Get(d) sharing the round trip of ended callers = %q, %v; want \"vd\"", r.v, r.err)
	}
}

// TestStore_BatchSetThenGet has 32 goroutines each Set its own key and Get
// it back, many times, with one round trip of each kind in flight, so that
// most of their Sets and Gets share round trips: a Get that follows a Set
// in the same goroutine must see that Set's value.
func TestStore_BatchSetThenGet(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, g := openBatch(t, b)
			ctx := context.Background()
			var wg sync.WaitGroup
			for w := range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					k := fmt.Sprintf("w%d", w)
					for i := range 100 {
						v := []byte(fmt.Sprintf("%d.%d", w, i))
						if err := s.Set(ctx, k, v, time.Minute); err != nil {
							t.Error(err)
							return
						}
						if got, err := s.Get(ctx, k); err != nil || !bytes.Equal(got, v) {
							t.Errorf("Get(%s) after Set(%s) = %q, %v; want %q", k, v, got, err, v)
							return
						}
					}
				}()
			}
			wg.Wait()
			shared := 0
			for _, call := range g.record() {
				if len(call) > 1 || len(call[0]) > 2 && call[0][0] == "mget" {
					shared++
				}
			}
			t.Logf("%d of %d round trips shared", shared, len(g.record()))
		})
	}
}

// TestStore_BatchClose checks that a Get queued when the store is closed
// fails with ErrClosed instead of waiting forever.
func TestStore_BatchClose(t *testing.T) {
	s, g := openBatch(t, backends[0])
	ctx := context.Background()
	release := g.hold("get")
	first := make(chan error, 1)
	go func() { _, err := s.Get(ctx, "first"); first <- err }()
	<-g.held
	queued := make(chan error, 1)
	go func() { _, err := s.Get(ctx, "queued"); queued <- err }()
	waitPending(t, s, 1, 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	release()
	<-first
	if err := <-queued; !errors.Is(err, store.ErrClosed) {
		t.Errorf("queued Get after Close = %v; want ErrClosed", err)
	}
}
