package redisstore_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// The examples need a running Redis, so they are compiled but not run by
// go test (they have no Output comment).

// Open a store on one Redis server, database 1, with a small connection
// pool.
func ExampleOpen() {
	s, err := redisstore.Open(&redisstore.Options{
		Addrs:        []string{"localhost:6379"},
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
}

// Open a store on a Redis Cluster: give any of its nodes as seeds. The
// store spreads GetMany, SetMany, Delete and Clear over the hash slots
// itself, so keys need no hash tags.
func ExampleOpen_cluster() {
	s, err := redisstore.Open(&redisstore.Options{
		Addrs:     []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
		Username:  "cache",
		Password:  "secret",
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	vals, err := s.GetMany(context.Background(), []string{"user:1", "user:2", "user:3"})
	if err != nil {
		log.Fatal(err)
	}
	for i, v := range vals {
		if v == nil {
			fmt.Println(i, "missing")
		}
	}
}

// Open a store on the master that Redis Sentinel monitors under the name
// "mymaster"; the client follows failovers.
func ExampleOpen_sentinel() {
	s, err := redisstore.Open(&redisstore.Options{
		Addrs:      []string{"sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"},
		MasterName: "mymaster",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
}

// New wraps a go-redis client the application already has. The store
// leaves it open on Close.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true, // let context deadlines bound each call
	})
	defer client.Close()

	s, err := redisstore.New(client, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	err = s.Add(ctx, "lock:job-42", []byte("worker-1"), 30*time.Second)
	switch {
	case errors.Is(err, store.ErrExists):
		fmt.Println("another worker holds the lock")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("lock taken")
	}
}

// Client gives access to commands the store does not offer.
func ExampleStore_Client() {
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{"localhost:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	if err := s.Client().Ping(ctx).Err(); err != nil {
		log.Fatalf("redis is down: %v", err)
	}
	n, err := s.Client().DBSize(ctx).Result()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "keys")
}

// Clear with a prefix removes one namespace and leaves the rest of the
// database alone.
func ExampleStore_Clear() {
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{"localhost:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	if err := s.Clear(ctx, "sessions:"); err != nil { // SCAN MATCH sessions:* + UNLINK
		log.Fatal(err)
	}
}
