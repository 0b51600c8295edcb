package cachet_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memstore"
)

// Update is a read-modify-write that no concurrent writer can break: it
// writes only if the value is unchanged since it read it, and otherwise
// reads again and retries. The same code works over Redis (a Lua
// compare-and-swap, Cluster included) and memcached (gets/cas).
func ExampleCache_Update() {
	type Stats struct {
		Views int
		Last  string
	}
	ctx := context.Background()
	stats := cachet.Must(cachet.New[string](memstore.Must(nil), codec.JSON[Stats](), nil))
	defer stats.Close()

	var wg sync.WaitGroup
	for _, who := range []string{"ada", "bob", "cy"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, err := stats.Update(ctx, "page:1", func(old Stats, found bool) (Stats, error) {
					old.Views++
					old.Last = who
					return old, nil
				})
				if err != nil {
					panic(err) // errors.Is(err, cachet.ErrConflict) after UpdateAttempts lost races
				}
			}
		}()
	}
	wg.Wait()
	s, _ := stats.Get(ctx, "page:1")
	fmt.Println(s.Views)
	// Output: 300
}

// IncrementFloat keeps a decimal number as Redis's INCRBYFLOAT does, on
// every store: the stored text is the same bytes everywhere.
func ExampleCache_IncrementFloat() {
	ctx := context.Background()
	s := memstore.Must(nil)
	// Counters are decimal text outside the entry format: a raw cache with
	// the String codec reads them back.
	prices := cachet.Must(cachet.New[string](s, codec.String(), &cachet.Options[string]{Namespace: "price", Raw: true}))
	defer prices.Close()

	prices.IncrementFloat(ctx, "tea", 0.1)
	f, err := prices.IncrementFloat(ctx, "tea", 0.2)
	fmt.Println(f, err)
	text, err := prices.Get(ctx, "tea")
	fmt.Println(text, err)
	// Output:
	// 0.3 <nil>
	// 0.3 <nil>
}
