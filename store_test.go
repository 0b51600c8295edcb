package cachet_test

import (
	"testing"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/noopstore"
	"github.com/cachet-go/cachet/store/storetest"
)

// The conformance suite runs on every store. Stores that need a server
// (Redis, memcached) have their own Test functions in this file.

func TestStore_Memory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := memstore.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, nil)
}

func TestStore_MemoryBounded(t *testing.T) {
	// Both bounds set, large enough for the suite's 1 MiB values.
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := memstore.New(&memstore.Options{MaxEntries: 1000, MaxBytes: 8 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, nil)
}

func TestStore_Noop(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return noopstore.New()
	}, &storetest.Options{KeepsNothing: true})
}
