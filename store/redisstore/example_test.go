package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// The examples run against servers the package's tests start on free
// loopback ports: redisAddr() is one redis-server's address, where an
// application would write "localhost:6379"; clusterAddrs() and
// sentinelAddrs() are those of a cluster's masters and of a sentinel.

// Open a store on one Redis server, database 1, with a small connection
// pool.
func ExampleOpen() {
	s, err := redisstore.Open(&redisstore.Options{
		Addrs:        []string{redisAddr()}, // "localhost:6379"
		DB:           1,
		PoolSize:     10, // async-caches' maxsize
		MinIdleConns: 2,  // async-caches' minsize
		DialTimeout:  time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	if err := s.Set(ctx, "greeting", []byte("hello"), 10*time.Minute); err != nil {
		log.Fatal(err)
	}
	v, err := s.Get(ctx, "greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", v)
	// Output: hello
}

// Open a store on a Redis Cluster: give any of its nodes as seeds. The
// store spreads GetMany, SetMany, Delete and Clear over the hash slots
// itself, so keys need no hash tags. Username, Password and TLSConfig
// (a *tls.Config) apply to every node, as with one server.
func ExampleOpen_cluster() {
	s, err := redisstore.Open(&redisstore.Options{
		Addrs: clusterAddrs(), // "10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	if err := s.Clear(ctx, "user:"); err != nil {
		log.Fatal(err)
	}
	err = s.SetMany(ctx, []store.Entry{
		{Key: "user:1", Value: []byte("ada")},
		{Key: "user:3", Value: []byte("grace")},
	}, time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	vals, err := s.GetMany(ctx, []string{"user:1", "user:2", "user:3"})
	if err != nil {
		log.Fatal(err)
	}
	for i, v := range vals {
		if v == nil {
			fmt.Println(i, "missing")
		} else {
			fmt.Println(i, string(v))
		}
	}
	// Output:
	// 0 ada
	// 1 missing
	// 2 grace
}

// Open a store on the master that Redis Sentinel monitors under the name
// "mymaster"; the client follows failovers.
func ExampleOpen_sentinel() {
	s, err := redisstore.Open(&redisstore.Options{
		Addrs:      sentinelAddrs(), // "sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"
		MasterName: "mymaster",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	if err := s.Set(ctx, "greeting", []byte("hello from the master"), time.Minute); err != nil {
		log.Fatal(err)
	}
	v, err := s.Get(ctx, "greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", v)
	// Output: hello from the master
}

// New wraps a go-redis client the application already has. The store
// leaves it open on Close.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{
		Addr:                  redisAddr(), // "localhost:6379"
		ContextTimeoutEnabled: true,        // let context deadlines bound each call
	})
	defer client.Close()

	s, err := redisstore.New(client, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	if _, err := s.Delete(ctx, "lock:job-42"); err != nil {
		log.Fatal(err)
	}
	for _, worker := range []string{"worker-1", "worker-2"} {
		err = s.Add(ctx, "lock:job-42", []byte(worker), 30*time.Second)
		switch {
		case errors.Is(err, store.ErrExists):
			fmt.Println(worker + ": another worker holds the lock")
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Println(worker + ": lock taken")
		}
	}
	// Output:
	// worker-1: lock taken
	// worker-2: another worker holds the lock
}

// Client gives access to commands the store does not offer.
func ExampleStore_Client() {
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{redisAddr()}, DB: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	if err := s.Clear(ctx, ""); err != nil { // FLUSHDB: database 2 only
		log.Fatal(err)
	}
	if err := s.Set(ctx, "a", []byte("1"), 0); err != nil {
		log.Fatal(err)
	}
	if err := s.Client().Ping(ctx).Err(); err != nil {
		log.Fatalf("redis is down: %v", err)
	}
	n, err := s.Client().DBSize(ctx).Result()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "keys")
	// Output: 1 keys
}

// Clear with a prefix removes one namespace and leaves the rest of the
// database alone.
func ExampleStore_Clear() {
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{redisAddr()}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	err = s.SetMany(ctx, []store.Entry{
		{Key: "sessions:1", Value: []byte("s1")},
		{Key: "sessions:2", Value: []byte("s2")},
		{Key: "users:1", Value: []byte("ada")},
	}, time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Clear(ctx, "sessions:"); err != nil { // SCAN MATCH sessions:* + UNLINK
		log.Fatal(err)
	}
	vals, err := s.GetMany(ctx, []string{"sessions:1", "sessions:2", "users:1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", vals)
	// Output: ["" "" "ada"]
}

// The form of the package documentation, with the address an application
// would write. It has no Output, so go test compiles it but does not run
// it (ExampleOpen runs the same against the tests' server).
func ExampleOpen_localhost() {
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{"localhost:6379"}, DB: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(context.Background()); err != nil { // opening makes no round trip
		log.Fatal(err)
	}
}
