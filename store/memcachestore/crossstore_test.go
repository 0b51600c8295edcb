package memcachestore_test

import (
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store/memcachestore"
)

// wantMany checks GetMany(keys) against want, "" standing for a nil slot.
func wantMany(t *testing.T, s *memcachestore.Store, keys []string, want ...string) {
	t.Helper()
	got, err := s.GetMany(bg, keys)
	if err != nil {
		t.Fatalf("GetMany(%q): %v", keys, err)
	}
	for i := range keys {
		if (want[i] == "") != (got[i] == nil) || string(got[i]) != want[i] {
			t.Errorf("GetMany(%q): slot %d: got %q (nil %v); want %q", keys, i, got[i], got[i] == nil, want[i])
		}
	}
}

// TestStore_GetManyAcrossStores has two Stores on one server, as two
// processes would: GetMany on a namespace the reader has never seen finds
// the writer's keys, and GetMany after the other Store's Clear finds none
// of the cleared keys (issue 16).
func TestStore_GetManyAcrossStores(t *testing.T) {
	srv := testserver.Memcached(t)
	for _, name := range []string{"check-every-time", "cached"} {
		t.Run(name, func(t *testing.T) {
			var opts *memcachestore.Options
			if name == "cached" {
				opts = &memcachestore.Options{GenerationCacheTTL: 200 * time.Millisecond}
			} else {
				opts = &memcachestore.Options{GenerationCacheTTL: -1}
			}
			opts.Namespaces = []string{"ns", "other"}

			a := fresh(t, srv, opts)
			b := open(t, srv, opts)
			mustSet(t, a, "ns:1", "one", 0)
			mustSet(t, a, "ns:2", "two", 0)
			mustSet(t, a, "plain", "p", 0)
			keys := []string{"ns:1", "plain", "ns:2", "ns:3", "other:1"}
			// b has never seen namespace ns.
			wantMany(t, b, keys, "one", "p", "two", "", "")
			wantMany(t, b, keys, "one", "p", "two", "", "") // now with a known generation
			if err := a.Clear(bg, "ns:"); err != nil {
				t.Fatal(err)
			}
			if name == "cached" {
				time.Sleep(250 * time.Millisecond) // past b's GenerationCacheTTL
			}
			wantMany(t, b, keys, "", "p", "", "", "")
			mustSet(t, b, "ns:1", "new", 0)
			wantMany(t, a, keys, "new", "p", "", "", "")
			wantMany(t, b, keys, "new", "p", "", "", "")
		})
	}
}
