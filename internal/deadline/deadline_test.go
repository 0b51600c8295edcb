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

func TestCallerDone(t *testing.T) {
	bg := context.Background()
	live, cancel := Bound(bg, time.Hour)
	defer cancel()
	if CallerDone(live) {
		t.Error("CallerDone(live ctx) = true; want false")
	}

	own, cancel := Bound(bg, time.Millisecond)
	defer cancel()
	<-own.Done()
	if CallerDone(own) || !errors.Is(own.Err(), context.DeadlineExceeded) {
		t.Errorf("the bound's own deadline: CallerDone = %v, Err %v; want false, DeadlineExceeded", CallerDone(own), own.Err())
	}
	// Bounds nested (a Timeout middleware over the cache's): still ours.
	nested, cancel := Bound(own, time.Hour)
	defer cancel()
	if CallerDone(nested) {
		t.Error("CallerDone under a nested bound = true; want false")
	}

	caller, cancelCaller := context.WithCancel(bg)
	bounded, cancel := Bound(caller, time.Hour)
	defer cancel()
	cancelCaller()
	if !CallerDone(bounded) {
		t.Error("the caller's cancellation beneath a bound: CallerDone = false; want true")
	}

	callerDL, cancel := context.WithTimeout(bg, time.Millisecond)
	defer cancel()
	bounded, cancel = Bound(callerDL, time.Hour)
	defer cancel()
	<-bounded.Done()
	if !CallerDone(bounded) {
		t.Error("the caller's own deadline: CallerDone = false; want true")
	}

	// A context detached from a bound one (WithoutCancel) never ended.
	if CallerDone(context.WithoutCancel(own)) {
		t.Error("CallerDone(WithoutCancel(expired bound)) = true; want false")
	}
}
