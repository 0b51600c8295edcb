package cachet_test

import (
	"context"
	"fmt"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memstore"
)

// A local tier in front of the store: the second Get is served in process,
// without the store or the codec.
func ExampleLocalOptions() {
	ctx := context.Background()
	s := memstore.Must(nil) // over Redis, other writers' changes arrive by invalidation
	defer s.Close()
	users := cachet.Must(cachet.New[string](s, codec.JSON[User](), &cachet.Options[string]{
		Namespace: "users",
		Local:     &cachet.LocalOptions[User]{MaxEntries: 10_000},
	}))
	users.Set(ctx, "ann", User{ID: 1, Name: "Ann"})
	users.Get(ctx, "ann") // a store read fills the tier
	u, _ := users.Get(ctx, "ann")
	st, _ := users.LocalStats()
	fmt.Println(u.Name, st.Hits, st.StoreReads)
	// Output: Ann 1 1
}
