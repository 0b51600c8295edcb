package batch

import (
	"context"
	"errors"
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
		if !errors.Is(err, ErrMaxWait) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Join on a hung batch = %v; want ErrMaxWait (os.ErrDeadlineExceeded)", err)
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
