package noopstore_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/noopstore"
)

func Example() {
	ctx := context.Background()
	s := noopstore.New()

	err := s.Set(ctx, "k", []byte("v"), 0)
	fmt.Println("set:", err)
	_, err = s.Get(ctx, "k")
	fmt.Println("get misses:", errors.Is(err, store.ErrNotFound))
	err = s.Set(ctx, "", []byte("v"), 0)
	fmt.Println("empty key:", errors.Is(err, store.ErrInvalidKey))
	// Output:
	// set: <nil>
	// get misses: true
	// empty key: true
}
