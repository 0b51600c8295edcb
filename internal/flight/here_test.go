package flight

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

type hereKey struct{}

// TestGroup_DoHereOneCall: concurrent callers share one call of fn, which
// runs under the starting caller's own context.
func TestGroup_DoHereOneCall(t *testing.T) {
	var g Group[int]
	var calls atomic.Int32
	release := make(chan struct{})
	const n = 100
	allJoined, reset := joinedAll(n)
	defer reset()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx := context.WithValue(context.Background(), hereKey{}, i)
			v, _, err := g.DoHere(ctx, "k", func(fctx context.Context) (int, error) {
				calls.Add(1)
				if fctx != ctx {
					t.Errorf("fn's context is not its caller's")
				}
				<-release
				return 42, nil
			})
			if err != nil || v != 42 {
				t.Errorf("DoHere = %d, %v; want 42, nil", v, err)
			}
		}(i)
	}
	<-allJoined
	close(release)
	wg.Wait()
	if c := calls.Load(); c != 1 {
		t.Errorf("fn ran %d times for %d concurrent callers; want 1", c, n)
	}
}

// TestGroup_DoHereStarterCancelled: the starter's cancellation reaches fn,
// the starter gets its error, and a caller that joined does not: it runs
// the call again and gets the value.
func TestGroup_DoHereStarterCancelled(t *testing.T) {
	var g Group[int]
	var calls atomic.Int32
	started := make(chan struct{})
	joinedCh, reset := joinedAll(2)
	defer reset()
	fn := func(ctx context.Context) (int, error) {
		if calls.Add(1) == 1 {
			close(started)
			<-ctx.Done() // the first run lasts until its caller leaves
			return 0, ctx.Err()
		}
		return 7, nil
	}
	v, err := cancelStarter(t, started, joinedCh, func(ctx context.Context) (int, error) {
		v, _, err := g.DoHere(ctx, "k", fn)
		return v, err
	}, nil)
	if err != nil || v != 7 {
		t.Errorf("joined caller: got %d, %v; want 7, nil from a call of its own", v, err)
	}
	if c := calls.Load(); c != 2 {
		t.Errorf("fn ran %d times; want 2 (the abandoned call, then the joined caller's)", c)
	}
}

// TestGroup_DoHereErrorShared: an ordinary failure (the starter's ctx
// still live) is every caller's answer, not a reason to call again.
func TestGroup_DoHereErrorShared(t *testing.T) {
	var g Group[int]
	boom := errors.New("boom")
	release := make(chan struct{})
	allJoined, reset := joinedAll(2)
	defer reset()
	var calls atomic.Int32
	fn := func(context.Context) (int, error) { calls.Add(1); <-release; return 0, boom }
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := g.DoHere(context.Background(), "k", fn); !errors.Is(err, boom) {
				t.Errorf("DoHere: got %v; want boom", err)
			}
		}()
	}
	<-allJoined
	close(release)
	wg.Wait()
	if c := calls.Load(); c != 1 {
		t.Errorf("fn ran %d times; want 1", c)
	}
}

// TestGroup_DoHerePanicAndGoexit: a panic reaches the starter and the
// joined callers as a *PanicError; a Goexit ends the starting goroutine
// and gives the joined callers ErrGoexit.
func TestGroup_DoHerePanicAndGoexit(t *testing.T) {
	for _, goexit := range []bool{false, true} {
		var g Group[int]
		release := make(chan struct{})
		allJoined, reset := joinedAll(2)
		fn := func(context.Context) (int, error) {
			<-release
			if goexit {
				runtime.Goexit()
			}
			panic("boom")
		}
		results := make(chan any, 2)
		for range 2 {
			go func() {
				var out any = "goexit" // kept if DoHere never returns
				defer func() {
					if r := recover(); r != nil {
						out = r
					}
					results <- out
				}()
				_, _, err := g.DoHere(context.Background(), "k", fn)
				out = err
			}()
		}
		<-allJoined
		close(release)
		got := map[string]int{}
		for range 2 {
			switch r := (<-results).(type) {
			case *PanicError:
				got["panic"]++
			case string:
				got[r]++
			case error:
				if errors.Is(r, ErrGoexit) {
					got["ErrGoexit"]++
				} else {
					got["other"]++
				}
			default:
				got["other"]++
			}
		}
		reset()
		if !goexit && got["panic"] != 2 {
			t.Errorf("panic: got %v; want a *PanicError in both callers", got)
		}
		if goexit && (got["goexit"] != 1 || got["ErrGoexit"] != 1) {
			t.Errorf("Goexit: got %v; want the starter exited and the joined caller ErrGoexit", got)
		}
	}
}
