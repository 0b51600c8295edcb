package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/noopstore"
)

// recorder is a middleware whose Get appends its name to a log before
// calling the store it wraps.
type recorder struct {
	store.Wrapper
	name string
	log  *[]string
}

func (r *recorder) Get(ctx context.Context, key string) ([]byte, error) {
	*r.log = append(*r.log, r.name)
	return r.Store.Get(ctx, key)
}

func record(name string, log *[]string) store.Middleware {
	return func(s store.Store) store.Store {
		return &recorder{Wrapper: store.Wrapper{Store: s}, name: name, log: log}
	}
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

func TestWrapper_ForwardsAndUnwraps(t *testing.T) {
	ctx := context.Background()
	var log []string
	b := newBase(&log)
	w := store.Wrapper{Store: b}
	if got := w.Unwrap(); got != store.Store(b) {
		t.Errorf("Unwrap(): got %v; want the wrapped store", got)
	}
	if _, err := w.Get(ctx, "k"); err == nil {
		t.Errorf("Get through Wrapper over noopstore: got nil error; want ErrNotFound")
	}
	if want := []string{"base"}; !slices.Equal(log, want) {
		t.Errorf("calls: got %v; want %v (Get forwarded to the wrapped store)", log, want)
	}
	if r, ok := store.As[rawer](&w); !ok || r != rawer(b) {
		t.Errorf("As[rawer] through a Wrapper: got %v, %v; want the base store", r, ok)
	}
	if _, ok := any(&w).(rawer); ok {
		t.Errorf("Wrapper has the base's optional method itself; want it reachable only through As")
	}
}
