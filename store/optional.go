package store

import (
	"context"
	"time"
)

// CompareAndDeleter is an optional interface that may be implemented by a
// Store. CompareAndDelete deletes key only while it still holds value, in
// one atomic step, and reports whether it did. A missing key, or one
// holding another value, gives false and no error. Errors follow the
// Store contract, named [OpCompareAndDelete].
//
// Locks built on [Store.Add] (such as the stampede lock of cachet's
// memoize) use it to release a lease only if they still own it: "delete
// key if it holds my token".
//
// If a Store does not implement CompareAndDeleter, the package-level
// [CompareAndDelete] falls back to Get, compare, then Delete. That is not
// atomic: if the key expires and is taken by someone else between the Get
// and the Delete, the Delete removes the new owner's value. Callers that
// cannot accept that window may instead leave the key to expire through
// its ttl.
//
// Implementations must be safe for concurrent use.
type CompareAndDeleter interface {
	CompareAndDelete(ctx context.Context, key string, value []byte) (bool, error)
}

// InProcess is an optional interface that may be implemented by a Store
// whose operations never wait on the network or another process, such as
// memstore and noopstore. A deadline can never interrupt them, so
// cachet.Cache skips its per-operation timeout (and the context it would
// allocate) when the store it wraps, or any store below it, implements
// InProcess. Stores that do I/O must not implement it.
//
// If a Store does not implement InProcess, callers treat it as one that
// may wait on I/O and bound its operations with deadlines.
type InProcess interface {
	InProcess()
}

// Pinger is an optional interface that may be implemented by a Store that
// talks to a server. Ping makes one round trip (or one per server) and
// returns an error if the server does not answer within ctx; a closed
// store returns an error wrapping [ErrClosed]. Opening a store makes no
// round trip, so Ping is how a program checks its configuration at
// start-up, once, without making every open dial.
//
// If a Store does not implement Pinger, the package-level [Ping] falls
// back to Exists on a probe key, which any working store answers.
//
// Implementations must be safe for concurrent use.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Lender is an optional interface that may be implemented by a Store that
// can show a stored value without copying it, such as memstore, whose
// stored bytes are never changed in place. GetFunc calls f with the value
// stored under key and returns f's error as it is. The slice is lent for
// the duration of the call only: f must not modify it, nor keep it or any
// part of it after it returns (decoding it, or copying it, is what f is
// for). f may call the store, and a write during f does not change the
// bytes f is reading. When key holds no live value GetFunc does not call
// f; its errors are then those of Get (ErrNotFound, ErrInvalidKey,
// ErrClosed, the context's), named [OpGet].
//
// Only a store that can lend safely implements Lender: a store whose
// buffers are reused (a network client's read buffer) copies, which Get
// already does.
//
// If a Store does not implement Lender, the package-level [GetFunc] calls
// its Get and then f with the copy Get returned: the same result, at the
// cost of that copy. A wrapper made by a Middleware hides the Lender of
// the store it wraps from [GetFunc] (which does not look through
// Unwrap: a wrapper that observes or changes Get would otherwise be
// bypassed); a wrapper that does not change what Get returns can pass the
// capability on by implementing Lender itself, its GetFunc doing what its
// Get does and calling [GetFunc] on the store it wraps.
//
// Implementations must be safe for concurrent use.
type Lender interface {
	GetFunc(ctx context.Context, key string, f func(value []byte) error) error
}

// SelfTimed is an optional interface that may be implemented by a Store
// that bounds each of its round trips by a timeout of its own when the
// caller's context has no deadline: memcachestore (its client's read and
// write deadlines, set per connection, whatever the context) and a
// redisstore built by Open (Options.ContextTimeout, given to every command
// and to every wait for a shared round trip whose context has none).
// RoundTripTimeout returns that bound; zero means the store has none, and
// it must not change.
//
// cachet.Cache adds no timeout, and allocates no context, to a call whose
// context has no deadline when the store it wraps, or any store below it,
// implements SelfTimed with a RoundTripTimeout that is positive and no
// longer than the Cache's Timeout: the store's own bound already ends a
// round trip to a server that does not answer. A call whose context has a
// deadline later than Timeout gets the Cache's Timeout as before.
//
// If a Store does not implement SelfTimed, callers bound its operations
// with context deadlines.
type SelfTimed interface {
	RoundTripTimeout() time.Duration
}

// Finder is an optional interface that may be implemented by an
// in-process Store that lends its values (see [Lender]) and can also look
// a key up without keeping it, such as memstore. Find calls f with the
// value stored under key, as GetFunc does, returns f's error as it is, and
// reports whether it found a live value. It differs from GetFunc in two
// ways, so that a lookup allocates nothing the caller does not need:
//
//   - The key is lent too: the caller may build it in a buffer that it
//     reuses once Find returns. Find must not keep key or any part of it
//     after it returns, in the store, in an error or anywhere else.
//   - A key that holds no live value gives false and a nil error, without
//     calling f: the caller makes the ErrNotFound error naming the key, if
//     it needs one.
//
// The errors Find returns itself wrap [ErrClosed], [ErrInvalidKey] (an
// empty key) or the context's error, and name neither the operation nor
// the key (the caller adds them, as [Errorf] does).
//
// If a Store does not implement Finder, callers use [GetFunc] with a key
// of their own, which that store may keep (in its ErrNotFound error, for
// one). Like a Lender, a Finder is used only when it is the store at
// hand: a wrapper made by a Middleware hides it, since the key it would be
// given is only lent, and its Get would be bypassed.
//
// Implementations must be safe for concurrent use.
type Finder interface {
	Find(ctx context.Context, key string, f func(value []byte) error) (found bool, err error)
}
