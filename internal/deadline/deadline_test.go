package deadline

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBound(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name     string
		callerDL time.Duration // 0: the caller's ctx has no deadline
		d        time.Duration
		wantSame bool // ctx returned as it is
		wantDL   time.Duration
	}{
		{"no caller deadline", 0, time.Second, false, time.Second},
		{"caller deadline later", time.Hour, time.Second, false, time.Second},
		{"caller deadline earlier", time.Millisecond * 500, time.Second, true, time.Millisecond * 500},
		{"caller deadline equal", time.Second, time.Second, true, time.Second},
		{"zero d: no bound", 0, 0, true, 0},
		{"negative d: no bound", time.Hour, -time.Second, true, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.callerDL > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, now.Add(tc.callerDL))
				defer cancel()
			}
			got, cancel := BoundFrom(ctx, now, tc.d)
			defer cancel()
			if same := got == ctx; same != tc.wantSame {
				t.Fatalf("ctx returned as it is = %v; want %v", same, tc.wantSame)
			}
			dl, ok := got.Deadline()
			if tc.wantDL == 0 {
				if ok {
					t.Fatalf("deadline %v; want none", dl)
				}
				return
			}
			if !ok || !dl.Equal(now.Add(tc.wantDL)) {
				t.Fatalf("deadline = %v, %v; want %v", dl, ok, now.Add(tc.wantDL))
			}
		})
	}
}

func TestBound_Expires(t *testing.T) {
	ctx, cancel := Bound(context.Background(), 10*time.Millisecond)
	defer cancel()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("bounded ctx not done after 5s; want done after 10ms")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("err = %v; want context.DeadlineExceeded", ctx.Err())
	}
}

func TestBound_CancelReleases(t *testing.T) {
	parent, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	ctx, cancel := Bound(parent, time.Hour)
	if ctx == parent {
		t.Fatal("Bound returned the parent; want a bounded child")
	}
	cancel()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("err after cancel = %v; want context.Canceled", ctx.Err())
	}
	if parent.Err() != nil {
		t.Fatalf("parent err = %v; want nil", parent.Err())
	}
}

func TestBound_NoBoundCancelIsHarmless(t *testing.T) {
	ctx, cancel := Bound(context.Background(), 0)
	cancel()
	cancel()
	if ctx.Err() != nil {
		t.Fatalf("err = %v; want nil", ctx.Err())
	}
}
