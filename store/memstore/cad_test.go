package memstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store"
)

func TestStore_CompareAndDelete(t *testing.T) {
	ctx := context.Background()
	s := Must(nil)
	defer s.Close()
	if cad, ok := store.As[store.CompareAndDeleter](store.Store(s)); !ok || cad == nil {
		t.Fatal("memstore does not implement store.CompareAndDeleter")
	}
	if err := s.Set(ctx, "k", []byte("mine"), 0); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.CompareAndDelete(ctx, "k", []byte("theirs")); ok || err != nil {
		t.Fatalf("CompareAndDelete(other value) = %v, %v; want false, nil", ok, err)
	}
	if ok, _ := s.Exists(ctx, "k"); !ok {
		t.Fatal("key deleted by a CompareAndDelete with another value")
	}
	if ok, err := s.CompareAndDelete(ctx, "k", []byte("mine")); !ok || err != nil {
		t.Fatalf("CompareAndDelete(own value) = %v, %v; want true, nil", ok, err)
	}
	if ok, _ := s.Exists(ctx, "k"); ok {
		t.Fatal("key still present after CompareAndDelete")
	}
	if ok, err := s.CompareAndDelete(ctx, "k", []byte("mine")); ok || err != nil {
		t.Fatalf("CompareAndDelete(missing) = %v, %v; want false, nil", ok, err)
	}

	// An expired value is not deleted (nor reported as deleted).
	if err := s.Set(ctx, "short", []byte("v"), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		if ok, _ := s.Exists(ctx, "short"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("value did not expire")
		}
		time.Sleep(time.Millisecond)
	}
	if ok, err := s.CompareAndDelete(ctx, "short", []byte("v")); ok || err != nil {
		t.Fatalf("CompareAndDelete(expired) = %v, %v; want false, nil", ok, err)
	}

	if _, err := s.CompareAndDelete(ctx, "", []byte("v")); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("empty key: err = %v; want ErrInvalidKey", err)
	}
	s.Close()
	if _, err := s.CompareAndDelete(ctx, "k", []byte("v")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("after Close: err = %v; want ErrClosed", err)
	}
}
