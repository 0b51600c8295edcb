package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
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

// A program takes its cache's URL from the environment; ping= checks the
// store at start-up, so that a wrong address fails here, with the URL
// (password masked) in the error, rather than at the first call. The
// example has no Output, so go test compiles it but does not run it: it
// needs a Redis at CACHE_URL.
func ExampleOpenCache_environment() {
	// CACHE_URL=redis://:secret@localhost:6379/1?maxsize=20&timeout=1s&ttl=600&namespace=users&ping=2s
	users, err := cachet.OpenCache(os.Getenv("CACHE_URL"), codec.JSON[User](), &cachet.Options[string]{Version: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()
}
