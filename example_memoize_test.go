package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memstore"
)

type Customer struct {
	ID   int
	Name string
}

var ErrNoCustomer = errors.New("no such customer")

// loadCustomer stands for a slow lookup, such as a database query.
func loadCustomer(ctx context.Context, id int) (Customer, error) {
	fmt.Println("loading customer", id)
	if id == 0 {
		return Customer{}, ErrNoCustomer
	}
	return Customer{ID: id, Name: fmt.Sprint("customer ", id)}, nil
}

func ExampleMemoize() {
	ctx := context.Background()
	customers := cachet.Must(cachet.New[int](memstore.Must(nil), codec.JSON[Customer](), &cachet.Options[int]{
		Namespace: "customers",
		TTL:       10 * time.Minute,
	}))
	getCustomer := cachet.Memoize(customers, loadCustomer, nil)

	u, _ := getCustomer(ctx, 42) // a miss: calls loadCustomer
	fmt.Println(u.Name)
	u, _ = getCustomer(ctx, 42) // a hit: loadCustomer is not called
	fmt.Println(u.Name)
	// Output:
	// loading customer 42
	// customer 42
	// customer 42
}

func ExampleMemoizeOptions_notFound() {
	ctx := context.Background()
	customers := cachet.Must(cachet.New[int](memstore.Must(nil), codec.JSON[Customer](), nil))
	// "No such customer" is cached too, for a minute, so that lookups of
	// missing customers do not reach the database every time.
	getCustomer := cachet.Memoize(customers, loadCustomer, &cachet.MemoizeOptions[int, Customer]{
		NotFound:    ErrNoCustomer,
		NotFoundTTL: time.Minute,
	})

	for range 2 {
		_, err := getCustomer(ctx, 0)
		fmt.Println(errors.Is(err, ErrNoCustomer))
	}
	// Output:
	// loading customer 0
	// true
	// true
}

func ExampleNewMemoizer() {
	ctx := context.Background()
	customers := cachet.Must(cachet.New[int](memstore.Must(nil), codec.JSON[Customer](), nil))
	m, err := cachet.NewMemoizer(customers, loadCustomer, &cachet.MemoizeOptions[int, Customer]{Prefix: "byid"})
	if err != nil {
		panic(err)
	}
	key, _ := m.Key(7)
	fmt.Println("stored under", key)

	m.Call(ctx, 7)       // computes and caches
	m.Call(ctx, 7)       // cached
	m.Refresh(ctx, 7)    // recomputes, ignoring the cache
	m.Invalidate(ctx, 7) // forgets
	m.Call(ctx, 7)       // computes again
	// Output:
	// stored under byid:7
	// loading customer 7
	// loading customer 7
	// loading customer 7
}

func ExampleMemoizeMany() {
	ctx := context.Background()
	customers := cachet.Must(cachet.New[int](memstore.Must(nil), codec.JSON[Customer](), nil))
	loadCustomers := func(ctx context.Context, ids []int) (map[int]Customer, error) {
		slices.Sort(ids)
		fmt.Println("loading customers", ids)
		out := make(map[int]Customer, len(ids))
		for _, id := range ids {
			if id != 0 {
				out[id] = Customer{ID: id, Name: fmt.Sprint("customer ", id)}
			}
		}
		return out, nil
	}
	getCustomers := cachet.MemoizeMany(customers, loadCustomers, nil)

	getCustomers(ctx, []int{1, 2})
	found, _ := getCustomers(ctx, []int{1, 2, 3}) // only 3 is loaded
	fmt.Println(len(found), found[3].Name)
	// Output:
	// loading customers [1 2]
	// loading customers [3]
	// 3 customer 3
}

func ExampleNewManyMemoizer() {
	ctx := context.Background()
	customers := cachet.Must(cachet.New[int](memstore.Must(nil), codec.JSON[Customer](), nil))
	mm, err := cachet.NewManyMemoizer(customers, func(ctx context.Context, ids []int) (map[int]Customer, error) {
		fmt.Println("loading customers", ids)
		// The source says how long its answer stays valid.
		cachet.SetTTL(ctx, 30*time.Second)
		out := make(map[int]Customer, len(ids))
		for _, id := range ids {
			out[id] = Customer{ID: id, Name: fmt.Sprint("customer ", id)}
		}
		return out, nil
	}, nil)
	if err != nil {
		panic(err)
	}
	mm.Call(ctx, []int{1})
	mm.Invalidate(ctx, 1) // customer 1 changed
	mm.Call(ctx, []int{1})
	// Output:
	// loading customers [1]
	// loading customers [1]
}

