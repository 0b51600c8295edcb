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
