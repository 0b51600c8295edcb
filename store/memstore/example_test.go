package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
)

func Example() {
	ctx := context.Background()
	s, err := memstore.New(&memstore.Options{MaxEntries: 10_000, MaxBytes: 16 << 20})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	_ = s.Set(ctx, "greeting", []byte("hello"), time.Minute)
	v, _ := s.Get(ctx, "greeting")
	fmt.Printf("%s\n", v)

	n, _ := s.Increment(ctx, "visits", 1)
	n, _ = s.Increment(ctx, "visits", 1)
	fmt.Println("visits:", n)

	err = s.Add(ctx, "greeting", []byte("hi"), 0)
	fmt.Println("add existing:", errors.Is(err, store.ErrExists))

	_, err = s.Get(ctx, "missing")
	fmt.Println("missing:", errors.Is(err, store.ErrNotFound))
	// Output:
	// hello
	// visits: 2
	// add existing: true
	// missing: true
}

// An OnRemove callback learns why entries leave the store. It runs on a
// goroutine of its own, so it hands what it learns over a channel.
func ExampleOptions_onRemove() {
	ctx := context.Background()
	removed := make(chan string, 16)
	s := memstore.Must(&memstore.Options{
		OnRemove: func(key string, reason memstore.RemovalReason) {
			removed <- key + ": " + reason.String()
		},
	})
	defer s.Close()

	_ = s.Set(ctx, "session:1", []byte("alice"), 0)
	_, _ = s.Delete(ctx, "session:1")
	fmt.Println(<-removed)

	_ = s.Set(ctx, "session:2", []byte("bob"), 0)
	_ = s.Set(ctx, "session:2", []byte("carol"), 0)
	fmt.Println(<-removed)
	// Output:
	// session:1: deleted
	// session:2: replaced
}
