package cachet_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/storetest"
)

// TestStore_Memcached runs the conformance suite on memcachestore against a
// real memcached. memcached counts ttls in whole seconds, cannot read a ttl
// back, and clears by namespace generation (or everything with flush_all).
func TestStore_Memcached(t *testing.T) {
	srv := testserver.Memcached(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := memcachestore.NewFromServers([]string{srv.Addr}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Clear(context.Background(), ""); err != nil {
			t.Fatalf("Clear(\"\") before the check: %v", err)
		}
		return s
	}, &storetest.Options{TTLResolution: time.Second, NoTTL: true, NamespaceClearOnly: true})
}
