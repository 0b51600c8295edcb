package cachet_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memstore"
)

// Lock is aiocache's RedLock: one owner at a time across every process
// sharing the store (use Redis or memcached for that), released only by
// its owner, and by the store when the lease runs out.
func ExampleCache_Lock() {
	ctx := context.Background()
	c := cachet.Must(cachet.New[string](memstore.Must(nil), codec.String(), &cachet.Options[string]{Namespace: "jobs"}))
	defer c.Close()

	l, err := c.Lock(ctx, "nightly-report", 30*time.Second)
	if err != nil {
		panic(err) // ctx ended while waiting, or the store failed
	}
	fmt.Println(l.Key())

	_, err = c.TryLock(ctx, "nightly-report", 30*time.Second)
	fmt.Println(err != nil)

	// ... the critical section, shorter than the lease ...
	fmt.Println(l.Unlock(ctx))
	// Output:
	// jobs:nightly-report:lock
	// true
	// <nil>
}
