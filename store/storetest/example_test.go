package storetest_test

import (
	"testing"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/storetest"
)

// TestStore is the form the package documentation and the README show: a
// backend's package runs the suite from one test function, here on
// memstore.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := memstore.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, nil)
}

// myMiddleware stands for a middleware of your own: it embeds
// store.Wrapper, the forwarding base, and overrides only what it changes
// (nothing, here).
func myMiddleware(s store.Store) store.Store { return &store.Wrapper{Store: s} }

// TestMyMiddleware is the middleware form of the package documentation.
func TestMyMiddleware(t *testing.T) {
	storetest.RunMiddleware(t, func(t *testing.T) store.Store {
		return memstore.Must(nil)
	}, myMiddleware, nil)
}
