package memstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet/store"
)

// Shared returns a new handle on the process' memory store called name,
// creating the store with o (nil: the zero Options) when no handle on it
// is open. It is what a memory://NAME URL opens: two calls with one name
// share one store, two names never share keys, as in async-caches.
//
// Each call returns its own handle. Closing a handle makes it unusable
// (its operations return store.ErrClosed) but leaves the other handles
// working; the last Close closes the store and frees the name, so that a
// later Shared of the name starts empty. A handle reaches the [*Store] it
// shares through store.Unwrap, and offers the store's CompareAndDelete.
//
// A nil o accepts the options the store is open with. A non-nil o must
// have the same bounds, and may set OnRemove only when it opens the
// store: otherwise Shared returns a [*SharedOptionsError]. Shared
// is safe for concurrent use; concurrent first calls create one store.
func Shared(name string, o *Options) (store.Store, error) {
	shared.Lock()
	defer shared.Unlock()
	ss := shared.m[name]
	if ss == nil {
		var opts Options
		if o != nil {
			opts = *o
		}
		s, err := New(&opts)
		if err != nil {
			return nil, err
		}
		ss = &sharedStore{s: s, opts: opts}
		shared.m[name] = ss
	} else if o != nil && (o.MaxEntries != ss.opts.MaxEntries || o.MaxBytes != ss.opts.MaxBytes || o.OnRemove != nil) {
		return nil, &SharedOptionsError{Name: name, Open: ss.opts, Asked: *o}
	}
	ss.refs++
	return &sharedHandle{s: ss.s, name: name, ss: ss}, nil
}

// SharedOptionsError is the error of [Shared] when the named store is
// already open with other options than those asked for.
type SharedOptionsError struct {
	Name  string  // the store's name
	Open  Options // the options the store is open with
	Asked Options // the options Shared was given
}

// Error names the store and both sets of options.
func (e *SharedOptionsError) Error() string {
	return fmt.Sprintf("memstore: shared store %q is already open with %+v, not %+v; open it with the same options or nil",
		e.Name, e.Open, e.Asked)
}

// sharedStore is one named store and the number of open handles on it.
type sharedStore struct {
	s    *Store
	opts Options
	refs int
}

var shared = struct {
	sync.Mutex
	m map[string]*sharedStore
}{m: map[string]*sharedStore{}}

// sharedHandle is one open handle on a shared store. Closing it makes the
// handle unusable; the store itself is closed, and its name freed, when
// its last handle closes.
type sharedHandle struct {
	s      *Store
	name   string
	ss     *sharedStore
	closed atomic.Bool
}

var (
	_ store.Store             = (*sharedHandle)(nil)
	_ store.CompareAndDeleter = (*sharedHandle)(nil)
	_ store.Lender            = (*sharedHandle)(nil)
	_ store.Finder            = (*sharedHandle)(nil)
)

// Unwrap returns the shared Store, for store.As.
func (h *sharedHandle) Unwrap() store.Store { return h.s }

func (h *sharedHandle) check(op, key string) error {
	if h.closed.Load() {
		return &store.Error{Op: op, Key: key, Err: store.ErrClosed}
	}
	return nil
}

func (h *sharedHandle) Get(ctx context.Context, key string) ([]byte, error) {
	if err := h.check("get", key); err != nil {
		return nil, err
	}
	return h.s.Get(ctx, key)
}

// GetFunc lends the shared store's bytes to f (store.Lender).
func (h *sharedHandle) GetFunc(ctx context.Context, key string, f func(value []byte) error) error {
	if err := h.check("get", key); err != nil {
		return err
	}
	return h.s.GetFunc(ctx, key, f)
}

// Find looks key up in the shared store without keeping it (store.Finder).
func (h *sharedHandle) Find(ctx context.Context, key string, f func(value []byte) error) (bool, error) {
	if h.closed.Load() {
		return false, store.ErrClosed
	}
	return h.s.Find(ctx, key, f)
}

func (h *sharedHandle) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if err := h.check("get_many", firstOf(keys)); err != nil {
		return nil, err
	}
	return h.s.GetMany(ctx, keys)
}

func (h *sharedHandle) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := h.check("set", key); err != nil {
		return err
	}
	return h.s.Set(ctx, key, value, ttl)
}

func (h *sharedHandle) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	if err := h.check("set_many", ""); err != nil {
		return err
	}
	return h.s.SetMany(ctx, entries, ttl)
}

func (h *sharedHandle) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := h.check("add", key); err != nil {
		return err
	}
	return h.s.Add(ctx, key, value, ttl)
}

func (h *sharedHandle) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := h.check("delete", firstOf(keys)); err != nil {
		return 0, err
	}
	return h.s.Delete(ctx, keys...)
}

func (h *sharedHandle) Exists(ctx context.Context, key string) (bool, error) {
	if err := h.check("exists", key); err != nil {
		return false, err
	}
	return h.s.Exists(ctx, key)
}

func (h *sharedHandle) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	if err := h.check("increment", key); err != nil {
		return 0, err
	}
	return h.s.Increment(ctx, key, delta)
}

func (h *sharedHandle) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := h.check("expire", key); err != nil {
		return false, err
	}
	return h.s.Expire(ctx, key, ttl)
}

func (h *sharedHandle) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := h.check("ttl", key); err != nil {
		return 0, err
	}
	return h.s.TTL(ctx, key)
}

func (h *sharedHandle) Clear(ctx context.Context, prefix string) error {
	if err := h.check("clear", prefix); err != nil {
		return err
	}
	return h.s.Clear(ctx, prefix)
}

func (h *sharedHandle) CompareAndDelete(ctx context.Context, key string, value []byte) (bool, error) {
	if err := h.check("compare_and_delete", key); err != nil {
		return false, err
	}
	return h.s.CompareAndDelete(ctx, key, value)
}

// Close closes the handle, and the shared store with its last handle.
func (h *sharedHandle) Close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return &store.Error{Op: "close", Err: store.ErrClosed}
	}
	shared.Lock()
	defer shared.Unlock()
	h.ss.refs--
	if h.ss.refs > 0 {
		return nil
	}
	if shared.m[h.name] == h.ss {
		delete(shared.m, h.name)
	}
	return h.ss.s.Close()
}

func firstOf(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}
