package flight

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cancelStarter runs do as a starting caller under a context it cancels
// and as a joined caller under one it does not: the starter runs first,
// until started is closed; the joiner comes once the starter is under way,
// and once all have joined the starter's context is cancelled (then
// afterCancel runs, if not nil). The starter must get context.Canceled;
// the joiner's answer, which must come within 5s, is returned.
func cancelStarter(t *testing.T, started, all <-chan struct{}, do func(ctx context.Context) (int, error), afterCancel func()) (int, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), hereKey{}, "starter"))
	defer cancel()
	starterErr := make(chan error, 1)
	go func() {
		_, err := do(ctx)
		starterErr <- err
	}()
	<-started
	type answer struct {
		v   int
		err error
	}
	joiner := make(chan answer, 1)
	go func() {
		v, err := do(context.Background())
		joiner <- answer{v, err}
	}()
	<-all
	cancel()
	if e := <-starterErr; !errors.Is(e, context.Canceled) {
		t.Errorf("starter: got %v; want context.Canceled", e)
	}
	if afterCancel != nil {
		afterCancel()
	}
	select {
	case a := <-joiner:
		return a.v, a.err
	case <-time.After(5 * time.Second):
		t.Fatal("joined caller: no answer within 5s")
		return 0, nil
	}
}

// TestGroup_DoThenFirstSettles: concurrent callers share one run of
// first, on the starting caller's goroutine and under its own context;
// when it settles, then never runs and every caller gets first's value.
func TestGroup_DoThenFirstSettles(t *testing.T) {
	var g Group[int]
	const n = 50
	all, reset := joinedAll(n)
	defer reset()
	var firsts, thens atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.WithValue(context.Background(), hereKey{}, i)
			v, _, err := g.DoThen(ctx, "k", func(fctx context.Context) (int, bool, error) {
				firsts.Add(1)
				if fctx != ctx {
					t.Error("first's context is not its caller's")
				}
				<-release
				return 42, true, nil
			}, func(context.Context) (int, error) { thens.Add(1); return 0, nil })
			if err != nil || v != 42 {
				t.Errorf("DoThen = %d, %v; want 42, nil", v, err)
			}
		}()
	}
	<-all
	close(release)
	wg.Wait()
	if f, th := firsts.Load(), thens.Load(); f != 1 || th != 0 {
		t.Errorf("first ran %d times and then %d for %d callers; want 1 and 0", f, th, n)
	}
}

// TestGroup_DoThenHandsOn: when first does not settle, then runs once, on
// a context that keeps the starter's values but not its cancellation; the
// starter may leave (its ctx ends) while then goes on for the others.
func TestGroup_DoThenHandsOn(t *testing.T) {
	var g Group[int]
	all, reset := joinedAll(2)
	defer reset()
	var thens atomic.Int32
	thenStarted := make(chan struct{})
	release := make(chan struct{})
	first := func(context.Context) (int, bool, error) { return 0, false, nil }
	then := func(ctx context.Context) (int, error) {
		thens.Add(1)
		if ctx.Value(hereKey{}) != "starter" {
			t.Error("then's context lost the starter's values")
		}
		close(thenStarted)
		<-release
		if ctx.Err() != nil {
			t.Errorf("then's context ended with its starter's: %v", ctx.Err())
		}
		return 7, nil
	}
	v, err := cancelStarter(t, thenStarted, all, func(ctx context.Context) (int, error) {
		v, _, err := g.DoThen(ctx, "k", first, then)
		return v, err
	}, func() { close(release) })
	if err != nil || v != 7 || thens.Load() != 1 {
		t.Errorf("joined caller: got %d, %v after %d runs of then; want 7, nil after 1", v, err, thens.Load())
	}
}

// TestGroup_DoThenStarterCancelledInFirst: first failing because its
// starter's ctx ended is not the joined callers' answer: a joined caller
// starts the call anew and gets its own result.
func TestGroup_DoThenStarterCancelledInFirst(t *testing.T) {
	var g Group[int]
	all, reset := joinedAll(2)
	defer reset()
	var firsts atomic.Int32
	started := make(chan struct{})
	first := func(ctx context.Context) (int, bool, error) {
		if firsts.Add(1) == 1 {
			close(started)
			<-ctx.Done()
			return 0, true, ctx.Err()
		}
		return 9, true, nil
	}
	then := func(context.Context) (int, error) { t.Error("then ran"); return 0, nil }
	v, err := cancelStarter(t, started, all, func(ctx context.Context) (int, error) {
		v, _, err := g.DoThen(ctx, "k", first, then)
		return v, err
	}, nil)
	if err != nil || v != 9 || firsts.Load() != 2 {
		t.Errorf("joined caller: got %d, %v after %d runs of first; want 9, nil after 2", v, err, firsts.Load())
	}
}

// TestGroup_DoThenPanicAndGoexit: a panic in either phase reaches every
// caller as a *PanicError; a Goexit in first ends the starting goroutine
// and gives the joined caller ErrGoexit, one in then gives every caller
// ErrGoexit.
func TestGroup_DoThenPanicAndGoexit(t *testing.T) {
	for _, tc := range []struct {
		name        string
		inThen      bool
		goexit      bool
		wantPanics  int
		wantGoexits int // ErrGoexit answers
	}{
		{"panic in first", false, false, 2, 0},
		{"panic in then", true, false, 2, 0},
		{"goexit in first", false, true, 0, 1},
		{"goexit in then", true, true, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g Group[int]
			all, reset := joinedAll(2)
			defer reset()
			release := make(chan struct{})
			fail := func() {
				<-release
				if tc.goexit {
					runtime.Goexit()
				}
				panic("boom")
			}
			first := func(context.Context) (int, bool, error) {
				if !tc.inThen {
					fail()
				}
				return 0, false, nil
			}
			then := func(context.Context) (int, error) { fail(); return 0, nil }
			results := make(chan any, 2)
			for range 2 {
				go func() {
					var out any = "goexit" // kept if DoThen never returns
					defer func() {
						if r := recover(); r != nil {
							out = r
						}
						results <- out
					}()
					_, _, err := g.DoThen(context.Background(), "k", first, then)
					out = err
				}()
			}
			<-all
			close(release)
			panics, goexits := 0, 0
			for range 2 {
				switch r := (<-results).(type) {
				case *PanicError:
					panics++
				case error:
					if errors.Is(r, ErrGoexit) {
						goexits++
					}
				}
			}
			if panics != tc.wantPanics || goexits != tc.wantGoexits {
				t.Errorf("got %d panics and %d ErrGoexit; want %d and %d", panics, goexits, tc.wantPanics, tc.wantGoexits)
			}
		})
	}
}
