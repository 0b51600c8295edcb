package store

import (
	"context"
	"time"
)

// Store is the byte-level contract of a cache backend.
//
// Implementations must be safe for concurrent use by multiple goroutines.
// Every method honours the deadline and cancellation of its context: a
// cancelled context makes the call return an error that wraps ctx.Err().
// A key is a non-empty string; an empty key gives [ErrInvalidKey]. A ttl of
// zero or less means "no expiry"; sub-second ttls are honoured where the
// backend can (a backend that rounds documents how). After [Store.Close]
// every method returns [ErrClosed]. A store must not modify the value
// slices it is given (Set, SetMany, Add), nor keep them after the call
// returns: an in-process store copies them, a network store sends them,
// and callers such as cachet.Cache reuse their buffers.
type Store interface {
	// Get returns the value stored under key, or an error wrapping
	// ErrNotFound when there is none (or it has expired).
	Get(ctx context.Context, key string) ([]byte, error)

	// GetMany returns one slot per key, in the order of keys. A missing
	// key has a nil slot; a stored empty value has a non-nil empty slice.
	GetMany(ctx context.Context, keys []string) ([][]byte, error)

	// Set stores value under key with the given ttl, replacing any
	// previous value and its ttl.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error

	// SetMany stores every entry with the same ttl. It either stores all
	// entries or returns an error; backends use one round trip where they
	// can.
	SetMany(ctx context.Context, entries []Entry, ttl time.Duration) error

	// Add stores value under key only if key is absent, atomically. When
	// key already holds a live value it returns an error wrapping
	// ErrExists and changes nothing.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) error

	// Delete removes the keys and returns how many of them existed.
	Delete(ctx context.Context, keys ...string) (int, error)

	// Exists reports whether key holds a live value.
	Exists(ctx context.Context, key string) (bool, error)

	// Increment atomically adds delta (which may be negative) to the
	// integer stored under key and returns the new value. A missing key
	// starts at 0 and is created without expiry; an existing key keeps its
	// ttl. Counters are stored as decimal ASCII, so Get returns e.g.
	// "42". A value that is not a decimal integer gives ErrNotInteger, and
	// a result that would overflow int64 gives ErrOverflow.
	Increment(ctx context.Context, key string, delta int64) (int64, error)

	// Expire gives key a new ttl; a ttl of zero or less removes its expiry.
	// It reports false (and no error) when key is missing.
	Expire(ctx context.Context, key string, ttl time.Duration) (bool, error)

	// TTL returns the remaining time to live of key, 0 when it has no
	// expiry, or an error wrapping ErrNotFound when it is missing. A
	// backend that cannot read a ttl back returns ErrNotSupported.
	TTL(ctx context.Context, key string) (time.Duration, error)

	// Clear removes every key that starts with prefix. An empty prefix
	// clears the whole keyspace the store owns (its database or instance),
	// never more. A backend that can only clear some prefixes returns
	// ErrNotSupported for the others.
	Clear(ctx context.Context, prefix string) error

	// Close releases the store's resources. Later calls of any method,
	// Close included, return ErrClosed.
	Close() error
}

// Entry is one key and value for [Store.SetMany].
type Entry struct {
	Key   string
	Value []byte
}
