package cachet

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/cachet-go/cachet/codec"
)

// TestMemoizer_InvalidateOvertakesRunningCall: a call of fn that began
// before an Invalidate of its key must not store its older result after
// it, and a caller arriving after the Invalidate must not be handed that
// result (it starts a new call).
func TestMemoizer_InvalidateOvertakesRunningCall(t *testing.T) {
	ctx := context.Background()
	c, err := New[string](newMem(t), codec.String(), &Options[string]{Namespace: "inv"})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	m, err := NewMemoizer(c, func(ctx context.Context, k string) (string, error) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release // the first call read the old value and is slow
			return "old", nil
		}
		return "new", nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan string)
	go func() {
		v, _ := m.Call(ctx, "k")
		first <- v
	}()
	<-entered
	if err := m.Invalidate(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	// A caller after the Invalidate does not join the running call.
	if v, err := m.Call(ctx, "k"); err != nil || v != "new" {
		t.Fatalf("Call after Invalidate = %q, %v; want new, nil", v, err)
	}
	close(release)
	if v := <-first; v != "old" {
		t.Fatalf("the first caller got %q; want old (its own call's result)", v)
	}
	// The older result did not overwrite the newer one.
	if v, err := c.Get(ctx, "k"); err != nil || v != "new" {
		t.Fatalf("Get after both calls = %q, %v; want new, nil", v, err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("fn ran %d times; want 2", n)
	}
}
