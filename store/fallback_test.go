package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/noopstore"
)

// plain hides every optional interface of the store it holds.
type plain struct{ store.Store }

func TestCompareAndDelete(t *testing.T) {
	ctx := context.Background()
	mem := memstore.Must(nil)
	defer mem.Close()
	for name, s := range map[string]store.Store{
		"native":   store.Wrapper{Store: mem},
		"fallback": plain{mem},
	} {
		t.Run(name, func(t *testing.T) {
			if err := s.Set(ctx, "lock", []byte("mine"), 0); err != nil {
				t.Fatal(err)
			}
			if ok, err := store.CompareAndDelete(ctx, s, "lock", []byte("theirs")); ok || err != nil {
				t.Errorf("other value: got %v, %v; want false, nil", ok, err)
			}
			if ok, err := s.Exists(ctx, "lock"); !ok || err != nil {
				t.Errorf("Exists after a non-owner's CompareAndDelete: got %v, %v; want true, nil", ok, err)
			}
			if ok, err := store.CompareAndDelete(ctx, s, "lock", []byte("mine")); !ok || err != nil {
				t.Errorf("own value: got %v, %v; want true, nil", ok, err)
			}
			if ok, err := s.Exists(ctx, "lock"); ok || err != nil {
				t.Errorf("Exists after the owner's CompareAndDelete: got %v, %v; want false, nil", ok, err)
			}
			if ok, err := store.CompareAndDelete(ctx, s, "lock", []byte("mine")); ok || err != nil {
				t.Errorf("missing key: got %v, %v; want false, nil", ok, err)
			}
			if _, err := store.CompareAndDelete(ctx, s, "", []byte("x")); !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("empty key: got %v; want ErrInvalidKey", err)
			}
			if _, err := store.CompareAndDelete(ctx, s, "lock", nil); !errors.Is(err, store.ErrInvalidValue) {
				t.Errorf("nil value: got %v; want ErrInvalidValue", err)
			}
		})
	}
}

func TestIsInProcess(t *testing.T) {
	mem := memstore.Must(nil)
	defer mem.Close()
	for _, c := range []struct {
		name string
		s    store.Store
		want bool
	}{
		{"memstore", mem, true},
		{"noopstore", noopstore.New(), true},
		{"wrapped", store.Wrapper{Store: store.Wrapper{Store: mem}}, true},
		{"hidden", plain{mem}, false},
	} {
		if got := store.IsInProcess(c.s); got != c.want {
			t.Errorf("IsInProcess(%s): got %v; want %v", c.name, got, c.want)
		}
	}
}
