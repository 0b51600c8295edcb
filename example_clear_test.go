package cachet_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memstore"
)

// Clear on a cache without a namespace would empty the whole store, so it
// refuses; ClearAll says so explicitly.
func ExampleCache_ClearAll() {
	ctx := context.Background()
	c := cachet.Must(cachet.New[string](memstore.Must(nil), codec.String(), nil))
	defer c.Close()
	c.Set(ctx, "a", "1")

	err := c.Clear(ctx)
	fmt.Println(errors.Is(err, cachet.ErrClearAll))

	fmt.Println(c.ClearAll(ctx))
	_, err = c.Get(ctx, "a")
	fmt.Println(errors.Is(err, cachet.ErrNotFound))
	// Output:
	// true
	// <nil>
	// true
}
