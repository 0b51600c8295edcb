package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	// Importing the backends registers their URL schemes: redis://,
	// rediss://, redis+cluster://, redis+sentinel:// and memcached://.
	_ "github.com/cachet-go/cachet/store/memcachestore/memcacheurl"
	_ "github.com/cachet-go/cachet/store/redisstore/redisurl"
)

// Open a store from a URL, as found in an environment variable. The URL's
// query may also carry options for the cache built on the store.
func ExampleOpen() {
	s, opts, err := cachet.Open("memory://example-open?max_entries=10000&ttl=90s&namespace=users&version=2")
	if err != nil {
		panic(err)
	}
	defer s.Close()
	fmt.Println(opts.TTL, opts.Namespace, opts.Version)

	// A bad URL names the option and the value.
	_, _, err = cachet.Open("redis://localhost:6379/0?maxsize=twenty")
	fmt.Println(errors.Is(err, cachet.ErrInvalidOption))
	fmt.Println(err)
	// Output:
	// 1m30s users 2
	// true
	// cachet: invalid option pool_size="twenty" in redis://localhost:6379/0?maxsize=twenty: redis: invalid pool_size number: strconv.Atoi: parsing "twenty": invalid syntax
}

// OpenCache opens the store and builds a Cache on it. Options given in
// code win over the same options in the URL.
func ExampleOpenCache() {
	ctx := context.Background()
	c, err := cachet.OpenCache("memory://example-opencache?namespace=fromurl&ttl=1h", codec.String(),
		&cachet.Options[string]{Namespace: "fromcode"})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	key, _ := c.Key("greeting")
	fmt.Println(key)
	c.Set(ctx, "greeting", "hello")
	ttl, _ := c.TTL(ctx, "greeting")
	fmt.Println(ttl > 59*time.Minute)
	// Output:
	// fromcode:greeting
	// true
}

// Named caches configured from JSON, as with aiocache's caches.set_config.
func ExampleRegistry_ConfigureJSON() {
	type User struct{ Name string }
	ctx := context.Background()

	var caches cachet.Registry
	defer caches.Close()
	err := caches.ConfigureJSON([]byte(`{
		"default": {"store": "memory://example-registry", "ttl": "5m"},
		"users":   {"store": "memory://example-registry", "codec": "msgpack",
		            "namespace": "users", "version": 2, "plugins": ["hit_miss_ratio"]}
	}`))
	if err != nil {
		panic(err)
	}

	users, err := cachet.Alias[string, User](&caches, "users") // the same *Cache on every call
	if err != nil {
		panic(err)
	}
	users.Get(ctx, "ada") // a miss
	users.Set(ctx, "ada", User{Name: "Ada"})
	u, _ := users.Get(ctx, "ada") // a hit
	fmt.Println(u.Name)

	key, _ := users.Key("ada")
	fmt.Println(key)

	plugins, _ := caches.Plugins("users")
	fmt.Printf("%+v\n", plugins[0].(*cachet.HitMissRatio).Stats())

	_, err = cachet.Alias[string, User](&caches, "sessions")
	fmt.Println(err)
	// Output:
	// Ada
	// users:2:ada
	// {Total:2 Hits:1 Misses:1 Ratio:0.5}
	// cachet: invalid option: unknown cache alias "sessions" (configured: default, users)
}

// CreateAlias builds a new cache from an alias, with options in code that
// win over the alias' own. The caller closes it.
func ExampleCreateAlias() {
	caches, err := cachet.NewRegistry(map[string]cachet.AliasConfig{
		"pages": {Store: "memory://example-create", Codec: "bytes", Namespace: "pages", TTL: time.Minute},
	})
	if err != nil {
		panic(err)
	}
	defer caches.Close()

	drafts, err := cachet.CreateAlias[string, []byte](caches, "pages", &cachet.Options[string]{Namespace: "drafts"})
	if err != nil {
		panic(err)
	}
	defer drafts.Close()
	key, _ := drafts.Key("/index")
	fmt.Println(key)
	// Output:
	// drafts:/index
}
