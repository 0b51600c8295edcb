package cachet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/flight"
	"github.com/cachet-go/cachet/store/memstore"
)

func TestMemoizeMany(t *testing.T) {
	ctx := context.Background()
	c, _, rec := newTestCache(t, &Options[string]{Namespace: "n"})
	var mu sync.Mutex
	var got [][]string
	f := MemoizeMany(c, func(ctx context.Context, keys []string) (map[string]int, error) {
		mu.Lock()
		got = append(got, slices.Sorted(slices.Values(keys)))
		mu.Unlock()
		out := map[string]int{}
		for _, k := range keys {
			if k != "gone" {
				out[k] = len(k)
			}
		}
		return out, nil
	}, &MemoizeOptions[string, int]{NotFoundTTL: time.Hour})
	calls := func() [][]string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}

	if m, err := f(ctx, []string{"a"}); err != nil || m["a"] != 1 {
		t.Fatalf("f([a]) = %v, %v", m, err)
	}
	m, err := f(ctx, []string{"a", "bb", "bb", "gone"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"a": 1, "bb": 2}; fmt.Sprint(m) != fmt.Sprint(want) {
		t.Fatalf("f([a bb bb gone]) = %v; want %v", m, want)
	}
	if want := [][]string{{"a"}, {"bb", "gone"}}; fmt.Sprint(calls()) != fmt.Sprint(want) {
		t.Fatalf("fn calls = %v; want %v (only the missed keys, once each)", calls(), want)
	}
	m, err = f(ctx, []string{"gone", "bb", "a"})
	if err != nil || len(m) != 2 {
		t.Fatalf("all cached: %v, %v; want a and bb", m, err)
	}
	if len(calls()) != 2 {
		t.Fatalf("fn called although every key was cached (not-found included): %v", calls())
	}
	gets := rec.count("get_many")
	if m, err := f(ctx, nil); err != nil || m == nil || len(m) != 0 {
		t.Fatalf("empty input = %v, %v; want an empty map", m, err)
	}
	if rec.count("get_many") != gets || len(calls()) != 2 {
		t.Fatal("empty input reached the store or fn")
	}
}

func TestMemoizeMany_OverlappingBatchesShareKeys(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newTestCache(t, &Options[string]{Namespace: "overlap"})
	// Joins: the first batch joins a and b, the second b and c.
	var joins atomic.Int32
	allJoined := make(chan struct{})
	t.Cleanup(flight.SetJoinHook(func(key string) {
		if strings.HasPrefix(key, "overlap:") && joins.Add(1) == 4 {
			close(allJoined)
		}
	}))
	var mu sync.Mutex
	seen := map[string]int{}
	f := MemoizeMany(c, func(ctx context.Context, keys []string) (map[string]int, error) {
		mu.Lock()
		for _, k := range keys {
			seen[k]++
		}
		mu.Unlock()
		<-allJoined
		out := map[string]int{}
		for _, k := range keys {
			out[k] = int(k[0])
		}
		return out, nil
	}, nil)
	var wg sync.WaitGroup
	for _, batch := range [][]string{{"a", "b"}, {"b", "c"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := f(ctx, batch)
			if err != nil || len(m) != 2 || m[batch[0]] != int(batch[0][0]) || m[batch[1]] != int(batch[1][0]) {
				t.Errorf("f(%v) = %v, %v", batch, m, err)
			}
		}()
	}
	wg.Wait()
	if seen["a"] != 1 || seen["b"] != 1 || seen["c"] != 1 {
		t.Fatalf("fn saw keys %v; want each once", seen)
	}
}

func TestMemoizeMany_FailuresAndPanics(t *testing.T) {
	ctx := context.Background()
	down := &downStore{Store: memstore.Must(nil)}
	c, rec := newCacheOver(t, down, nil)
	boom := errors.New("boom")
	var calls atomic.Int32
	f := MemoizeMany(c, func(ctx context.Context, keys []string) (map[string]int, error) {
		switch calls.Add(1) {
		case 1:
			return nil, boom
		case 2:
			panic("batch boom")
		}
		return map[string]int{"x": 1}, nil
	}, nil)
	if _, err := f(ctx, []string{"x"}); !errors.Is(err, boom) {
		t.Fatalf("err = %v; want boom", err)
	}
	func() {
		defer func() {
			if p, ok := recover().(*PanicError); !ok || p.Value != "batch boom" {
				t.Fatalf("recovered %v; want the batch's panic", p)
			}
		}()
		f(ctx, []string{"x"})
	}()
	down.down.Store(true)
	if m, err := f(ctx, []string{"x"}); err != nil || m["x"] != 1 {
		t.Fatalf("failing store: %v, %v; want fn's result", m, err)
	}
	if len(rec.errors()) == 0 {
		t.Fatal("middleware saw no store error")
	}
}
