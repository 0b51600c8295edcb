// Command quickstart shows cachet's typed cache on the in-memory store:
// run it with go run ./examples/quickstart, no setup needed.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memstore"
)

// User is what the application caches.
type User struct {
	Name  string
	Email string
}

func main() {
	ctx := context.Background()

	users, err := cachet.New[string](memstore.Must(nil), codec.JSON[User](), &cachet.Options[string]{
		Namespace: "users",
		TTL:       10 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	if err := users.Set(ctx, "42", User{Name: "Ada", Email: "ada@example.com"}); err != nil {
		log.Fatal(err)
	}
	u, err := users.Get(ctx, "42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("hit:  %+v\n", u)

	if _, err := users.Get(ctx, "7"); errors.Is(err, cachet.ErrNotFound) {
		fmt.Println("miss: 7 is not cached")
	}

	// Read-through: the loader runs only on a miss.
	u, err = users.GetOrLoad(ctx, "7", func(ctx context.Context) (User, error) {
		fmt.Println("load: fetching user 7 from the database")
		return User{Name: "Grace", Email: "grace@example.com"}, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("load: %+v\n", u)
	ttl, _ := users.TTL(ctx, "7")
	fmt.Printf("ttl:  %v left\n", ttl.Round(time.Minute))
}
