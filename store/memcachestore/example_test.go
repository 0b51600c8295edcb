package memcachestore_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
)

// The examples share one memcached, started on first use (TestMain stops
// it); memcachedAddr() returns its address, where an application would
// write "localhost:11211". The tests start their own servers.
var examples struct {
	once sync.Once
	srv  *testserver.Server
	err  error
}

// memcachedAddr returns the address of the examples' memcached. It stops
// the test binary when the server does not start: TestMain has skipped
// the examples when memcached is missing outside CI.
func memcachedAddr() string {
	examples.once.Do(func() { examples.srv, examples.err = testserver.StartMemcached() })
	if examples.err != nil {
		log.Fatalf("memcachestore examples: %v", examples.err)
	}
	return examples.srv.Addr
}

func TestMain(m *testing.M) {
	flag.Parse()
	testserver.SkipExamplesWithout("memcached", "memcached")
	code := m.Run()
	if examples.srv != nil {
		examples.srv.Close()
	}
	os.Exit(code)
}

func Example() {
	ctx := context.Background()
	s, err := memcachestore.NewFromServers([]string{memcachedAddr()}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.Clear(ctx, "") // flush_all: start from an empty server

	// Any non-empty key works, even one memcached would reject.
	if err := s.Set(ctx, "greeting for Ada Lovelace", []byte("hello"), time.Minute); err != nil {
		log.Fatal(err)
	}
	v, err := s.Get(ctx, "greeting for Ada Lovelace")
	fmt.Printf("%s %v\n", v, err)

	_, err = s.Get(ctx, "missing")
	fmt.Println(errors.Is(err, store.ErrNotFound))

	_, err = s.TTL(ctx, "greeting for Ada Lovelace")
	fmt.Println(errors.Is(err, store.ErrNotSupported))
	// Output:
	// hello <nil>
	// true
	// true
}

// A gomemcache client configured by hand, for example with several
// servers, a custom ServerSelector or TLS.
func ExampleNew() {
	client := memcache.New(memcachedAddr())
	client.Timeout = 200 * time.Millisecond
	client.MaxIdleConns = 32
	s, err := memcachestore.New(client, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println(s.Client() == client)
	// Output: true
}

// Clear works on whole namespaces: a first segment ending in ':'.
func ExampleStore_Clear() {
	ctx := context.Background()
	s, err := memcachestore.NewFromServers([]string{memcachedAddr()}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.Clear(ctx, "")

	s.Set(ctx, "users:1", []byte("ada"), 0)
	s.Set(ctx, "posts:1", []byte("hello"), 0)
	if err := s.Clear(ctx, "users:"); err != nil {
		log.Fatal(err)
	}
	got, _ := s.GetMany(ctx, []string{"users:1", "posts:1"})
	fmt.Printf("%q\n", got)

	err = s.Clear(ctx, "users:1")
	fmt.Println(errors.Is(err, store.ErrNotSupported))
	// Output:
	// ["" "hello"]
	// true
}

// Increment follows the store contract, not memcached's unsigned incr and
// decr: counters go below zero.
func ExampleStore_Increment() {
	ctx := context.Background()
	s, err := memcachestore.NewFromServers([]string{memcachedAddr()}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.Clear(ctx, "")

	n, _ := s.Increment(ctx, "stock:widget", 3)
	fmt.Println(n)
	n, _ = s.Increment(ctx, "stock:widget", -5)
	fmt.Println(n)
	v, _ := s.Get(ctx, "stock:widget")
	fmt.Printf("%s\n", v)
	// Output:
	// 3
	// -2
	// -2
}

// Several servers, each key on one of them (gomemcache's ServerList
// picks it by hash). The example has no Output, so go test compiles it
// but does not run it: its servers are an application's, not the tests'.
func ExampleNewFromServers() {
	s, err := memcachestore.NewFromServers([]string{"10.0.0.1:11211", "10.0.0.2:11211"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(context.Background()); err != nil { // every server answers
		log.Fatal(err)
	}
}
