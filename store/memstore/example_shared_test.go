package memstore_test

import (
	"context"
	"fmt"

	"github.com/cachet-go/cachet/store/memstore"
)

// Two handles on one named store share its keys; each is closed on its
// own, and the last Close frees the store.
func ExampleShared() {
	ctx := context.Background()
	a, err := memstore.Shared("example-sessions", &memstore.Options{MaxEntries: 1000})
	if err != nil {
		panic(err)
	}
	b, err := memstore.Shared("example-sessions", nil) // nil: whatever it was opened with
	if err != nil {
		panic(err)
	}
	a.Set(ctx, "s1", []byte("ada"), 0)
	a.Close()
	v, _ := b.Get(ctx, "s1")
	fmt.Println(string(v))
	b.Close()
	// Output:
	// ada
}
