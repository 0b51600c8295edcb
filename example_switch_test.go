package cachet_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memstore"
)

// The kill switch turns caching off and on at run time, as aiocache's
// AIOCACHE_DISABLE does at start-up: reads miss, writes are dropped, and
// the store keeps what it held. ?disabled=true in a store URL, or
// Options.Disabled, starts a cache off.
func ExampleCache_Disable() {
	ctx := context.Background()
	c := cachet.Must(cachet.New[string](memstore.Must(nil), codec.String(), &cachet.Options[string]{Namespace: "app"}))
	defer c.Close()
	c.Set(ctx, "k", "kept")

	c.Disable()
	_, err := c.Get(ctx, "k")
	fmt.Println(errors.Is(err, cachet.ErrNotFound))
	fmt.Println(c.Set(ctx, "k", "dropped"))

	c.Enable()
	v, _ := c.Get(ctx, "k")
	fmt.Println(v)
	// Output:
	// true
	// <nil>
	// kept
}
