package flight

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBatch_OverlappingCallsShareKeys(t *testing.T) {
	var b Batch[int]
	release := make(chan struct{})
	firstIn := make(chan struct{})
	var mu sync.Mutex
	var got [][]string
	fn := func(_ context.Context, keys []string) (map[string]int, error) {
		mu.Lock()
		got = append(got, slices.Sorted(slices.Values(keys)))
		n := len(got)
		mu.Unlock()
		if n == 1 {
			close(firstIn)
		}
		<-release
		out := map[string]int{}
		for _, k := range keys {
			if k != "missing" {
				out[k] = len(k)
			}
		}
		return out, nil
	}
	// The second Do joins "bb" and "missing" once it has joined all keys.
	var joins atomic.Int32
	secondJoined := make(chan struct{})
	defer SetJoinHook(func(string) {
		if joins.Add(1) == 3+3 {
			close(secondJoined)
		}
	})()

	first := make(chan map[string]int, 1)
	go func() {
		m, err := b.Do(context.Background(), []string{"a", "bb", "missing", "a"}, fn)
		if err != nil {
			t.Errorf("first Do: %v", err)
		}
		first <- m
	}()
	<-firstIn
	second := make(chan map[string]int, 1)
	go func() {
		m, err := b.Do(context.Background(), []string{"bb", "ccc", "missing"}, fn)
		if err != nil {
			t.Errorf("second Do: %v", err)
		}
		second <- m
	}()
	<-secondJoined
	close(release)
	m1, m2 := <-first, <-second
	if want := (map[string]int{"a": 1, "bb": 2}); !mapsEqual(m1, want) {
		t.Errorf("first = %v; want %v", m1, want)
	}
	if want := (map[string]int{"bb": 2, "ccc": 3}); !mapsEqual(m2, want) {
		t.Errorf("second = %v; want %v", m2, want)
	}
	want := [][]string{{"a", "bb", "missing"}, {"ccc"}}
	if len(got) != 2 || !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) {
		t.Errorf("fn calls = %v; want %v", got, want)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestBatch_AllInFlightDoesNotCallFn(t *testing.T) {
	var b Batch[int]
	release := make(chan struct{})
	in := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Do(context.Background(), []string{"x"}, func(context.Context, []string) (map[string]int, error) {
			close(in)
			<-release
			return map[string]int{"x": 7}, nil
		})
	}()
	<-in
	var calls atomic.Int32
	res := make(chan map[string]int, 1)
	joinedCh := make(chan struct{})
	var once sync.Once
	defer SetJoinHook(func(string) { once.Do(func() { close(joinedCh) }) })()
	go func() {
		m, _ := b.Do(context.Background(), []string{"x"}, func(context.Context, []string) (map[string]int, error) {
			calls.Add(1)
			return nil, nil
		})
		res <- m
	}()
	<-joinedCh
	close(release)
	if m := <-res; m["x"] != 7 {
		t.Fatalf("got %v; want x=7", m)
	}
	<-done
	if c := calls.Load(); c != 0 {
		t.Fatalf("second fn called %d times; want 0", c)
	}
}

func TestBatch_ErrorAndCancel(t *testing.T) {
	var b Batch[int]
	want := errors.New("batch failed")
	_, err := b.Do(context.Background(), []string{"a"}, func(context.Context, []string) (map[string]int, error) {
		return nil, want
	})
	if !errors.Is(err, want) {
		t.Fatalf("err = %v; want %v", err, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	defer close(release)
	cancel()
	_, err = b.Do(ctx, []string{"b"}, func(context.Context, []string) (map[string]int, error) {
		<-release
		return nil, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
}

func TestBatch_PanicReachesWaiters(t *testing.T) {
	var b Batch[int]
	defer func() {
		p, ok := recover().(*PanicError)
		if !ok || p.Value != "boom" {
			t.Fatalf("recovered %v; want *PanicError boom", p)
		}
	}()
	b.Do(context.Background(), []string{"a"}, func(context.Context, []string) (map[string]int, error) { panic("boom") })
	t.Fatal("Do returned; want a panic")
}

func TestBatch_Empty(t *testing.T) {
	var b Batch[int]
	m, err := b.Do(context.Background(), nil, func(context.Context, []string) (map[string]int, error) {
		t.Fatal("fn called for no keys")
		return nil, nil
	})
	if err != nil || len(m) != 0 {
		t.Fatalf("got %v, %v; want empty, nil", m, err)
	}
}

func TestBatch_GoexitReleasesWaiters(t *testing.T) {
	var b Batch[int]
	errs := make(chan error, 1)
	go func() {
		_, err := b.Do(context.Background(), []string{"a", "b"}, func(context.Context, []string) (map[string]int, error) {
			runtime.Goexit()
			return nil, nil
		})
		errs <- err
	}()
	select {
	case err := <-errs:
		if !errors.Is(err, ErrGoexit) {
			t.Fatalf("err = %v; want ErrGoexit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Do still blocked 10s after fn called runtime.Goexit")
	}
	m, err := b.Do(context.Background(), []string{"a"}, func(context.Context, []string) (map[string]int, error) {
		return map[string]int{"a": 1}, nil
	})
	if err != nil || m["a"] != 1 {
		t.Fatalf("Do after Goexit = %v, %v; want a=1, nil", m, err)
	}
}
