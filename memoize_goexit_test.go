package cachet

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/flight"
)

// A loader that calls runtime.Goexit (as t.FailNow does) must release
// every caller waiting on its shared call with an error, not leave them
// blocked; nothing is cached.
func TestMemoize_GoexitReleasesWaiters(t *testing.T) {
	c, _, _ := newTestCache(t, nil)
	const n = 5
	allJoined := joinCounter(t, "g", n)
	first := true
	var mu sync.Mutex
	f := Memoize(c, func(ctx context.Context, k string) (int, error) {
		mu.Lock()
		exit := first
		first = false
		mu.Unlock()
		if exit {
			<-allJoined
			runtime.Goexit()
		}
		return 1, nil
	}, nil)
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := f(context.Background(), "g")
			errs <- err
		}()
	}
	for range n {
		select {
		case err := <-errs:
			if !errors.Is(err, flight.ErrGoexit) {
				t.Fatalf("caller err = %v; want flight.ErrGoexit", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("caller still blocked 10s after the loader called runtime.Goexit")
		}
	}
	if v, err := f(context.Background(), "g"); v != 1 || err != nil {
		t.Fatalf("after Goexit: %d, %v; want 1, nil (a new call)", v, err)
	}
}

func TestCache_GetOrLoadGoexit(t *testing.T) {
	c, _, _ := newTestCache(t, nil)
	errs := make(chan error, 1)
	go func() {
		_, err := c.GetOrLoad(context.Background(), "k", func(context.Context) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		errs <- err
	}()
	select {
	case err := <-errs:
		if !errors.Is(err, flight.ErrGoexit) {
			t.Fatalf("err = %v; want flight.ErrGoexit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("GetOrLoad still blocked 10s after load called runtime.Goexit")
	}
}
