package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cachet-go/cachet/store"
)

// RunMiddleware checks a middleware: it runs [Run] on the stores made by
// newStore wrapped in mw, so that the wrapped store must keep the whole
// [store.Store] contract (and the optional interfaces' checks, through
// store.As), then checks that the optional capabilities of the backend stay
// reachable through the wrapper: every optional interface that store.As
// finds on the backend it must also find on the wrapped store, working on
// the same data, and store.Unwrap must lead from the wrapped store to the
// backend. Give a newStore whose stores have optional interfaces (such as
// store/memstore) for that check to mean something. opts describes the
// backend, as for Run; nil means the zero Options.
func RunMiddleware(t *testing.T, newStore func(t *testing.T) store.Store, mw store.Middleware, opts *Options) {
	t.Helper()
	if newStore == nil || mw == nil {
		t.Fatal("storetest.RunMiddleware: newStore or mw is nil")
	}
	Run(t, func(t *testing.T) store.Store { return mw(newStore(t)) }, opts)
	t.Run("Middleware/OptionalReachable", func(t *testing.T) {
		b := newStore(t)
		if b == nil {
			t.Fatal("newStore returned a nil store")
		}
		w := mw(b)
		if w == nil {
			t.Fatal("the middleware returned a nil store")
		}
		t.Cleanup(func() {
			if err := w.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
				t.Errorf("Close: got error %v; want nil", err)
			}
		})
		for _, o := range optionals {
			if o.has(b) && !o.has(w) {
				t.Errorf("store.As[%s]: finds the backend's but not the wrapped store's; want it reachable through the middleware (its store should embed store.Wrapper, or implement Unwrap)", o.name)
			}
		}
		if !sameStore(store.Unwrap(w), store.Unwrap(b)) {
			t.Errorf("store.Unwrap(wrapped store): got %T; want the backend %T", store.Unwrap(w), store.Unwrap(b))
		}
		if opts != nil && opts.KeepsNothing {
			return
		}
		if cad, ok := store.As[store.CompareAndDeleter](w); ok {
			// The capability found through the wrapper acts on the data
			// the wrapper reads and writes.
			mustSet(t, w, "lease", token, 0)
			if ok, err := cad.CompareAndDelete(bg, "lease", token); !ok || err != nil {
				t.Errorf("CompareAndDelete through the middleware of a key set through it: got %v, %v; want true, nil", ok, err)
			}
			wantMissing(t, w, "lease")
		}
		if l, ok := store.As[store.Lender](w); ok {
			mustSet(t, w, "lent", token, 0)
			if got, called, err := lent(l, bg, "lent"); !called || err != nil || !bytes.Equal(got, token) {
				t.Errorf("GetFunc through the middleware of a key set through it: f called %v with %s, error %v; want f called with %s, nil", called, show(got), err, show(token))
			}
		}
	})
}

// optionals are the optional interfaces of package store.
var optionals = []struct {
	name string
	has  func(store.Store) bool
}{
	{"store.CompareAndDeleter", func(s store.Store) bool {
		_, ok := store.As[store.CompareAndDeleter](s)
		return ok
	}},
	{"store.Lender", func(s store.Store) bool {
		_, ok := store.As[store.Lender](s)
		return ok
	}},
	{"store.Finder", func(s store.Store) bool {
		_, ok := store.As[store.Finder](s)
		return ok
	}},
	{"store.InProcess", func(s store.Store) bool {
		_, ok := store.As[store.InProcess](s)
		return ok
	}},
}

// sameStore reports whether a and b are the same store; stores whose
// dynamic type cannot be compared are never the same.
func sameStore(a, b store.Store) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
