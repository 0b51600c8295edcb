package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cachet-go/cachet/store"
)

func TestErrorf(t *testing.T) {
	if err := store.Errorf("get", "k", nil); err != nil {
		t.Errorf("Errorf(nil): got %v; want nil", err)
	}

	err := store.Errorf("get", "user:1", store.ErrNotFound)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("errors.Is(Errorf(get, ErrNotFound), ErrNotFound): got false; want true")
	}
	if got, want := err.Error(), `cachet: get "user:1": store: key not found`; got != want {
		t.Errorf("Error(): got %q; want %q", got, want)
	}
	var e *store.Error
	if !errors.As(err, &e) || e.Op != "get" || e.Key != "user:1" {
		t.Errorf("errors.As *Error: got %+v; want Op get, Key user:1", e)
	}

	if got, want := store.Errorf("clear", "", store.ErrClosed).Error(), "cachet: clear: store: closed"; got != want {
		t.Errorf("Error() without key: got %q; want %q", got, want)
	}

	// A wrapped sentinel inside a backend error stays reachable.
	backend := fmt.Errorf("redis: %w", store.ErrNotInteger)
	if err := store.Errorf("increment", "n", backend); !errors.Is(err, store.ErrNotInteger) || !errors.Is(err, backend) {
		t.Errorf("Errorf(backend error): got %v; want it to wrap both the backend error and ErrNotInteger", err)
	}

	// An *Error is not wrapped a second time.
	inner := store.Errorf("get", "k", store.ErrNotFound)
	if outer := store.Errorf("get_many", "other", inner); outer != inner {
		t.Errorf("Errorf(*Error): got %v; want the same error %v", outer, inner)
	}
	if got := store.Errorf("get", "k", context.Canceled); !errors.Is(got, context.Canceled) {
		t.Errorf("Errorf(context.Canceled): got %v; want it to wrap context.Canceled", got)
	}
}

func TestCheckKey(t *testing.T) {
	err := store.CheckKey("set", "")
	if !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("CheckKey(empty): got %v; want ErrInvalidKey", err)
	}
	var e *store.Error
	if !errors.As(err, &e) || e.Op != "set" {
		t.Errorf("CheckKey(empty): got %+v; want an *Error with Op set", e)
	}
	for _, k := range []string{"k", " ", "ключ", "a:b:c"} {
		if err := store.CheckKey("set", k); err != nil {
			t.Errorf("CheckKey(%q): got %v; want nil", k, err)
		}
	}
}

func TestCheckValue(t *testing.T) {
	err := store.CheckValue("set", "k", nil)
	if !errors.Is(err, store.ErrInvalidValue) {
		t.Fatalf("CheckValue(nil): got %v; want ErrInvalidValue", err)
	}
	var e *store.Error
	if !errors.As(err, &e) || e.Op != "set" || e.Key != "k" {
		t.Errorf("CheckValue(nil): got %+v; want an *Error with Op set and Key k", e)
	}
	if err := store.CheckValue("set", "k", []byte{}); err != nil {
		t.Errorf("CheckValue(empty non-nil): got %v; want nil", err)
	}
}

// asStoreError is an error whose As method answers for *store.Error, as
// errors.As lets an error do.
type asStoreError struct{ e *store.Error }

func (a asStoreError) Error() string { return "as: " + a.e.Error() }
func (a asStoreError) As(target any) bool {
	if p, ok := target.(**store.Error); ok {
		*p = a.e
		return true
	}
	return false
}

// TestErrorf_KeepsExistingError checks that Errorf leaves an error alone
// exactly when errors.As finds an *Error in it, in every shape of error
// tree errors.As walks, and that it does so without allocating.
func TestErrorf_KeepsExistingError(t *testing.T) {
	inner := &store.Error{Op: "get", Key: "k", Err: store.ErrNotFound}
	cases := []struct {
		name string
		err  error
	}{
		{"itself", inner},
		{"wrapped", fmt.Errorf("layer: %w", inner)},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", inner))},
		{"joined", errors.Join(errors.New("other"), inner)},
		{"multi %w", fmt.Errorf("%w and %w", store.ErrClosed, fmt.Errorf("x: %w", inner))},
		{"As method", asStoreError{inner}},
		{"plain", store.ErrNotFound},
		{"wrapped plain", fmt.Errorf("x: %w", store.ErrNotFound)},
		{"joined plain", errors.Join(store.ErrClosed, store.ErrNotFound)},
	}
	for _, c := range cases {
		var e *store.Error
		want := errors.As(c.err, &e)
		got := store.Errorf("set", "other", c.err)
		if kept := got == c.err; kept != want {
			t.Errorf("%s: Errorf kept the error: %v; want %v (errors.As finds an *Error: %v)", c.name, kept, want, want)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("%s: Errorf(err) does not wrap err", c.name)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = store.Errorf("get", "k", inner) }); n != 0 {
		t.Errorf("Errorf of an *Error: %v allocations; want 0", n)
	}
}
