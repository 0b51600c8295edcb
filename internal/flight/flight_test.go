package flight

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestGroup_OneCallForManyCallers(t *testing.T) {
	var g Group[int]
	var calls atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{})
	const n = 200
	var wg sync.WaitGroup
	results := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) {
				if calls.Add(1) == 1 {
					close(started)
				}
				<-release
				return 42, nil
			})
			if err != nil {
				t.Errorf("Do: %v", err)
			}
			results[i] = v
		}(i)
	}
	<-started
	close(release)
	wg.Wait()
	// Callers that arrived after the call finished start a new one; with
	// the release gated on the first call, all that joined share it.
	if c := calls.Load(); c < 1 || c > n {
		t.Fatalf("calls = %d; want between 1 and %d", c, n)
	}
	for i, v := range results {
		if v != 42 {
			t.Fatalf("result %d = %d; want 42", i, v)
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
	followerJoined := make(chan struct{})
	var joins atomic.Int32
	defer SetJoinHook(func(string) {
		if joins.Add(1) == 2 {
			close(followerJoined)
		}
	})()

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
