package batch

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// hung returns a Batcher whose round trips block until release is closed.
func hung(release <-chan struct{}) *Batcher[int, int] {
	b := New(1, 1, func(reqs []*Request[int, int]) {
		<-release
		for _, r := range reqs {
			r.Out = r.In
		}
	})
	b.QueueAll = true
	return b
}

// TestBatcher_MaxWait: a queued caller without a deadline (and one with a
// later deadline) leaves after MaxWait with ErrMaxWait, a timeout, while
// the round trip ahead of it hangs; a caller answered in time keeps its
// answer, and its recycled request's timer does not fire into a later wait.
func TestBatcher_MaxWait(t *testing.T) {
	release := make(chan struct{})
	b := hung(release)
	b.MaxWait = 50 * time.Millisecond
	late, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, ctx := range []context.Context{context.Background(), late} {
		start := time.Now()
		_, _, err := b.Join(ctx, 1)
		var ne net.Error
		if !errors.Is(err, ErrMaxWait) || !errors.Is(err, os.ErrDeadlineExceeded) ||
			!errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("Join on a hung batch = %v; want ErrMaxWait (os.ErrDeadlineExceeded, context.DeadlineExceeded, a timeout net.Error)", err)
		}
		if took := time.Since(start); took < b.MaxWait || took > b.MaxWait+time.Second {
			t.Errorf("Join returned after %v; want about MaxWait %v", took, b.MaxWait)
		}
	}
	close(release)
	b.MaxWait = time.Second
	for i := range 100 { // recycled requests and timers
		if _, out, err := b.Join(context.Background(), i); err != nil || out != i {
			t.Fatalf("Join(%d) = %d, %v", i, out, err)
		}
	}
}

// TestBatcher_Close: Close answers every queued request with its error at
// once, later Joins fail with it, and the first error stays.
func TestBatcher_Close(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	b := hung(release)
	errClosed := errors.New("closed")
	done := make(chan error, 8)
	for i := range 8 {
		go func() { _, _, err := b.Join(context.Background(), i); done <- err }()
	}
	for end := time.Now().Add(5 * time.Second); b.Pending() < 7; {
		if time.Now().After(end) {
			t.Fatalf("%d queued; want 7 (one taken by the runner)", b.Pending())
		}
		time.Sleep(time.Millisecond) // polling the queue
	}
	b.Close(errClosed)
	b.Close(errors.New("second"))
	for range 7 {
		select {
		case err := <-done:
			if !errors.Is(err, errClosed) {
				t.Errorf("queued Join after Close = %v; want the Close error", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("queued Join still waiting 5s after Close")
		}
	}
	if _, _, err := b.Join(context.Background(), 0); !errors.Is(err, errClosed) {
		t.Errorf("Join after Close = %v; want the first Close error", err)
	}
}

// TestBatcher_MaxWaitShared: many callers queued behind a hung round trip
// all leave with ErrMaxWait, none before MaxWait and none long after, on
// the one clock the Batcher shares among them; the clock stops once no
// caller waits, and a later bounded wait starts it again.
func TestBatcher_MaxWaitShared(t *testing.T) {
	release := make(chan struct{})
	b := hung(release)
	b.MaxWait = 80 * time.Millisecond
	const n = 32
	type result struct {
		err  error
		took time.Duration
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			start := time.Now()
			_, _, err := b.Join(context.Background(), i)
			results <- result{err, time.Since(start)}
		}()
	}
	for range n {
		r := <-results
		if !errors.Is(r.err, ErrMaxWait) {
			t.Errorf("Join behind a hung round trip = %v; want ErrMaxWait", r.err)
		}
		// Not before MaxWait; the upper bound leaves room for a loaded
		// machine (the clock's own slack is MaxWait/16).
		if r.took < b.MaxWait || r.took > b.MaxWait+time.Second {
			t.Errorf("Join left after %v; want MaxWait %v to MaxWait+1s", r.took, b.MaxWait)
		}
	}
	clockStopped := func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.tick == nil
	}
	for end := time.Now().Add(5 * time.Second); !clockStopped(); {
		if time.Now().After(end) {
			t.Fatal("the wait clock still runs 5s after the last bounded caller left")
		}
		time.Sleep(time.Millisecond) // polling: the clock stops at its next tick
	}
	if _, _, err := b.Join(context.Background(), 0); !errors.Is(err, ErrMaxWait) {
		t.Errorf("a bounded Join after the clock stopped = %v; want ErrMaxWait", err)
	}
	close(release)
}

// TestBatcher_MaxWaitCallerDeadline: a caller whose own deadline comes
// before MaxWait is not put on the clock: it leaves at its deadline with
// the context's error.
func TestBatcher_MaxWaitCallerDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	b := hung(release)
	b.MaxWait = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, _, err := b.Join(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Join with a deadline before MaxWait = %v; want context.DeadlineExceeded", err)
	}
	if b.waiting.Load() != 0 {
		t.Errorf("%d callers still counted on the wait clock", b.waiting.Load())
	}
}
