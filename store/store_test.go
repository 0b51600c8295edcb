package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/noopstore"
)

// recorder is a middleware whose Get appends its name to a log before
// calling the store it wraps.
type recorder struct {
	store.Store
	name string
	log  *[]string
}

func (r *recorder) Get(ctx context.Context, key string) ([]byte, error) {
	*r.log = append(*r.log, r.name)
	return r.Store.Get(ctx, key)
}

func (r *recorder) Unwrap() store.Store { return r.Store }

func record(name string, log *[]string) store.Middleware {
	return func(s store.Store) store.Store { return &recorder{Store: s, name: name, log: log} }
}

// base is the innermost store: it logs "base" and has a capability.
type base struct {
	*noopstore.Store
	log *[]string
}

func (b *base) Get(ctx context.Context, key string) ([]byte, error) {
	*b.log = append(*b.log, "base")
	return b.Store.Get(ctx, key)
}

// Raw is the optional capability looked up with store.As.
func (b *base) Raw() string { return "raw client" }

type rawer interface{ Raw() string }

func newBase(log *[]string) *base { return &base{Store: noopstore.New(), log: log} }

func TestChain_Order(t *testing.T) {
	var log []string
	s := store.Chain(record("a", &log), record("b", &log), record("c", &log))(newBase(&log))
	_, _ = s.Get(context.Background(), "k")
	if want := []string{"a", "b", "c", "base"}; !slices.Equal(log, want) {
		t.Errorf("call order: got %v; want %v (first middleware outermost)", log, want)
	}
	if r, ok := s.(*recorder); !ok || r.name != "a" {
		t.Errorf("outermost store: got %T %v; want the recorder named a", s, s)
	}
}

func TestChain_NilSkipped(t *testing.T) {
	var log []string
	s := store.Chain(nil, record("a", &log), nil, record("b", &log), nil)(newBase(&log))
	_, _ = s.Get(context.Background(), "k")
	if want := []string{"a", "b", "base"}; !slices.Equal(log, want) {
		t.Errorf("call order: got %v; want %v", log, want)
	}
}

func TestChain_Empty(t *testing.T) {
	var log []string
	b := newBase(&log)
	if got := store.Chain()(b); got != store.Store(b) {
		t.Errorf("Chain()(s): got %v; want s itself", got)
	}
	if got := store.Chain(nil, nil)(b); got != store.Store(b) {
		t.Errorf("Chain(nil, nil)(s): got %v; want s itself", got)
	}
}

func TestAs_ThroughTwoWrappers(t *testing.T) {
	var log []string
	b := newBase(&log)
	s := store.Chain(record("a", &log), record("b", &log))(b)
	r, ok := store.As[rawer](s)
	if !ok {
		t.Fatalf("As[rawer] through two wrappers: got not found; want the base store")
	}
	if got := r.Raw(); got != "raw client" {
		t.Errorf("Raw(): got %q; want %q", got, "raw client")
	}
	if r != rawer(b) {
		t.Errorf("As[rawer]: got %v; want the base store %v", r, b)
	}
	// The outermost match wins: a wrapper's own recorder is found first.
	rec, ok := store.As[*recorder](s)
	if !ok || rec.name != "a" {
		t.Errorf("As[*recorder]: got %v, %v; want the outermost recorder a", rec, ok)
	}
}

func TestAs_Missing(t *testing.T) {
	var log []string
	s := store.Chain(record("a", &log))(noopstore.New())
	if r, ok := store.As[rawer](s); ok || r != nil {
		t.Errorf("As[rawer] on a chain without it: got %v, %v; want nil, false", r, ok)
	}
	if r, ok := store.As[rawer](nil); ok || r != nil {
		t.Errorf("As[rawer](nil): got %v, %v; want nil, false", r, ok)
	}
}

// nilUnwrapper is a wrapper that has lost its inner store.
type nilUnwrapper struct{ store.Store }

func (nilUnwrapper) Unwrap() store.Store { return nil }

func TestUnwrap(t *testing.T) {
	var log []string
	b := newBase(&log)
	s := store.Chain(record("a", &log), record("b", &log))(b)
	if got := store.Unwrap(s); got != store.Store(b) {
		t.Errorf("Unwrap(two wrappers): got %v; want the innermost store %v", got, b)
	}
	if got := store.Unwrap(b); got != store.Store(b) {
		t.Errorf("Unwrap(unwrapped store): got %v; want the store itself", got)
	}
	w := nilUnwrapper{b}
	if got := store.Unwrap(w); got != store.Store(w) {
		t.Errorf("Unwrap(wrapper whose Unwrap returns nil): got %v; want the wrapper", got)
	}
}

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
