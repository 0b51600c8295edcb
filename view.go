package cachet

import (
	"fmt"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
)

// Views: the Go form of the per-call arguments of aiocache and
// async-caches. Where those libraries take namespace=, version= or
// dumps_fn/loads_fn on each call, a cachet program takes a view once and
// calls it:
//
//	aiocache:      await cache.get("k", namespace="tenant7")
//	cachet:        t7, _ := c.WithNamespace("tenant7"); t7.Get(ctx, "k")
//
// A view is cheap (one small allocation, no I/O beyond what New does for
// a namespace) and shares everything with the cache it comes from except
// the changed part: the store and its middleware, the default ttl, the
// per-operation timeout, the key function and the kill switch
// (Disable/Enable on either affects both). Closing a view closes the
// shared store, so close only the original.

// WithNamespace returns a view of c whose keys live in namespace ns
// instead of c's: "ns:version:key", keeping c's version. ns "" gives a
// view without a namespace (an error if c has a version, which needs
// one). ns may not contain ':'. It returns an error wrapping
// ErrInvalidOption for an unusable namespace, or if the store refuses it
// (see store.NamespaceUser).
func (c *Cache[K, V]) WithNamespace(ns string) (*Cache[K, V], error) {
	return c.rekeyed(ns, c.keys.version)
}

// WithVersion returns a view of c whose keys carry version v (a string or
// an integer, as Options.Version) instead of c's; nil removes the
// version. Bumping a version this way reads and writes a fresh set of
// keys, while c keeps the old ones. It returns an error wrapping
// ErrInvalidOption if c has no namespace or v is unusable.
func (c *Cache[K, V]) WithVersion(v any) (*Cache[K, V], error) {
	return c.rekeyed(c.keys.namespace, v)
}

// rekeyed returns a view of c with the key rule of namespace ns and
// version v ("" or nil: none).
func (c *Cache[K, V]) rekeyed(ns string, v any) (*Cache[K, V], error) {
	if s, ok := v.(string); ok && s == "" {
		v = nil
	}
	keys, err := newKeyBuilder(ns, v, c.keys.fn)
	if err != nil {
		return nil, err
	}
	if ns != "" && ns != c.keys.namespace {
		if nu, ok := store.As[store.NamespaceUser](c.backend); ok {
			if err := nu.UseNamespace(ns); err != nil {
				return nil, fmt.Errorf("%w: Namespace %q: %w", ErrInvalidOption, ns, err)
			}
		}
	}
	vc := view(c, c.codec, keys)
	if c.only != nil {
		vc.local, vc.only = c.local, c.only // one tier holds every namespace's values
	} else if ns == c.keys.namespace {
		vc.local = c.local // the tier's stream covers the namespace, all versions
	}
	return vc, nil
}

// CodecView returns a view of c that encodes its values with cd, so that
// its value type is W: the Go form of aiocache's per-call dumps_fn and
// loads_fn. It keeps c's keys, namespace and version: values written
// through c and read through the view (or the reverse) must be in a form
// both codecs read. It returns an error wrapping ErrInvalidOption if cd
// is nil.
//
// (CodecView is a function, not a method, because a method cannot
// introduce the type parameter W.)
func CodecView[K comparable, V, W any](c *Cache[K, V], cd codec.Codec[W]) (*Cache[K, W], error) {
	if cd == nil {
		return nil, fmt.Errorf("%w: nil codec", ErrInvalidOption)
	}
	if c.only != nil {
		return nil, fmt.Errorf("%w: CodecView of a memory-only cache (NewLocal), which keeps decoded values, not encodings", ErrNotSupported)
	}
	return view(c, cd, c.keys), nil
}

// view returns a Cache of W values sharing c's store, middleware, ttl,
// timeout, stored format and switch, with codec cd and the key rule keys.
// Every field of Cache but its own in-process state (the flight group, and
// the lifecycle of the view's own background refreshes) is carried over
// here: a new field of Cache must be added.
func view[K comparable, V, W any](c *Cache[K, V], cd codec.Codec[W], keys keyBuilder[K]) *Cache[K, W] {
	return &Cache[K, W]{
		s:         c.s,
		backend:   c.backend,
		codec:     cd,
		keys:      keys,
		ttl:       c.ttl,
		timeout:   c.timeout,
		selfTimed: c.selfTimed,
		raw:       c.raw,
		inProc:    c.inProc,
		obs:       c.obs,
	}
}
