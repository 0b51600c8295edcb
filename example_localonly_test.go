package cachet_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cachet-go/cachet"
)

// A memory-only cache: typed values kept in this process, bounded by
// LocalOptions, with no store and no codec, and every Cache feature.
func ExampleNewLocal() {
	ctx := context.Background()
	users := cachet.Must(cachet.NewLocal[string](
		&cachet.LocalOptions[User]{MaxEntries: 10_000},
		&cachet.Options[string]{Namespace: "users", TTL: 10 * time.Minute},
	))
	defer users.Close()

	users.Set(ctx, "ann", User{ID: 1, Name: "Ann"})
	u, _ := users.Get(ctx, "ann") // the value Set stored: nothing encoded, nothing decoded

	load := cachet.Memoize(users, func(ctx context.Context, id string) (User, error) {
		return User{ID: 2, Name: "Bob"}, nil // a database query, say
	}, nil)
	b, _ := load(ctx, "bob") // loaded once, then served from the cache

	err := users.Add(ctx, "ann", User{Name: "Someone else"})
	fmt.Println(u.Name, b.Name, err != nil)
	// Output: Ann Bob true
}

// A memory-only cache of an integer type counts with Increment, and Get
// reads the counters.
func ExampleNewLocal_counter() {
	ctx := context.Background()
	hits := cachet.Must(cachet.NewLocal[string](&cachet.LocalOptions[int64]{}, &cachet.Options[string]{Namespace: "hits"}))
	defer hits.Close()

	for range 3 {
		hits.Increment(ctx, "/home", 1)
	}
	n, _ := hits.Get(ctx, "/home")
	fmt.Println(n)
	// Output: 3
}
