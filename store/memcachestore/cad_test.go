package memcachestore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
)

func TestStore_CompareAndDelete(t *testing.T) {
	srv := testserver.Memcached(t)
	s, err := memcachestore.NewFromServers([]string{srv.Addr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, ok := store.As[store.CompareAndDeleter](store.Store(s)); !ok {
		t.Fatal("memcachestore does not implement store.CompareAndDeleter")
	}
	for _, key := range []string{"lock", "ns:lock", "with space:lock"} {
		if err := s.Set(ctx, key, []byte("mine"), 0); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.CompareAndDelete(ctx, key, []byte("theirs")); ok || err != nil {
			t.Fatalf("%q: CompareAndDelete(other value) = %v, %v; want false, nil", key, ok, err)
		}
		if ok, _ := s.Exists(ctx, key); !ok {
			t.Fatalf("%q deleted by a CompareAndDelete with another value", key)
		}
		if ok, err := s.CompareAndDelete(ctx, key, []byte("mine")); !ok || err != nil {
			t.Fatalf("%q: CompareAndDelete(own value) = %v, %v; want true, nil", key, ok, err)
		}
		if ok, _ := s.Exists(ctx, key); ok {
			t.Fatalf("%q still present after CompareAndDelete", key)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%q: Get after CompareAndDelete: %v; want ErrNotFound", key, err)
		}
		if ok, err := s.CompareAndDelete(ctx, key, []byte("mine")); ok || err != nil {
			t.Fatalf("%q: CompareAndDelete(missing) = %v, %v; want false, nil", key, ok, err)
		}
		// The key can be taken again (Add) after it was deleted.
		if err := s.Add(ctx, key, []byte("next"), 0); err != nil {
			t.Fatalf("%q: Add after CompareAndDelete: %v", key, err)
		}
	}
	if ok, err := s.CompareAndDelete(ctx, "never:seen", []byte("x")); ok || err != nil {
		t.Fatalf("unknown namespace: %v, %v; want false, nil", ok, err)
	}
	if _, err := s.CompareAndDelete(ctx, "", []byte("x")); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("empty key: %v; want ErrInvalidKey", err)
	}
	s.Close()
	if _, err := s.CompareAndDelete(ctx, "lock", []byte("x")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("after Close: %v; want ErrClosed", err)
	}
}
