package store

import (
	"context"
	"time"
)

// Swapper is an optional interface that may be implemented by a Store: it
// gives optimistic locking (compare-and-swap), so that a read-modify-write
// of one key is safe against concurrent writers without holding a lock.
//
// GetVersion returns the value stored under key and a version token, or an
// error wrapping [ErrNotFound] (and a nil version) when key holds no live
// value. The token is opaque, meaningful only to the Store that returned
// it, and never nil for a live value; it may share memory with the value,
// so callers modify neither.
//
// CompareAndSwap stores value under key with ttl (as Set does, replacing
// the ttl) only if key is unchanged since the GetVersion that returned
// version, in one atomic step, and reports whether it did. A nil version
// means "only if key is still missing" (as Add). A key that changed, was
// deleted, expired or was created meanwhile gives false and no error: the
// caller reads again and retries (cachet's Cache.Update does, a bounded
// number of times). What counts as a change depends on the backend: a
// store may compare version numbers (memcached's CAS ids, where rewriting
// the same bytes is a change) or the value itself (Redis, memstore, where
// it is not); both are safe for a read-modify-write, whose new value
// depends only on the old one. CompareAndSwap is not idempotent: a store
// that cannot tell whether it ran (a timeout) returns the error and never
// sends it again. Errors follow the Store contract, named [OpGetVersion]
// and [OpCompareAndSwap].
//
// If a Store does not implement Swapper, the package-level [GetVersion]
// and [CompareAndSwap] return an error wrapping [ErrNotSupported]: there
// is no atomic way to build it from the Store methods, and a non-atomic
// fallback would lose updates silently.
//
// Implementations must be safe for concurrent use.
type Swapper interface {
	GetVersion(ctx context.Context, key string) (value, version []byte, err error)
	CompareAndSwap(ctx context.Context, key string, version, value []byte, ttl time.Duration) (bool, error)
}

// FloatIncrementer is an optional interface that may be implemented by a
// Store. IncrementFloat atomically adds delta to the decimal number stored
// under key and returns the new value, the float form of Redis's
// INCRBYFLOAT:
//
//   - A missing key starts at 0 and is created without expiry; an existing
//     key keeps its ttl.
//   - The sum is computed in 64-bit-mantissa extended precision (the x86-64
//     long double Redis computes with) and stored as the text Redis stores:
//     fixed-point, at most 17 digits after the point, trailing zeros and
//     point removed, never an exponent, "-0" written "0" ("10.5", "3",
//     "0.3" for 0.1 then 0.2, "100000000000000000000" for 1e20). Every
//     store writes the same bytes for the same sequence of increments.
//   - The stored value is read as strtod reads decimal and hexadecimal
//     numbers ("1e3", "+1", ".5", "0x10"); other text (spaces, "abc", "",
//     "nan") gives an error wrapping [ErrNotNumber], and a value that is
//     an integer counter of Increment is a number too.
//   - A NaN or infinite delta gives [ErrInvalidValue]; a sum that would be
//     infinite gives [ErrOverflow]. Neither changes the stored value.
//
// The returned float64 is the stored text parsed, so it equals what a
// later read finds. IncrementFloat is not idempotent: a store that cannot
// tell whether it ran returns the error and never sends it again. Errors
// are named [OpIncrementFloat].
//
// If a Store does not implement FloatIncrementer, the package-level
// [IncrementFloat] returns an error wrapping [ErrNotSupported].
//
// Implementations must be safe for concurrent use.
type FloatIncrementer interface {
	IncrementFloat(ctx context.Context, key string, delta float64) (float64, error)
}
