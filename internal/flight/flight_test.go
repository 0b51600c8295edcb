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

// joinedAll returns a channel closed once n callers have joined, and the
// hook's reset.
func joinedAll(n int32) (<-chan struct{}, func()) {
	var joins atomic.Int32
	all := make(chan struct{})
	reset := SetJoinHook(func(string) {
		if joins.Add(1) == n {
			close(all)
		}
	})
	return all, reset
}

func TestGroup_OneCallForManyCallers(t *testing.T) {
	var g Group[int]
	var calls atomic.Int32
	release := make(chan struct{})
	const n = 200
	// The call is held until every caller has joined it: then exactly
	// one call can have run, and every caller must have shared it.
	allJoined, reset := joinedAll(n)
	defer reset()
	var wg sync.WaitGroup
	results := make([]int, n)
	shared := make([]bool, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v, sh, err := g.Do(context.Background(), "k", func(context.Context) (int, error) {
				calls.Add(1)
				<-release
				return 42, nil
			})
			if err != nil {
				t.Errorf("Do: %v", err)
			}
			results[i], shared[i] = v, sh
		}(i)
	}
	<-allJoined
	close(release)
	wg.Wait()
	if c := calls.Load(); c != 1 {
		t.Fatalf("calls = %d; want 1", c)
	}
	for i, v := range results {
		if v != 42 || !shared[i] {
			t.Fatalf("result %d = %d, shared %v; want 42, true", i, v, shared[i])
		}
	}
}

func TestGroup_CallerCancelDoesNotCancelOthers(t *testing.T) {
	var g Group[string]
	inCall := make(chan struct{})
	release := make(chan struct{})
	leaderCtx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))

	// The hook is called by each caller once it has joined; the second
	// call is the follower's.
	followerJoined, reset := joinedAll(2)
	defer reset()

	leaderDone := make(chan error, 1)
	go func() {
		_, _, err := g.Do(leaderCtx, "k", func(ctx context.Context) (string, error) {
			close(inCall)
			<-release
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return ctx.Value(ctxKey{}).(string), nil
		})
		leaderDone <- err
	}()
	<-inCall

	followerDone := make(chan string, 1)
	go func() {
		v, _, err := g.Do(context.Background(), "k", func(context.Context) (string, error) {
			return "", errors.New("second call must not run")
		})
		if err != nil {
			t.Errorf("follower: %v", err)
		}
		followerDone <- v
	}()

	<-followerJoined
	cancel()
	if err := <-leaderDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader err = %v; want context.Canceled", err)
	}
	close(release)
	if v := <-followerDone; v != "v" {
		t.Fatalf("follower got %q; want %q (value from the leader's context)", v, "v")
	}
}

type ctxKey struct{}

func TestGroup_PanicReachesWaiters(t *testing.T) {
	var g Group[int]
	defer func() {
		r := recover()
		p, ok := r.(*PanicError)
		if !ok {
			t.Fatalf("recovered %T %v; want *PanicError", r, r)
		}
		if p.Value != "boom" {
			t.Fatalf("panic value = %v; want boom", p.Value)
		}
	}()
	g.Do(context.Background(), "k", func(context.Context) (int, error) { panic("boom") })
	t.Fatal("Do returned; want a panic")
}

func TestGroup_Error(t *testing.T) {
	var g Group[int]
	want := errors.New("load failed")
	_, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 0, want })
	if !errors.Is(err, want) {
		t.Fatalf("err = %v; want %v", err, want)
	}
}

// A loader that calls runtime.Goexit (as t.FailNow does) releases every
// waiter with ErrGoexit, and the key is free for the next call.
func TestGroup_GoexitReleasesWaiters(t *testing.T) {
	var g Group[int]
	in := make(chan struct{})
	exit := make(chan struct{})
	bothJoined, reset := joinedAll(2)
	defer reset()
	errs := make(chan error, 2)
	go func() {
		_, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) {
			close(in)
			<-exit
			runtime.Goexit()
			return 1, nil
		})
		errs <- err
	}()
	<-in
	go func() {
		_, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) {
			return 0, errors.New("second call must not run")
		})
		errs <- err
	}()
	<-bothJoined
	close(exit)
	for i := 0; i < 2; i++ {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrGoexit) {
				t.Fatalf("waiter err = %v; want ErrGoexit", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("waiter still blocked 10s after the loader called runtime.Goexit")
		}
	}
	v, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("Do after Goexit = %d, %v; want 7, nil", v, err)
	}
}

func TestGroup_Forget(t *testing.T) {
	var g Group[int]
	in := make(chan struct{})
	release := make(chan struct{})
	first := make(chan int, 1)
	go func() {
		v, _, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) {
			close(in)
			<-release
			return 1, nil
		})
		first <- v
	}()
	<-in
	g.Forget("k")
	v, shared, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 2, nil })
	if v != 2 || shared || err != nil {
		t.Fatalf("Do after Forget = %d, %v, %v; want 2, false, nil (a new call)", v, shared, err)
	}
	close(release)
	if v := <-first; v != 1 {
		t.Fatalf("first = %d; want 1", v)
	}
	// The forgotten call's end must not remove a later call's entry.
	v, _, _ = g.Do(context.Background(), "k", func(context.Context) (int, error) { return 3, nil })
	if v != 3 {
		t.Fatalf("Do = %d; want 3", v)
	}
}
