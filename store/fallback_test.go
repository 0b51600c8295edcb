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

// countingGets counts the Gets that reach it, as an observing middleware
// does.
type countingGets struct {
	store.Wrapper
	gets int
}

func (c *countingGets) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets++
	return c.Store.Get(ctx, key)
}

func TestGetFunc(t *testing.T) {
	ctx := context.Background()
	mem := memstore.Must(nil)
	defer mem.Close()
	if err := mem.Set(ctx, "k", []byte("value"), 0); err != nil {
		t.Fatal(err)
	}
	counting := &countingGets{Wrapper: store.Wrapper{Store: mem}}
	for _, c := range []struct {
		name string
		s    store.Store
	}{
		{"lender", mem},
		{"fallback", plain{mem}},
		{"wrapper", counting},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []byte
			err := store.GetFunc(ctx, c.s, "k", func(b []byte) error {
				got = append([]byte(nil), b...)
				return nil
			})
			if err != nil || string(got) != "value" {
				t.Errorf("GetFunc(k): got %q, %v; want \"value\", nil", got, err)
			}
			called := false
			err = store.GetFunc(ctx, c.s, "missing", func([]byte) error { called = true; return nil })
			if called || !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetFunc(missing): f called %v, error %v; want f not called, ErrNotFound", called, err)
			}
			errF := errors.New("from f")
			if err := store.GetFunc(ctx, c.s, "k", func([]byte) error { return errF }); err != errF {
				t.Errorf("GetFunc with f failing: got %v; want f's error as it is", err)
			}
		})
	}
	// The wrapper overrides Get: GetFunc must go through it, not around it
	// to the memstore's Lender below.
	if counting.gets != 3 {
		t.Errorf("Gets seen by a wrapper over a Lender: %d; want 3 (GetFunc must not bypass it)", counting.gets)
	}
}
