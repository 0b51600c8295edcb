package cachet_test

import (
	"context"
	"fmt"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memstore"
)

// Views are the Go form of aiocache's namespace= and async-caches'
// version= call arguments: take one once, then call it.
func ExampleCache_WithNamespace() {
	ctx := context.Background()
	users := cachet.Must(cachet.New[string](memstore.Must(nil), codec.String(), &cachet.Options[string]{Namespace: "users"}))
	defer users.Close()

	tenant, err := users.WithNamespace("tenant7")
	if err != nil {
		panic(err)
	}
	tenant.Set(ctx, "42", "Ada")
	key, _ := tenant.Key("42")
	fmt.Println(key)

	v2, err := users.WithVersion(2)
	if err != nil {
		panic(err)
	}
	key, _ = v2.Key("42")
	fmt.Println(key)
	// Output:
	// tenant7:42
	// users:2:42
}

// CodecView is the Go form of aiocache's dumps_fn and loads_fn: the same
// keys and store, another codec, another value type.
func ExampleCodecView() {
	type User struct {
		Name string `json:"name"`
	}
	ctx := context.Background()
	users := cachet.Must(cachet.New[string](memstore.Must(nil), codec.JSON[User](), &cachet.Options[string]{Namespace: "users"}))
	defer users.Close()
	users.Set(ctx, "42", User{Name: "Ada"})

	raw, err := cachet.CodecView(users, codec.String())
	if err != nil {
		panic(err)
	}
	s, err := raw.Get(ctx, "42")
	fmt.Println(s, err)
	// Output:
	// {"name":"Ada"} <nil>
}
