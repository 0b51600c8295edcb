package storeurl_test

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/storeurl"
)

// A backend registers its scheme from an init function. The scheme checks
// its own options without opening anything, and returns the function
// that opens a store.
func ExampleRegister() {
	storeurl.Register("example-mem", func(u *url.URL) (func() (store.Store, error), error) {
		var o memstore.Options
		if v := u.Query().Get("max_entries"); v != "" {
			n, err := storeurl.ParseInt("max_entries", v, 0)
			if err != nil {
				return nil, err
			}
			o.MaxEntries = int(n)
		}
		return func() (store.Store, error) { return memstore.New(&o) }, nil
	})

	// The cache options never reach the scheme: Parse keeps them.
	u, err := storeurl.Parse("example-mem://?max_entries=100&ttl=90s&namespace=users")
	if err != nil {
		panic(err)
	}
	fmt.Println(u.Scheme(), u.Options().TTL, u.Options().Namespace)
	s, err := u.Open()
	if err != nil {
		panic(err)
	}
	defer s.Close()

	// A bad value is an OptionError naming the option.
	_, err = storeurl.Parse("example-mem://?max_entries=many")
	var oe *storeurl.OptionError
	fmt.Println(errors.As(err, &oe), oe.Option, oe.Value)
	// Output:
	// example-mem 1m30s users
	// true max_entries many
}
