package store

// NamespaceUser is an optional interface that may be implemented by a
// Store that keeps namespaces apart by its own means, and needs to be told
// which key prefixes are namespaces. A namespace ns is the key prefix
// ns+":", where ns is not empty and holds no ':'; keys beginning with it
// belong to ns, and Clear(ns+":") removes them all. Package cachet calls
// UseNamespace with a Cache's Namespace when the Cache is made.
//
// UseNamespace declares ns. It must be called before the Store reads or
// writes keys of ns, and every process sharing the backend must declare the
// same namespaces, since a Store may lay out the keys of a declared
// namespace differently from other keys. It may be called more than once
// with the same ns. It returns an error wrapping [ErrInvalidKey] when ns is
// empty or holds ':'.
//
// memcachestore implements it: a declared namespace gets a generation
// counter, so that Clear(ns+":") is one increment, and other keys holding
// ':' cost no generation lookup.
//
// Discover it through middleware with As:
//
//	if nu, ok := store.As[store.NamespaceUser](s); ok {
//		err = nu.UseNamespace("users")
//	}
//
// If a Store does not implement NamespaceUser, callers skip the call: the
// Store treats every key alike, and Clear(ns+":") must still remove
// exactly the keys of ns (or return an error wrapping [ErrNotSupported]).
//
// Implementations must be safe for concurrent use.
type NamespaceUser interface {
	UseNamespace(ns string) error
}
