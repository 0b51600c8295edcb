package noopstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/noopstore"
	"github.com/cachet-go/cachet/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return noopstore.New() }, &storetest.Options{KeepsNothing: true})
}

func TestStore_ZeroValue(t *testing.T) {
	var s noopstore.Store
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Errorf("Set on a zero Store: got error %v; want nil", err)
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get on a zero Store: got error %v; want ErrNotFound", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close on a zero Store: got error %v; want nil", err)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close: got error %v; want ErrClosed", err)
	}
}
