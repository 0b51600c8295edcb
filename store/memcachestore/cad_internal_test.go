package memcachestore

import (
	"context"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachet-go/cachet/internal/testserver"
)

// TestCompareAndDelete_OverwriteBetweenCompareAndDelete rewrites the key,
// with the same value, after CompareAndDelete compared it and before it
// deletes: the cas must fail, CompareAndDelete must report false, and the
// new write must survive (issue 16: a CAS conflict is not a deletion).
func TestCompareAndDelete_OverwriteBetweenCompareAndDelete(t *testing.T) {
	srv := testserver.Memcached(t)
	s, err := NewFromServers([]string{srv.Addr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, key := range []string{"lock", "ns:lock"} {
		if err := s.Set(ctx, key, []byte("mine"), 0); err != nil {
			t.Fatal(err)
		}
		testHookCompared = func(pk string) {
			if err := s.client.Set(&memcache.Item{Key: pk, Value: []byte("mine")}); err != nil {
				t.Errorf("overwrite: %v", err)
			}
		}
		ok, err := s.CompareAndDelete(ctx, key, []byte("mine"))
		testHookCompared = nil
		if ok || err != nil {
			t.Errorf("%q: CompareAndDelete with an overwrite after the compare: got %v, %v; want false, nil", key, ok, err)
		}
		if v, err := s.Get(ctx, key); err != nil || string(v) != "mine" {
			t.Errorf("%q: after CompareAndDelete lost to an overwrite: Get = %q, %v; want the overwrite", key, v, err)
		}
	}
}
