package caches_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/caches"
)

// Named caches configured from JSON, as with aiocache's caches.set_config.
func ExampleRegistry_ConfigureJSON() {
	type User struct{ Name string }
	ctx := context.Background()

	var r caches.Registry
	defer r.Close()
	err := r.ConfigureJSON([]byte(`{
		"default": {"store": "memory://example-registry", "ttl": "5m"},
		"users":   {"store": "memory://example-registry", "codec": "msgpack",
		            "namespace": "users", "version": 2, "plugins": ["hit_miss_ratio"]}
	}`))
	if err != nil {
		panic(err)
	}

	users, err := caches.Alias[string, User](&r, "users") // the same *Cache on every call
	if err != nil {
		panic(err)
	}
	users.Get(ctx, "ada") // a miss
	users.Set(ctx, "ada", User{Name: "Ada"})
	u, _ := users.Get(ctx, "ada") // a hit
	fmt.Println(u.Name)

	key, _ := users.Key("ada")
	fmt.Println(key)

	plugins, _ := r.Plugins("users")
	fmt.Printf("%+v\n", plugins[0].(*cachet.HitMissRatio).Stats())

	_, err = caches.Alias[string, User](&r, "sessions")
	fmt.Println(err)
	// Output:
	// Ada
	// users:2:ada
	// {Total:2 Hits:1 Misses:1 Joined:0 Ratio:0.5}
	// cachet: invalid option: unknown cache alias "sessions" (configured: default, users)
}

// Create builds a new cache from an alias, with options in code that
// win over the alias' own. The caller closes it.
func ExampleCreate() {
	r, err := caches.NewRegistry(map[string]caches.Config{
		"pages": {Store: "memory://example-create", Codec: "bytes", Namespace: "pages", TTL: time.Minute},
	})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	drafts, err := caches.Create[string, []byte](r, "pages", &cachet.Options[string]{Namespace: "drafts"})
	if err != nil {
		panic(err)
	}
	defer drafts.Close()
	key, _ := drafts.Key("/index")
	fmt.Println(key)
	// Output:
	// drafts:/index
}

// Add configures one more alias without touching the others; Default
// returns the "default" alias, an in-memory store unless configured.
func ExampleRegistry_Add() {
	ctx := context.Background()
	var r caches.Registry
	defer r.Close()

	if err := r.Add("sessions", caches.Config{Store: "memory://", Namespace: "sess", TTL: 30 * time.Minute}); err != nil {
		panic(err)
	}
	err := r.Add("sessions", caches.Config{Store: "memory://"})
	fmt.Println(err != nil) // already configured: Set replaces

	d := cachet.Must(caches.Default[string, string](&r))
	d.Set(ctx, "greeting", "hello")
	v, _ := d.Get(ctx, "greeting")
	fmt.Println(v, r.Aliases())
	// Output:
	// true
	// hello [default sessions]
}

// The README's configuration (testdata/caches.json): Alias returns the
// one cache of an alias, Create a new one that its caller closes.
// Opening makes no round trip, so the example needs neither Redis nor
// memcached.
func Example_configFile() {
	type Session struct{ User string }
	data, err := os.ReadFile("testdata/caches.json")
	if err != nil {
		panic(err)
	}

	var r caches.Registry // the zero value is ready; caches.DefaultRegistry also exists
	defer r.Close()
	if err := r.ConfigureJSON(data); err != nil {
		panic(err)
	}
	sessions, err := caches.Alias[string, Session](&r, "sessions") // the same *Cache every call
	if err != nil {
		panic(err)
	}
	drafts, err := caches.Create[string, []byte](&r, "pages",
		&cachet.Options[string]{Namespace: "drafts"}) // a new one; you Close it
	if err != nil {
		panic(err)
	}
	defer drafts.Close()

	k1, _ := sessions.Key("abc")
	k2, _ := drafts.Key("/index")
	fmt.Println(k1, k2)
	// Output: sess:2:abc drafts:/index
}
