package redisstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

func TestStore_CompareAndDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		if _, ok := store.As[store.CompareAndDeleter](store.Store(s)); !ok {
			t.Fatal("redisstore does not implement store.CompareAndDeleter")
		}
		if err := s.Set(ctx, "lock", []byte("mine\x00\xff"), 0); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.CompareAndDelete(ctx, "lock", []byte("mine")); ok || err != nil {
			t.Fatalf("CompareAndDelete(other value) = %v, %v; want false, nil", ok, err)
		}
		if ok, _ := s.Exists(ctx, "lock"); !ok {
			t.Fatal("key deleted by a CompareAndDelete with another value")
		}
		if ok, err := s.CompareAndDelete(ctx, "lock", []byte("mine\x00\xff")); !ok || err != nil {
			t.Fatalf("CompareAndDelete(own value) = %v, %v; want true, nil", ok, err)
		}
		if ok, _ := s.Exists(ctx, "lock"); ok {
			t.Fatal("key still present after CompareAndDelete")
		}
		if ok, err := s.CompareAndDelete(ctx, "lock", []byte("mine\x00\xff")); ok || err != nil {
			t.Fatalf("CompareAndDelete(missing) = %v, %v; want false, nil", ok, err)
		}
		// Keys in other hash slots work too (the script has one key).
		for _, k := range []string{"a", "b", "c", "{x}:lock"} {
			s.Set(ctx, k, []byte("t"), 0)
			if ok, err := s.CompareAndDelete(ctx, k, []byte("t")); !ok || err != nil {
				t.Fatalf("CompareAndDelete(%q) = %v, %v; want true, nil", k, ok, err)
			}
		}
		if _, err := s.CompareAndDelete(ctx, "", []byte("t")); !errors.Is(err, store.ErrInvalidKey) {
			t.Fatalf("empty key: %v; want ErrInvalidKey", err)
		}
		if _, err := s.CompareAndDelete(ctx, "k", nil); !errors.Is(err, store.ErrInvalidValue) {
			t.Fatalf("nil value: %v; want ErrInvalidValue", err)
		}
		s.Close()
		if _, err := s.CompareAndDelete(ctx, "k", []byte("t")); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("after Close: %v; want ErrClosed", err)
		}
	})
}
