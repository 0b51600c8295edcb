package batch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestBatcher_Concurrent: 64 goroutines, 200 calls each, through a
// Batcher whose round trips answer In+1: every caller gets its own
// answer (recycled requests never cross), some calls are direct, the
// others share round trips of at most maxSize.
func TestBatcher_Concurrent(t *testing.T) {
	var batches, batched, maxSeen atomic.Int64
	const maxSize = 8
	b := New(2, maxSize, func(reqs []*Request[int, int]) {
		batches.Add(1)
		batched.Add(int64(len(reqs)))
		if n := int64(len(reqs)); n > maxSeen.Load() {
			maxSeen.Store(n)
		}
		for _, r := range reqs {
			r.Out = r.In + 1
		}
	})
	var direct atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				in := g*1000 + i
				d, out, err := b.Join(context.Background(), in)
				if d {
					direct.Add(1)
					out = in + 1 // the caller's own round trip
					b.Done()
				}
				if err != nil || out != in+1 {
					errs <- fmt.Errorf("Join(%d) = %d, %v; want %d", in, out, err, in+1)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := direct.Load() + batched.Load(); got != 64*200 {
		t.Errorf("direct %d + batched %d = %d calls; want %d", direct.Load(), batched.Load(), got, 64*200)
	}
	if maxSeen.Load() > maxSize {
		t.Errorf("largest round trip carried %d; want at most %d", maxSeen.Load(), maxSize)
	}
	if b.Pending() != 0 || b.busy != 0 {
		t.Errorf("after the calls: %d pending, %d busy; want 0, 0", b.Pending(), b.busy)
	}
}

// TestBatcher_OwnContexts: while a round trip is held, a queued caller
// whose context ends leaves with its own error and its request is never
// run; another queued beside it is answered.
func TestBatcher_OwnContexts(t *testing.T) {
	var ran sync.Map
	b := New(1, 16, func(reqs []*Request[string, string]) {
		for _, r := range reqs {
			ran.Store(r.In, true)
			r.Out = "v" + r.In
		}
	})
	d, _, _ := b.Join(context.Background(), "direct") // holds the only slot
	if !d {
		t.Fatal("first Join not direct")
	}
	ctx, cancel := context.WithCancel(context.Background())
	type res struct {
		out string
		err error
	}
	gone, kept := make(chan res, 1), make(chan res, 1)
	go func() { _, out, err := b.Join(ctx, "gone"); gone <- res{out, err} }()
	go func() { _, out, err := b.Join(context.Background(), "kept"); kept <- res{out, err} }()
	for b.Pending() != 2 { // both queued behind the held slot
		runtime.Gosched()
	}
	cancel()
	if r := <-gone; !errors.Is(r.err, context.Canceled) {
		t.Errorf("cancelled Join = %q, %v; want context.Canceled", r.out, r.err)
	}
	b.Done() // the slot passes to a runner: it sends "kept" only
	if r := <-kept; r.err != nil || r.out != "vkept" {
		t.Errorf("Join beside a cancelled one = %q, %v; want \"vkept\"", r.out, r.err)
	}
	if _, ok := ran.Load("gone"); ok {
		t.Error("the withdrawn request was run")
	}
}

// TestBatcher_Panic: a panic in a round trip becomes every caller's
// error, and the Batcher goes on working.
func TestBatcher_Panic(t *testing.T) {
	var calls atomic.Int32
	b := New(1, 16, func(reqs []*Request[int, int]) {
		if calls.Add(1) == 1 {
			panic("boom")
		}
		for _, r := range reqs {
			r.Out = r.In
		}
	})
	b.QueueAll = true
	if _, _, err := b.Join(context.Background(), 1); err == nil {
		t.Fatal("Join through a panicking round trip: nil error")
	}
	if _, out, err := b.Join(context.Background(), 2); err != nil || out != 2 {
		t.Errorf("Join after the panic = %d, %v; want 2", out, err)
	}
}
