package store

import "context"

// CompareAndDeleter is an optional interface of a Store that can delete a
// key only while it still holds a given value, in one atomic step. Locks
// built on [Store.Add] (such as the stampede lock of cachet's memoize) use
// it to release a lease only if they still own it: "delete key if it holds
// my token".
//
// CompareAndDelete reports whether key held value and was deleted. A
// missing key, or one holding another value, gives false and no error.
// Errors follow the Store contract (op name "compare_and_delete").
//
// Discover it through middleware with As:
//
//	cad, ok := store.As[store.CompareAndDeleter](s)
//
// Fallback when a store lacks it: callers read the key with Get, compare,
// and Delete when it matches. That is not atomic: if the key expires and is
// taken by someone else between the Get and the Delete, the Delete removes
// the new owner's value. Callers that cannot accept that window may instead
// leave the key to expire through its ttl.
//
// Implementations must be safe for concurrent use.
type CompareAndDeleter interface {
	CompareAndDelete(ctx context.Context, key string, value []byte) (bool, error)
}
