package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memstore"
)

// A typed cache of users in memory. Moving to Redis or memcached changes
// only the line that builds the store.
func Example() {
	type User struct {
		Name  string
		Email string
	}
	ctx := context.Background()

	users, err := cachet.New[string](memstore.Must(nil), codec.JSON[User](), &cachet.Options[string]{
		Namespace: "users",
		TTL:       10 * time.Minute,
	})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	if err := users.Set(ctx, "42", User{Name: "Ada", Email: "ada@example.com"}); err != nil {
		panic(err)
	}
	u, err := users.Get(ctx, "42")
	fmt.Println(u.Name, err)

	_, err = users.Get(ctx, "7")
	fmt.Println(errors.Is(err, cachet.ErrNotFound))
	// Output:
	// Ada <nil>
	// true
}

// GetOrLoad reads through the cache: the loader runs only on a miss, once
// for all concurrent callers of the same key.
func ExampleCache_GetOrLoad() {
	ctx := context.Background()
	prices := cachet.Must(cachet.New[int](memstore.Must(nil), codec.Msgpack[float64](), &cachet.Options[int]{
		Namespace: "price",
	}))
	defer prices.Close()

	load := func(ctx context.Context) (float64, error) {
		fmt.Println("loading price of item 7")
		return 9.99, nil
	}
	p1, _ := prices.GetOrLoad(ctx, 7, load)
	p2, _ := prices.GetOrLoad(ctx, 7, load) // a hit: load does not run
	fmt.Println(p1, p2)
	// Output:
	// loading price of item 7
	// 9.99 9.99
}

// Namespaces keep caches on one store apart; a version makes the entries
// of an older release unreachable without deleting them.
func ExampleOptions() {
	ctx := context.Background()
	s := memstore.Must(nil)
	defer s.Close()

	v1 := cachet.Must(cachet.New[string](s, codec.String(), &cachet.Options[string]{Namespace: "greeting", Version: 1}))
	v2 := cachet.Must(cachet.New[string](s, codec.String(), &cachet.Options[string]{Namespace: "greeting", Version: 2}))
	other := cachet.Must(cachet.New[string](s, codec.String(), &cachet.Options[string]{Namespace: "farewell"}))

	v1.Set(ctx, "en", "hello")
	other.Set(ctx, "en", "bye")
	key, _ := v2.Key("en")
	fmt.Println(key)

	_, err := v2.Get(ctx, "en")
	fmt.Println("v2 sees v1:", !errors.Is(err, cachet.ErrNotFound))

	v1.Clear(ctx) // the whole "greeting" namespace, every version
	bye, _ := other.Get(ctx, "en")
	fmt.Println("farewell kept:", bye)
	// Output:
	// greeting:2:en
	// v2 sees v1: false
	// farewell kept: bye
}
