package store

// Middleware wraps a Store to add behaviour around its operations.
//
// The Store a Middleware returns should embed [Wrapper], override only the
// methods it changes, and leave optional interfaces (see the package
// documentation) to the stores it wraps: [As] finds them through Unwrap.
type Middleware func(Store) Store

// Wrapper is the forwarding base of a store wrapper: a Store that
// forwards every method to the Store it holds, and whose Unwrap returns
// it. Embed a Wrapper in the wrapper's struct, set its Store to the
// wrapped store, and override only the methods whose behaviour changes:
//
//	type countingStore struct {
//		store.Wrapper
//		gets atomic.Int64
//	}
//
//	func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
//		s.gets.Add(1)
//		return s.Store.Get(ctx, key)
//	}
//
// Wrapper has none of the optional interfaces: it cannot know whether
// the wrapped store has them, and claiming one it lacks would hide the
// fallback. They stay reachable through Unwrap with [As]. A wrapper that
// must change an optional operation implements that interface itself.
//
// A Wrapper is safe for concurrent use if its Store is.
type Wrapper struct {
	Store
}

// Unwrap returns the wrapped store.
func (w Wrapper) Unwrap() Store { return w.Store }

// Chain composes middlewares into one: the first is the outermost, so
// Chain(a, b)(s) is a(b(s)) and a call passes through a, then b, then s.
// Nil middlewares are skipped.
func Chain(mws ...Middleware) Middleware {
	return func(s Store) Store {
		for i := len(mws) - 1; i >= 0; i-- {
			if mws[i] != nil {
				s = mws[i](s)
			}
		}
		return s
	}
}

// Unwrapper is implemented by a Store that wraps another, such as one made
// by a Middleware.
type Unwrapper interface {
	Unwrap() Store
}

// Unwrap follows Unwrap methods from s down to the innermost store, the
// backend. It returns s itself when s wraps nothing.
func Unwrap(s Store) Store {
	for {
		u, ok := s.(Unwrapper)
		if !ok {
			return s
		}
		inner := u.Unwrap()
		if inner == nil {
			return s
		}
		s = inner
	}
}

// As finds the first store in the chain from s inward (s itself first) that
// implements T, following Unwrap methods. It is how optional capabilities
// are discovered through middleware.
func As[T any](s Store) (T, bool) {
	for s != nil {
		if t, ok := s.(T); ok {
			return t, true
		}
		u, ok := s.(Unwrapper)
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	var zero T
	return zero, false
}
