package redisstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type ctxKey struct{}

// TestDeadlineHook_SharedWindow: a context that can never be cancelled
// gets a deadline between d and d+DeadlineWindow from now, shared with the
// other commands of its window, keeps its values, and ends (Done, Err,
// Cause, contexts derived from it) at that deadline.
func TestDeadlineHook_SharedWindow(t *testing.T) {
	const d = 60 * time.Millisecond
	h := DeadlineHook(d).(*deadlineHook)
	parent := context.WithValue(context.Background(), ctxKey{}, "v")
	start := time.Now()
	ctx, cancel := h.bound(parent)
	defer cancel()
	dl, ok := ctx.Deadline()
	if !ok {
		t.Fatal("no deadline")
	}
	if dl.Before(start.Add(d)) || dl.After(time.Now().Add(d+DeadlineWindow)) {
		t.Errorf("deadline %v from now; want %v to %v", dl.Sub(start), d, d+DeadlineWindow)
	}
	if got := ctx.Value(ctxKey{}); got != "v" {
		t.Errorf("Value = %v; want the caller's value", got)
	}
	if ctx.Err() != nil {
		t.Fatalf("Err before the deadline = %v", ctx.Err())
	}
	derived, stop := context.WithCancel(ctx)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed 5s after the deadline")
	}
	if time.Now().Before(dl) {
		t.Errorf("Done closed %v before the deadline", time.Until(dl))
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		t.Errorf("Err = %v, Cause = %v; want DeadlineExceeded", ctx.Err(), context.Cause(ctx))
	}
	select {
	case <-derived.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a context derived from the command's did not end with it")
	}
}

// TestDeadlineHook_Kinds: a context with a deadline is left as it is; one
// that can be cancelled gets its own deadline and still ends with its
// parent's cancellation; a zero d changes nothing.
func TestDeadlineHook_Kinds(t *testing.T) {
	h := DeadlineHook(time.Hour).(*deadlineHook)
	dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
	defer dcancel()
	if ctx, _ := h.bound(dctx); ctx != dctx {
		t.Error("a context with a deadline was replaced")
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ctx, cancel := h.bound(cctx)
	defer cancel()
	if _, ok := ctx.(*windowCtx); ok {
		t.Error("a cancellable context got a shared window")
	}
	if _, ok := ctx.Deadline(); !ok {
		t.Error("a cancellable context without a deadline got none")
	}
	ccancel()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the parent's cancellation did not reach the command's context")
	}
	if ctx, _ := DeadlineHook(0).(*deadlineHook).bound(context.Background()); ctx != context.Background() {
		t.Error("a zero d changed the context")
	}
}

// TestDeadlineHook_Concurrent: many goroutines bounding at once (run with
// -race) all get a deadline no earlier than d from their start, and those
// of one window share its context.
func TestDeadlineHook_Concurrent(t *testing.T) {
	const d = time.Second
	h := DeadlineHook(d).(*deadlineHook)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[context.Context]bool{}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				start := time.Now()
				ctx, cancel := h.bound(context.Background())
				dl, _ := ctx.Deadline()
				if dl.Before(start.Add(d)) {
					t.Errorf("deadline %v from the start; want at least %v", dl.Sub(start), d)
				}
				mu.Lock()
				wins[ctx.(*windowCtx).win] = true
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if len(wins) > 32*200/4 {
		t.Errorf("%d window contexts for %d commands; want them shared", len(wins), 32*200)
	}
}
