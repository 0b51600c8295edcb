package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/storetest"
)

// uniq returns a shared store name private to the test.
func uniq(t *testing.T) string {
	return strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
}

func shared(t *testing.T, name string, o *memstore.Options) store.Store {
	t.Helper()
	s, err := memstore.Shared(name, o)
	if err != nil {
		t.Fatalf("Shared(%q, %+v): %v", name, o, err)
	}
	return s
}

func TestShared_NamesAreIsolated(t *testing.T) {
	ctx := context.Background()
	users := shared(t, uniq(t)+"-users", nil)
	defer users.Close()
	carts := shared(t, uniq(t)+"-carts", nil)
	defer carts.Close()
	if err := users.Set(ctx, "k", []byte("u"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := carts.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("carts.Get(k) error = %v; want ErrNotFound (names must not share keys)", err)
	}
}

func TestShared_SameNameShares(t *testing.T) {
	ctx := context.Background()
	name := uniq(t)
	first := shared(t, name, &memstore.Options{MaxEntries: 100})
	second := shared(t, name, nil) // no options: accepts the open store's
	if err := first.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if got, err := second.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("second.Get(k) = %q, %v; want \"v\" (same name, same store)", got, err)
	}
	if store.Unwrap(first) != store.Unwrap(second) {
		t.Errorf("two handles on %s unwrap to different stores", name)
	}
	if _, ok := store.Unwrap(first).(*memstore.Store); !ok {
		t.Errorf("a handle unwraps to %T; want *memstore.Store", store.Unwrap(first))
	}

	// Different options for an open name are refused.
	_, err := memstore.Shared(name, &memstore.Options{MaxEntries: 5})
	var se *memstore.SharedOptionsError
	if !errors.As(err, &se) || se.Name != name || se.Open.MaxEntries != 100 || se.Asked.MaxEntries != 5 {
		t.Errorf("Shared with other options: error %v; want a SharedOptionsError naming both", err)
	}
	// The same options are fine.
	third := shared(t, name, &memstore.Options{MaxEntries: 100})

	// Closing one handle leaves the others working.
	if err := first.Close(); err != nil {
		t.Fatalf("first.Close: %v", err)
	}
	if err := first.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close of a handle = %v; want ErrClosed", err)
	}
	if _, err := first.Get(ctx, "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get on a closed handle = %v; want ErrClosed", err)
	}
	// Optional capabilities are the handle's too, and closed with it.
	cad, ok := store.As[store.CompareAndDeleter](first)
	if !ok {
		t.Fatal("a shared handle does not offer CompareAndDelete")
	}
	if _, err := cad.CompareAndDelete(ctx, "k", []byte("v")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("CompareAndDelete on a closed handle = %v; want ErrClosed", err)
	}
	if got, err := second.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Errorf("after closing another handle, Get = %q, %v; want \"v\"", got, err)
	}
	second.Close()
	third.Close()

	// The last Close freed the name: a new handle gets a new, empty store,
	// with new options allowed.
	fresh := shared(t, name, &memstore.Options{MaxEntries: 5})
	defer fresh.Close()
	if _, err := fresh.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after every handle closed and a reopen = %v; want ErrNotFound", err)
	}
}

func TestShared_BadOptions(t *testing.T) {
	if s, err := memstore.Shared(uniq(t), &memstore.Options{MaxEntries: -1}); err == nil {
		s.Close()
		t.Fatal("Shared with MaxEntries -1 succeeded; want an error")
	}
	// The failed call left no store behind: other options are fine now.
	s := shared(t, uniq(t), &memstore.Options{MaxEntries: 1})
	s.Close()
}

func TestShared_ConcurrentFirstOpen(t *testing.T) {
	ctx := context.Background()
	name := uniq(t)
	const n = 32
	stores := make([]store.Store, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, err := memstore.Shared(name, nil)
			if err != nil {
				t.Error(err)
				return
			}
			stores[i] = s
			s.Set(ctx, fmt.Sprint("k", i), []byte("v"), 0)
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, s := range stores {
		if store.Unwrap(s) != store.Unwrap(stores[0]) {
			t.Fatalf("handle %d is on another store than handle 0", i)
		}
	}
	vals, err := stores[0].GetMany(ctx, []string{"k0", fmt.Sprint("k", n-1)})
	if err != nil || vals[0] == nil || vals[1] == nil {
		t.Errorf("GetMany = %q, %v; want every goroutine's write", vals, err)
	}
	for _, s := range stores {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

// The handles on a shared store pass the store conformance suite.
func TestShared_Conformance(t *testing.T) {
	n := 0
	storetest.Run(t, func(t *testing.T) store.Store {
		n++
		return shared(t, fmt.Sprintf("%s-%d", uniq(t), n), &memstore.Options{MaxBytes: 8 << 20})
	}, nil)
}