// ExampleCache_readThrough shows the one read-through story: a Cache has
// one stored format, so a memoized function, Get, Set and GetOrLoad over
// the same keys see the same values. Memoize wraps a loader once, for
// every call site; GetOrLoad takes the loader at the call site.
func ExampleCache_readThrough() {
	ctx := context.Background()
	users := cachet.Must(cachet.New[int](memstore.Must(nil), codec.JSON[Customer](), &cachet.Options[int]{Namespace: "users"}))
	getUser := cachet.Memoize(users, loadCustomer, nil)

	u, _ := getUser(ctx, 1) // loads and stores
	fmt.Println(u.Name)
	u, _ = users.Get(ctx, 1) // the memoized value, read by Get
	fmt.Println(u.Name)
	users.Set(ctx, 1, Customer{ID: 1, Name: "updated"}) // write-through on update
	u, _ = getUser(ctx, 1)                              // a hit: the updated value
	fmt.Println(u.Name)
	u, _ = users.GetOrLoad(ctx, 2, func(ctx context.Context) (Customer, error) { return loadCustomer(ctx, 2) })
	fmt.Println(u.Name)
	// Output:
	// loading customer 1
	// customer 1
	// customer 1
	// updated
	// loading customer 2
	// customer 2
}

func ExampleMemoizeOptions_stampedeLock() {
	ctx := context.Background()
	// With a shared store (Redis, memcached), the lock makes one process
	// compute a missing value while the others wait for it.
	reports := cachet.Must(cachet.New[string](memstore.Must(nil), codec.String(), &cachet.Options[string]{TTL: time.Hour}))
	report := cachet.Memoize(reports, func(ctx context.Context, day string) (string, error) {
		fmt.Println("building the report of", day)
		return "report of " + day, nil
	}, &cachet.MemoizeOptions[string, string]{StampedeLease: 30 * time.Second, StampedePoll: 50 * time.Millisecond})

	r, _ := report(ctx, "2026-11-21")
	fmt.Println(r)
	// Output:
	// building the report of 2026-11-21
	// report of 2026-11-21
}

func ExampleMemoizeOptions_staleWhileRevalidate() {
	ctx := context.Background()
	prices := cachet.Must(cachet.New[string](memstore.Must(nil), codec.JSON[float64](), nil))
	// Prices are fresh for a minute; for ten more minutes a stale price is
	// served at once while one background call fetches the new one. Hot
	// keys are also refreshed a little before they expire (XFetch).
	price := cachet.Memoize(prices, func(ctx context.Context, sku string) (float64, error) {
		return 9.99, nil
	}, &cachet.MemoizeOptions[string, float64]{
		TTL:                  time.Minute,
		StaleWhileRevalidate: 10 * time.Minute,
		EarlyRefresh:         1,
	})

	p, _ := price(ctx, "sku-1")
	fmt.Println(p)
	// Output:
	// 9.99
}

// The options of a memoized function are a struct typed by its key and
// value, so a key or skip function of the wrong type does not compile.
func ExampleMemoizeOptions() {
	ctx := context.Background()
	users := cachet.Must(cachet.New[int](memstore.Must(nil), codec.JSON[Customer](), &cachet.Options[int]{Namespace: "users"}))
	getUser := cachet.Memoize(users, loadCustomer, &cachet.MemoizeOptions[int, Customer]{
		TTL:           10 * time.Minute,
		NotFound:      ErrNoCustomer,    // cache "not found" too,
		NotFoundTTL:   time.Minute,      // for a minute
		StampedeLease: 30 * time.Second, // one process computes
		EarlyRefresh:  1,                // XFetch
	})

	u, _ := getUser(ctx, 7)
	fmt.Println(u.Name)
	_, err := getUser(ctx, 0)
	fmt.Println(errors.Is(err, ErrNoCustomer))
	_, err = getUser(ctx, 0) // "not found" from the cache: no load
	fmt.Println(errors.Is(err, ErrNoCustomer))
	// Output:
	// loading customer 7
	// customer 7
	// loading customer 0
	// true
	// true
}
